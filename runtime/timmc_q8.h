/*
 * timmc_q8.h - the integer arithmetic of the portable backend's int8 forms
 * (generator/backends/portable_int8.lua, docs/portable.md): requantization
 * as TensorFlow Lite Micro and CMSIS-NN define it (a per-channel Q31
 * multiplier and a shift, a rounding doubling high multiply, then a rounding
 * right shift), and the conversions between float32 and int8. Everything in
 * forward is integer but the conversions, which are one IEEE operation each,
 * so a model gives the same bits on every CPU (a host and a Cortex-M alike).
 * Header only, no libm: what a firmware's forward needs.
 */
#ifndef TIMMC_Q8_H
#define TIMMC_Q8_H

#include <stdint.h>
#include <string.h>
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* TFLite Micro's MultiplyByQuantizedMultiplier: x * multiplier * 2^shift,
 * multiplier a Q31 in [2^30, 2^31) (timmc_quantize_multiplier's: never
 * INT32_MIN, so the high multiply cannot saturate), in two roundings:
 * - gemmlowp's SaturatingRoundingDoublingHighMul, (x * m + nudge) / 2^31
 *   truncated with a nudge of 2^30 or 1 - 2^30 by the product's sign, which
 *   for every product is (x * m + 2^30) >> 31 (for a negative one, truncating
 *   is adding 2^31 - 1 then flooring);
 * - gemmlowp's RoundingDivideByPOT, x / 2^right to nearest, ties away from 0.
 * Written so that a 32-bit core needs one multiply-accumulate long and no
 * 64-bit division (the same bits as the textbook form: checked on 10^8 values). */
static inline int32_t timmc_q8_requant(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int64_t product = (int64_t)(int32_t)((uint32_t)x << left) * multiplier;
  const int32_t high = (int32_t)((product + (1 << 30)) >> 31);
  const int32_t mask = (int32_t)((1u << right) - 1u);
  const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

static inline int8_t timmc_q8_clamp(int32_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* The inner loops of the int8 convolutions: y[i] += a * w[i], and
 * y[i] += (x[i] + offset) * w[i]; int32 sums, exact in any order. */
static inline void timmc_q8_axpy(int n, int32_t a, const int8_t *restrict w,
                                 int32_t *restrict y) {
  for (int i = 0; i < n; i++) y[i] += a * w[i];
}

static inline void timmc_q8_mac(int n, const int8_t *restrict x, int32_t offset,
                                const int8_t *restrict w, int32_t *restrict y) {
  for (int i = 0; i < n; i++) y[i] += (x[i] + offset) * w[i];
}

/* Four output pixels at once (each weight read once for the four): the
 * dense convolutions' y_j[i] += a_j * w[i], and the depthwise ones'
 * y_j[i] += (x_j[i] + offset) * w[i]. */
static inline void timmc_q8_axpy4(int n, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                  const int8_t *restrict w, int32_t *restrict y0,
                                  int32_t *restrict y1, int32_t *restrict y2,
                                  int32_t *restrict y3) {
  for (int i = 0; i < n; i++) {
    const int32_t v = w[i];
    y0[i] += a0 * v;
    y1[i] += a1 * v;
    y2[i] += a2 * v;
    y3[i] += a3 * v;
  }
}

static inline void timmc_q8_mac4(int n, const int8_t *restrict x0, const int8_t *restrict x1,
                                 const int8_t *restrict x2, const int8_t *restrict x3,
                                 int32_t offset, const int8_t *restrict w, int32_t *restrict y0,
                                 int32_t *restrict y1, int32_t *restrict y2,
                                 int32_t *restrict y3) {
  for (int i = 0; i < n; i++) {
    const int32_t v = w[i];
    y0[i] += (x0[i] + offset) * v;
    y1[i] += (x1[i] + offset) * v;
    y2[i] += (x2[i] + offset) * v;
    y3[i] += (x3[i] + offset) * v;
  }
}

/* acc + the sum over i < n of (x[i] + offset) * w[i]: a pointwise
 * convolution's output. On a core with the DSP extension (Cortex-M4, M7,
 * M33...) four products take two SMLADs, each of two 16-bit products: the
 * bytes sign-extended in pairs (SXTB16, SXTAB16 adding the offset), as
 * CMSIS-NN reads them; the int32 sum is the same either way. */
static inline int32_t timmc_q8_dot(int n, const int8_t *restrict x, int32_t offset,
                                   const int8_t *restrict w, int32_t acc) {
  int i = 0;
#if defined(__ARM_FEATURE_DSP)
  const int32_t offset2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
  for (; i + 4 <= n; i += 4) {
    uint32_t xv, wv;
    memcpy(&xv, x + i, 4);
    memcpy(&wv, w + i, 4);
    const int32_t x02 = __sxtab16(offset2, (int32_t)xv);
    const int32_t x13 = __sxtab16(offset2, (int32_t)((xv >> 8) | (xv << 24)));
    const int32_t w02 = __sxtb16((int32_t)wv), w13 = __sxtb16((int32_t)((wv >> 8) | (wv << 24)));
    acc = __smlad(x02, w02, acc);
    acc = __smlad(x13, w13, acc);
  }
#endif
  for (; i < n; i++) acc += (x[i] + offset) * w[i];
  return acc;
}

/* A float kept as its bits in an int32 word of the packed parameters. */
static inline float timmc_q8_float(int32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* round(x / scale) + zero_point saturated to int8: the rounding to nearest
 * even of one IEEE division (2^23 added and taken away: exact for |v| < 2^22,
 * no libm), as timmc_quantize_one does it in double. NaN gives zero_point. */
static inline int8_t timmc_q8_of(float x, float scale, int32_t zero_point) {
  float v = x / scale;
  v = v > 512.0f ? 512.0f : v < -512.0f ? -512.0f : v == v ? v : 0.0f;
  v = v >= 0.0f ? (v + 8388608.0f) - 8388608.0f : (v - 8388608.0f) + 8388608.0f;
  return timmc_q8_clamp((int32_t)v + zero_point, -128, 127);
}

/* The float32 that int8 v stands for. */
static inline float timmc_q8_to_f32(int8_t v, float scale, int32_t zero_point) {
  return (float)((int32_t)v - zero_point) * scale;
}

#endif
