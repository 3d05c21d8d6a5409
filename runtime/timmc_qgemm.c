/*
 * timmc_qgemm.c - int8 convolutions as a GEMM with AVX512-VNNI (timmc_qgemm.h).
 *
 * y[p][o] = requantize(bias[o] + sum_k (x[p][k] - zx) * w[o][k]) over the
 * output pixels p and the k = (ky, kx, i) they read. vpdpbusd multiplies
 * unsigned by signed bytes, four at a time into each int32 lane, so the
 * activations go in as u = x + 128 (x ^ 0x80) and the bias takes
 * -(128 + zx) * sum_k w[o][k]: the same int32 as XNNPACK's (which folds
 * -zx * sum_k w[o][k] into its bias), exactly. Padding reads zx, as
 * XNNPACK's does, so it adds nothing.
 *
 * Packed weights: a header, then panels of 64 output channels (the last one
 * of 16, 32 or 48), each int32 bias[nr], float scale[nr] (input scale x
 * weight scale / output scale), then [K/4][nr][4] bytes, where K is
 * kernel^2 x the input channels rounded up to 4 (zeros past them).
 *
 * A task (pthreadpool's 2-d tiles: pixels x channels) first copies its
 * pixels' inputs, each the K bytes it reads (im2col), into a buffer on its
 * stack, unless it is a 1x1 convolution that can read them in place; then,
 * panel by panel, micro-tiles of 6 pixels x 64 channels
 * (8 x 48, 32 or 16 for narrower panels) keep their int32 sums in zmm
 * registers over all of K. An output is one sum in integers whoever
 * computes it: results do not depend on the thread count.
 *
 * Requantization is XNNPACK's qc8 "fp32": (float)acc * scale, clamped to
 * [out_min - zy, out_max - zy], rounded to nearest even, + zy.
 *
 * Only x86-64 with GCC or clang has the kernel, and it runs only where the
 * CPU has AVX512-VNNI (checked once). TIMMC_QGEMM=none in the environment
 * refuses it everywhere, =all takes it for every layer the generator
 * emitted it for: how bench/int8/qgemm_layers.sh times both in one binary.
 */
#include "timmc_qgemm.h"

#include <stdlib.h>
#include <string.h>

#define NR 64         /* output channels per panel */
#define HEADER 64     /* bytes before the first panel */
#define MAX_M 96      /* pixels a task takes at most */
#define ABUF (256 * 1024) /* bytes of a task's input copy, at most */

typedef struct header {
  int32_t kernel, pad_top, pad_left, dilation, in_channels, kp, ktot;
  int32_t pad_byte; /* zx: what a padded input reads */
  float lo, hi;     /* out_min - zy, out_max - zy */
  int32_t zy;
} header;

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

size_t timmc_qgemm_packed_bytes(int out_channels, int in_channels, int kernel) {
  const size_t ktot = (size_t)kernel * kernel * round_up((size_t)in_channels, 4);
  return HEADER + round_up((size_t)out_channels, 16) * (8 + ktot);
}

int timmc_qgemm_pack(const timmc_scratch *w, int out_channels, int in_channels, int kernel,
                     int pad_top, int pad_left, int dilation, timmc_qparams x, timmc_qparams y,
                     int8_t out_min, int8_t out_max, void *packed, size_t bytes) {
  const size_t cin = (size_t)in_channels, cout = (size_t)out_channels;
  const size_t kp = round_up(cin, 4), taps = (size_t)kernel * kernel, ktot = taps * kp;
  if (bytes != timmc_qgemm_packed_bytes(out_channels, in_channels, kernel)) {
    return timmc_fail(TIMMC_ERUNTIME, "qgemm: %zu bytes for %d -> %d channels %dx%d, expected "
                      "%zu", bytes, in_channels, out_channels, kernel, kernel,
                      timmc_qgemm_packed_bytes(out_channels, in_channels, kernel));
  }
  if (ktot > TIMMC_QGEMM_MAX_K) {
    return timmc_fail(TIMMC_ERUNTIME, "qgemm: %zu input bytes a pixel, at most %d", ktot,
                      TIMMC_QGEMM_MAX_K);
  }
  memset(packed, 0, bytes);
  header *h = packed;
  *h = (header){kernel, pad_top, pad_left, dilation, in_channels, (int32_t)kp, (int32_t)ktot,
                x.zero_point, (float)(out_min - y.zero_point),
                (float)(out_max - y.zero_point), y.zero_point};
  unsigned char *base = (unsigned char *)packed + HEADER;
  for (size_t j = 0; j < cout; j += NR) {
    const size_t nr = cout - j < NR ? round_up(cout - j, 16) : NR;
    unsigned char *panel = base + j * (8 + ktot);
    int32_t *bias = (int32_t *)(void *)panel;
    float *scale = (float *)(void *)(panel + 4 * nr);
    int8_t *wp = (int8_t *)(panel + 8 * nr);
    for (size_t c = 0; c < nr && j + c < cout; c++) {
      const size_t o = j + c;
      const int8_t *src = w->qk + o * taps * cin; /* [k][k][in] */
      uint32_t sum = 0;
      for (size_t t = 0; t < taps; t++) {
        for (size_t i = 0; i < cin; i++) {
          const int8_t v = src[t * cin + i];
          const size_t k = t * kp + i;
          wp[(k / 4 * nr + c) * 4 + k % 4] = v;
          sum += (uint32_t)(int32_t)v;
        }
      }
      /* modulo 2^32 like the accumulator itself */
      bias[c] = (int32_t)((uint32_t)w->qb[o] - (uint32_t)(128 + x.zero_point) * sum);
      scale[c] = x.scale * w->qs[o] / y.scale;
    }
  }
  return TIMMC_OK;
}

#if TIMMC_QGEMM_BUILT
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

/* mr pixels (their K input bytes at a[r]) x nv vectors of 16 channels of a
 * panel: sums over all of K (each 4 input bytes + 128 as they are
 * broadcast), then requantized into the rows of c (valid channels of the 16
 * x nv). mr and nv are constants where this is inlined,
 * so the sums live in registers. */
/* acc += the four u8 x s8 products of each int32 lane of x and w. An asm
 * statement: GCC 12 copies the accumulator of the builtin in and out of a
 * second register, which at 24 accumulators spills them to the stack. */
TARGET INLINE __m512i dpbusd(__m512i acc, __m512i x, __m512i w) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
}

/* The requantized int8 of 16 sums (scale s) into c, the first n of them. */
TARGET INLINE void store16(int8_t *c, __m512i acc, __m512 s, size_t n, const header *h) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
  f = _mm512_max_ps(_mm512_min_ps(f, _mm512_set1_ps(h->hi)), _mm512_set1_ps(h->lo));
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(h->zy));
  _mm512_mask_cvtepi32_storeu_epi8(c, n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1), q);
}

/* mr pixels (their K input bytes at a[r]) x nv vectors of 16 channels of a
 * panel: sums over all of K (each 4 input bytes + 128 as they are
 * broadcast), then requantized into the rows of c (valid channels of the 16
 * x nv). mr and nv are constants where this is inlined,
 * so the sums live in registers (one array per vector: GCC keeps small 1-d
 * arrays in registers, not a 2-d one). */
TARGET INLINE void tile(size_t mr, size_t nv, const int8_t *const *a, size_t ktot,
                        const unsigned char *panel, int8_t *const *c, size_t valid,
                        const header *h) {
  const size_t nr = 16 * nv;
  __m512i acc0[8], acc1[8], acc2[8], acc3[8];
  const int8_t *ar[8];
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) ar[r] = a[r];
  const __m512i *b = (const __m512i *)(const void *)panel;
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = b[0];
    if (nv > 1) acc1[r] = b[1];
    if (nv > 2) acc2[r] = b[2];
    if (nv > 3) acc3[r] = b[3];
  }
  const __m512i *w = (const __m512i *)(const void *)(panel + 8 * nr);
  for (size_t k = 0; k < ktot; k += 4, w += nv) {
    const __m512i w0 = w[0], w1 = nv > 1 ? w[1] : w0, w2 = nv > 2 ? w[2] : w0;
    const __m512i w3 = nv > 3 ? w[3] : w0;
#pragma GCC unroll 8
    for (size_t r = 0; r < mr; r++) {
      int32_t u;
      memcpy(&u, ar[r] + k, 4);
      const __m512i x = _mm512_xor_si512(_mm512_set1_epi32(u), flip);
      acc0[r] = dpbusd(acc0[r], x, w0);
      if (nv > 1) acc1[r] = dpbusd(acc1[r], x, w1);
      if (nv > 2) acc2[r] = dpbusd(acc2[r], x, w2);
      if (nv > 3) acc3[r] = dpbusd(acc3[r], x, w3);
    }
  }
  const __m512 *s = (const __m512 *)(const void *)(panel + 4 * nr);
#pragma GCC unroll 8
  for (size_t r = 0; r < mr; r++) {
    store16(c[r], acc0[r], s[0], valid, h);
    if (nv > 1) store16(c[r] + 16, acc1[r], s[1], valid - 16, h);
    if (nv > 2) store16(c[r] + 32, acc2[r], s[2], valid - 32, h);
    if (nv > 3) store16(c[r] + 48, acc3[r], s[3], valid - 48, h);
  }
}

#define TILE_CASE(m, n) \
  case m: tile(m, n, a, ktot, panel, c, valid, h); break;
#define TILES(n) \
  switch (mr) { \
    TILE_CASE(1, n) TILE_CASE(2, n) TILE_CASE(3, n) TILE_CASE(4, n) TILE_CASE(5, n) \
    TILE_CASE(6, n) TILE_CASE(7, n) TILE_CASE(8, n) default: break; \
  }
#define TILES6(n) \
  switch (mr) { \
    TILE_CASE(1, n) TILE_CASE(2, n) TILE_CASE(3, n) TILE_CASE(4, n) TILE_CASE(5, n) \
    TILE_CASE(6, n) default: break; \
  }

/* One constant-(mr, nv) copy of tile per case. */
TARGET static void tile_any(size_t mr, size_t nv, const int8_t *const *a, size_t ktot,
                            const unsigned char *panel, int8_t *const *c, size_t valid,
                            const header *h) {
  switch (nv) {
    case 1: TILES(1) break;
    case 2: TILES(2) break;
    case 3: TILES(3) break;
    default: TILES6(4) break;
  }
}

/* The rows of a micro-tile for a panel of nv vectors: 6 x 4 or 8 x 3, 8 x
 * 2, 8 x 1 sums in the 32 zmm registers beside the weights. */
static size_t rows_for(size_t nv) { return nv == 4 ? 6 : 8; }

/* n bytes from src (or, for padding, n of pad) into dst, then zeros up to
 * kp (their weights are zeros). */
TARGET INLINE void copy_row(int8_t *dst, const int8_t *src, size_t n, size_t kp, int8_t pad) {
  if (src) {
    memcpy(dst, src, n);
  } else {
    memset(dst, pad, n);
  }
  if (kp > n) memset(dst + n, 0, kp - n);
}

/* See timmc_qgemm.h for the dims. */
TARGET static void qgemm_task(void *ctx, size_t m0, size_t n0, size_t mcount, size_t ncount) {
  const timmc_op *op = ctx;
  const size_t *d = op->dims;
  const size_t oh = d[1], ow = d[2], cin = d[3], cout = d[4], in_stride = d[5];
  const size_t out_stride = d[6], s = d[7], ih = d[8], iw = d[9];
  const header *h = (const header *)(const void *)op->b;
  const size_t k = (size_t)h->kernel, pt = (size_t)h->pad_top, pl = (size_t)h->pad_left;
  const size_t dil = (size_t)h->dilation, kp = (size_t)h->kp, ktot = (size_t)h->ktot;
  const int8_t *x = (const int8_t *)(const void *)op->a;
  int8_t *y = (int8_t *)(void *)op->y;
  int8_t buf[ABUF] __attribute__((aligned(64)));
  const int8_t *a[MAX_M]; /* each pixel's K input bytes */
  int8_t *c[MAX_M];
  /* a 1x1 convolution of whole groups of 4 channels reads its input where
   * it is; others copy each pixel's taps into buf (im2col) */
  const int direct = k == 1 && kp == cin && pt == 0 && pl == 0;
  size_t n = m0 / (oh * ow), oy = m0 / ow % oh, ox = m0 % ow;
  for (size_t r = 0; r < mcount; r++) {
    if (direct) {
      a[r] = x + ((n * ih + oy * s) * iw + ox * s) * in_stride;
    } else {
      a[r] = buf + r * ktot;
      for (size_t ky = 0; ky < k; ky++) {
        const size_t iy = oy * s + ky * dil - pt; /* above the image wraps to a huge y */
        for (size_t kx = 0; kx < k; kx++) {
          const size_t ix = ox * s + kx * dil - pl;
          const int8_t *src =
              iy < ih && ix < iw ? x + ((n * ih + iy) * iw + ix) * in_stride : NULL;
          copy_row(buf + r * ktot + (ky * k + kx) * kp, src, cin, kp, (int8_t)h->pad_byte);
        }
      }
    }
    c[r] = y + (m0 + r) * out_stride;
    if (++ox == ow) { /* the next pixel */
      ox = 0;
      if (++oy == oh) oy = 0, n++;
    }
  }
  const unsigned char *panels = (const unsigned char *)op->b + HEADER;
  for (size_t j = n0; j < n0 + ncount; j += NR) {
    const size_t valid = cout - j < NR ? cout - j : NR, nv = (valid + 15) / 16;
    const unsigned char *panel = panels + j * (8 + ktot);
    const size_t rows = rows_for(nv);
    int8_t *cj[MAX_M];
    for (size_t r = 0; r < mcount; r++) cj[r] = c[r] + j;
    /* the fewest tiles, of sizes as even as can be (49 pixels: 4 x 6 + 5 x
     * 5, not 8 x 6 + 1) */
    const size_t tiles = (mcount + rows - 1) / rows;
    for (size_t t = 0, r = 0; t < tiles; t++) {
      const size_t mr = (mcount - r + (tiles - t) - 1) / (tiles - t);
      tile_any(mr, nv, a + r, ktot, panel, cj + r, valid, h);
      r += mr;
    }
  }
}

int timmc_qgemm_supported(void) {
  static int known, yes;
  if (!known) {
    __builtin_cpu_init();
    yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vnni");
    known = 1;
  }
  return yes;
}

int timmc_kernel_qgemm(const timmc_op *op, pthreadpool_t pool) {
  const size_t *d = op->dims, pixels = d[0] * d[1] * d[2], cout = d[4];
  const header *h = (const header *)(const void *)op->b;
  /* pixels per task: all of them (each weight from memory once) when few
   * enough, else task rows of equal size, a multiple of 24 */
  size_t cap = ABUF / (size_t)h->ktot;
  if (cap > MAX_M) cap = MAX_M;
  size_t task_m = pixels;
  if (pixels > cap) {
    const size_t rows = (pixels + cap - 1) / cap;
    task_m = round_up((pixels + rows - 1) / rows, 24);
    if (task_m > cap) task_m = cap >= 24 ? cap / 24 * 24 : cap;
  }
  const size_t task_n = pixels / task_m >= 8 ? 4 * NR : NR;
  /* with few tasks a thread, smaller task rows (down to 24 pixels) even the
   * threads out: small layers' weights cost little to read again */
  const size_t threads = pthreadpool_get_threads_count(pool), cols = (cout + task_n - 1) / task_n;
  while (threads > 1 && task_m > 24 && (pixels + task_m - 1) / task_m * cols < 4 * threads) {
    task_m = round_up(task_m / 2, 24);
  }
  pthreadpool_parallelize_2d_tile_2d(pool, qgemm_task, (void *)op, pixels, cout, task_m, task_n,
                                     0);
  return TIMMC_OK;
}

#else /* no kernel on this target: XNNPACK's operator runs every layer */

int timmc_qgemm_supported(void) { return 0; }

int timmc_kernel_qgemm(const timmc_op *op, pthreadpool_t pool) {
  (void)op;
  (void)pool;
  return timmc_fail(TIMMC_ERUNTIME, "timmc's int8 GEMM is not built for this target");
}

#endif

int timmc_qgemm_use(int chosen) {
  const char *env = getenv("TIMMC_QGEMM");
  if (!timmc_qgemm_supported() || (env && !strcmp(env, "none"))) return 0;
  return chosen || (env && !strcmp(env, "all"));
}
