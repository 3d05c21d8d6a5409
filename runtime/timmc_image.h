/*
 * timmc_image.h - image files to model input, as timm's eval transform makes it.
 *
 * timm's eval preprocessing (resolve_data_config + create_transform(is_training=
 * False), on torchvision and Pillow) for one image:
 *
 *   PIL.Image.open(path).convert('RGB')
 *   -> Resize: the shorter side to scale = floor(size / crop_pct), the longer to
 *      int(scale * long / short), with Pillow's antialiased bilinear or bicubic
 *      (8-bit fixed point, horizontal pass then vertical)
 *   -> CenterCrop(height, width): offsets int(round((h - crop) / 2.0)); where the
 *      resized image is smaller than the crop (crop_pct > 1) it is padded with 0
 *   -> ToTensor (x / 255) -> Normalize(mean, std)
 *
 * timmc_image_resize_crop gives the same bytes as Pillow (same fixed-point
 * coefficients and rounding); timmc_image_preprocess then the same float32 as
 * torch. A non-square input size (height != width) follows timm's
 * ResizeKeepRatio instead: both sides scaled by min(h / floor(height / crop_pct),
 * w / floor(width / crop_pct)), each rounded half to even, and, as timm does,
 * always bilinear whatever cfg->interpolation says. crop_mode squash resizes
 * both sides to floor(size / crop_pct) (aspect not kept) with the model's
 * interpolation, then crops the centre.
 *
 * Only the part of the resized image that the crop keeps is computed (each
 * kept pixel exactly as Pillow computes it), so preprocessing a large photo
 * costs about as much as the crop needs. Preprocessing uses no heap: the
 * caller gives scratch memory of timmc_image_scratch_bytes().
 *
 * All functions return TIMMC_OK or TIMMC_EINPUT (bad file or arguments; the
 * message names the file and what was expected, see timmc_error()), or
 * TIMMC_ERUNTIME (out of memory, read error).
 */
#ifndef TIMMC_IMAGE_H
#define TIMMC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

/* timmc_image_load refuses images whose header declares more than this, before
 * decoding anything: at most 16384 pixels a side and 2^28 pixels in all. */
#define TIMMC_IMAGE_MAX_SIDE 16384
#define TIMMC_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
/* ... and files larger than 1 GiB. */
#define TIMMC_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

typedef enum timmc_image_interp {
  TIMMC_IMAGE_BILINEAR = 0, /* timm 'bilinear' (PIL.Image.BILINEAR) */
  TIMMC_IMAGE_BICUBIC = 1,  /* timm 'bicubic' (PIL.Image.BICUBIC, a = -0.5) */
} timmc_image_interp;

typedef enum timmc_image_crop_mode {
  TIMMC_IMAGE_CROP_CENTER = 0, /* timm crop_mode 'center' (the default) */
  TIMMC_IMAGE_CROP_SQUASH = 1, /* timm crop_mode 'squash' */
} timmc_image_crop_mode;

/* A model's data config (timm.data.resolve_data_config). */
typedef struct timmc_image_cfg {
  int height, width; /* input_size[1], input_size[2]: the crop, e.g. 224, 224 */
  double crop_pct;   /* e.g. 0.875, 0.95, 1.0 (> 0) */
  timmc_image_interp interpolation;
  timmc_image_crop_mode crop_mode;
  float mean[3], std[3]; /* per RGB channel, std != 0 */
} timmc_image_cfg;

/*
 * Reads a PNG or JPEG file into *rgb: height x width pixels, interleaved RGB8
 * ([h][w][3]), freed with timmc_image_free. Grayscale is replicated into R, G
 * and B and alpha is dropped (not blended), as PIL's convert('RGB') does
 * (16-bit grayscale PNG is clipped to 255 as PIL's mode I is; 16-bit colour
 * keeps the high byte, as PIL does).
 * Refuses, with TIMMC_EINPUT and a message, other formats, truncated files (a
 * PNG without its IEND chunk, which Pillow lets pass when only IEND is
 * missing, or a JPEG without its EOI marker, which Pillow refuses too), a
 * zero width or
 * height, and declared sizes above TIMMC_IMAGE_MAX_SIDE / _PIXELS (checked
 * before any pixel memory is allocated). On failure *rgb is NULL.
 */
int timmc_image_load(const char *path, uint8_t **rgb, int *height, int *width);
/* The same for a file already in memory; name is used in messages. */
int timmc_image_load_memory(const void *data, size_t size, const char *name, uint8_t **rgb,
                            int *height, int *width);
void timmc_image_free(uint8_t *rgb);
/* "libjpeg" (built with -DTIMMC_IMAGE_LIBJPEG, linked with -ljpeg: Pillow's
 * decoder, so Pillow's pixels) or "stb_image" (no extra library; its JPEG
 * pixels differ from Pillow's by 1-2 levels in a few percent of values). PNG
 * always goes through stb_image, which is exact (PNG is lossless). */
const char *timmc_image_jpeg_decoder(void);

/* Bytes of scratch that timmc_image_preprocess (and timmc_image_resize_crop)
 * need for a height x width image and cfg; 0 if the arguments are invalid
 * (timmc_image_preprocess then says why). */
size_t timmc_image_scratch_bytes(int height, int width, const timmc_image_cfg *cfg);

/* Resize + CenterCrop of one interleaved RGB8 image into out_rgb
 * ([cfg->height][cfg->width][3] bytes): PIL's bytes before ToTensor. */
int timmc_image_resize_crop(const uint8_t *rgb, int height, int width, const timmc_image_cfg *cfg,
                            uint8_t *out_rgb, void *scratch, size_t scratch_bytes);

/* The whole eval transform of one interleaved RGB8 image into out_nchw: float
 * [3][cfg->height][cfg->width] (planar; one image of a batch). No heap use;
 * scratch (any alignment) must hold timmc_image_scratch_bytes(). */
int timmc_image_preprocess(const uint8_t *rgb, int height, int width, const timmc_image_cfg *cfg,
                           float *out_nchw, void *scratch, size_t scratch_bytes);

#endif
