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

/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2 + 2^31) >> 32,
 * the rounding half away from zero, saturated for INT32_MIN * INT32_MIN. */
static inline int32_t timmc_q8_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
static inline int32_t timmc_q8_rdbpot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite Micro's MultiplyByQuantizedMultiplier: x * multiplier * 2^shift,
 * multiplier a Q31 in [2^30, 2^31). */
static inline int32_t timmc_q8_requant(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return timmc_q8_rdbpot(timmc_q8_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
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
