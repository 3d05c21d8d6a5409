/*
 * timmc_calib.h - the runner's int8 commands (docs/int8.md): calibration of
 * an int8 model from its float32 reference and a folder of inputs, and the
 * quality report of an int8 model against the float32 one.
 */
#ifndef TIMMC_CALIB_H
#define TIMMC_CALIB_H

#include <stddef.h>

#include "timmc.h"
#include "timmc_quant.h"

/* How a tensor's range is chosen from what calibration saw. */
typedef enum timmc_calib_method {
  TIMMC_CALIB_MINMAX,     /* the smallest and largest value */
  TIMMC_CALIB_PERCENTILE, /* the 0.01% and 99.99% quantiles (outliers clipped) */
  TIMMC_CALIB_MSE,        /* the clipping with the least squared error */
} timmc_calib_method;

/* Runs REF (the float32 reference, initialised with the float weights) over
 * every input of DIR (.npy files of REF's input shape, and images where REF
 * preprocesses them), records the range of each int8 tensor of M, and writes
 * to OUT the int8 checkpoint M takes: the float checkpoint F32 (size bytes)
 * with M's convolutions as per-channel int8 weights (BatchNorm folded), their
 * scales and biases, and every range. Nothing is written on failure. */
int timmc_calibrate(const timmc_model *m, const timmc_model *ref, const void *f32, size_t size,
                    const char *what, const char *dir, timmc_calib_method method,
                    const char *out);

/* Two steps of timmc_calibrate, on their own for tests. */

/* The ranges of the clamped adds' inputs (ranges[k]: {lo, hi} of qi->keys[k],
 * as the method chose them) narrowed to the part that can reach the add's
 * output: below clamp_min - (the other input's hi), an input gives clamp_min
 * whatever the other holds (timmc_qadd). Losslessly: the other input's int8
 * form cannot exceed its range. */
int timmc_narrow_dead_ranges(const timmc_quant_info *qi, float (*ranges)[2]);

/* Which int8 tensors of QI the convolutions read: read[k] = 1 where some
 * qi->convs[i].input is k, 0 elsewhere. CHANNELS[k]: qi->keys[k]'s channels
 * in the float32 reference. A convolution whose input index is not a key, or
 * whose groups x group_input_channels is not its input's channels, is an
 * internal error of MODEL's generated tables: one line naming it. */
int timmc_conv_inputs(const timmc_quant_info *qi, const size_t *channels, const char *model,
                      unsigned char *read);

/* The share of Q's output pixels whose kernel tap (ky, kx) reads the input
 * rather than padding. */
double timmc_tap_share(const timmc_qconv *q, int ky, int kx);

/* Bias correction of one output channel of Q: the mean error its rounded
 * weights make, which calibration adds to its bias, so that the channel's
 * mean is the float model's. ROW: its float weights [k][k][in per group];
 * Q8: the int8 ones [in per group][k][k] (timm's order), times SCALE; MEAN:
 * the input's mean in each of the group's channels over the calibration set.
 * sum over taps t and channels i of (row - scale q8) x mean[i] x share(t). */
double timmc_rounding_bias(const timmc_qconv *q, const float *row, const int8_t *q8, float scale,
                           const double *mean);

/* Prints, for each output of forward, the SQNR (dB) and cosine similarity of
 * M's outputs (int8) against REF's on the same input, and for a classifier
 * the share of batch items whose top-1 class agrees. Both initialised. */
int timmc_compare_f32(const timmc_model *m, const timmc_model *ref, const float *input);

#endif
