/*
 * calib_test.c - unit tests of two steps of int8 calibration
 * (runtime/timmc_calib.h, docs/int8.md "Calibration"):
 *  - bias correction: timmc_rounding_bias against a brute-force convolution
 *    of a constant image, float weights against their int8 rounding, for
 *    grouped, strided, padded and dilated layers;
 *  - the dead ranges of clamped adds: timmc_narrow_dead_ranges gives the
 *    expected ranges, and the add's clamped output is unchanged by them.
 *  - which tensors the convolutions read (only those get per-channel sums):
 *    timmc_conv_inputs marks them, and fails on a conv whose input index or
 *    channel count disagrees with the model's tensors.
 * Prints "N passed, M failed"; exits 1 on failure.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_calib.h"

#include "check.h"

static double uniform(unsigned *state) {
  *state = *state * 1103515245u + 12345u;
  return (double)(*state >> 8) / (double)(1u << 24);
}

/* One layer: random weights, rounded as calibration rounds them (per output
 * channel, symmetric), a random mean per input channel. The mean over the
 * output pixels of (float conv - int8 conv) of the image whose every pixel
 * is that mean (zeros outside) must be timmc_rounding_bias. */
static void check_layer(timmc_qconv q, unsigned seed) {
  const int k = q.kernel, in_g = q.group_input_channels, out = q.out_channels;
  const int out_g = out / q.groups, cin = in_g * q.groups;
  const size_t per_out = (size_t)k * k * in_g;
  float *row = malloc((size_t)out * per_out * sizeof(float)); /* [o][k][k][in_g] */
  int8_t *q8 = malloc((size_t)out * per_out);                 /* [o][in_g][k][k] */
  float *scale = malloc((size_t)out * sizeof(float));
  double *mean = malloc((size_t)cin * sizeof(double));
  for (int c = 0; c < cin; c++) mean[c] = uniform(&seed) * 2.0 - 0.5;
  for (int o = 0; o < out; o++) {
    float amax = 0.0f;
    for (size_t j = 0; j < per_out; j++) {
      row[o * per_out + j] = (float)(uniform(&seed) * 2.0 - 1.0);
      amax = fmaxf(amax, fabsf(row[o * per_out + j]));
    }
    scale[o] = amax / 127.0f;
    for (int i = 0; i < in_g; i++) {
      for (int t = 0; t < k * k; t++) {
        q8[o * per_out + (size_t)i * k * k + t] =
            (int8_t)nearbyint(row[o * per_out + (size_t)t * in_g + i] / scale[o]);
      }
    }
  }
  double worst = 0.0;
  for (int o = 0; o < out; o++) {
    const int g = o / out_g;
    double diff = 0.0; /* summed over output pixels */
    for (int oy = 0; oy < q.out_height; oy++) {
      for (int ox = 0; ox < q.out_width; ox++) {
        for (int t = 0; t < k * k; t++) {
          const int iy = oy * q.stride - q.pad_top + (t / k) * q.dilation;
          const int ix = ox * q.stride - q.pad_left + (t % k) * q.dilation;
          if (iy < 0 || iy >= q.in_height || ix < 0 || ix >= q.in_width) continue;
          for (int i = 0; i < in_g; i++) {
            const double w = row[o * per_out + (size_t)t * in_g + i];
            const double r = (double)q8[o * per_out + (size_t)i * k * k + t] * scale[o];
            diff += (w - r) * mean[g * in_g + i];
          }
        }
      }
    }
    diff /= (double)q.out_height * q.out_width;
    const double got = timmc_rounding_bias(&q, row + o * per_out, q8 + o * per_out, scale[o],
                                           mean + g * in_g);
    worst = fmax(worst, fabs(got - diff));
  }
  CHECK(worst < 1e-12);
  if (worst >= 1e-12) printf("  kernel %d stride %d dilation %d: off by %g\n", k, q.stride,
                             q.dilation, worst);
  free(row), free(q8), free(scale), free(mean);
}

static void test_rounding_bias(void) {
  /* weight, bias, bn, eps, out, in per group, kernel, linear ndim, gate;
   * input, groups, stride, dilation, pad top/left, in h/w, out h/w */
  check_layer((timmc_qconv){"w", 0, 0, 0, 4, 3, 3, 0, 0, 0, 2, 1, 1, 1, 1, 5, 6, 5, 6}, 1);
  check_layer((timmc_qconv){"w", 0, 0, 0, 6, 2, 3, 0, 0, 0, 3, 2, 1, 1, 1, 7, 6, 4, 3}, 2);
  check_layer((timmc_qconv){"w", 0, 0, 0, 2, 4, 3, 0, 0, 0, 1, 1, 2, 2, 2, 5, 5, 5, 5}, 3);
  check_layer((timmc_qconv){"w", 0, 0, 0, 3, 2, 7, 0, 0, 0, 1, 2, 1, 3, 3, 9, 8, 5, 4}, 4);
  check_layer((timmc_qconv){"w", 0, 0, 0, 5, 8, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1}, 5);
  /* a tap that never reads the input: 3x3, pad 2, dilation 2, 1x1 input */
  const timmc_qconv edge = {"w", 0, 0, 0, 1, 1, 3, 0, 0, 0, 1, 1, 2, 2, 2, 1, 1, 1, 1};
  CHECK(timmc_tap_share(&edge, 1, 1) == 1.0 && timmc_tap_share(&edge, 0, 1) == 0.0);
}

static float clamped(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }

static void test_dead_ranges(void) {
  static const char *const keys[] = {"a", "b", "c", "d", "e"};
  static const timmc_qadd adds[] = {
      {0, 1, 1, 1, 0.0f, INFINITY}, /* relu(a + b), both narrowed */
      {2, 1, 1, 0, 0.0f, 6.0f},     /* relu6(c + b), c only */
      {3, 4, 1, 0, 0.0f, INFINITY}, /* d entirely dead: left as it is */
  };
  const timmc_quant_info qi = {keys, 5, NULL, 0, NULL, 0, adds, 3};
  float r[5][2] = {{-2.0f, 1.5f}, {-0.5f, 0.8f}, {-1.0f, 7.0f}, {-2.0f, -1.0f}, {0.0f, 0.5f}};
  const float chosen[5][2] = {{-2.0f, 1.5f}, {-0.5f, 0.8f}, {-1.0f, 7.0f}, {-2.0f, -1.0f},
                              {0.0f, 0.5f}};
  CHECK(timmc_narrow_dead_ranges(&qi, r) == TIMMC_OK);
  CHECK(r[0][0] == -0.8f && r[0][1] == 1.5f); /* 0 - b's 0.8 */
  CHECK(r[1][0] == -0.5f && r[1][1] == 0.8f); /* 0 - a's 1.5 is below b's own */
  CHECK(r[2][0] == -0.8f && r[2][1] == 6.5f); /* 6 - b's -0.5 */
  CHECK(r[3][0] == -2.0f && r[3][1] == -1.0f);
  /* lossless: any a, b, c in their chosen ranges give the same clamped sums
   * when the narrowed inputs are clipped to their new ranges */
  unsigned seed = 7;
  int same = 1;
  for (int n = 0; n < 100000; n++) {
    float v[3];
    for (int i = 0; i < 3; i++)
      v[i] = chosen[i][0] + (float)uniform(&seed) * (chosen[i][1] - chosen[i][0]);
    const float a = clamped(v[0], r[0][0], r[0][1]), b = clamped(v[1], r[1][0], r[1][1]);
    const float c = clamped(v[2], r[2][0], r[2][1]);
    same &= fmaxf(a + b, 0.0f) == fmaxf(v[0] + v[1], 0.0f);
    same &= clamped(c + v[1], 0.0f, 6.0f) == clamped(v[2] + v[1], 0.0f, 6.0f);
  }
  CHECK(same);
}

static void test_conv_inputs(void) {
  static const char *const keys[] = {"x", "stem", "blocks.0", "blocks.1"};
  /* (fields as above) stem reads x (3 channels), a depthwise and a pointwise
   * conv read stem (8); nothing reads the others */
  timmc_qconv convs[] = {
      {"stem.weight", 0, 0, 0, 8, 3, 3, 0, 0, 0, 1, 2, 1, 1, 1, 8, 8, 4, 4},
      {"dw.weight", 0, 0, 0, 8, 1, 3, 0, 0, 1, 8, 1, 1, 1, 1, 4, 4, 4, 4},
      {"pw.weight", 0, 0, 0, 16, 8, 1, 0, 0, 1, 1, 1, 1, 0, 0, 4, 4, 4, 4},
  };
  timmc_quant_info qi = {keys, 4, convs, 3, NULL, 0, NULL, 0};
  const size_t channels[4] = {3, 8, 8, 16};
  unsigned char read[4] = {9, 9, 9, 9};
  CHECK(timmc_conv_inputs(&qi, channels, "m", read) == TIMMC_OK);
  CHECK(read[0] == 1 && read[1] == 1 && read[2] == 0 && read[3] == 0);
  const size_t wrong[4] = {3, 16, 8, 16}; /* stem's channels not the convs' */
  CHECK(timmc_conv_inputs(&qi, wrong, "m", read) == TIMMC_ERUNTIME);
  CHECK(strstr(timmc_error(), "m: int8 convolution 'dw.weight' takes 8 input channels, but "
                              "'stem' has 16") != NULL);
  convs[2].input = 4; /* not a key */
  CHECK(timmc_conv_inputs(&qi, channels, "m", read) == TIMMC_ERUNTIME);
  CHECK(strstr(timmc_error(), "'pw.weight' reads range key 4, expected one of its 4") != NULL);
  qi.num_convs = 0; /* no convolutions: nothing read */
  CHECK(timmc_conv_inputs(&qi, channels, "m", read) == TIMMC_OK);
  CHECK(!read[0] && !read[1] && !read[2] && !read[3]);
}

int main(void) {
  test_rounding_bias();
  test_dead_ranges();
  test_conv_inputs();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
