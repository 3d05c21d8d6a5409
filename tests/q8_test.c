/*
 * q8_test: the portable backend's int8 arithmetic (runtime/timmc_q8.h) against
 * TFLite Micro's reference forms, written as its source writes them:
 * MultiplyByQuantizedMultiplier as gemmlowp's SaturatingRoundingDoublingHighMul
 * (nudge, then a truncating 64-bit division) and RoundingDivideByPOT, on 10^7
 * accumulators of every size and multipliers from timmc_quantize_multiplier;
 * QuantizeMultiplier's own cases (a multiplier in [2^30, 2^31), 0, 1, the
 * round-up to 2^31 that moves the shift); the conversions' rounding (to
 * nearest even, saturated, NaN to the zero point).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "timmc_q8.h"
#include "timmc_quant.h"

static int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t ref_rdbpot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static int32_t ref_requant(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return ref_rdbpot(ref_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static int failures;
#define CHECK(cond, ...)        \
  do {                          \
    if (!(cond)) {              \
      if (failures++ < 10) {    \
        printf(__VA_ARGS__);    \
        printf("\n");           \
      }                         \
    }                           \
  } while (0)

int main(void) {
  int32_t m, s;
  timmc_quantize_multiplier(0.0, &m, &s);
  CHECK(m == 0 && s == 0, "QuantizeMultiplier(0): %d, %d", (int)m, (int)s);
  timmc_quantize_multiplier(1.0, &m, &s);
  CHECK(m == 1073741824 && s == 1, "QuantizeMultiplier(1): %d, %d", (int)m, (int)s);
  timmc_quantize_multiplier(0.5 * (1.0 - ldexp(1.0, -40)), &m, &s); /* rounds up to 2^31 */
  CHECK(m == 1073741824 && s == 0, "QuantizeMultiplier(0.5-): %d, %d", (int)m, (int)s);
  timmc_quantize_multiplier(ldexp(1.0, -40), &m, &s);
  CHECK(m == 0 && s == 0, "QuantizeMultiplier(2^-40): %d, %d", (int)m, (int)s);
  long n = 0;
  for (long i = 0; i < 10000000; i++) {
    int32_t x;
    switch (i % 4) {
      case 0: x = (int32_t)(next() ^ (next() << 16)); break;
      case 1: x = (int32_t)(next() % 2000001u) - 1000000; break;
      case 2: x = (int32_t)(next() % 201u) - 100; break;
      default: x = (int32_t)(next() % 67108865u) - 33554432; break;
    }
    /* scales as convolutions give them: 2^-30 .. 2^3 */
    const double scale = ldexp(1.0 + next() / 4294967296.0, (int)(next() % 34u) - 31);
    timmc_quantize_multiplier(scale, &m, &s);
    CHECK(m == 0 || (m >= (1 << 30) && s >= -31 && s <= 30), "scale %g: %d, %d", scale, (int)m,
          (int)s);
    if (s > 0) {
      const int64_t v = (int64_t)x * ((int64_t)1 << s);
      if (v > INT32_MAX || v < INT32_MIN) x = (int32_t)(next() % 2001u) - 1000;
    }
    const int32_t want = ref_requant(x, m, s), got = timmc_q8_requant(x, m, s);
    CHECK(want == got, "requant(%d, %d, %d): %d, TFLite Micro's %d", (int)x, (int)m, (int)s,
          (int)got, (int)want);
    n++;
  }
  /* conversions: ties to even, saturation, NaN */
  CHECK(timmc_q8_of(2.5f, 1.0f, 0) == 2 && timmc_q8_of(3.5f, 1.0f, 0) == 4, "ties to even");
  CHECK(timmc_q8_of(-2.5f, 1.0f, 3) == 1, "-2.5 + 3");
  CHECK(timmc_q8_of(1e30f, 0.1f, 0) == 127 && timmc_q8_of(-1e30f, 0.1f, 0) == -128, "saturate");
  CHECK(timmc_q8_of(NAN, 0.1f, -5) == -5, "NaN");
  for (int v = -128; v < 128; v++) {
    const float sc = 0.0371f;
    CHECK(timmc_q8_of(timmc_q8_to_f32((int8_t)v, sc, 7), sc, 7) == v, "round trip %d", v);
  }
  if (failures) {
    printf("q8_test: %d failures\n", failures);
    return 1;
  }
  printf("q8_test: requantization as TFLite Micro's on %ld values, conversions\n", n);
  return 0;
}
