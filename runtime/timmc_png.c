/*
 * timmc_png.c - feature maps as PNG pictures (stb_image_write from Debian's
 * libstb-dev encodes; timmc_file_write puts the file in place).
 */
#include "timmc_png.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_file.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

int timmc_png_write_rgb(const char *path, const uint8_t *rgb, int height, int width) {
  int len = 0;
  unsigned char *png = stbi_write_png_to_mem(rgb, width * 3, width, height, 3, &len);
  if (!png) return timmc_fail(TIMMC_ERUNTIME, "%s: cannot encode the PNG", path);
  const int rc = timmc_file_write(path, png, (size_t)len);
  STBIW_FREE(png);
  return rc;
}

/* The colour ramp: dark blue, purple, orange, yellow at 0, 1/3, 2/3, 1. */
static void ramp(float t, uint8_t rgb[3]) {
  static const float stops[4][3] = {
      {20, 12, 80}, {140, 40, 130}, {240, 120, 40}, {250, 240, 90}};
  if (!(t > 0.0f)) t = 0.0f; /* NaN too */
  if (t > 1.0f) t = 1.0f;
  const float x = t * 3.0f;
  int i = (int)x;
  if (i > 2) i = 2;
  const float f = x - (float)i;
  for (int c = 0; c < 3; c++) {
    const float v = stops[i][c] + f * (stops[i + 1][c] - stops[i][c]);
    rgb[c] = (uint8_t)(v + 0.5f);
  }
}

size_t timmc_png_scratch_bytes(int height, int width, int out_h, int out_w) {
  return (size_t)height * width * sizeof(float) + (size_t)out_h * out_w * 3;
}

int timmc_png_feature_map(const char *path, const float *chw, int channels, int height, int width,
                          const uint8_t *under, int out_h, int out_w, void *scratch,
                          size_t scratch_bytes) {
  if (channels < 1 || height < 1 || width < 1 || out_h < 1 || out_w < 1) {
    return timmc_fail(TIMMC_EINPUT, "%s: a feature map of %d x %d x %d to %d x %d pixels", path,
                      channels, height, width, out_h, out_w);
  }
  if (scratch_bytes < timmc_png_scratch_bytes(height, width, out_h, out_w)) {
    return timmc_fail(TIMMC_EINPUT, "%s: %zu bytes of scratch, expected %zu", path, scratch_bytes,
                      timmc_png_scratch_bytes(height, width, out_h, out_w));
  }
  float *map = scratch;
  uint8_t *rgb = (uint8_t *)scratch + (size_t)height * width * sizeof(float);
  const size_t hw = (size_t)height * width;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t p = 0; p < hw; p++) {
    double sum = 0.0;
    for (int c = 0; c < channels; c++) sum += chw[(size_t)c * hw + p];
    map[p] = (float)(sum / channels);
    if (map[p] < lo) lo = map[p];
    if (map[p] > hi) hi = map[p];
  }
  const float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
  for (int y = 0; y < out_h; y++) {
    /* bilinear, pixel centres aligned as in align_corners=False */
    float sy = ((float)y + 0.5f) * height / out_h - 0.5f;
    if (sy < 0) sy = 0;
    int y0 = (int)sy;
    if (y0 > height - 1) y0 = height - 1;
    const int y1 = y0 + 1 < height ? y0 + 1 : y0;
    const float fy = sy - (float)y0;
    for (int x = 0; x < out_w; x++) {
      float sx = ((float)x + 0.5f) * width / out_w - 0.5f;
      if (sx < 0) sx = 0;
      int x0 = (int)sx;
      if (x0 > width - 1) x0 = width - 1;
      const int x1 = x0 + 1 < width ? x0 + 1 : x0;
      const float fx = sx - (float)x0;
      const float v = (1 - fy) * ((1 - fx) * map[y0 * width + x0] + fx * map[y0 * width + x1]) +
                      fy * ((1 - fx) * map[y1 * width + x0] + fx * map[y1 * width + x1]);
      uint8_t *px = rgb + ((size_t)y * out_w + x) * 3;
      ramp((v - lo) * scale, px);
      if (under) {
        const uint8_t *u = under + ((size_t)y * out_w + x) * 3;
        for (int c = 0; c < 3; c++) px[c] = (uint8_t)((px[c] + u[c] + 1) / 2);
      }
    }
  }
  return timmc_png_write_rgb(path, rgb, out_h, out_w);
}
