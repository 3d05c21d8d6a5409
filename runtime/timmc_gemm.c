/*
 * timmc_gemm.c - convolutions (1x1 or 3x3, not grouped) as timmc's own
 * GEMM, for AVX-512 CPUs.
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

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

/* See timmc_rt.h for the dims and work[0]. */
TARGET static void gemm_task(void *ctx, size_t m0, size_t n0, size_t mcount, size_t ncount) {
  const timmc_op *op = ctx;
  const size_t *d = op->dims;
  const size_t oh = d[1], ow = d[2], cin = d[3], cout = d[4], in_stride = d[5];
  const size_t out_stride = d[6], s = d[7], ih = d[8], iw = d[9];
  const float *prm = op->work[0];
  const size_t k = (size_t)prm[2], pt = (size_t)prm[3], pl = (size_t)prm[4];
  const size_t dil = (size_t)prm[5], taps = k * k;
  const __m512 lo = _mm512_set1_ps(prm[0]), hi = _mm512_set1_ps(prm[1]);
  const float *a[MAX_TAPS * MAX_M];
  float *c[MAX_M];
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
  for (size_t j = n0; j < n0 + ncount; j += NR) {
    const float *panel = op->b + j / NR * (1 + taps * cin) * NR;
    const size_t valid = cout - j < NR ? cout - j : NR;
    float *cj[MAX_M];
    for (size_t r = 0; r < mcount; r++) cj[r] = c[r] + j;
    for (size_t r = 0; r < mcount; r += MR) {
      const size_t mr = mcount - r < MR ? mcount - r : MR;
      tile_any(mr, taps, cin, a + r, panel, cj + r, valid, lo, hi);
    }
  }
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
  const size_t task_m = pixels <= MAX_M ? (pixels + MR - 1) / MR * MR : TASK_M;
  pthreadpool_parallelize_2d_tile_2d(pool, gemm_task, (void *)op, pixels, d[4], task_m, TASK_N,
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

#endif

int timmc_gemm_use(int chosen) {
  const char *env = getenv("TIMMC_GEMM");
  if (!timmc_gemm_supported() || (env && !strcmp(env, "none"))) return 0;
  return chosen || (env && !strcmp(env, "all"));
}
