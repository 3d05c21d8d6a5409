/*
 * timmc_wino.c - 3x3 stride-1 convolutions as Winograd F(4x4, 3x3).
 *
 * Each 4x4 block of outputs (a tile) comes from a 6x6 block of inputs:
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * so the 9 multiplies per output of the direct convolution become 36 per 16
 * outputs, and the products over input channels are 36 matrix products (one
 * per position of the 6x6 block). XNNPACK runs those as one grouped 1x1
 * convolution over the tiles, or timmc's GEMM does (timmc_gemm.c, where the
 * generator chose it: few tiles, whose products XNNPACK's 7-row tiles run at
 * a loss); this file does the rest, which no library in Debian does: the
 * weight transform at init and the input and output transforms in forward.
 *
 * The points are 0, +-1, +-2 and infinity (Lavin and Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2016):
 *   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0]   A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1 1 0]       [-1/6 -1/6  -1/6]         [0 1 -1 2 -2 0]
 *         [0  4 -4 -1 1 0]       [-1/6  1/6  -1/6]         [0 1  1 4  4 0]
 *         [0 -2 -1  2 1 0]       [1/24 1/12   1/6]         [0 1 -1 8 -8 1]
 *         [0  2 -1 -2 1 0]       [1/24 -1/12  1/6]
 *         [0  4  0 -5 0 1]       [   0     0     1]
 *
 * A dilated convolution (dilation d) is d x d interleaved ordinary ones: a
 * tile then covers outputs d apart and reads inputs d apart.
 */
#include <pthreadpool.h>
#include <string.h>

#include "timmc_rt.h"

#define ALPHA 6 /* input block side */
#define TILE_OUT 4

/* Both transforms vectorise over channels, 8 at a time; on x86-64 with GCC
 * AVX-512 and AVX2 copies are built beside the baseline one and the loader
 * picks the best the CPU runs. */
typedef float vf __attribute__((vector_size(32)));
typedef int vi __attribute__((vector_size(32)));
#define VL 8
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TIMMC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define TIMMC_CLONES
#endif
/* The block transforms must be inlined where the channel count n is a
 * constant, so that load() and store() become vector moves: left to -O2's
 * judgment they stay calls with a memcpy of n floats (5x slower in-model).
 * Inlined, load()'s vector return value never crosses a call boundary, so
 * the ABI warning about it (GCC and clang) does not apply. */
#define INLINE static inline __attribute__((always_inline))
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

INLINE vf load(const float *p, size_t n) {
  vf v = {0};
  memcpy(&v, p, n * sizeof(float));
  return v;
}

INLINE void store(float *p, const vf *v, size_t n) { memcpy(p, v, n * sizeof(float)); }

/* 1-d input transform: t = B^T x */
INLINE void bt6(const vf x[6], vf t[6]) {
  const vf a = x[4] - 4 * x[2], b = x[3] - 4 * x[1], c = x[4] - x[2], e = 2 * (x[3] - x[1]);
  t[0] = 4 * x[0] - 5 * x[2] + x[4];
  t[1] = a + b;
  t[2] = a - b;
  t[3] = c + e;
  t[4] = c - e;
  t[5] = 4 * x[1] - 5 * x[3] + x[5];
}

/* 1-d output transform: y = A^T m */
INLINE void at6(const vf m[6], vf y[4]) {
  const vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], e = m[3] - m[4];
  y[0] = m[0] + a + c;
  y[1] = b + 2 * e;
  y[2] = a + 4 * c;
  y[3] = b + 8 * e + m[5];
}

/* Tiles along one axis of n outputs at dilation d: each residue mod d is its
 * own image of ceil(n / d) pixels, cut into tiles of 4. */
static size_t tiles_along(size_t n, size_t d) {
  const size_t per_residue = (n + d - 1) / d;
  return d * ((per_residue + TILE_OUT - 1) / TILE_OUT);
}

size_t timmc_wino_tiles(size_t batch, size_t height, size_t width, size_t dilation) {
  return batch * tiles_along(height, dilation) * tiles_along(width, dilation);
}

/* First output of tile t along an axis: residue t mod d, then 4 d apart. */
static size_t tile_origin(size_t t, size_t d) { return t % d + d * TILE_OUT * (t / d); }

/* The op's dims (see timmc_rt.h), and the block being worked on. */
typedef struct {
  const timmc_op *op;
  size_t batch, height, width, cin, cout, in_stride, out_stride, dilation, relu, block;
  size_t th, tw, tiles; /* tiles per column, per row, in all */
  size_t first;         /* the block's first tile */
} job;

static job job_of(const timmc_op *op) {
  const size_t *d = op->dims;
  job j = {op, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], 0, 0, 0, 0};
  j.th = tiles_along(j.height, j.dilation);
  j.tw = tiles_along(j.width, j.dilation);
  j.tiles = j.batch * j.th * j.tw;
  return j;
}

/* Pixel coordinates of tile t's origin. */
static void tile_at(const job *g, size_t t, size_t *n, size_t *y0, size_t *x0) {
  *n = t / (g->th * g->tw);
  *y0 = tile_origin(t / g->tw % g->th, g->dilation);
  *x0 = tile_origin(t % g->tw, g->dilation);
}

INLINE void in_block(float *const src[36], float *dst, size_t c, size_t chans, size_t n) {
  vf col[6], t[6][6], r[6];
  for (int j = 0; j < ALPHA; j++) { /* columns: t[a][j] = (B^T d)[a][j] */
    for (int i = 0; i < ALPHA; i++) {
      const float *p = src[i * ALPHA + j];
      col[i] = p ? load(p + c, n) : (vf){0};
    }
    bt6(col, r);
    for (int a = 0; a < ALPHA; a++) t[a][j] = r[a];
  }
  for (int a = 0; a < ALPHA; a++) { /* rows: (t B)[a][b] */
    bt6(t[a], r);
    for (int b = 0; b < ALPHA; b++) store(dst + (a * ALPHA + b) * chans + c, &r[b], n);
  }
}

/* Pointers to the side x side pixels of tile t, d apart, from `back` steps
 * of d before its origin (the padding), in an image of that pixel stride; NULL
 * where that is outside the image, and everywhere for a tile past the last
 * (the last block is padded to the block size). */
static void tile_pixels(const job *g, size_t t, int side, size_t back, float *image,
                        size_t stride, float **px) {
  const size_t d = g->dilation;
  size_t n, y0, x0;
  tile_at(g, t, &n, &y0, &x0);
  for (int i = 0; i < side; i++) {
    const size_t y = y0 + d * i - d * back; /* above the image wraps to a huge y */
    for (int j = 0; j < side; j++) {
      const size_t x = x0 + d * j - d * back;
      px[i * side + j] = t < g->tiles && y < g->height && x < g->width
                             ? image + ((n * g->height + y) * g->width + x) * stride
                             : NULL;
    }
  }
}

TIMMC_CLONES
static void input_tile(void *ctx, size_t i) {
  const job *g = ctx;
  float *src[36];
  tile_pixels(g, g->first + i, ALPHA, 1, (float *)g->op->a, g->in_stride, src);
  float *dst = g->op->work[0] + i * 36 * g->cin;
  size_t c = 0;
  for (; c + VL <= g->cin; c += VL) in_block(src, dst, c, g->cin, VL);
  if (c < g->cin) in_block(src, dst, c, g->cin, g->cin - c);
}

INLINE void out_block(const float *src, float *const dst[16], const float *bias, int act,
                      size_t c, size_t chans, size_t n) {
  vf col[6], t[4][6], y[4];
  for (int b = 0; b < ALPHA; b++) { /* columns: t[i][b] = (A^T m)[i][b] */
    for (int a = 0; a < ALPHA; a++) col[a] = load(src + (a * ALPHA + b) * chans + c, n);
    at6(col, y);
    for (int i = 0; i < TILE_OUT; i++) t[i][b] = y[i];
  }
  const vf bv = load(bias + c, n);
  for (int i = 0; i < TILE_OUT; i++) { /* rows: y[j] = (t A)[i][j] */
    at6(t[i], y);
    for (int j = 0; j < TILE_OUT; j++) {
      float *p = dst[i * TILE_OUT + j];
      if (!p) continue;
      vf v = y[j] + bv;
      if (act) v = (vf)((vi)v & (v > 0)); /* ReLU: keep the bits where v > 0 */
      store(p + c, &v, n);
    }
  }
}

TIMMC_CLONES
static void output_tile(void *ctx, size_t i) {
  const job *g = ctx;
  float *dst[16];
  tile_pixels(g, g->first + i, TILE_OUT, 0, g->op->y, g->out_stride, dst);
  const float *src = g->op->work[1] + i * 36 * g->cout;
  const int act = g->relu != 0;
  size_t c = 0;
  for (; c + VL <= g->cout; c += VL) out_block(src, dst, g->op->b, act, c, g->cout, VL);
  if (c < g->cout) out_block(src, dst, g->op->b, act, c, g->cout, g->cout - c);
}

/* Denormals are flushed in the transforms as XNNPACK flushes them in its
 * operators, so a tiny value costs no microcode assist and rounds alike. */
int timmc_kernel_wino(const timmc_op *op, pthreadpool_t pool) {
  job g = job_of(op);
  for (g.first = 0; g.first < g.tiles; g.first += g.block) {
    pthreadpool_parallelize_1d(pool, input_tile, &g, g.block, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    if (op->packed) { /* the block's tiles, not the padding past the last */
      const size_t groups = op->dims[10];
      const size_t rows = g.tiles - g.first < g.block ? g.tiles - g.first : g.block;
      const timmc_products p = {op->packed, op->work[0], op->work[1], ALPHA * ALPHA * groups,
                                g.cin / groups, g.cout / groups, rows};
      TIMMC_TRY(timmc_gemm_products(&p, pool));
    } else {
      const enum xnn_status s = xnn_run_operator(op->xnn, pool);
      if (s != xnn_status_success) return timmc_xnn_fail("winograd products", "run", s);
    }
    pthreadpool_parallelize_1d(pool, output_tile, &g, g.block, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  }
  return TIMMC_OK;
}

int timmc_wino_weights(timmc_scratch *w, int out_channels, int group_input_channels, float *bias) {
  static const double G[6][3] = {
      {1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6},  {0, 0, 1}};
  const size_t cin = (size_t)group_input_channels, cout = (size_t)out_channels;
  /* [36][out][in/groups] is already the grouped layout: group p * groups + g */
  TIMMC_TRY(timmc_scratch_reserve(&w->tmp, &w->tmp_cap, 36 * cout * cin));
  for (size_t o = 0; o < cout; o++) {
    for (size_t i = 0; i < cin; i++) {
      double g[3][3], gg[6][3];
      for (int ky = 0; ky < 3; ky++) {
        for (int kx = 0; kx < 3; kx++) g[ky][kx] = w->kernel[((o * 3 + ky) * 3 + kx) * cin + i];
      }
      for (int a = 0; a < 6; a++) {
        for (int kx = 0; kx < 3; kx++) {
          gg[a][kx] = G[a][0] * g[0][kx] + G[a][1] * g[1][kx] + G[a][2] * g[2][kx];
        }
      }
      for (int a = 0; a < 6; a++) {
        for (int b = 0; b < 6; b++) {
          const double u = gg[a][0] * G[b][0] + gg[a][1] * G[b][1] + gg[a][2] * G[b][2];
          w->tmp[((size_t)(a * 6 + b) * cout + o) * cin + i] = (float)u;
        }
      }
    }
  }
  for (size_t o = 0; o < cout; o++) bias[o] = w->bias ? w->bias[o] : 0.0f;
  w->kernel = w->tmp;
  w->bias = NULL;
  return TIMMC_OK;
}
