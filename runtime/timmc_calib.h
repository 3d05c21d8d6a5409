/*
 * timmc_calib.h - the runner's int8 commands (docs/int8.md): calibration of
 * an int8 model from its float32 reference and a folder of inputs, and the
 * quality report of an int8 model against the float32 one.
 */
#ifndef TIMMC_CALIB_H
#define TIMMC_CALIB_H

#include <stddef.h>

#include "timmc.h"

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

/* Prints, for each output of forward, the SQNR (dB) and cosine similarity of
 * M's outputs (int8) against REF's on the same input, and for a classifier
 * the share of batch items whose top-1 class agrees. Both initialised. */
int timmc_compare_f32(const timmc_model *m, const timmc_model *ref, const float *input);

#endif
