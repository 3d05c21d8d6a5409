/*
 * timmc_portable.c - the portable backend's loaders: a timm checkpoint's
 * tensors into the packed layout its generated loops read, BatchNorm folded
 * as timmc_rt.c folds it for XNNPACK (scale in double, rounded once to float).
 */
#include "timmc_portable.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float buffer for one tensor as the checkpoint holds it. */
static int tensor(const timmc_st *st, const char *name, int ndim, const int64_t *shape,
                  float **out) {
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
  *out = malloc(count * sizeof(float));
  if (!*out) return timmc_fail(TIMMC_ERUNTIME, "out of memory for tensor '%s'", name);
  int rc = timmc_st_read_f32(st, name, ndim, shape, *out);
  if (rc != TIMMC_OK) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* BatchNorm `bn`'s per-channel scale gamma / sqrt(var + eps) (double) and
 * the mean and beta to fold with it: y = (x - mean) * scale + beta. */
typedef struct bn_fold {
  double *scale;
  float *mean, *beta;
  float *all;
} bn_fold;

static void bn_free(bn_fold *f) {
  free(f->scale);
  free(f->all);
}

static int bn_read(const timmc_st *st, const char *bn, int channels, double eps, bn_fold *f) {
  static const char *const keys[4] = {"weight", "bias", "running_mean", "running_var"};
  const int64_t shape[1] = {channels};
  memset(f, 0, sizeof(*f));
  f->all = malloc(4 * (size_t)channels * sizeof(float));
  f->scale = malloc((size_t)channels * sizeof(double));
  if (!f->all || !f->scale) {
    bn_free(f);
    return timmc_fail(TIMMC_ERUNTIME, "out of memory for '%s'", bn);
  }
  for (int k = 0; k < 4; k++) {
    char name[512];
    snprintf(name, sizeof(name), "%s.%s", bn, keys[k]);
    int rc = timmc_st_read_f32(st, name, 1, shape, f->all + (size_t)k * channels);
    if (rc != TIMMC_OK) {
      bn_free(f);
      return rc;
    }
  }
  const float *gamma = f->all, *var = f->all + 3 * (size_t)channels;
  f->beta = f->all + channels;
  f->mean = f->all + 2 * (size_t)channels;
  for (int c = 0; c < channels; c++) {
    if (!(var[c] >= 0.0f)) {
      bn_free(f);
      return timmc_fail(TIMMC_EINPUT, "tensor '%s.running_var'[%d] is %g, expected >= 0", bn, c,
                        (double)var[c]);
    }
    f->scale[c] = (double)gamma[c] / sqrt((double)var[c] + eps);
  }
  return TIMMC_OK;
}

/* w[i][o] (stride out, per output o) and b[o] of `out` outputs with `per`
 * weights each, BatchNorm folded. */
static void bn_apply(const bn_fold *f, float *w, float *b, int out, size_t per) {
  for (int o = 0; o < out; o++) {
    for (size_t i = 0; i < per; i++) {
      w[i * out + o] = (float)(w[i * out + o] * f->scale[o]);
    }
    b[o] = (float)(((double)b[o] - f->mean[o]) * f->scale[o] + f->beta[o]);
  }
}

static int bias_into(const timmc_st *st, const char *bias, int out, float *b) {
  if (!bias) {
    for (int o = 0; o < out; o++) b[o] = 0.0f;
    return TIMMC_OK;
  }
  const int64_t shape[1] = {out};
  return timmc_st_read_f32(st, bias, 1, shape, b);
}

int timmc_pt_conv(const timmc_st *st, float *w, float *b, const char *weight, const char *bias,
                  const char *bn, int out_channels, int group_input_channels, int kernel,
                  double bn_eps) {
  const int64_t shape[4] = {out_channels, group_input_channels, kernel, kernel};
  const size_t kk = (size_t)kernel * kernel, per = kk * group_input_channels;
  float *src;
  TIMMC_TRY(tensor(st, weight, 4, shape, &src));
  for (int o = 0; o < out_channels; o++) { /* OIHW -> HWIO */
    for (int i = 0; i < group_input_channels; i++) {
      for (size_t p = 0; p < kk; p++) {
        w[(p * group_input_channels + i) * out_channels + o] = src[(o * per) + i * kk + p];
      }
    }
  }
  free(src);
  if (!b) return TIMMC_OK;
  TIMMC_TRY(bias_into(st, bias, out_channels, b));
  if (!bn) return TIMMC_OK;
  bn_fold f;
  TIMMC_TRY(bn_read(st, bn, out_channels, bn_eps, &f));
  bn_apply(&f, w, b, out_channels, per);
  bn_free(&f);
  return TIMMC_OK;
}

int timmc_pt_bn_affine(const timmc_st *st, float *scale, float *shift, const char *bn,
                       int channels, double bn_eps) {
  for (int c = 0; c < channels; c++) {
    scale[c] = 1.0f;
    shift[c] = 0.0f;
  }
  bn_fold f;
  TIMMC_TRY(bn_read(st, bn, channels, bn_eps, &f));
  bn_apply(&f, scale, shift, channels, 1);
  bn_free(&f);
  return TIMMC_OK;
}

int timmc_pt_conv1d(const timmc_st *st, float *w, const char *weight, int kernel) {
  const int64_t shape[3] = {1, 1, kernel};
  return timmc_st_read_f32(st, weight, 3, shape, w);
}

int timmc_pt_linear(const timmc_st *st, float *w, float *b, const char *weight, const char *bias,
                    const char *bn, int out_features, int in_features, int ndim,
                    int hard_sigmoid, double bn_eps) {
  const int64_t shape[4] = {out_features, in_features, 1, 1};
  float *src;
  TIMMC_TRY(tensor(st, weight, ndim, shape, &src));
  for (int o = 0; o < out_features; o++) { /* [out][in] -> [in][out] */
    for (int i = 0; i < in_features; i++) {
      w[(size_t)i * out_features + o] = src[(size_t)o * in_features + i];
    }
  }
  free(src);
  TIMMC_TRY(bias_into(st, bias, out_features, b));
  if (bn) {
    bn_fold f;
    TIMMC_TRY(bn_read(st, bn, out_features, bn_eps, &f));
    bn_apply(&f, w, b, out_features, (size_t)in_features);
    bn_free(&f);
  }
  if (hard_sigmoid) { /* relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1) */
    for (size_t i = 0; i < (size_t)out_features * in_features; i++) w[i] /= 6.0f;
    for (int o = 0; o < out_features; o++) b[o] = b[o] / 6.0f + 0.5f;
  }
  return TIMMC_OK;
}
