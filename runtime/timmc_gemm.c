/*
 * timmc_gemm.c - 1x1 and 3x3 convolutions, dense or in groups of 24
 * output channels, as timmc's own GEMM, for AVX-512 CPUs.
 *
 * y[p][o] = clamp(bias[o] + sum_t,i x[p at tap t][i] * k[o][t][i]) over the
 * output pixels p is a product of the [pixels][taps x in] input, read
 * through a pointer per pixel and tap (zeros in the padding), and the
 * [taps x in][out] weights. The weights are packed at init into panels of 32
 * output channels, [panel][1 + taps x in][32] (the bias first, zeros past
 * the last channel). The micro-kernel keeps a tile of up to 12 pixels x 32
 * channels in 24 zmm registers: per input channel two loads of the panel,
 * 12 broadcasts from the pixels and 24 FMAs. XNNPACK 2022's kernel for these
 * CPUs is 7x16 and reads all the weights again for every 7 pixels; here a
 * layer of up to 144 pixels is one row of tasks, so each weight comes from
 * memory once (what wins where the weights outgrow the caches: late layers
 * of few pixels and many channels; see generator/passes/pick_kernels.lua).
 *
 * Grouped convolutions of 24 output channels a group (regnet) take a 24-wide
 * tile instead (one zmm and one ymm a pixel), each group its own panel and
 * its own slice of the input: 32-wide panels (XNNPACK's too) waste a quarter
 * of the FMAs there.
 *
 * Threads take tasks of 48 pixels (or all, up to 144) x 128 channels
 * (pthreadpool's 2-d tiles), a panel at a time over the task's pixels.
 * Every output is one chain of FMAs over the taps and input channels in
 * order, whoever computes it and whatever the tile: results do not depend
 * on the thread count (they are XNNPACK's, bit for bit, as measured).
 *
 * Only x86-64 with GCC or clang has the kernel (TIMMC_GEMM_BUILT), and it
 * runs only where the CPU has AVX-512F (checked once); elsewhere the model
 * creates XNNPACK's operator instead. TIMMC_GEMM=none in the environment
 * refuses it everywhere, =all takes it for every layer the generator emitted
 * it for, not only those its cost model chose: how bench/gemm_layers.sh
 * times both in one binary.
 */
#include <stdlib.h>
#include <string.h>

#include "timmc_rt.h"

#define NR 32 /* output channels per panel */
#define MR 12 /* pixels per micro tile */
#define TASK_M (4 * MR)
#define TASK_N (4 * NR)
#define MAX_M (12 * MR) /* pixels a task may take, when that is all of them */
#define MAX_TAPS 9      /* kernels up to 3x3 */

size_t timmc_gemm_packed_floats(size_t in_channels, size_t out_channels, size_t kernel) {
  return (out_channels + NR - 1) / NR * (1 + kernel * kernel * in_channels) * NR;
}

int timmc_gemm_pack(const timmc_scratch *w, int out_channels, int in_channels, int kernel,
                    float *packed) {
  const size_t rows = (size_t)kernel * kernel * in_channels, cout = (size_t)out_channels;
  const size_t panels = (cout + NR - 1) / NR;
  memset(packed, 0, timmc_gemm_packed_floats(in_channels, cout, kernel) * sizeof(float));
  for (size_t j = 0; j < panels; j++) { /* [out][ky][kx][in] -> [1 + ky, kx, in][32] */
    float *panel = packed + j * (1 + rows) * NR;
    for (size_t c = 0; c < NR && j * NR + c < cout; c++) {
      const size_t o = j * NR + c;
      panel[c] = w->bias ? w->bias[o] : 0.0f;
      for (size_t i = 0; i < rows; i++) panel[(1 + i) * NR + c] = w->kernel[o * rows + i];
    }
  }
  return TIMMC_OK;
}

size_t timmc_gemm_products_floats(size_t products, size_t cin, size_t cout) {
  return products * timmc_gemm_packed_floats(cin, cout, 1);
}

int timmc_gemm_products_pack(const float *kernel, size_t products, size_t cin, size_t cout,
                             float *packed) {
  for (size_t g = 0; g < products; g++) {
    const timmc_scratch w = {.kernel = kernel + g * cout * cin};
    TIMMC_TRY(timmc_gemm_pack(&w, (int)cout, (int)cin, 1,
                              packed + g * timmc_gemm_packed_floats(cin, cout, 1)));
  }
  return TIMMC_OK;
}

size_t timmc_gemm24_packed_floats(size_t in_channels, size_t kernel, size_t groups) {
  return groups * (1 + kernel * kernel * in_channels) * 24;
}

int timmc_gemm24_pack(const timmc_scratch *w, int groups, int in_channels, int kernel,
                      float *packed) {
  const size_t rows = (size_t)kernel * kernel * in_channels;
  for (size_t g = 0; g < (size_t)groups; g++) { /* [g*24 + c][ky][kx][in] -> [g][1 + ...][24] */
    float *panel = packed + g * (1 + rows) * 24;
    for (size_t c = 0; c < 24; c++) {
      const size_t o = g * 24 + c;
      panel[c] = w->bias ? w->bias[o] : 0.0f;
      for (size_t i = 0; i < rows; i++) panel[(1 + i) * 24 + c] = w->kernel[o * rows + i];
    }
  }
  return TIMMC_OK;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

/* Rows go in tasks of up to `most` and a task's rows in micro tiles of up to
 * MR, both as even as they can be: 49 rows are tiles of 10, 10, 10, 10 and 9,
 * not 12, 12, 12, 12 and 1, since a tile of one or two rows keeps too few
 * accumulators to hide the FMA latency (its rows cost several times a full
 * tile's). */
static size_t even_split(size_t rows, size_t most) {
  const size_t parts = (rows + most - 1) / most;
  return parts ? (rows + parts - 1) / parts : 0;
}

/* The first row of tile q of a task's count rows, in (count + MR - 1) / MR tiles. */
static size_t tile_start(size_t q, size_t count) {
  return q * count / ((count + MR - 1) / MR);
}

/* mr pixels x one panel: for each of the taps (kernel positions), a[t *
 * MAX_M + r] is pixel r's input at tap t (cin floats, zeros in the padding);
 * c rows get the clamped results, the first `valid` of the panel's 32
 * channels. mr is a constant where this is inlined, so the accumulators live
 * in registers. */
TARGET INLINE void tile(size_t mr, size_t taps, size_t cin, const float *const *a,
                        const float *panel, float *const *c, size_t valid, __m512 lo,
                        __m512 hi) {
  __m512 acc0[MR], acc1[MR];
  const __m512 b0 = _mm512_load_ps(panel), b1 = _mm512_load_ps(panel + 16);
#pragma GCC unroll 12
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  const float *w = panel + NR;
  for (size_t t = 0; t < taps; t++) {
    const float *const *at = a + t * MAX_M;
    for (size_t i = 0; i < cin; i++, w += NR) {
      const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
#pragma GCC unroll 12
      for (size_t r = 0; r < mr; r++) {
        const __m512 x = _mm512_set1_ps(at[r][i]);
        acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(x, w1, acc1[r]);
      }
    }
  }
  if (valid == NR) {
#pragma GCC unroll 12
    for (size_t r = 0; r < mr; r++) {
      _mm512_storeu_ps(c[r], _mm512_min_ps(_mm512_max_ps(acc0[r], lo), hi));
      _mm512_storeu_ps(c[r] + 16, _mm512_min_ps(_mm512_max_ps(acc1[r], lo), hi));
    }
  } else {
    const __mmask16 m0 = valid >= 16 ? 0xffff : (__mmask16)((1u << valid) - 1);
    const __mmask16 m1 = valid <= 16 ? 0 : (__mmask16)((1u << (valid - 16)) - 1);
#pragma GCC unroll 12
    for (size_t r = 0; r < mr; r++) {
      _mm512_mask_storeu_ps(c[r], m0, _mm512_min_ps(_mm512_max_ps(acc0[r], lo), hi));
      _mm512_mask_storeu_ps(c[r] + 16, m1, _mm512_min_ps(_mm512_max_ps(acc1[r], lo), hi));
    }
  }
}

#define TILE_CASE(n) \
  case n: tile(n, taps, cin, a, panel, c, valid, lo, hi); break;

/* One constant-mr copy of tile per case, so none keeps its tile in memory. */
TARGET static void tile_any(size_t mr, size_t taps, size_t cin, const float *const *a,
                            const float *panel, float *const *c, size_t valid, __m512 lo,
                            __m512 hi) {
  switch (mr) {
    TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
    default: break;
  }
}

/* What the padding reads: zeros for up to TIMMC_GEMM_MAX_IN channels. */
static const float zeros[TIMMC_GEMM_MAX_IN];

/* The input at every tap of pixels m0 .. m0 + mcount (a[tap * MAX_M + r])
 * and their outputs (c[r]). See timmc_rt.h for the dims and work[0]. */
static void pixel_rows(const timmc_op *op, size_t m0, size_t mcount, const float **a,
                       float **c) {
  const size_t *d = op->dims;
  const size_t oh = d[1], ow = d[2], in_stride = d[5], out_stride = d[6], s = d[7];
  const size_t ih = d[8], iw = d[9];
  const float *prm = op->work[0];
  const size_t k = (size_t)prm[2], pt = (size_t)prm[3], pl = (size_t)prm[4];
  const size_t dil = (size_t)prm[5];
  for (size_t r = 0; r < mcount; r++) {
    const size_t p = m0 + r, n = p / (oh * ow), oy = p / ow % oh, ox = p % ow;
    for (size_t ky = 0; ky < k; ky++) {
      const size_t y = oy * s + ky * dil - pt; /* above the image wraps to a huge y */
      for (size_t kx = 0; kx < k; kx++) {
        const size_t x = ox * s + kx * dil - pl;
        a[(ky * k + kx) * MAX_M + r] =
            y < ih && x < iw ? op->a + ((n * ih + y) * iw + x) * in_stride : zeros;
      }
    }
    c[r] = op->y + p * out_stride;
  }
}

TARGET static void gemm_task(void *ctx, size_t m0, size_t n0, size_t mcount, size_t ncount) {
  const timmc_op *op = ctx;
  const size_t *d = op->dims;
  const size_t cin = d[3], cout = d[4];
  const float *prm = op->work[0];
  const size_t taps = (size_t)prm[2] * (size_t)prm[2];
  const __m512 lo = _mm512_set1_ps(prm[0]), hi = _mm512_set1_ps(prm[1]);
  const float *a[MAX_TAPS * MAX_M];
  float *c[MAX_M];
  pixel_rows(op, m0, mcount, a, c);
  for (size_t j = n0; j < n0 + ncount; j += NR) {
    const float *panel = op->b + j / NR * (1 + taps * cin) * NR;
    const size_t valid = cout - j < NR ? cout - j : NR;
    float *cj[MAX_M];
    for (size_t r = 0; r < mcount; r++) cj[r] = c[r] + j;
    for (size_t q = 0; q < (mcount + MR - 1) / MR; q++) {
      const size_t r = tile_start(q, mcount), mr = tile_start(q + 1, mcount) - r;
      tile_any(mr, taps, cin, a + r, panel, cj + r, valid, lo, hi);
    }
  }
}

/* Grouped convolutions of 24 output channels a group (regnet's group width):
 * a panel is 24 channels, one zmm and one ymm, so every FMA lane is used
 * (32-wide panels, as XNNPACK's and the tile above, waste a quarter). Same
 * as tile otherwise; aoff is the group's first input channel. */
TARGET INLINE void tile24(size_t mr, size_t taps, size_t cin, size_t aoff,
                          const float *const *a, const float *panel, float *const *c,
                          __m512 lo, __m512 hi) {
  __m512 acc0[MR];
  __m256 acc1[MR];
  const __m512 b0 = _mm512_loadu_ps(panel);
  const __m256 b1 = _mm256_loadu_ps(panel + 16);
#pragma GCC unroll 12
  for (size_t r = 0; r < mr; r++) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  const float *w = panel + 24;
  for (size_t t = 0; t < taps; t++) {
    const float *const *at = a + t * MAX_M;
    for (size_t i = aoff; i < aoff + cin; i++, w += 24) {
      const __m512 w0 = _mm512_loadu_ps(w);
      const __m256 w1 = _mm256_loadu_ps(w + 16);
#pragma GCC unroll 12
      for (size_t r = 0; r < mr; r++) {
        const __m512 x = _mm512_set1_ps(at[r][i]);
        acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(x), w1, acc1[r]);
      }
    }
  }
  const __m256 lo8 = _mm512_castps512_ps256(lo), hi8 = _mm512_castps512_ps256(hi);
#pragma GCC unroll 12
  for (size_t r = 0; r < mr; r++) {
    _mm512_storeu_ps(c[r], _mm512_min_ps(_mm512_max_ps(acc0[r], lo), hi));
    _mm256_storeu_ps(c[r] + 16, _mm256_min_ps(_mm256_max_ps(acc1[r], lo8), hi8));
  }
}

#define TILE24_CASE(n) \
  case n: tile24(n, taps, cin, aoff, a, panel, c, lo, hi); break;

TARGET static void tile24_any(size_t mr, size_t taps, size_t cin, size_t aoff,
                              const float *const *a, const float *panel, float *const *c,
                              __m512 lo, __m512 hi) {
  switch (mr) {
    TILE24_CASE(1) TILE24_CASE(2) TILE24_CASE(3) TILE24_CASE(4) TILE24_CASE(5)
    TILE24_CASE(6) TILE24_CASE(7) TILE24_CASE(8) TILE24_CASE(9) TILE24_CASE(10)
    TILE24_CASE(11) TILE24_CASE(12)
    default: break;
  }
}

/* gemm_task for timmc_kernel_gemm24: groups g0 .. g0 + gcount. */
TARGET static void gemm24_task(void *ctx, size_t m0, size_t g0, size_t mcount, size_t gcount) {
  const timmc_op *op = ctx;
  const size_t *d = op->dims;
  const size_t cin = d[3];
  const float *prm = op->work[0];
  const size_t taps = (size_t)prm[2] * (size_t)prm[2];
  const __m512 lo = _mm512_set1_ps(prm[0]), hi = _mm512_set1_ps(prm[1]);
  const float *a[MAX_TAPS * MAX_M];
  float *c[MAX_M];
  pixel_rows(op, m0, mcount, a, c);
  for (size_t g = g0; g < g0 + gcount; g++) {
    const float *panel = op->b + g * (1 + taps * cin) * 24;
    float *cg[MAX_M];
    for (size_t r = 0; r < mcount; r++) cg[r] = c[r] + g * 24;
    for (size_t q = 0; q < (mcount + MR - 1) / MR; q++) {
      const size_t r = tile_start(q, mcount), mr = tile_start(q + 1, mcount) - r;
      tile24_any(mr, taps, cin, g * cin, a + r, panel, cg + r, lo, hi);
    }
  }
}

/* Winograd's products (timmc_wino.c; timmc_products in timmc_rt.h). A task
 * is one product and up to ROWS_TASK rows: each micro tile of up to 12 rows
 * goes through every panel while its inputs stay in L1. */
#define ROWS_TASK (4 * MR)

TARGET static void products_task(void *ctx, size_t G, size_t r0, size_t count) {
  const timmc_products *p = ctx;
  const size_t panels = (p->cout + NR - 1) / NR;
  const float *packed = p->packed + G * panels * (1 + p->cin) * NR;
  const float *a0 = p->a + G * p->cin;
  float *c0 = p->y + G * p->cout;
  const __m512 lo = _mm512_set1_ps(-__builtin_inff()), hi = _mm512_set1_ps(__builtin_inff());
  for (size_t q = 0; q < (count + MR - 1) / MR; q++) {
    const size_t r = r0 + tile_start(q, count), mr = r0 + tile_start(q + 1, count) - r;
    const float *a[MR];
    float *c[MR];
    for (size_t i = 0; i < mr; i++) {
      a[i] = a0 + (r + i) * p->products * p->cin;
      c[i] = c0 + (r + i) * p->products * p->cout;
    }
    for (size_t j = 0; j < panels; j++) {
      float *cj[MR];
      for (size_t i = 0; i < mr; i++) cj[i] = c[i] + j * NR;
      const size_t valid = p->cout - j * NR < NR ? p->cout - j * NR : NR;
      tile_any(mr, 1, p->cin, a, packed + j * (1 + p->cin) * NR, cj, valid, lo, hi);
    }
  }
}

int timmc_gemm_products(const timmc_products *p, pthreadpool_t pool) {
  pthreadpool_parallelize_2d_tile_1d(pool, products_task, (void *)p, p->products, p->rows,
                                     even_split(p->rows, ROWS_TASK),
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

int timmc_gemm_supported(void) {
  static int known, yes;
  if (!known) {
    __builtin_cpu_init();
    yes = __builtin_cpu_supports("avx512f");
    known = 1;
  }
  return yes;
}

int timmc_kernel_gemm(const timmc_op *op, pthreadpool_t pool) {
  const size_t *d = op->dims, pixels = d[0] * d[1] * d[2];
  /* up to MAX_M pixels, one task row: each weight comes from memory once */
  const size_t task_m = pixels <= MAX_M ? pixels : even_split(pixels, TASK_M);
  pthreadpool_parallelize_2d_tile_2d(pool, gemm_task, (void *)op, pixels, d[4], task_m, TASK_N,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

int timmc_kernel_gemm24(const timmc_op *op, pthreadpool_t pool) {
  const size_t *d = op->dims, pixels = d[0] * d[1] * d[2];
  const size_t task_m = pixels <= MAX_M ? pixels : even_split(pixels, TASK_M);
  pthreadpool_parallelize_2d_tile_2d(pool, gemm24_task, (void *)op, pixels,
                                     (size_t)op->work[0][6], task_m, 4,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

#else /* no kernel on this target: XNNPACK's operator runs every 1x1 layer */

int timmc_gemm_supported(void) { return 0; }

int timmc_kernel_gemm(const timmc_op *op, pthreadpool_t pool) {
  (void)op;
  (void)pool;
  return timmc_fail(TIMMC_ERUNTIME, "timmc's GEMM is not built for this target");
}

int timmc_kernel_gemm24(const timmc_op *op, pthreadpool_t pool) {
  return timmc_kernel_gemm(op, pool);
}

int timmc_gemm_products(const timmc_products *p, pthreadpool_t pool) {
  (void)p;
  return timmc_kernel_gemm(NULL, pool);
}

#endif

int timmc_gemm_use(int chosen) {
  const char *env = getenv("TIMMC_GEMM");
  if (!timmc_gemm_supported() || (env && !strcmp(env, "none"))) return 0;
  return chosen || (env && !strcmp(env, "all"));
}
