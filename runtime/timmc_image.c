/*
 * timmc_image.c - PNG/JPEG loading (stb_image) and timm's eval preprocessing
 * (Resize with Pillow's antialiased resampling, CenterCrop, ToTensor,
 * Normalize), reimplemented here to give Pillow's and torch's exact values.
 */
#include "timmc_image.h"
#include "timmc_file.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every floating-point expression below must round as written (Pillow's
 * coefficients are compared bit for bit): no fused multiply-add. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* stb_image, compiled here (static, PNG and JPEG only) rather than linked
 * from libstb.so: nothing to link, and its own size limit matches ours.
 * Built with -DTIMMC_IMAGE_LIBJPEG (and -ljpeg), JPEG goes through libjpeg
 * instead, which gives Pillow's pixels exactly; stb_image's JPEG decoder
 * rounds its IDCT and colour conversion differently (values off by 1 or 2
 * in a few percent of pixels). */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS TIMMC_IMAGE_MAX_SIDE
#if defined(__GNUC__)
/* (for the whole file: static functions of stb_image that we do not call) */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#if defined(TIMMC_IMAGE_LIBJPEG)
#include <setjmp.h>
/* jpeglib.h needs FILE and size_t first */
#include <jpeglib.h>
#endif

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */
/* ------------------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int size_ok(const char *name, const char *what, uint32_t w, uint32_t h) {
  if (w == 0 || h == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: %s declares a %s of 0 pixels (%" PRIu32 " x %" PRIu32
                      "), expected an image at least 1 x 1",
                      name, what, w == 0 ? "width" : "height", w, h);
  if (w > TIMMC_IMAGE_MAX_SIDE || h > TIMMC_IMAGE_MAX_SIDE ||
      (uint64_t)w * h > (uint64_t)TIMMC_IMAGE_MAX_PIXELS)
    return timmc_fail(TIMMC_EINPUT, "%s: %s declares %" PRIu32 " x %" PRIu32
                      " pixels, more than the %d x %d (and %" PRId64 " pixels) that timmc accepts",
                      name, what, w, h, TIMMC_IMAGE_MAX_SIDE, TIMMC_IMAGE_MAX_SIDE,
                      TIMMC_IMAGE_MAX_PIXELS);
  return TIMMC_OK;
}

/* Walks the PNG chunks: IHDR first, every chunk inside the file, IEND at the
 * end (Pillow refuses a PNG cut short; stb_image would say something vaguer). */
static int png_check(const uint8_t *d, size_t n, const char *name, int *depth, int *color) {
  size_t pos = 8;
  int chunks = 0;
  for (;;) {
    if (n - pos < 12) {
      if (chunks == 0)
        return timmc_fail(TIMMC_EINPUT, "%s: truncated PNG: the file ends (%zu bytes) before its "
                          "IHDR chunk, expected a 25-byte header at least", name, n);
      return timmc_fail(TIMMC_EINPUT, "%s: truncated PNG: the file ends after %zu bytes without "
                        "an IEND chunk (expected another chunk header at byte %zu)", name, n, pos);
    }
    uint32_t len = be32(d + pos);
    char type[5] = {0};
    memcpy(type, d + pos + 4, 4);
    if (len > 0x7fffffffu)
      return timmc_fail(TIMMC_EINPUT, "%s: corrupt PNG: chunk at byte %zu declares %" PRIu32
                        " bytes, expected at most 2^31 - 1", name, pos, len);
    if (chunks == 0) {
      if (memcmp(type, "IHDR", 4) != 0 || len != 13)
        return timmc_fail(TIMMC_EINPUT, "%s: corrupt PNG: the first chunk is '%s' of %" PRIu32
                          " bytes, expected IHDR of 13", name, type, len);
      if (n - pos - 12 < 13)
        return timmc_fail(TIMMC_EINPUT, "%s: truncated PNG: the file ends inside its IHDR chunk",
                          name);
      int st = size_ok(name, "the PNG header", be32(d + pos + 8), be32(d + pos + 12));
      if (st) return st;
      *depth = d[pos + 16];
      *color = d[pos + 17];
    }
    if (n - pos - 12 < len)
      return timmc_fail(TIMMC_EINPUT, "%s: truncated PNG: chunk '%s' at byte %zu needs %" PRIu32
                        " bytes of data but the file ends after %zu bytes", name, type, pos, len,
                        n);
    pos += 12 + (size_t)len;
    chunks++;
    if (memcmp(type, "IEND", 4) == 0) return TIMMC_OK;
  }
}

/* Walks the JPEG markers to EOI (through the entropy-coded data of every
 * scan): stb_image decodes a cut JPEG as if the rest were zeros, where Pillow
 * refuses it. Also reads the frame size from SOFn. */
static int jpeg_check(const uint8_t *d, size_t n, const char *name) {
  size_t pos = 2;
  int frame = 0;
  for (;;) {
    while (pos < n && d[pos] != 0xff) pos++; /* libjpeg skips stray bytes too */
    while (pos < n && d[pos] == 0xff) pos++; /* fill bytes */
    if (pos >= n)
      return timmc_fail(TIMMC_EINPUT, "%s: truncated JPEG: the file ends after %zu bytes "
                        "without an EOI marker", name, n);
    uint8_t m = d[pos++];
    if (m == 0xd9) {
      if (!frame)
        return timmc_fail(TIMMC_EINPUT, "%s: corrupt JPEG: EOI before any frame header (SOFn)",
                          name);
      return TIMMC_OK;
    }
    if ((m >= 0xd0 && m <= 0xd7) || m == 0x01 || m == 0xd8) continue;
    if (n - pos < 2)
      return timmc_fail(TIMMC_EINPUT, "%s: truncated JPEG: the file ends inside marker 0xff%02x",
                        name, m);
    size_t len = (size_t)d[pos] << 8 | d[pos + 1];
    if (len < 2)
      return timmc_fail(TIMMC_EINPUT, "%s: corrupt JPEG: marker 0xff%02x at byte %zu has length "
                        "%zu, expected at least 2", name, m, pos - 2, len);
    if (n - pos < len)
      return timmc_fail(TIMMC_EINPUT, "%s: truncated JPEG: marker 0xff%02x at byte %zu needs %zu "
                        "bytes but the file ends after %zu", name, m, pos - 2, len, n);
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      if (len < 8)
        return timmc_fail(TIMMC_EINPUT, "%s: corrupt JPEG: frame header of %zu bytes, expected 8 "
                          "or more", name, len);
      uint32_t h = (uint32_t)d[pos + 3] << 8 | d[pos + 4], w = (uint32_t)d[pos + 5] << 8 | d[pos + 6];
      int st = size_ok(name, "the JPEG frame header", w, h);
      if (st) return st;
      frame = 1;
    }
    pos += len;
    if (m == 0xda) { /* entropy-coded data runs to the next marker */
      for (;;) {
        while (pos < n && d[pos] != 0xff) pos++;
        if (n - pos < 2) {
          return timmc_fail(TIMMC_EINPUT, "%s: truncated JPEG: the file ends (%zu bytes) inside "
                            "the image data, expected more data and an EOI marker", name, n);
        }
        uint8_t next = d[pos + 1];
        if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {
          pos += 2;
        } else if (next == 0xff) {
          pos += 1;
        } else {
          break;
        }
      }
    }
  }
}

#if defined(TIMMC_IMAGE_LIBJPEG)
/* JPEG through libjpeg(-turbo), the library Pillow decodes with, and with
 * Pillow's settings (the library's defaults: islow IDCT, fancy upsampling),
 * so that the pixels are Pillow's. Warnings are ignored as Pillow ignores
 * them; errors end the decode. */
typedef struct jpeg_err {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr cinfo) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  e->mgr.format_message(cinfo, e->message);
  longjmp(e->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

static int jpeg_decode(const uint8_t *d, size_t n, const char *name, uint8_t **rgb, int *height,
                       int *width) {
  struct jpeg_decompress_struct cinfo;
  jpeg_err err;
  uint8_t *volatile out = NULL;
  volatile int status = TIMMC_OK;
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.output_message = jpeg_quiet;
  err.message[0] = 0;
  if (setjmp(err.jump)) {
    free(out);
    jpeg_destroy_decompress(&cinfo);
    return timmc_fail(TIMMC_EINPUT, "%s: cannot decode the JPEG image (%s)", name, err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, d, (unsigned long)n);
  jpeg_read_header(&cinfo, TRUE);
  int gray = cinfo.num_components == 1;
  if (!gray && cinfo.num_components != 3) {
    status = timmc_fail(TIMMC_EINPUT, "%s: JPEG with %d components (CMYK or YCCK), expected "
                        "grayscale or color (1 or 3 components)", name, cinfo.num_components);
  } else {
    int st = size_ok(name, "the JPEG header", cinfo.image_width, cinfo.image_height);
    if (st) status = st;
  }
  if (status) {
    jpeg_destroy_decompress(&cinfo);
    return status;
  }
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t w = cinfo.output_width, h = cinfo.output_height;
  out = malloc(w * h * 3);
  if (!out) {
    jpeg_destroy_decompress(&cinfo);
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for %zu x %zu pixels", name, w, h);
  }
  const size_t stride = gray ? w : w * 3; /* gray rows packed first */
  while (cinfo.output_scanline < h) {
    JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (gray) /* L to RGB in place, from the end */
    for (size_t i = w * h; i-- > 0;) {
      uint8_t v = out[i];
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
    }
  *rgb = out;
  *height = (int)h;
  *width = (int)w;
  return TIMMC_OK;
}
#endif

int timmc_image_load_memory(const void *data, size_t size, const char *name, uint8_t **rgb,
                            int *height, int *width) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const uint8_t *d = data;
  *rgb = NULL;
  *height = *width = 0;
  if (size > TIMMC_IMAGE_MAX_FILE_BYTES || size > INT_MAX)
    return timmc_fail(TIMMC_EINPUT, "%s: file of %zu bytes, more than the %zu that timmc reads as "
                      "an image", name, size, TIMMC_IMAGE_MAX_FILE_BYTES);
  int is_png = size >= 8 && memcmp(d, png_sig, 8) == 0;
  int is_jpeg = size >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff;
  int st, depth = 8, color = 2;
  if (is_png) {
    st = png_check(d, size, name, &depth, &color);
  } else if (is_jpeg) {
    st = jpeg_check(d, size, name);
  } else if (size == 0) {
    return timmc_fail(TIMMC_EINPUT, "%s: empty file, expected a PNG or JPEG image", name);
  } else {
    return timmc_fail(TIMMC_EINPUT, "%s: not a PNG or JPEG image (expected the PNG signature "
                      "\\x89PNG or the JPEG marker \\xff\\xd8\\xff at the start; the file begins "
                      "with %02x %02x %02x %02x)", name, d[0], size > 1 ? d[1] : 0,
                      size > 2 ? d[2] : 0, size > 3 ? d[3] : 0);
  }
  if (st) return st;
  const char *kind = is_png ? "PNG" : "JPEG";
#if defined(TIMMC_IMAGE_LIBJPEG)
  if (is_jpeg) return jpeg_decode(d, size, name, rgb, height, width);
#endif

  int w, h, comp;
  if (!stbi_info_from_memory(d, (int)size, &w, &h, &comp))
    return timmc_fail(TIMMC_EINPUT, "%s: unreadable %s header (%s)", name, kind,
                      stbi_failure_reason());
  st = size_ok(name, is_png ? "the PNG header" : "the JPEG header", (uint32_t)w, (uint32_t)h);
  if (st) return st;

  uint8_t *out;
  if (is_png && depth == 16 && color == 0) {
    /* PIL opens 16-bit grayscale as mode I, and convert('RGB') clips it to
     * 255 (where stb_image would keep the high byte). */
    stbi_us *g = stbi_load_16_from_memory(d, (int)size, &w, &h, &comp, 1);
    if (!g)
      return timmc_fail(TIMMC_EINPUT, "%s: cannot decode the %s image (%s)", name, kind,
                        stbi_failure_reason());
    out = malloc((size_t)w * h * 3);
    if (!out) {
      stbi_image_free(g);
      return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for %d x %d pixels", name, w, h);
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
      uint8_t v = g[i] > 255 ? 255 : (uint8_t)g[i];
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
    }
    stbi_image_free(g);
  } else {
    /* stb's conversion to 3 channels is PIL's convert('RGB'): gray is
     * replicated, alpha dropped, palettes expanded. */
    out = stbi_load_from_memory(d, (int)size, &w, &h, &comp, 3);
    if (!out) {
      const char *why = stbi_failure_reason();
      if (why && strcmp(why, "outofmem") == 0)
        return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory decoding %d x %d pixels", name, w, h);
      return timmc_fail(TIMMC_EINPUT, "%s: cannot decode the %s image (%s)", name, kind,
                        why ? why : "unknown error");
    }
  }
  *rgb = out;
  *height = h;
  *width = w;
  return TIMMC_OK;
}

/* The file through timmc_file_map (regular files only, refused without
 * blocking) and a guarded copy (a file cut short while read is an error, not
 * a SIGBUS), then decoded from memory. */
int timmc_image_load(const char *path, uint8_t **rgb, int *height, int *width) {
  *rgb = NULL;
  *height = *width = 0;
  const void *data;
  size_t n;
  int rc = timmc_file_map(path, &data, &n);
  if (rc != TIMMC_OK) return rc;
  if (n > TIMMC_IMAGE_MAX_FILE_BYTES) {
    timmc_file_unmap(data, n);
    return timmc_fail(TIMMC_EINPUT, "%s: file of %zu bytes, more than the %zu that timmc reads "
                      "as an image", path, n, TIMMC_IMAGE_MAX_FILE_BYTES);
  }
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    timmc_file_unmap(data, n);
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for %zu bytes", path, n);
  }
  rc = timmc_file_copy(path, buf, data, n);
  timmc_file_unmap(data, n);
  if (rc != TIMMC_OK) {
    free(buf);
    return rc;
  }
  int st = timmc_image_load_memory(buf, n, path, rgb, height, width);
  free(buf);
  return st;
}

const char *timmc_image_jpeg_decoder(void) {
#if defined(TIMMC_IMAGE_LIBJPEG)
  return "libjpeg";
#else
  return "stb_image";
#endif
}

void timmc_image_free(uint8_t *rgb) { free(rgb); /* stb_image's STBI_FREE is free */ }

/* ------------------------------------------------------------------------ */
/* Resampling: Pillow's two-pass convolution, 8-bit fixed point              */
/* ------------------------------------------------------------------------ */

/* Fixed point of the coefficients: 32 bits less 8 for the pixel and 2 for
 * the filters' overshoot. */
#define COEF_BITS 22
#define MAX_RESIZED (1 << 24) /* sizes stay exact as floats, as Pillow's box is */

static double filter_eval(timmc_image_interp interp, double x) {
  if (x < 0.0) x = -x;
  if (interp == TIMMC_IMAGE_BILINEAR) return x < 1.0 ? 1.0 - x : 0.0;
  /* Keys' cubic convolution with a = -0.5 (1.5 = a + 2, 2.5 = a + 3),
   * evaluated in the same order of operations as Pillow. */
  if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
  return 0.0;
}

/* One axis of the resize: in source pixels to out resized pixels. */
typedef struct axis {
  int in, out;
  double scale, support, inv_filterscale;
  int ksize; /* most taps any output pixel has */
} axis;

static void axis_init(axis *a, int in, int out, timmc_image_interp interp) {
  a->in = in;
  a->out = out;
  /* Pillow: (double)(box1 - box0) / out with a float box (0, in) */
  a->scale = (double)(float)in / out;
  double filterscale = a->scale < 1.0 ? 1.0 : a->scale;
  a->support = (interp == TIMMC_IMAGE_BILINEAR ? 1.0 : 2.0) * filterscale;
  a->ksize = (int)ceil(a->support) * 2 + 1;
  a->inv_filterscale = 1.0 / filterscale;
}

/* The source pixels [*first, *first + *count) that output pixel i reads. */
static void axis_taps(const axis *a, int i, double *center, int *first, int *count) {
  double c = (i + 0.5) * a->scale;
  int lo = (int)(c - a->support + 0.5);
  int hi = (int)(c + a->support + 0.5);
  if (lo < 0) lo = 0;
  if (hi > a->in) hi = a->in;
  *center = c;
  *first = lo;
  *count = hi - lo;
}

/* Output pixel i's taps as fixed-point coefficients k[0..count). */
static void axis_coeffs(const axis *a, timmc_image_interp interp, int i, int32_t *k, int *first,
                        int *count) {
  double center, sum = 0.0;
  int lo, n;
  axis_taps(a, i, &center, &lo, &n);
  for (int x = 0; x < n; x++) sum += filter_eval(interp, (x + lo - center + 0.5) * a->inv_filterscale);
  for (int x = 0; x < n; x++) {
    double w = filter_eval(interp, (x + lo - center + 0.5) * a->inv_filterscale);
    if (sum != 0.0) w /= sum;
    k[x] = w < 0 ? (int32_t)(-0.5 + w * (1 << COEF_BITS)) : (int32_t)(0.5 + w * (1 << COEF_BITS));
  }
  *first = lo;
  *count = n;
}

static inline uint8_t clip8(int32_t v) {
  if (v <= 0) return 0;
  v >>= COEF_BITS;
  return v > 255 ? 255 : (uint8_t)v;
}

/* Everything preprocessing needs to know before touching a pixel. */
typedef struct plan {
  int rh, rw;             /* size after Resize */
  int top, left;          /* crop origin in the resized image (< 0: zero padding) */
  int y0, y1, x0, x1;     /* the resized rows and columns that the crop keeps */
  timmc_image_interp interp;
  int need_h, need_v;     /* Pillow resamples an axis only if its size changes */
  axis ax_h, ax_v;
  int src_y0, src_y1;     /* the source rows that the kept rows read */
  int px0, px1;           /* the source columns that the kept columns read */
  int kpad;               /* horizontal taps per column, rounded up to 4 */
  int tmp_rows;           /* rows of the horizontal pass's output */
  size_t off_hk, off_hb, off_wide, off_vk, off_vb, off_tmp, off_vrow, off_out, bytes;
} plan;

/* round(x) of Python 3: half to even. */
static int64_t round_half_even(double x) {
  double r = floor(x), d = x - r;
  if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
  return (int64_t)r;
}

/* torchvision's CenterCrop along one axis: offset of the crop in the resized
 * image; a crop larger than the image pads (crop - size) // 2 before. */
static int crop_offset(int size, int crop) {
  if (crop > size) return -((crop - size) / 2);
  int d = size - crop;
  return (int)round_half_even(d / 2.0);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static int make_plan(int height, int width, const timmc_image_cfg *cfg, plan *p) {
  memset(p, 0, sizeof *p);
  if (!cfg) return timmc_fail(TIMMC_EINPUT, "image preprocessing: no config");
  if (height < 1 || width < 1 || height > MAX_RESIZED || width > MAX_RESIZED)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: image of %d x %d pixels, expected 1 to "
                      "%d a side", width, height, MAX_RESIZED);
  if (cfg->height < 1 || cfg->width < 1 || cfg->height > TIMMC_IMAGE_MAX_SIDE ||
      cfg->width > TIMMC_IMAGE_MAX_SIDE)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: input size %d x %d, expected 1 to %d a "
                      "side", cfg->height, cfg->width, TIMMC_IMAGE_MAX_SIDE);
  if (!(cfg->crop_pct > 0.0) || !isfinite(cfg->crop_pct))
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: crop_pct %g, expected a number > 0",
                      cfg->crop_pct);
  if (cfg->interpolation != TIMMC_IMAGE_BILINEAR && cfg->interpolation != TIMMC_IMAGE_BICUBIC)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: interpolation %d, expected bilinear "
                      "(%d) or bicubic (%d)", (int)cfg->interpolation, TIMMC_IMAGE_BILINEAR,
                      TIMMC_IMAGE_BICUBIC);
  if (cfg->crop_mode != TIMMC_IMAGE_CROP_CENTER && cfg->crop_mode != TIMMC_IMAGE_CROP_SQUASH)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: crop_mode %d, expected center (%d) or "
                      "squash (%d)", (int)cfg->crop_mode, TIMMC_IMAGE_CROP_CENTER,
                      TIMMC_IMAGE_CROP_SQUASH);
  for (int c = 0; c < 3; c++)
    if (!(cfg->std[c] != 0.0f) || !isfinite(cfg->std[c]) || !isfinite(cfg->mean[c]))
      return timmc_fail(TIMMC_EINPUT, "image preprocessing: mean %g / std %g of channel %d, "
                        "expected finite numbers and std != 0", cfg->mean[c], cfg->std[c], c);

  /* timm: scale_size = floor(img_size / crop_pct), per side */
  double sh_d = floor((double)cfg->height / cfg->crop_pct);
  double sw_d = floor((double)cfg->width / cfg->crop_pct);
  if (sh_d < 1.0 || sw_d < 1.0 || sh_d > MAX_RESIZED || sw_d > MAX_RESIZED)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: crop_pct %g makes a resize to %g x %g, "
                      "expected 1 to %d a side", cfg->crop_pct, sh_d, sw_d, MAX_RESIZED);
  int sh = (int)sh_d, sw = (int)sw_d;
  double rh_d, rw_d;
  p->interp = cfg->interpolation;
  if (cfg->crop_mode == TIMMC_IMAGE_CROP_SQUASH) {
    rh_d = sh;
    rw_d = sw;
  } else if (sh == sw) {
    /* torchvision Resize(int): the shorter side to sh, the longer to
     * int(sh * long / short) */
    int shrt = width <= height ? width : height, lng = width <= height ? height : width;
    double l = floor((double)sh * lng / shrt);
    rh_d = width <= height ? l : sh;
    rw_d = width <= height ? sh : l;
  } else {
    /* timm ResizeKeepRatio(scale_size), longest = 0: always bilinear */
    double ratio_h = (double)height / sh, ratio_w = (double)width / sw;
    double ratio = ratio_h < ratio_w ? ratio_h : ratio_w;
    rh_d = (double)round_half_even(height * 1.0 / ratio);
    rw_d = (double)round_half_even(width * 1.0 / ratio);
    p->interp = TIMMC_IMAGE_BILINEAR;
  }
  if (rh_d < 1.0 || rw_d < 1.0 || rh_d > MAX_RESIZED || rw_d > MAX_RESIZED)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: a %d x %d image resizes to %g x %g, "
                      "expected 1 to %d a side", width, height, rw_d, rh_d, MAX_RESIZED);
  p->rh = (int)rh_d;
  p->rw = (int)rw_d;

  p->top = crop_offset(p->rh, cfg->height);
  p->left = crop_offset(p->rw, cfg->width);
  p->y0 = p->top > 0 ? p->top : 0;
  p->x0 = p->left > 0 ? p->left : 0;
  p->y1 = p->top + cfg->height < p->rh ? p->top + cfg->height : p->rh;
  p->x1 = p->left + cfg->width < p->rw ? p->left + cfg->width : p->rw;

  p->need_h = p->rw != width;
  p->need_v = p->rh != height;
  axis_init(&p->ax_h, width, p->rw, p->interp);
  axis_init(&p->ax_v, height, p->rh, p->interp);
  if (p->need_v) {
    double c;
    int first, count, lfirst, lcount;
    axis_taps(&p->ax_v, p->y0, &c, &first, &count);
    axis_taps(&p->ax_v, p->y1 - 1, &c, &lfirst, &lcount);
    p->src_y0 = first;
    p->src_y1 = lfirst + lcount;
  } else {
    p->src_y0 = p->y0;
    p->src_y1 = p->y1;
  }

  size_t ncols = (size_t)(p->x1 - p->x0), nrows = (size_t)(p->y1 - p->y0);
  size_t ncols4 = (ncols + 3) & ~(size_t)3; /* whole groups of 4 columns */
  size_t at = 0;
  if (p->need_h) {
    /* coefficients [ncols4][kpad], zero past each column's taps */
    p->kpad = (p->ax_h.ksize + 3) & ~3;
    p->off_hk = at;
    at = align16(at + ncols4 * (size_t)p->kpad * sizeof(int32_t));
    p->off_hb = at;
    at = align16(at + ncols4 * 2 * sizeof(int32_t));
    /* the source pixels the kept columns read, 4 rows at a time, as RGBx
     * bytes [x][4 rows][4], and 4 pixels of zeros after them */
    double c;
    int first, count, lfirst, lcount;
    axis_taps(&p->ax_h, p->x0, &c, &first, &count);
    axis_taps(&p->ax_h, p->x1 - 1, &c, &lfirst, &lcount);
    p->px0 = first;
    p->px1 = lfirst + lcount;
    p->off_wide = at;
    at = align16(at + (size_t)(p->px1 - p->px0 + 4) * 16);
    /* the horizontal pass's output rows, [rows][ncols4 / 4][4 channels (RGBx)][4 columns] */
    p->tmp_rows = p->need_v ? p->src_y1 - p->src_y0 : (int)nrows;
    p->off_tmp = at;
    at = align16(at + (size_t)p->tmp_rows * ncols4 * 4);
  }
  if (p->need_v) {
    p->off_vk = at;
    at = align16(at + nrows * (size_t)p->ax_v.ksize * sizeof(int32_t));
    p->off_vb = at;
    at = align16(at + nrows * 2 * sizeof(int32_t));
    if (p->need_h) { /* one output row of the vertical pass, as tmp's */
      p->off_vrow = at;
      at = align16(at + ncols4 * 4);
    }
  }
  p->off_out = at;
  at = align16(at + (size_t)cfg->height * cfg->width * 3);
  p->bytes = at + 16; /* room to align the caller's pointer */
  return TIMMC_OK;
}

size_t timmc_image_scratch_bytes(int height, int width, const timmc_image_cfg *cfg) {
  plan p;
  return make_plan(height, width, cfg, &p) == TIMMC_OK ? p.bytes : 0;
}

/* The passes vectorise with GCC's vector extensions (GCC and clang, any
 * target): a block of 16 int32 lanes holds 4 rows x RGBx of one output
 * column in the horizontal pass and 16 consecutive bytes of a row in the
 * vertical one. Sums are exact int32 whatever the order of the terms, so
 * they are Pillow's. The lanes are the target's own vectors (32 bytes on
 * x86, 16 elsewhere: GCC splits wider ones badly), and bytes are widened by
 * building the vector from 8 or 4 byte loads, which GCC and clang turn into
 * one vpmovzxbd on x86. On x86-64 with GCC, AVX-512 and AVX2 copies are
 * built beside the baseline one and the loader picks the best the CPU runs. */
#if defined(__GNUC__)
#define TIMMC_IMAGE_VEC 1
typedef uint8_t vu8x16 __attribute__((vector_size(16)));
typedef uint32_t vu32x4 __attribute__((vector_size(16)));
#if defined(__x86_64__) || defined(__i386__)
#define VL 8
typedef int32_t vint __attribute__((vector_size(32)));
#define LOADV(p) ((vint){(p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7]})
#else
#define VL 4
typedef int32_t vint __attribute__((vector_size(16)));
#define LOADV(p) ((vint){(p)[0], (p)[1], (p)[2], (p)[3]})
#endif
#define NV (16 / VL)
typedef struct blk {
  vint v[NV];
} blk;
#if defined(__clang__)
#define SHUF_U8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define SHUF_U32(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF_U8(a, b, ...) __builtin_shuffle(a, b, (vu8x16){__VA_ARGS__})
#define SHUF_U32(a, b, ...) __builtin_shuffle(a, b, (vu32x4){__VA_ARGS__})
#endif
#define INLINE static inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"
#if defined(__x86_64__) && !defined(__clang__)
#define TIMMC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define TIMMC_CLONES
#endif

/* every lane 1 << (COEF_BITS - 1), Pillow's rounding term */
INLINE void blk_init(blk *a) {
  for (int h = 0; h < NV; h++) a->v[h] = (vint){0} + (1 << (COEF_BITS - 1));
}

/* a += 16 bytes at p (any alignment) times k */
INLINE void blk_mac(blk *a, const uint8_t *p, int32_t k) {
  for (int h = 0; h < NV; h++) a->v[h] += LOADV(p + h * VL) * k;
}

/* a += b */
INLINE void blk_add(blk *a, const blk *b) {
  for (int h = 0; h < NV; h++) a->v[h] += b->v[h];
}

/* clip8 of the 16 lanes, in place */
INLINE void blk_clip(blk *a) {
  for (int h = 0; h < NV; h++) {
    vint s = a->v[h] >> COEF_BITS;
    s &= ~(s < 0);
    vint big = s > 255;
    a->v[h] = (s & ~big) | (big & 255);
  }
}

/* clip8 of the 16 lanes, as bytes */
INLINE vu8x16 blk_bytes(const blk *a) {
  blk c = *a;
  blk_clip(&c);
  vu8x16 q[4];
  memcpy(q, &c, sizeof q);
  /* byte 0 of every int32 lane (little endian) */
  vu8x16 lo = SHUF_U8(q[0], q[1], 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  vu8x16 hi = SHUF_U8(q[2], q[3], 0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  return (vu8x16)SHUF_U32((vu32x4)lo, (vu32x4)hi, 0, 1, 4, 5);
}
#else
#define TIMMC_CLONES
#endif

/* Horizontal pass of source rows [r0, r1) into dst: per row, groups of 4
 * columns, each 16 bytes [channel R, G, B, x][column] (x is not a channel).
 * hk holds kpad coefficients per column (ncols4 columns, a multiple of 4),
 * zero past its taps; hb its first tap relative to px0 and its tap count
 * rounded up to 4. Four rows at a time: wide gets their pixels [px0, px1) as
 * RGBx bytes [x][row][4], so that each tap of a column is one multiply-add of
 * 16 lanes for the 4 rows (the last block repeats its last row). */
TIMMC_CLONES
static void pass_h(const uint8_t *src, int width, int r0, int r1, int px0, int px1, int ncols4,
                   int kpad, const int32_t *hk, const int32_t *hb, uint8_t *wide, uint8_t *dst) {
  const size_t row_bytes = (size_t)width * 3, dst_stride = (size_t)ncols4 * 4;
  const int nw = px1 - px0;
  memset(wide + (size_t)nw * 16, 0, 4 * 16); /* read by the zero coefficients */
  for (int rb = r0; rb < r1; rb += 4) {
    const int nr = r1 - rb < 4 ? r1 - rb : 4;
    const uint8_t *p[4];
    for (int i = 0; i < 4; i++) p[i] = src + (size_t)(rb + (i < nr ? i : nr - 1)) * row_bytes;
    int x = px0;
#if defined(TIMMC_IMAGE_VEC)
    /* 4 pixels of the 4 rows: 16 bytes read from each (in the row) */
    for (; x + 4 <= px1 && x + 6 <= width; x += 4) {
      vu8x16 a0, a1, a2, a3;
      memcpy(&a0, p[0] + 3 * x, 16);
      memcpy(&a1, p[1] + 3 * x, 16);
      memcpy(&a2, p[2] + 3 * x, 16);
      memcpy(&a3, p[3] + 3 * x, 16);
      /* pixels 0, 1 and 2, 3 of rows 0, 1 (then 2, 3): row 0 px 0, row 1 px 0, ... */
      vu8x16 e01 = SHUF_U8(a0, a1, 0, 1, 2, 3, 16, 17, 18, 19, 3, 4, 5, 6, 19, 20, 21, 22);
      vu8x16 f01 = SHUF_U8(a0, a1, 6, 7, 8, 9, 22, 23, 24, 25, 9, 10, 11, 12, 25, 26, 27, 28);
      vu8x16 e23 = SHUF_U8(a2, a3, 0, 1, 2, 3, 16, 17, 18, 19, 3, 4, 5, 6, 19, 20, 21, 22);
      vu8x16 f23 = SHUF_U8(a2, a3, 6, 7, 8, 9, 22, 23, 24, 25, 9, 10, 11, 12, 25, 26, 27, 28);
      vu32x4 e01w = (vu32x4)e01, f01w = (vu32x4)f01, e23w = (vu32x4)e23, f23w = (vu32x4)f23;
      vu32x4 w0 = SHUF_U32(e01w, e23w, 0, 1, 4, 5), w1 = SHUF_U32(e01w, e23w, 2, 3, 6, 7);
      vu32x4 w2 = SHUF_U32(f01w, f23w, 0, 1, 4, 5), w3 = SHUF_U32(f01w, f23w, 2, 3, 6, 7);
      uint8_t *w = wide + (size_t)(x - px0) * 16;
      memcpy(w, &w0, 16);
      memcpy(w + 16, &w1, 16);
      memcpy(w + 32, &w2, 16);
      memcpy(w + 48, &w3, 16);
    }
#endif
    for (; x < px1; x++) {
      uint8_t *w = wide + (size_t)(x - px0) * 16;
      for (int i = 0; i < 4; i++) {
        w[4 * i] = p[i][3 * x];
        w[4 * i + 1] = p[i][3 * x + 1];
        w[4 * i + 2] = p[i][3 * x + 2];
        w[4 * i + 3] = 0;
      }
    }
    uint8_t *d = dst + (size_t)(rb - r0) * dst_stride;
    for (int g = 0; g < ncols4; g += 4) {
#if defined(TIMMC_IMAGE_VEC)
      blk word; /* lane (row, channel): the 4 columns' bytes */
      for (int jj = 0; jj < 4; jj++) {
        const int j = g + jj;
        const int32_t *k = hk + (size_t)j * kpad;
        const uint8_t *w = wide + (size_t)hb[2 * j] * 16;
        const int nt = hb[2 * j + 1];
        blk s0, s1;
        blk_init(&s0);
        memset(&s1, 0, sizeof s1);
        for (int t = 0; t < nt; t += 4, w += 64) {
          blk_mac(&s0, w, k[t]);
          blk_mac(&s1, w + 16, k[t + 1]);
          blk_mac(&s0, w + 32, k[t + 2]);
          blk_mac(&s1, w + 48, k[t + 3]);
        }
        blk_add(&s0, &s1);
        blk_clip(&s0);
        if (jj == 0)
          word = s0;
        else
          for (int h = 0; h < NV; h++) word.v[h] |= s0.v[h] << (8 * jj);
      }
      for (int i = 0; i < nr; i++) memcpy(d + i * dst_stride + 4 * (size_t)g, (uint8_t *)&word + 16 * i, 16);
#else
      for (int jj = 0; jj < 4; jj++) {
        const int j = g + jj;
        const int32_t *k = hk + (size_t)j * kpad;
        const uint8_t *w = wide + (size_t)hb[2 * j] * 16;
        const int nt = hb[2 * j + 1];
        for (int i = 0; i < nr; i++)
          for (int c = 0; c < 4; c++) {
            int32_t s = 1 << (COEF_BITS - 1);
            for (int t = 0; t < nt; t++) s += w[16 * t + 4 * i + c] * k[t];
            d[i * dst_stride + 4 * (size_t)g + 4 * c + jj] = clip8(s);
          }
      }
#endif
    }
  }
}

/* Rows of 4-column groups [channel][column] (as pass_h writes them) to RGB,
 * n pixels */
TIMMC_CLONES
static void unpack_rgb(const uint8_t *in, int n, uint8_t *out) {
  int j = 0;
#if defined(TIMMC_IMAGE_VEC)
  for (; j + 6 <= n; j += 4) { /* 16 bytes written, 12 kept: the next pixels follow */
    vu8x16 v;
    memcpy(&v, in + 4 * (size_t)j, 16);
    v = SHUF_U8(v, v, 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 0, 0, 0, 0);
    memcpy(out + 3 * (size_t)j, &v, 16);
  }
#endif
  for (; j < n; j++) {
    const uint8_t *g = in + 4 * (size_t)(j & ~3) + (j & 3);
    out[3 * j] = g[0];
    out[3 * j + 1] = g[4];
    out[3 * j + 2] = g[8];
  }
}

/* Vertical pass: output row i (of nrows) is the sum of vb[2i + 1] rows of
 * vin from row vb[2i] on, weighted by vk[i * ksize ...], over nbytes bytes
 * (any layout: each byte is one value) into out row i; with groups (the
 * horizontal pass's layout), through vrow and unpack_rgb. */
TIMMC_CLONES
static void pass_v(const uint8_t *vin, size_t vin_stride, int nbytes, int nrows, const int32_t *vk,
                   int ksize, const int32_t *vb, int groups, int ncols, uint8_t *vrow,
                   uint8_t *out, size_t out_stride) {
  for (int i = 0; i < nrows; i++) {
    const uint8_t *in = vin + (size_t)vb[2 * i] * vin_stride;
    const int n = vb[2 * i + 1];
    const int32_t *k = vk + (size_t)i * ksize;
    uint8_t *o = groups ? vrow : out + (size_t)i * out_stride;
    int b = 0;
#if defined(TIMMC_IMAGE_VEC)
    for (; b + 32 <= nbytes; b += 32) {
      blk s0, s1;
      blk_init(&s0);
      blk_init(&s1);
      const uint8_t *r = in + b;
      for (int t = 0; t < n; t++, r += vin_stride) {
        blk_mac(&s0, r, k[t]);
        blk_mac(&s1, r + 16, k[t]);
      }
      vu8x16 v0 = blk_bytes(&s0), v1 = blk_bytes(&s1);
      memcpy(o + b, &v0, 16);
      memcpy(o + b + 16, &v1, 16);
    }
    for (; b + 16 <= nbytes; b += 16) {
      blk s0;
      blk_init(&s0);
      const uint8_t *r = in + b;
      for (int t = 0; t < n; t++, r += vin_stride) blk_mac(&s0, r, k[t]);
      vu8x16 v0 = blk_bytes(&s0);
      memcpy(o + b, &v0, 16);
    }
#endif
    for (; b < nbytes; b++) {
      int32_t s = 1 << (COEF_BITS - 1);
      const uint8_t *r = in + b;
      for (int t = 0; t < n; t++, r += vin_stride) s += *r * k[t];
      o[b] = clip8(s);
    }
    if (groups) unpack_rgb(vrow, ncols, out + (size_t)i * out_stride);
  }
}

static uint8_t *align_ptr(void *p) {
  return (uint8_t *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
}

static int resize_crop(const uint8_t *rgb, int width, const timmc_image_cfg *cfg, const plan *p,
                       uint8_t *out, uint8_t *s) {
  const int ch = cfg->height, cw = cfg->width;
  const int ncols = p->x1 - p->x0, nrows = p->y1 - p->y0, ncols4 = (ncols + 3) & ~3;
  const size_t out_stride = (size_t)cw * 3;
  if (p->top < 0 || p->left < 0 || nrows < ch || ncols < cw)
    memset(out, 0, (size_t)ch * out_stride); /* CenterCrop's zero padding */
  /* where resized pixel (y, x) lands in out */
  uint8_t *out_at = out + (size_t)(p->y0 - p->top) * out_stride + (size_t)(p->x0 - p->left) * 3;

  if (!p->need_h && !p->need_v) {
    for (int y = p->y0; y < p->y1; y++)
      memcpy(out_at + (size_t)(y - p->y0) * out_stride, rgb + ((size_t)y * width + p->x0) * 3,
             (size_t)ncols * 3);
    return TIMMC_OK;
  }
  uint8_t *tmp = NULL;
  if (p->need_h) {
    int32_t *hk = (int32_t *)(s + p->off_hk), *hb = (int32_t *)(s + p->off_hb);
    for (int j = 0; j < ncols4; j++) {
      int32_t *k = hk + (size_t)j * p->kpad;
      int first = p->px0, n = 0;
      if (j < ncols) axis_coeffs(&p->ax_h, p->interp, p->x0 + j, k, &first, &n);
      int nt = (n + 3) & ~3;
      for (int t = n; t < nt; t++) k[t] = 0;
      hb[2 * j] = first - p->px0;
      hb[2 * j + 1] = nt;
    }
    tmp = s + p->off_tmp;
    int r0 = p->need_v ? p->src_y0 : p->y0;
    pass_h(rgb, width, r0, r0 + p->tmp_rows, p->px0, p->px1, ncols4, p->kpad, hk, hb,
           s + p->off_wide, tmp);
    if (!p->need_v) {
      for (int i = 0; i < nrows; i++)
        unpack_rgb(tmp + (size_t)i * ncols4 * 4, ncols, out_at + (size_t)i * out_stride);
      return TIMMC_OK;
    }
  }
  /* vertical pass input: the horizontally resampled rows, or the source */
  const uint8_t *vin;
  size_t vin_stride;
  int nbytes;
  if (p->need_h) {
    vin = tmp;
    vin_stride = (size_t)ncols4 * 4;
    nbytes = ncols4 * 4;
  } else {
    vin = rgb + ((size_t)p->src_y0 * width + p->x0) * 3;
    vin_stride = (size_t)width * 3;
    nbytes = ncols * 3;
  }
  const int ksize = p->ax_v.ksize;
  int32_t *vk = (int32_t *)(s + p->off_vk), *vb = (int32_t *)(s + p->off_vb);
  for (int i = 0; i < nrows; i++) {
    int first, n;
    axis_coeffs(&p->ax_v, p->interp, p->y0 + i, vk + (size_t)i * ksize, &first, &n);
    vb[2 * i] = first - p->src_y0;
    vb[2 * i + 1] = n;
  }
  pass_v(vin, vin_stride, nbytes, nrows, vk, ksize, vb, p->need_h, ncols,
         p->need_h ? s + p->off_vrow : NULL, out_at, out_stride);
  return TIMMC_OK;
}

int timmc_image_resize_crop(const uint8_t *rgb, int height, int width, const timmc_image_cfg *cfg,
                            uint8_t *out_rgb, void *scratch, size_t scratch_bytes) {
  plan p;
  int st = make_plan(height, width, cfg, &p);
  if (st) return st;
  if (!rgb || !out_rgb)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: NULL image or output");
  if (!scratch || scratch_bytes < p.bytes)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: %zu bytes of scratch for a %d x %d "
                      "image, expected %zu (timmc_image_scratch_bytes)", scratch ? scratch_bytes : 0,
                      width, height, p.bytes);
  return resize_crop(rgb, width, cfg, &p, out_rgb, align_ptr(scratch));
}

int timmc_image_preprocess(const uint8_t *rgb, int height, int width, const timmc_image_cfg *cfg,
                           float *out_nchw, void *scratch, size_t scratch_bytes) {
  plan p;
  int st = make_plan(height, width, cfg, &p);
  if (st) return st;
  if (!rgb || !out_nchw)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: NULL image or output");
  if (!scratch || scratch_bytes < p.bytes)
    return timmc_fail(TIMMC_EINPUT, "image preprocessing: %zu bytes of scratch for a %d x %d "
                      "image, expected %zu (timmc_image_scratch_bytes)", scratch ? scratch_bytes : 0,
                      width, height, p.bytes);
  uint8_t *s = align_ptr(scratch);
  uint8_t *u8 = s + p.off_out;
  st = resize_crop(rgb, width, cfg, &p, u8, s);
  if (st) return st;
  /* ToTensor then Normalize, in float32 as torch computes them:
   * (x / 255 - mean) / std, through a table per channel */
  float lut[3][256];
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v++) {
      volatile float x = (float)v / 255.0f; /* each step rounded to float */
      lut[c][v] = (x - cfg->mean[c]) / cfg->std[c];
    }
  const size_t plane = (size_t)cfg->height * cfg->width;
  for (size_t i = 0; i < plane; i++) {
    out_nchw[i] = lut[0][u8[3 * i]];
    out_nchw[plane + i] = lut[1][u8[3 * i + 1]];
    out_nchw[2 * plane + i] = lut[2][u8[3 * i + 2]];
  }
  return TIMMC_OK;
}
