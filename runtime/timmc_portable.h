/*
 * timmc_portable.h - what models of the portable backend call: the layout
 * changes at the API and, to init from a timm checkpoint, the loaders that
 * fold BatchNorm into the backend's packed layout (conv [kh][kw][in/groups]
 * [out], linear [in][out], biases and per-channel scales as vectors).
 *
 * A firmware build defines TIMMC_NO_SAFETENSORS: the model then runs on the
 * const arrays of NAME_weights.c and needs neither the safetensors reader
 * (cJSON) nor any file.
 */
#ifndef TIMMC_PORTABLE_H
#define TIMMC_PORTABLE_H

#include <stddef.h>

#include "timmc.h"

#ifndef TIMMC_TRY
#define TIMMC_TRY(expr)                          \
  do {                                           \
    int timmc_rc_ = (expr);                      \
    if (timmc_rc_ != TIMMC_OK) return timmc_rc_; \
  } while (0)
#endif

/* A model's inner-loop helpers that some models do not call (no warning for them). */
#if defined(__GNUC__) || defined(__clang__)
#define TIMMC_MAYBE_UNUSED __attribute__((unused))
#else
#define TIMMC_MAYBE_UNUSED
#endif

/* [n][c][hw] <-> [n][hw][c] (timmc_rt.c on a host, timmc_cm.c on a firmware) */
void timmc_nchw_to_nhwc(const float *src, float *dst, size_t n, size_t c, size_t hw);
void timmc_nhwc_to_nchw(const float *src, float *dst, size_t n, size_t hw, size_t c);

#ifndef TIMMC_NO_SAFETENSORS
#include "timmc_file.h"
#include "timmc_st.h"

/* Conv `weight` [out, in/groups, k, k] into w as [k][k][in/groups][out]; its
 * bias (or zeros) into b; BatchNorm `bn` (or NULL) folded into both. b may be
 * NULL when there is neither bias nor bn. */
int timmc_pt_conv(const timmc_st *st, float *w, float *b, const char *weight, const char *bias,
                  const char *bn, int out_channels, int group_input_channels, int kernel,
                  double bn_eps);
/* BatchNorm `bn` as a per-channel scale and shift. */
int timmc_pt_bn_affine(const timmc_st *st, float *scale, float *shift, const char *bn,
                       int channels, double bn_eps);
/* A Conv1d(1, 1, k) weight [1, 1, k] (ECA) into w. */
int timmc_pt_conv1d(const timmc_st *st, float *w, const char *weight, int kernel);
/* nn.Linear [out, in] (ndim 2) or a 1x1 conv [out, in, 1, 1] (ndim 4) into w
 * as [in][out], its bias into b, BatchNorm `bn` (or NULL) after it folded in;
 * hard_sigmoid: x/6 + 1/2 folded in (the layer then clamps to [0, 1]). */
int timmc_pt_linear(const timmc_st *st, float *w, float *b, const char *weight, const char *bias,
                    const char *bn, int out_features, int in_features, int ndim,
                    int hard_sigmoid, double bn_eps);
#endif

#endif
