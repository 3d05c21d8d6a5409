/*
 * preprocess_bench.c - times timmc_image_preprocess on a 1920 x 1080 photo to
 * 224 x 224 (resnet50's data config: bicubic, crop_pct 0.95, ImageNet mean and
 * std), as bench/preprocess.sh runs it.
 *
 * Usage: preprocess_bench [RUNS] [IMAGE]
 *
 * The photo is tests/image/astronaut.png (or IMAGE) upscaled in C to 1920 x
 * 1080 (bilinear, fixed point: the same bytes on every machine), so nothing
 * large is stored. Prints the median, min and max ms over RUNS (default 30)
 * after two warm-up runs, as `median_ms: X` on the last line, and an FNV-1a
 * hash of the output tensor (the same hash before and after a change to the
 * resampling means the same bytes on this input).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timmc.h"
#include "timmc_image.h"

#define W 1920
#define H 1080

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* src (sh x sw RGB8) to W x H, bilinear in 16.16 fixed point, plus a little
 * deterministic noise so that no two neighbours are alike (photo grain). */
static void upscale(const uint8_t *src, int sh, int sw, uint8_t *dst) {
  uint32_t rng = 12345;
  for (int y = 0; y < H; y++) {
    int64_t fy = ((int64_t)y * (sh - 1) << 16) / (H - 1);
    int y0 = (int)(fy >> 16), y1 = y0 + 1 < sh ? y0 + 1 : y0;
    int64_t wy = fy & 0xffff;
    for (int x = 0; x < W; x++) {
      int64_t fx = ((int64_t)x * (sw - 1) << 16) / (W - 1);
      int x0 = (int)(fx >> 16), x1 = x0 + 1 < sw ? x0 + 1 : x0;
      int64_t wx = fx & 0xffff;
      for (int c = 0; c < 3; c++) {
        int64_t a = src[((size_t)y0 * sw + x0) * 3 + c], b = src[((size_t)y0 * sw + x1) * 3 + c];
        int64_t d = src[((size_t)y1 * sw + x0) * 3 + c], e = src[((size_t)y1 * sw + x1) * 3 + c];
        int64_t top = a * (65536 - wx) + b * wx, bot = d * (65536 - wx) + e * wx;
        int64_t v = (top * (65536 - wy) + bot * wy) >> 32;
        rng = rng * 1664525u + 1013904223u;
        v += (int64_t)(rng >> 29) - 4; /* -4 .. 3 */
        dst[((size_t)y * W + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 30;
  const char *path = argc > 2 ? argv[2] : "tests/image/astronaut.png";
  if (runs < 1) runs = 1;
  uint8_t *small;
  int sh, sw;
  if (timmc_image_load(path, &small, &sh, &sw)) {
    fprintf(stderr, "preprocess_bench: %s\n", timmc_error());
    return 1;
  }
  uint8_t *rgb = malloc((size_t)W * H * 3);
  if (!rgb) return 1;
  upscale(small, sh, sw, rgb);
  timmc_image_free(small);

  timmc_image_cfg cfg = {224, 224, 0.95, TIMMC_IMAGE_BICUBIC, TIMMC_IMAGE_CROP_CENTER,
                         {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  size_t sb = timmc_image_scratch_bytes(H, W, &cfg);
  void *scratch = malloc(sb);
  float *out = malloc(3 * 224 * 224 * sizeof(float));
  double *ms = malloc(sizeof(double) * (size_t)runs);
  if (!scratch || !out || !ms) return 1;
  for (int r = -2; r < runs; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = timmc_image_preprocess(rgb, H, W, &cfg, out, scratch, sb);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) {
      fprintf(stderr, "preprocess_bench: %s\n", timmc_error());
      return 1;
    }
    if (r >= 0) ms[r] = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  }
  qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
  uint64_t hash = 0xcbf29ce484222325u;
  const uint8_t *b = (const uint8_t *)out;
  for (size_t i = 0; i < 3 * 224 * 224 * sizeof(float); i++) hash = (hash ^ b[i]) * 0x100000001b3u;
  printf("image: %s upscaled to %d x %d, 224 x 224 bicubic crop_pct 0.95, scratch %zu bytes\n",
         path, W, H, sb);
  printf("output_fnv1a: %016llx\n", (unsigned long long)hash);
  printf("runs: %d, min_ms: %.3f, max_ms: %.3f\n", runs, ms[0], ms[runs - 1]);
  printf("median_ms: %.3f\n", runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2);
  free(ms);
  free(out);
  free(scratch);
  free(rgb);
  return 0;
}
