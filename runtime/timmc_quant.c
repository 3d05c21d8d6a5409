/*
 * timmc_quant.c - what int8 models call at init and in forward (timmc_quant.h).
 */
#include "timmc_quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

timmc_qparams timmc_qparams_of(float lo, float hi) {
  const double l = lo < 0.0f ? lo : 0.0, h = hi > 0.0f ? hi : 0.0;
  timmc_qparams q;
  /* at least MIN_RANGE wide: XNNPACK's int8 operators refuse a ratio of input
   * to output scales beyond 2^-14..2^8, which a tensor calibration saw as
   * (nearly) all zeros would give (timm zero-initialises some BatchNorms) */
  q.scale = (float)((h - l > TIMMC_MIN_RANGE ? h - l : TIMMC_MIN_RANGE) / 255.0);
  const double zp = -128.0 - nearbyint(l / q.scale);
  q.zero_point = (int8_t)(zp < -128.0 ? -128 : zp > 127.0 ? 127 : zp);
  return q;
}

int8_t timmc_quantize_one(double x, timmc_qparams q) {
  const double v = nearbyint(x / q.scale) + q.zero_point;
  return (int8_t)(v < -128.0 ? -128 : v > 127.0 ? 127 : v);
}

int timmc_load_qparams(const timmc_st *st, const char *const keys[], size_t n, timmc_qparams *qp) {
  static const int64_t shape[1] = {2};
  char name[512];
  for (size_t i = 0; i < n; i++) {
    float r[2];
    snprintf(name, sizeof name, "%s.act_range", keys[i]);
    if (!timmc_st_has(st, name)) {
      return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' is missing, expected F32 [2]: an int8 "
                        "model takes the checkpoint --calibrate writes, not a float one",
                        st->what, name);
    }
    TIMMC_TRY(timmc_st_read_f32(st, name, 1, shape, r));
    if (!isfinite(r[0]) || !isfinite(r[1]) || r[0] > r[1]) {
      return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' is [%g, %g], expected a finite range "
                        "lo <= hi", st->what, name, (double)r[0], (double)r[1]);
    }
    qp[i] = timmc_qparams_of(r[0], r[1]);
  }
  return TIMMC_OK;
}

static int reserve(timmc_scratch *w, size_t count, size_t out) {
  if (count > w->qk_cap) {
    int8_t *k = realloc(w->qk, count * 2 + XNN_EXTRA_BYTES); /* OIHW, then OHWI */
    if (!k) return timmc_fail(TIMMC_ERUNTIME, "out of memory for %zu int8 weights", count);
    w->qk = k;
    w->qk_cap = count;
  }
  if (out > w->q_out_cap) {
    float *s = realloc(w->qs, out * sizeof(float) + XNN_EXTRA_BYTES);
    if (s) w->qs = s;
    int32_t *b = realloc(w->qb, out * sizeof(int32_t) + XNN_EXTRA_BYTES);
    if (b) w->qb = b;
    if (!s || !b) return timmc_fail(TIMMC_ERUNTIME, "out of memory for %zu channels", out);
    w->q_out_cap = out;
  }
  return TIMMC_OK;
}

/* An int8 checkpoint's weight of ndim 4 ([out, in, k, k]) or 2 ([out, in]). */
static int load_qc8(timmc_scratch *w, const timmc_st *st, const char *weight, int out_channels,
                    int group_input_channels, int kernel, int ndim, float input_scale) {
  const size_t kk = (size_t)kernel * kernel, per_out = (size_t)group_input_channels * kk;
  const size_t count = (size_t)out_channels * per_out;
  const int64_t shape[4] = {out_channels, group_input_channels, kernel, kernel};
  const int64_t vec[1] = {out_channels};
  char prefix[512], name[600];
  const size_t len = strlen(weight);
  if (len < 7 || strcmp(weight + len - 7, ".weight") != 0 || len - 7 >= sizeof prefix) {
    return timmc_fail(TIMMC_ERUNTIME, "int8 weight key '%s' does not end in .weight", weight);
  }
  memcpy(prefix, weight, len - 7);
  prefix[len - 7] = '\0';
  TIMMC_TRY(reserve(w, count, (size_t)out_channels));
  int8_t *oihw = w->qk + count;
  TIMMC_TRY(timmc_st_read_i8(st, weight, ndim, shape, oihw));
  snprintf(name, sizeof name, "%s.weight_scale", prefix);
  TIMMC_TRY(timmc_st_read_f32(st, name, 1, vec, w->qs));
  snprintf(name, sizeof name, "%s.bias", prefix);
  float *bias = (float *)(void *)w->qb; /* same size: read as float, then rounded in place */
  TIMMC_TRY(timmc_st_read_f32(st, name, 1, vec, bias));
  for (int o = 0; o < out_channels; o++) {
    const float s = w->qs[o];
    if (!(s > 0.0f) || !isfinite(s)) {
      return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s.weight_scale'[%d] is %g, expected > 0",
                        st->what, prefix, o, (double)s);
    }
    const double b = nearbyint((double)bias[o] / ((double)input_scale * s));
    w->qb[o] = (int32_t)(b > INT32_MAX ? INT32_MAX : b < INT32_MIN ? INT32_MIN : b);
    const int8_t *src = oihw + o * per_out;
    int8_t *dst = w->qk + o * per_out;
    for (int i = 0; i < group_input_channels; i++) {
      for (size_t p = 0; p < kk; p++) dst[p * group_input_channels + i] = src[i * kk + p];
    }
  }
  return TIMMC_OK;
}

int timmc_load_conv_qc8(timmc_scratch *w, const timmc_st *st, const char *weight,
                        int out_channels, int group_input_channels, int kernel,
                        float input_scale) {
  return load_qc8(w, st, weight, out_channels, group_input_channels, kernel, 4, input_scale);
}

int timmc_load_linear_qc8(timmc_scratch *w, const timmc_st *st, const char *weight,
                          int out_features, int in_features, int ndim, float input_scale) {
  return load_qc8(w, st, weight, out_features, in_features, 1, ndim, input_scale);
}

void timmc_lut8_fill(int8_t lut[256], float (*fn)(float x, float c), float c, timmc_qparams in,
                     timmc_qparams out) {
  for (int v = -128; v < 128; v++) {
    const float x = (float)(v - in.zero_point) * in.scale;
    lut[v + 128] = timmc_quantize_one(fn(x, c), out);
  }
}

static void lut8_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t channels = op->dims[1], in_stride = op->dims[2], out_stride = op->dims[3];
  const int8_t *lut = (const int8_t *)(const void *)op->b;
  for (size_t p = first; p < first + count; p++) {
    const int8_t *in = (const int8_t *)(const void *)op->a + p * in_stride;
    int8_t *out = (int8_t *)(void *)op->y + p * out_stride;
    for (size_t c = 0; c < channels; c++) out[c] = lut[in[c] + 128];
  }
}

int timmc_kernel_lut8(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, lut8_pixels, (void *)op, op->dims[0], 256, 0);
  return TIMMC_OK;
}

/* ---- the portable backend's int8 forms (timmc_quant.h, runtime/timmc_q8.h) ---- */

void timmc_quantize_multiplier(double m, int32_t *multiplier, int32_t *shift) {
  if (m == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int e;
  const double q = frexp(m, &e);
  int64_t fixed = (int64_t)llround(q * (double)(1LL << 31));
  if (fixed == (1LL << 31)) {
    fixed /= 2;
    e++;
  }
  if (e < -31) {
    e = 0;
    fixed = 0;
  }
  if (e > 30) {
    e = 30;
    fixed = (1LL << 31) - 1;
  }
  *multiplier = (int32_t)fixed;
  *shift = e;
}

static int32_t scale_bits(float scale) {
  int32_t bits;
  memcpy(&bits, &scale, sizeof bits);
  return bits;
}

int timmc_pt_conv_q8(const timmc_st *st, int32_t *words, const char *weight, int out_channels,
                     int group_input_channels, int kernel, int ndim, int out_major,
                     timmc_qparams x, timmc_qparams y, int lo, int hi) {
  timmc_scratch w;
  memset(&w, 0, sizeof w);
  const int linear = ndim == 2 || kernel == 0;
  const int k = linear ? 1 : kernel;
  int rc = linear ? timmc_load_linear_qc8(&w, st, weight, out_channels, group_input_channels,
                                          ndim, x.scale)
                  : timmc_load_conv_qc8(&w, st, weight, out_channels, group_input_channels, k,
                                        x.scale);
  if (rc == TIMMC_OK) {
    const size_t per_out = (size_t)k * k * group_input_channels;
    words[0] = -x.zero_point;
    words[1] = y.zero_point;
    words[2] = lo;
    words[3] = hi;
    int32_t *bias = words + 4, *mult = bias + out_channels, *shift = mult + out_channels;
    int8_t *packed = (int8_t *)(void *)(shift + out_channels);
    for (int o = 0; o < out_channels; o++) {
      bias[o] = w.qb[o];
      timmc_quantize_multiplier((double)x.scale * (double)w.qs[o] / (double)y.scale, &mult[o],
                                &shift[o]);
      /* [out][kh][kw][in], or -> [kh][kw][in][out] */
      for (size_t j = 0; j < per_out; j++) {
        packed[out_major ? (size_t)o * per_out + j : j * (size_t)out_channels + (size_t)o] =
            w.qk[(size_t)o * per_out + j];
      }
    }
  }
  timmc_scratch_free(&w);
  return rc;
}

void timmc_pt_add_q8(int32_t words[11], timmc_qparams a, timmc_qparams b, timmc_qparams y, int lo,
                     int hi) {
  const double twice_max = 2.0 * (a.scale > b.scale ? a.scale : b.scale);
  words[0] = -a.zero_point;
  words[1] = -b.zero_point;
  words[2] = y.zero_point;
  words[3] = lo;
  words[4] = hi;
  timmc_quantize_multiplier(a.scale / twice_max, &words[5], &words[6]);
  timmc_quantize_multiplier(b.scale / twice_max, &words[7], &words[8]);
  timmc_quantize_multiplier(twice_max / ((double)(1 << 20) * y.scale), &words[9], &words[10]);
}

void timmc_pt_mul_q8(int32_t words[7], timmc_qparams a, timmc_qparams b, timmc_qparams y, int lo,
                     int hi) {
  words[0] = -a.zero_point;
  words[1] = -b.zero_point;
  words[2] = y.zero_point;
  words[3] = lo;
  words[4] = hi;
  timmc_quantize_multiplier((double)a.scale * b.scale / y.scale, &words[5], &words[6]);
}

void timmc_pt_mean_q8(int32_t words[4], timmc_qparams x, timmc_qparams y, int count) {
  words[0] = -x.zero_point;
  words[1] = y.zero_point;
  timmc_quantize_multiplier((double)x.scale / ((double)count * y.scale), &words[2], &words[3]);
}

void timmc_pt_qparams_q8(int32_t words[2], timmc_qparams q) {
  words[0] = q.zero_point;
  words[1] = scale_bits(q.scale);
}
