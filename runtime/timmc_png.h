/*
 * timmc_png.h - feature maps as pictures a person can look at.
 *
 * A feature level [C][H][W] becomes one RGB PNG: the mean over its channels,
 * stretched from its minimum to its maximum, through a dark-blue to yellow
 * colour ramp, upscaled bilinearly to the model's input size, and blended
 * half and half over the input picture when one is given. Files are written
 * through a temporary name and renamed (timmc_file_write): never half-written.
 */
#ifndef TIMMC_PNG_H
#define TIMMC_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

/* Writes an RGB8 image ([height][width][3]) to path as PNG. */
int timmc_png_write_rgb(const char *path, const uint8_t *rgb, int height, int width);

/*
 * The picture of one feature level: chw holds channels x height x width
 * floats (one batch item, timm's layout); out is out_h x out_w (the model's
 * input size); under, when not NULL, is the out_h x out_w RGB8 picture the
 * model saw (timmc_image_resize_crop), blended under the map. scratch holds
 * timmc_png_scratch_bytes(...) bytes (no heap use besides the encoder's).
 */
size_t timmc_png_scratch_bytes(int height, int width, int out_h, int out_w);
int timmc_png_feature_map(const char *path, const float *chw, int channels, int height, int width,
                          const uint8_t *under, int out_h, int out_w, void *scratch,
                          size_t scratch_bytes);

#endif
