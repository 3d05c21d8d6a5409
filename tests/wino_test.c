/*
 * wino_test: the Winograd F(4x4, 3x3) path (runtime/timmc_wino.c with
 * XNNPACK's grouped 1x1 convolution between its transforms, and, where the
 * CPU has it, with timmc's GEMM there instead) against XNNPACK's direct
 * convolution, on shapes that exercise every edge: sizes that are not
 * multiples of 4 or of the dilation, dilations 1, 2 and 4, groups, channel
 * counts that are not multiples of the vector width, pixel strides wider than
 * the channels (concatenation slices), batch 2, with and without ReLU, blocks
 * of tiles that do and do not divide the tiles, on one and on two threads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_rand.h"
#include "timmc_rt.h"

typedef struct {
  size_t batch, h, w, groups, cin_g, cout_g, dilation, in_stride_extra, out_stride_extra;
  int relu;
  size_t block; /* tiles per block; 0: all at once */
} config;

static float *floats(size_t n) {
  float *p = calloc(n + XNN_EXTRA_BYTES / sizeof(float), sizeof(float));
  if (!p) abort();
  return p;
}

static int check(enum xnn_status s, const char *what) {
  if (s != xnn_status_success) fprintf(stderr, "wino_test: %s failed (status %d)\n", what, (int)s);
  return s == xnn_status_success;
}

/* Runs one configuration both ways, the products by timmc's GEMM if own;
 * returns max|wino - direct| / max|direct|. */
static double run(const config *c, pthreadpool_t pool, uint64_t seed, int own) {
  const size_t cin = c->groups * c->cin_g, cout = c->groups * c->cout_g, d = c->dilation;
  const size_t xs = cin + c->in_stride_extra, ys = cout + c->out_stride_extra;
  const size_t pixels = c->batch * c->h * c->w;
  const size_t nk = cout * 9 * c->cin_g;
  const float bound = (float)(1.0 / sqrt(9.0 * c->cin_g)); /* torch's default init */
  float *x = floats(pixels * xs), *k = floats(nk), *bias = floats(cout);
  timmc_rand_fill(x, pixels * xs, seed, -1.0f, 1.0f);
  timmc_rand_fill(k, nk, seed + 1, -bound, bound);
  timmc_rand_fill(bias, cout, seed + 2, -bound, bound);
  float *direct = floats(pixels * ys), *wino = floats(pixels * ys);
  const float lo = c->relu ? 0.0f : -INFINITY;

  xnn_operator_t conv = NULL, gemm = NULL;
  int ok = check(xnn_create_convolution2d_nhwc_f32(d, d, d, d, 3, 3, 1, 1, d, d, c->groups,
                                                   c->cin_g, c->cout_g, xs, ys, k, bias, lo,
                                                   INFINITY, 0, &conv), "create direct") &&
           check(xnn_setup_convolution2d_nhwc_f32(conv, c->batch, c->h, c->w, x, direct, pool),
                 "setup direct") &&
           check(xnn_run_operator(conv, pool), "run direct");

  const size_t tiles = timmc_wino_tiles(c->batch, c->h, c->w, d);
  const size_t block = c->block ? c->block : tiles;
  float *v = floats(block * 36 * cin), *m = floats(block * 36 * cout), *wb = floats(cout);
  const size_t packed_floats = timmc_gemm_products_floats(36 * c->groups, c->cin_g, c->cout_g);
  float *packed = own ? aligned_alloc(64, (packed_floats * sizeof(float) + 63) / 64 * 64) : NULL;
  timmc_scratch w = {0};
  ok = ok && timmc_scratch_reserve(&w.k, &w.k_cap, nk) == TIMMC_OK &&
       timmc_scratch_reserve(&w.b, &w.b_cap, cout) == TIMMC_OK;
  if (ok) {
    memcpy(w.k, k, nk * sizeof(float));
    memcpy(w.b, bias, cout * sizeof(float));
    w.kernel = w.k;
    w.bias = w.b;
    ok = timmc_wino_weights(&w, (int)cout, (int)c->cin_g, wb) == TIMMC_OK;
  }
  if (own) {
    ok = ok && packed &&
         timmc_gemm_products_pack(w.kernel, 36 * c->groups, c->cin_g, c->cout_g, packed) ==
             TIMMC_OK;
  } else {
    ok = ok && check(xnn_create_convolution2d_nhwc_f32(0, 0, 0, 0, 1, 1, 1, 1, 1, 1,
                                                       36 * c->groups, c->cin_g, c->cout_g,
                                                       36 * cin, 36 * cout, w.kernel, NULL,
                                                       -INFINITY, INFINITY, 0, &gemm),
                     "create gemm") &&
         check(xnn_setup_convolution2d_nhwc_f32(gemm, 1, block, 1, v, m, pool), "setup gemm");
  }
  const timmc_op op = {.xnn = gemm, .kernel = timmc_kernel_wino, .a = x, .b = wb, .y = wino,
                       .work = {v, m}, .packed = packed,
                       .dims = {c->batch, c->h, c->w, cin, cout, xs, ys, d, (size_t)c->relu,
                                block, c->groups}};
  if (ok) ok = op.kernel(&op, pool) == TIMMC_OK;
  double err = ok ? 0.0 : INFINITY, ref = 0.0;
  for (size_t p = 0; ok && p < pixels; p++) {
    for (size_t o = 0; o < cout; o++) {
      err = fmax(err, fabs((double)wino[p * ys + o] - direct[p * ys + o]));
      ref = fmax(ref, fabs((double)direct[p * ys + o]));
    }
    /* the columns past cout belong to someone else: untouched */
    for (size_t o = cout; o < ys; o++) {
      if (wino[p * ys + o] != 0.0f) err = INFINITY;
    }
  }
  if (conv) xnn_delete_operator(conv);
  if (gemm) xnn_delete_operator(gemm);
  timmc_scratch_free(&w);
  free(x), free(k), free(bias), free(direct), free(wino), free(v), free(m), free(wb);
  free(packed);
  return ok ? err / fmax(ref, 1e-30) : INFINITY;
}

int main(void) {
  static const config configs[] = {
      /* batch h  w  groups cin_g cout_g dilation in+ out+ relu block */
      {1, 8, 8, 1, 8, 8, 1, 0, 0, 0, 0},
      {2, 13, 9, 1, 20, 12, 1, 4, 3, 1, 5},
      {1, 7, 7, 1, 64, 64, 1, 0, 0, 1, 0},
      {2, 14, 14, 2, 16, 24, 1, 0, 8, 0, 7},
      {1, 10, 11, 1, 17, 9, 2, 5, 0, 1, 3},
      {1, 40, 40, 1, 32, 32, 4, 0, 0, 0, 48},
      {2, 6, 5, 3, 24, 24, 4, 0, 0, 1, 1},
      {1, 3, 2, 1, 5, 7, 1, 0, 0, 0, 2},
      {1, 1, 1, 1, 8, 16, 2, 0, 0, 0, 3},
      {1, 56, 56, 1, 64, 64, 1, 0, 0, 1, 64},
  };
  /* the generator (generator/passes/winograd.lua) sizes the tile buffers the
   * same way: per axis, d residues of ceil(n / d) pixels in tiles of 4 */
  static const size_t tiles[][5] = {
      /* batch h w dilation tiles */
      {1, 40, 40, 4, 144}, {1, 5, 5, 4, 16}, {2, 13, 9, 1, 24}, {1, 10, 11, 2, 16},
      {3, 1, 1, 2, 12},    {1, 56, 56, 1, 196},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof(tiles) / sizeof(tiles[0]); i++) {
    const size_t *t = tiles[i];
    const size_t got = timmc_wino_tiles(t[0], t[1], t[2], t[3]);
    if (got != t[4]) {
      printf("FAIL tiles of batch %zu %zux%zu d%zu: %zu, expected %zu\n", t[0], t[1], t[2], t[3],
             got, t[4]);
      failed = 1;
    }
  }
  if (timmc_xnn_init() != TIMMC_OK) return 1;
  pthreadpool_t two = pthreadpool_create(2);
  /* timmc's GEMM for the products where this build and CPU have it */
  const int ways = timmc_gemm_supported() ? 2 : 1;
  for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
    const config *c = &configs[i];
    for (int t = 0; t < 2 * ways; t++) {
      const int own = t >= 2;
      const double e = run(c, t % 2 ? two : NULL, 1000 + i, own);
      /* F(4x4, 3x3) in float32 stays within a few 1e-6 of the direct sum */
      const int bad = !(e <= 2e-5);
      failed |= bad;
      printf("%s batch %zu %zux%zu groups %zu %zu->%zu d%zu strides +%zu/+%zu relu %d "
             "block %zu, %d thread(s), products by %s: rel err %.2e\n", bad ? "FAIL" : "ok  ",
             c->batch, c->h, c->w, c->groups, c->groups * c->cin_g, c->groups * c->cout_g,
             c->dilation, c->in_stride_extra, c->out_stride_extra, c->relu, c->block, t % 2 + 1,
             own ? "timmc's GEMM" : "XNNPACK", e);
    }
  }
  pthreadpool_destroy(two);
  return failed;
}
