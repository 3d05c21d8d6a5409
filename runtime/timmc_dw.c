/*
 * timmc_dw.c - depthwise convolutions (one filter a channel), 3x3 or 5x5,
 * stride 1 or 2, any padding, no dilation, as timmc's own kernel on AVX-512
 * CPUs.
 *
 * XNNPACK 2022's depthwise kernel takes one output pixel at a time through
 * every channel: for each pixel it reads all the layer's weights again (a
 * 19x19x728 layer reads its 29 KiB of weights 361 times), and each 16-channel
 * vector of a pixel is one chain of 9 dependent FMAs, so it runs far below
 * the FMA units (xception41's 19x19 layers: 20-25 GFLOP/s of a core's 117).
 * Here eight output pixels of a row go at once through one 16-channel vector
 * after another: the vector's weights are read once for the eight, the eight
 * are independent chains of FMAs, and the loop walks the input columns the
 * eight read, each input vector loaded once for every output and tap that
 * uses it. A task is a run of channels down a few output rows, the run narrow
 * enough that its input rows stay in L2 for the next rows.
 *
 * Every output is its bias plus its taps column by column (kx, then ky), as
 * XNNPACK's kernel sums them: the same bits, whatever the group and thread.
 * Taps on a padding row multiply zero weights (their row pointer is a real
 * row), taps on a padding column are skipped. A SiLU fused after the conv
 * (generator/passes/fuse_dw_act.lua) goes over each group's outputs right
 * after they are stored, while they are in L1.
 *
 * Only x86-64 with GCC or clang has the kernel (TIMMC_GEMM_BUILT), and it
 * runs only where the CPU has AVX-512F (timmc_dw_use); elsewhere, and under
 * TIMMC_DWCONV=xnnpack, the model creates XNNPACK's operator instead
 * (bench/dw_layers.sh times both per layer in one binary).
 */
#include <stdlib.h>
#include <string.h>

#include "timmc_rt.h"

#define VL 16 /* channels a vector */

size_t timmc_dw_packed_floats(size_t channels, size_t kernel) {
  return (channels + VL - 1) / VL * (1 + kernel * kernel) * VL;
}

int timmc_dw_pack(const timmc_scratch *w, int channels, int kernel, float *packed) {
  const size_t c = (size_t)channels, taps = (size_t)kernel * kernel;
  memset(packed, 0, timmc_dw_packed_floats(c, (size_t)kernel) * sizeof(float));
  for (size_t o = 0; o < c; o++) { /* [c][ky][kx] -> [c / 16][1 + taps][16] */
    float *panel = packed + o / VL * (1 + taps) * VL + o % VL;
    panel[0] = w->bias ? w->bias[o] : 0.0f;
    for (size_t t = 0; t < taps; t++) panel[(1 + t) * VL] = w->kernel[o * taps + t];
  }
  return TIMMC_OK;
}

int timmc_dw_use(int chosen) {
  const char *env = getenv("TIMMC_DWCONV");
  if (!timmc_gemm_supported() || (env && !strcmp(env, "xnnpack"))) return 0;
  return chosen || (env && !strcmp(env, "all"));
}

#if TIMMC_GEMM_BUILT
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))
#define MAX_K 5
#define NX 8 /* output pixels at once */

/* The op's dims and params (timmc_rt.h), unpacked. */
typedef struct {
  const timmc_op *op;
  size_t batch, oh, ow, channels, in_stride, out_stride, s, ih, iw, k, pt, pl;
  int silu; /* SiLU after the clamp (work[0][5]) */
  size_t lo, hi; /* outputs [lo, hi) read no padding column */
} dwjob;

/* The lanes of the vector at channel c that are channels. */
TARGET INLINE __mmask16 mask_at(const dwjob *g, size_t c) {
  return g->channels - c >= VL ? 0xffff : (__mmask16)((1u << (g->channels - c)) - 1);
}

TARGET INLINE __m512 load(int full, __mmask16 m, const float *p) {
  return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

/* Outputs ox0 .. ox0 + count - 1 (count <= nx) of a row, channel vector v.
 * The loop walks the input columns these outputs read; each column's k
 * inputs (one a row) go to every output and tap that reads them, so an
 * output takes its taps column by column (kx, then ky, as XNNPACK's kernel
 * does: the same bits) and each input vector is loaded once. The vector's
 * weights come from L1, zeros on a padding row. check: columns outside the
 * row are skipped (the padding) and only count outputs stored; else all nx
 * read inside the row. full: every lane of the vector is a channel (else
 * loads and stores are masked). k, s, nx, check, full constant where inlined. */
TARGET INLINE void run(size_t k, size_t s, size_t nx, int check, int full, const dwjob *g,
                       const float *const *rows, const __mmask16 *rowm, float *out,
                       size_t ox0, size_t count, size_t v, __m512 lo, __m512 hi) {
  const size_t is = g->in_stride, cols = (nx - 1) * s + k;
  const ptrdiff_t ix0 = (ptrdiff_t)(ox0 * s) - (ptrdiff_t)g->pl;
  const size_t c = v * VL;
  const __mmask16 m = mask_at(g, c);
  const float *panel = g->op->b + v * (1 + k * k) * VL;
  __m512 w[MAX_K * MAX_K], acc[NX];
#pragma GCC unroll 25
  for (size_t t = 0; t < k * k; t++) {
    w[t] = _mm512_maskz_load_ps(rowm[t / k], panel + (1 + t) * VL);
  }
  const __m512 bias = _mm512_load_ps(panel);
#pragma GCC unroll 8
  for (size_t j = 0; j < nx; j++) acc[j] = bias;
#pragma GCC unroll 24
  for (size_t q = 0; q < cols; q++) {
    const ptrdiff_t ix = ix0 + (ptrdiff_t)q;
    if (!check || (ix >= 0 && ix < (ptrdiff_t)g->iw)) {
      __m512 x[MAX_K];
#pragma GCC unroll 5
      for (size_t ky = 0; ky < k; ky++) x[ky] = load(full, m, rows[ky] + ix * (ptrdiff_t)is + c);
#pragma GCC unroll 5
      for (size_t kx = 0; kx < k; kx++) {
        if (q < kx || (q - kx) % s != 0 || (q - kx) / s >= nx) continue;
        const size_t j = (q - kx) / s;
#pragma GCC unroll 5
        for (size_t ky = 0; ky < k; ky++) acc[j] = _mm512_fmadd_ps(x[ky], w[ky * k + kx], acc[j]);
      }
    }
  }
#pragma GCC unroll 8
  for (size_t j = 0; j < nx; j++) {
    if (check && j >= count) break;
    const __m512 r = _mm512_min_ps(_mm512_max_ps(acc[j], lo), hi);
    if (full) _mm512_storeu_ps(out + (ox0 + j) * g->out_stride + c, r);
    else _mm512_mask_storeu_ps(out + (ox0 + j) * g->out_stride + c, m, r);
  }
}

/* SiLU, x * sigmoid(x), as timmc_kernel_silu computes it (runtime/timmc_rt.c:
 * Cephes' expf, each step one rounding, in the same order), 16 lanes at a
 * time: the same bits as the pass it replaces (runtime_unit compares the
 * two, channel tails included). A copy, not a call: timmc_rt.c's eight-lane
 * vector code, inlined here, gave the same bits but made efficientnet_b0's
 * depthwise convs with their SiLUs about a tenth slower at 1 thread (2.85 ->
 * 3.22 ms in the quietest round of three), most of what the fusion gains. */
TARGET static __m512 silu16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-88.3762626647949f);
  __m512 v = _mm512_sub_ps(_mm512_setzero_ps(), x); /* exp(-x), clamped */
  v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
  v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512 n = _mm512_sub_ps(
      _mm512_add_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504088896341f)), magic), magic);
  __m512 r = _mm512_sub_ps(v, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
  r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
  static const float c[5] = {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                             1.6666665459e-1f, 5.0000001201e-1f};
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  for (int i = 0; i < 5; i++) p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(c[i]));
  p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r),
                    _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_div_ps(
      x, _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(p, _mm512_castsi512_ps(bits))));
}

/* SiLU in place over count outputs of a vector just stored (in L1). */
TARGET static void silu_stored(float *p, size_t count, size_t stride, __mmask16 m) {
  for (size_t j = 0; j < count; j++, p += stride) {
    _mm512_mask_storeu_ps(p, m, silu16(_mm512_maskz_loadu_ps(m, p)));
  }
}

/* A group of nx outputs at ox through vectors v0 .. v1 - 1: a group of NX
 * that reads only inside the row goes without checks, unless at the last,
 * partial vector; groups of 4 always check (one copy of run fewer). */
TARGET INLINE void group(size_t k, size_t s, size_t nx, const dwjob *g, const float *const *rows,
                         const __mmask16 *rowm, float *out, size_t ox, size_t count, size_t v0,
                         size_t v1, __m512 lo, __m512 hi) {
  const int inside = nx == NX && ox >= g->lo && ox + nx <= g->hi;
  for (size_t v = v0; v < v1; v++) {
    if (g->channels - v * VL < VL) run(k, s, nx, 1, 0, g, rows, rowm, out, ox, count, v, lo, hi);
    else if (inside) run(k, s, nx, 0, 1, g, rows, rowm, out, ox, count, v, lo, hi);
    else run(k, s, nx, 1, 1, g, rows, rowm, out, ox, count, v, lo, hi);
    if (g->silu) {
      silu_stored(out + ox * g->out_stride + v * VL, count, g->out_stride, mask_at(g, v * VL));
    }
  }
}

/* A row's outputs in groups of NX, the rest in groups of 4 (3 outputs as a
 * group of 4 that stores 3): fewer copies of run for the compiler. */
TARGET INLINE void row_ks(size_t k, size_t s, const dwjob *g, const float *const *rows,
                          const __mmask16 *rowm, float *out, size_t v0, size_t v1, __m512 lo,
                          __m512 hi) {
  size_t ox = 0;
  for (; ox + NX <= g->ow; ox += NX) group(k, s, NX, g, rows, rowm, out, ox, NX, v0, v1, lo, hi);
  for (; ox < g->ow; ox += 4) {
    const size_t count = g->ow - ox < 4 ? g->ow - ox : 4;
    group(k, s, 4, g, rows, rowm, out, ox, count, v0, v1, lo, hi);
  }
}

/* Channel vectors v0 .. v0 + vcount of output rows r0 .. r0 + rcount (of
 * batch x height). */
TARGET static void dw_task(void *ctx, size_t v0, size_t r0, size_t vcount, size_t rcount) {
  const dwjob *g = ctx;
  const float *prm = g->op->work[0];
  const __m512 lo = _mm512_set1_ps(prm[0]), hi = _mm512_set1_ps(prm[1]);
  for (size_t row = r0; row < r0 + rcount; row++) {
    const size_t n = row / g->oh, oy = row % g->oh;
    const float *rows[MAX_K];
    __mmask16 rowm[MAX_K];
    for (size_t ky = 0; ky < g->k; ky++) {
      const size_t iy = oy * g->s + ky - g->pt; /* above the image wraps huge */
      rowm[ky] = iy < g->ih ? 0xffff : 0;
      rows[ky] = g->op->a + (n * g->ih + (iy < g->ih ? iy : 0)) * g->iw * g->in_stride;
    }
    float *out = g->op->y + row * g->ow * g->out_stride;
    const size_t v1 = v0 + vcount;
    if (g->k == 3 && g->s == 1) row_ks(3, 1, g, rows, rowm, out, v0, v1, lo, hi);
    else if (g->k == 3) row_ks(3, 2, g, rows, rowm, out, v0, v1, lo, hi);
    else if (g->s == 1) row_ks(5, 1, g, rows, rowm, out, v0, v1, lo, hi);
    else row_ks(5, 2, g, rows, rowm, out, v0, v1, lo, hi);
  }
}

/* Tasks go a run of channels down the rows (a row's inputs are the next
 * rows' too), the run as wide as keeps its k input rows under 256 KiB (in
 * L2), several rows a task. */
#define ROWS_BYTES (256 << 10)
#define TASK_ROWS 4

int timmc_kernel_dwconv(const timmc_op *op, pthreadpool_t pool) {
  const size_t *dm = op->dims;
  const float *prm = op->work[0];
  dwjob g = {op, dm[0], dm[1], dm[2], dm[3], dm[4], dm[5], dm[6], dm[7], dm[8],
             (size_t)prm[2], (size_t)prm[3], (size_t)prm[4], prm[5] != 0, 0, 0};
  /* outputs that read no padding column: ox * s >= pl, ox * s - pl + k - 1 < iw */
  g.lo = (g.pl + g.s - 1) / g.s;
  g.hi = g.iw + g.pl >= g.k ? (g.iw + g.pl - g.k) / g.s + 1 : 0;
  if (g.hi > g.ow) g.hi = g.ow;
  if (g.lo > g.hi) g.lo = g.hi;
  const size_t vectors = (g.channels + VL - 1) / VL;
  size_t run = ROWS_BYTES / (g.k * g.iw * VL * sizeof(float));
  run = run < 1 ? 1 : run > vectors ? vectors : run;
  pthreadpool_parallelize_2d_tile_2d(pool, dw_task, &g, vectors, g.batch * g.oh, run, TASK_ROWS,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

#else /* no kernel on this target: XNNPACK's operator runs every depthwise layer */

int timmc_kernel_dwconv(const timmc_op *op, pthreadpool_t pool) {
  (void)op;
  (void)pool;
  return timmc_fail(TIMMC_ERUNTIME, "timmc's depthwise kernel is not built for this target");
}

#endif
