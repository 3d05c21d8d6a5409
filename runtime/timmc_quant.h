/*
 * timmc_quant.h - int8 models (spec "precision": "int8", docs/int8.md): what
 * their generated C calls at init (activation scales, per-channel int8
 * convolution weights, lookup tables of elementwise functions) and forward
 * (the table lookup kernel), and the runner's calibration and quality report.
 *
 * An int8 tensor holds round(x / scale) + zero_point in [-128, 127]; its scale
 * and zero point come from the range [lo, hi] calibration recorded for it,
 * widened to hold 0: scale = (hi - lo) / 255, zero point = -128 - round(lo / scale).
 * Convolution weights are int8 symmetric per output channel (zero point 0,
 * scale = max |w| / 127), with BatchNorm folded in before they are rounded.
 */
#ifndef TIMMC_QUANT_H
#define TIMMC_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

typedef struct timmc_qparams {
  float scale;
  int8_t zero_point;
} timmc_qparams;

/* The narrowest range an int8 tensor gets (calibration may see less). */
#define TIMMC_MIN_RANGE 0.01

/* The scale and zero point of the int8 range that covers [lo, hi] and 0 (and
 * is at least TIMMC_MIN_RANGE wide). */
timmc_qparams timmc_qparams_of(float lo, float hi);
/* round(x / scale) + zero_point, saturated to [-128, 127]. */
int8_t timmc_quantize_one(double x, timmc_qparams q);

#ifndef TIMMC_NO_SAFETENSORS /* a firmware build takes the types only */
#include "timmc_rt.h"
#include "timmc_st.h"

/* The calibrated range of each of the n tensors KEYS[i] ("KEY.act_range", F32
 * [2]: lo, hi) from st, as scales and zero points into qp. */
int timmc_load_qparams(const timmc_st *st, const char *const keys[], size_t n, timmc_qparams *qp);

/* Reads an int8 checkpoint's convolution into w->qk, w->qs, w->qb: WEIGHT
 * (I8 [out, in/groups, k, k], BatchNorm folded), PREFIX.weight_scale (F32
 * [out]) and PREFIX.bias (F32 [out], folded), where PREFIX is WEIGHT without
 * ".weight" (docs/int8.md); the bias in units of input_scale x weight scale. */
int timmc_load_conv_qc8(timmc_scratch *w, const timmc_st *st, const char *weight,
                        int out_channels, int group_input_channels, int kernel,
                        float input_scale);

/* The same for an int8 linear layer: WEIGHT is I8 [out, in] (ndim 2) or
 * [out, in, 1, 1] (ndim 4); w->qk is [out][in]. */
int timmc_load_linear_qc8(timmc_scratch *w, const timmc_st *st, const char *weight,
                          int out_features, int in_features, int ndim, float input_scale);

/* lut[v + 128] = the int8 of fn(x, c) for the x that int8 v stands for. */
void timmc_lut8_fill(int8_t lut[256], float (*fn)(float x, float c), float c, timmc_qparams in,
                     timmc_qparams out);
/* y[p][c] = lut[a[p][c] + 128], int8 tensors (a, y: int8_t * in the op's
 * a and y), lut in b. dims: pixels, channels, input pixel stride, output
 * pixel stride. */
int timmc_kernel_lut8(const timmc_op *op, pthreadpool_t pool);

/* The portable backend's int8 forms (generator/backends/portable_int8.lua,
 * runtime/timmc_q8.h) keep what forward needs in int32 words, which init
 * computes from the checkpoint (or a firmware has as const arrays):
 *
 * TFLite Micro's QuantizeMultiplier: m = multiplier * 2^(shift - 31), the
 * multiplier a Q31 in [2^30, 2^31) (0, 0 for m = 0). */
void timmc_quantize_multiplier(double m, int32_t *multiplier, int32_t *shift);
/* An int8 convolution (kernel > 0; ndim 4) or linear layer (kernel 0, ndim
 * 2 or 4) of the int8 checkpoint into words: -x's zero point, y's zero point,
 * the int8 bounds lo and hi, then per output channel the int32 bias (in units
 * of x's scale times the channel's weight scale), the multiplier and shift of
 * x scale * weight scale / y scale, then the int8 weights [k][k][in/groups]
 * [out] (a linear layer's [in][out]), or with out_major [out][k][k][in/groups]
 * (a pointwise convolution's rows, one dot product an output). */
int timmc_pt_conv_q8(const timmc_st *st, int32_t *words, const char *weight, int out_channels,
                     int group_input_channels, int kernel, int ndim, int out_major,
                     timmc_qparams x, timmc_qparams y, int lo, int hi);
#endif

/* An int8 add (TFLite Micro's: both inputs shifted left 20 bits and rescaled
 * to twice the larger input scale, summed, rescaled to y) into words: -a's and
 * -b's zero points, y's, lo, hi, then the multiplier and shift of a, b and
 * the output. */
void timmc_pt_add_q8(int32_t words[11], timmc_qparams a, timmc_qparams b, timmc_qparams y, int lo,
                     int hi);
/* An int8 product a * b (TFLite Micro's mul): -a's and -b's zero points,
 * y's, lo, hi, the multiplier and shift of a scale * b scale / y scale. */
void timmc_pt_mul_q8(int32_t words[7], timmc_qparams a, timmc_qparams b, timmc_qparams y, int lo,
                     int hi);
/* The mean of COUNT int8 values of x's as y: -x's zero point, y's, the
 * multiplier and shift of x scale / (count * y scale). */
void timmc_pt_mean_q8(int32_t words[4], timmc_qparams x, timmc_qparams y, int count);
/* A conversion's quantization: its zero point, its scale's bits. */
void timmc_pt_qparams_q8(int32_t words[2], timmc_qparams q);

/* What calibration needs of an int8 model: its int8 tensors' keys, and its
 * int8 convolutions with the float layers they come from. */
typedef struct timmc_qconv {
  const char *weight, *bias, *bn; /* timm's keys; bias and bn may be NULL */
  double bn_eps;
  int out_channels, group_input_channels, kernel;
  /* a linear layer (timmc_load_linear folds it): its weight's ndim (2, or 4
   * for a 1x1 conv on a pooled vector) and hard_sigmoid; 0 for convolutions */
  int linear_ndim, hard_sigmoid;
  /* for bias correction (calibration): the index of its input's range key,
   * and where its kernel taps fall (a linear layer: 1 group, stride 1, no
   * padding, 1x1 in and out) */
  int input, groups, stride, dilation, pad_top, pad_left;
  int in_height, in_width, out_height, out_width;
} timmc_qconv;

/* An int8 add whose output is clamped to [clamp_min, clamp_max]: the values
 * of input a below clamp_min - (b's largest) and above clamp_max - (b's
 * smallest) give the same output as those bounds, so calibration narrows a's
 * range to them when narrow_a (and b's likewise). */
typedef struct timmc_qadd {
  int a, b;             /* indices of their range keys */
  int narrow_a, narrow_b;
  float clamp_min, clamp_max;
} timmc_qadd;

typedef struct timmc_quant_info {
  const char *const *keys; /* every int8 tensor's range key */
  size_t num_keys;
  const timmc_qconv *convs;
  size_t num_convs;
  const char *const *float_keys; /* the float32 tensors it reads, as timm names them */
  size_t num_float_keys;
  const timmc_qadd *adds;
  size_t num_adds;
} timmc_quant_info;

/* A tensor of the float32 reference model that calibration observes: its
 * range key, where it is, and the step that writes it. */
typedef struct timmc_observed {
  const char *key;
  const float *data;
  size_t pixels, channels, stride;
  size_t op;
} timmc_observed;


#endif
