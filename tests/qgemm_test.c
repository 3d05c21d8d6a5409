/*
 * qgemm_test: timmc's int8 GEMM (runtime/timmc_qgemm.c) against XNNPACK's
 * qc8 convolution on random layers: every output byte the same. Kernels 1,
 * 3, 5 and 7, strides 1 and 2, dilation 2, asymmetric padding, channel
 * counts that are not multiples of 4, 16 or 64, pixel strides wider than the
 * channels (the bytes between stay untouched), batch 2, clamped outputs,
 * zero points at both ends; on one thread and on two (same bits).
 * Elsewhere than x86-64 CPUs with AVX512-VNNI it has nothing to test.
 *
 * qgemm_test --bench [RUNS [ROUNDS [THREADS]]] times both on resnet50's and
 * mobilenetv3's shapes instead (one thread, then two, or THREADS), RUNS x ROUNDS runs
 * of each, one and one in turn: median ms of each, the median of the runs'
 * ratios and the kernel's GOP/s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_qgemm.h"

typedef struct {
  size_t batch, ih, iw, cin, cout, k, stride, dilation, pt, pr, pb, pl, xs_extra, ys_extra;
} layer;

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static int between(int lo, int hi) { return lo + (int)(next() % (uint32_t)(hi - lo + 1)); }
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next() % 1000000) / 1e6f; }

static void *bytes(size_t n) {
  void *p = aligned_alloc(64, (n + XNN_EXTRA_BYTES + 63) / 64 * 64);
  if (!p) abort();
  return p;
}

typedef struct {
  layer l;
  size_t oh, ow;
  int8_t *x, *y_xnn, *y_ours, *k, zx, zy, lo, hi;
  float xs, ys, *ks;
  int32_t *bias;
  void *packed;
  size_t packed_bytes;
  xnn_operator_t xnn;
  timmc_op op;
} instance;

static int make(instance *in, const layer *l, int clamp) {
  memset(in, 0, sizeof *in);
  in->l = *l;
  const size_t span = l->dilation * (l->k - 1) + 1;
  in->oh = (l->ih + l->pt + l->pb - span) / l->stride + 1;
  in->ow = (l->iw + l->pl + l->pr - span) / l->stride + 1;
  const size_t xs = l->cin + l->xs_extra, ys = l->cout + l->ys_extra;
  const size_t nx = l->batch * l->ih * l->iw * xs, ny = l->batch * in->oh * in->ow * ys;
  const size_t nk = l->cout * l->k * l->k * l->cin;
  in->x = bytes(nx);
  in->y_xnn = bytes(ny);
  in->y_ours = bytes(ny);
  in->k = bytes(nk);
  in->ks = bytes(l->cout * sizeof(float));
  in->bias = bytes(l->cout * sizeof(int32_t));
  for (size_t i = 0; i < nx; i++) in->x[i] = (int8_t)between(-128, 127);
  for (size_t i = 0; i < nk; i++) in->k[i] = (int8_t)between(-127, 127);
  for (size_t o = 0; o < l->cout; o++) {
    in->ks[o] = uniform(0.002f, 0.02f);
    in->bias[o] = between(-20000, 20000);
  }
  memset(in->y_xnn, 0x5a, ny);
  memset(in->y_ours, 0x5a, ny);
  in->zx = (int8_t)(next() % 3 == 0 ? -128 : between(-128, 127));
  in->zy = (int8_t)(next() % 3 == 0 ? -128 : between(-128, 127));
  in->xs = uniform(0.01f, 0.05f);
  /* outputs spread over the int8 range, some saturating */
  in->ys = in->xs * 0.01f * 60.0f * sqrtf((float)(l->k * l->k * l->cin)) / uniform(20.0f, 80.0f);
  in->lo = (int8_t)(clamp ? between(-128, 0) : -128);
  in->hi = (int8_t)(clamp ? between(in->lo + 1, 127) : 127);
  enum xnn_status s = xnn_create_convolution2d_nhwc_qc8(
      (uint32_t)l->pt, (uint32_t)l->pr, (uint32_t)l->pb, (uint32_t)l->pl, (uint32_t)l->k,
      (uint32_t)l->k, (uint32_t)l->stride, (uint32_t)l->stride, (uint32_t)l->dilation,
      (uint32_t)l->dilation, 1, l->cin, l->cout, xs, ys, in->zx, in->xs, in->ks, in->k, in->bias,
      in->zy, in->ys, in->lo, in->hi, 0, &in->xnn);
  if (s != xnn_status_success) {
    fprintf(stderr, "qgemm_test: xnn create failed (status %d)\n", (int)s);
    return 0;
  }
  timmc_scratch w = {0};
  w.qk = in->k;
  w.qs = in->ks;
  w.qb = in->bias;
  in->packed_bytes = timmc_qgemm_packed_bytes((int)l->cout, (int)l->cin, (int)l->k);
  in->packed = bytes(in->packed_bytes);
  if (timmc_qgemm_pack(&w, (int)l->cout, (int)l->cin, (int)l->k, (int)l->pt, (int)l->pl,
                       (int)l->dilation, (timmc_qparams){in->xs, in->zx},
                       (timmc_qparams){in->ys, in->zy}, in->lo, in->hi, in->packed,
                       in->packed_bytes) != TIMMC_OK) {
    fprintf(stderr, "qgemm_test: pack failed: %s\n", timmc_error());
    return 0;
  }
  in->op = (timmc_op){.kernel = timmc_kernel_qgemm, .a = (const float *)(void *)in->x,
                      .b = in->packed, .y = (float *)(void *)in->y_ours,
                      .dims = {l->batch, in->oh, in->ow, l->cin, l->cout, xs, ys, l->stride,
                               l->ih, l->iw}};
  return 1;
}

static int setup_xnn(instance *in, pthreadpool_t pool) {
  enum xnn_status s = xnn_setup_convolution2d_nhwc_qc8(in->xnn, in->l.batch, in->l.ih, in->l.iw,
                                                       in->x, in->y_xnn, pool);
  return s == xnn_status_success;
}

static void drop(instance *in) {
  xnn_delete_operator(in->xnn);
  free(in->x);
  free(in->y_xnn);
  free(in->y_ours);
  free(in->k);
  free(in->ks);
  free(in->bias);
  free(in->packed);
}

static size_t out_bytes(const instance *in) {
  return in->l.batch * in->oh * in->ow * (in->l.cout + in->l.ys_extra);
}

static void describe(const layer *l, const instance *in) {
  fprintf(stderr, "  batch %zu, %zux%zu, %zu -> %zu, %zux%zu s%zu d%zu pad %zu %zu %zu %zu, "
          "strides +%zu +%zu, zx %d zy %d out [%d, %d]\n", l->batch, l->ih, l->iw, l->cin,
          l->cout, l->k, l->k, l->stride, l->dilation, l->pt, l->pr, l->pb, l->pl, l->xs_extra,
          l->ys_extra, in->zx, in->zy, in->lo, in->hi);
}

/* One layer both ways, on each pool; returns the number of failures. */
static int check(const layer *l, int clamp, pthreadpool_t pools[2]) {
  instance in;
  if (!make(&in, l, clamp)) return 1;
  int fails = 0;
  for (int t = 0; t < 2; t++) {
    memset(in.y_xnn, 0x5a, out_bytes(&in));
    memset(in.y_ours, 0x5a, out_bytes(&in));
    if (!setup_xnn(&in, pools[t]) || xnn_run_operator(in.xnn, pools[t]) != xnn_status_success) {
      fprintf(stderr, "qgemm_test: xnn run failed\n");
      fails++;
      break;
    }
    if (timmc_kernel_qgemm(&in.op, pools[t]) != TIMMC_OK) {
      fprintf(stderr, "qgemm_test: %s\n", timmc_error());
      fails++;
      break;
    }
    const size_t n = out_bytes(&in);
    size_t diff = 0, first = n;
    for (size_t i = 0; i < n; i++) {
      if (in.y_xnn[i] != in.y_ours[i]) {
        if (first == n) first = i;
        diff++;
      }
    }
    if (diff) {
      const size_t ys = l->cout + l->ys_extra;
      fprintf(stderr, "qgemm_test: %zu of %zu bytes differ (%s); first at pixel %zu channel "
              "%zu: xnnpack %d, qgemm %d\n", diff, n, t ? "2 threads" : "1 thread", first / ys,
              first % ys, in.y_xnn[first], in.y_ours[first]);
      describe(l, &in);
      fails++;
    }
  }
  drop(&in);
  return fails;
}

static double now_ms(void) { return timmc_now_ms(); }

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* resnet50 (224x224) and mobilenetv3_large_100's int8 convolutions: pixels
 * as height x width, in, out, kernel, stride */
static const size_t SHAPES[][6] = {
    {56, 56, 64, 64, 1, 1},    {56, 56, 64, 256, 1, 1},  {56, 56, 256, 64, 1, 1},
    {56, 56, 64, 64, 3, 1},    {56, 56, 256, 128, 1, 1}, {28, 28, 128, 128, 3, 1},
    {56, 56, 128, 128, 3, 2},  {28, 28, 128, 512, 1, 1}, {56, 56, 256, 512, 1, 2},
    {28, 28, 512, 128, 1, 1},  {28, 28, 512, 256, 1, 1}, {14, 14, 256, 256, 3, 1},
    {28, 28, 256, 256, 3, 2},  {14, 14, 256, 1024, 1, 1}, {28, 28, 512, 1024, 1, 2},
    {14, 14, 1024, 256, 1, 1}, {14, 14, 1024, 512, 1, 1}, {7, 7, 512, 512, 3, 1},
    {14, 14, 512, 512, 3, 2},  {7, 7, 512, 2048, 1, 1},  {14, 14, 1024, 2048, 1, 2},
    {7, 7, 2048, 512, 1, 1},
    /* mobilenetv3_large_100 pointwise */
    {112, 112, 16, 16, 1, 1},  {112, 112, 16, 64, 1, 1}, {56, 56, 64, 24, 1, 1},
    {56, 56, 24, 72, 1, 1},    {56, 56, 72, 24, 1, 1},   {28, 28, 72, 40, 1, 1},
    {28, 28, 40, 120, 1, 1},   {28, 28, 120, 40, 1, 1},  {28, 28, 40, 240, 1, 1},
    {14, 14, 240, 80, 1, 1},   {14, 14, 80, 200, 1, 1},  {14, 14, 200, 80, 1, 1},
    {14, 14, 80, 184, 1, 1},   {14, 14, 184, 80, 1, 1},  {14, 14, 80, 480, 1, 1},
    {14, 14, 480, 112, 1, 1},  {14, 14, 112, 672, 1, 1}, {14, 14, 672, 112, 1, 1},
    {7, 7, 672, 160, 1, 1},    {7, 7, 160, 960, 1, 1},   {7, 7, 960, 160, 1, 1},
};

static int bench(int runs, int rounds, int only) {
  pthreadpool_t two = pthreadpool_create(2);
  printf("%-28s %3s %9s %9s %7s %8s %9s %9s\n", "pixels kxk in->out stride", "thr", "xnn_ms",
         "qgemm_ms", "ratio", "GOP/s", "xnn_p10", "qgemm_p10");
  for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
    const size_t *v = SHAPES[s];
    const size_t pad = v[4] / 2;
    const layer l = {1, v[0], v[1], v[2], v[3], v[4], v[5], 1, pad, pad, pad, pad, 0, 0};
    instance in;
    if (!make(&in, &l, 0)) return 1;
    for (int t = 0; t < 2; t++) {
      if (only && only != t + 1) continue;
      pthreadpool_t pool = t ? two : NULL;
      double xs[256], qs[256], rs[256];
      const int n = runs * rounds < 256 ? runs * rounds : 256;
      if (!setup_xnn(&in, pool)) return 1;
      xnn_run_operator(in.xnn, pool);
      timmc_kernel_qgemm(&in.op, pool);
      for (int r = 0; r < n; r++) { /* one run each way, in turn */
        const double t0 = now_ms();
        xnn_run_operator(in.xnn, pool);
        const double t1 = now_ms();
        timmc_kernel_qgemm(&in.op, pool);
        const double t2 = now_ms();
        xs[r] = t1 - t0;
        qs[r] = t2 - t1;
        rs[r] = xs[r] / qs[r];
      }
      qsort(xs, (size_t)n, sizeof(double), cmp);
      qsort(qs, (size_t)n, sizeof(double), cmp);
      qsort(rs, (size_t)n, sizeof(double), cmp);
      const int rounds_ = n; /* medians over every run */
      const double ops = 2.0 * in.oh * in.ow * l.cin * l.cout * l.k * l.k;
      char shape[64];
      snprintf(shape, sizeof shape, "%zu %zux%zu %zu->%zu s%zu", in.oh * in.ow, l.k, l.k, l.cin,
               l.cout, l.stride);
      printf("%-28s %3d %9.4f %9.4f %6.2fx %8.1f %9.4f %9.4f\n", shape, t + 1, xs[rounds_ / 2],
             qs[rounds_ / 2], rs[rounds_ / 2], ops / (qs[rounds_ / 2] * 1e6), xs[rounds_ / 10],
             qs[rounds_ / 10]);
      fflush(stdout);
    }
    drop(&in);
  }
  pthreadpool_destroy(two);
  return 0;
}

int main(int argc, char **argv) {
  if (timmc_xnn_init() != TIMMC_OK) {
    fprintf(stderr, "qgemm_test: %s\n", timmc_error());
    return 1;
  }
  if (!timmc_qgemm_supported()) {
    printf("qgemm_test: this build or CPU has no AVX512-VNNI kernel; nothing to test\n");
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--bench")) {
    const int runs = argc > 2 ? atoi(argv[2]) : 20, rounds = argc > 3 ? atoi(argv[3]) : 5;
    const int only = argc > 4 ? atoi(argv[4]) : 0;
    return bench(runs > 0 ? runs : 20, rounds > 0 && rounds <= 64 ? rounds : 5, only);
  }
  pthreadpool_t pools[2] = {NULL, pthreadpool_create(2)};
  /* fixed edge cases first, then random layers */
  static const layer fixed[] = {
      /* batch ih iw cin cout k s d pt pr pb pl +xs +ys */
      {1, 7, 7, 64, 64, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {1, 7, 9, 8, 16, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {2, 9, 11, 13, 70, 1, 2, 1, 0, 0, 0, 0, 3, 5},
      {1, 14, 14, 256, 1000, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {1, 10, 10, 72, 40, 3, 1, 1, 1, 1, 1, 1, 8, 8},
      {1, 10, 12, 33, 17, 3, 2, 1, 1, 0, 1, 0, 0, 1},
      {2, 11, 9, 24, 48, 3, 1, 2, 2, 2, 2, 2, 0, 0},
      {1, 12, 12, 20, 100, 5, 1, 1, 2, 2, 2, 2, 0, 0},
      {1, 16, 16, 8, 31, 7, 2, 1, 3, 3, 3, 3, 4, 0},
      {1, 6, 6, 2048, 64, 3, 1, 1, 1, 1, 1, 1, 0, 0},
      {1, 3, 3, 16, 200, 3, 1, 1, 0, 1, 1, 0, 0, 0},
  };
  int fails = 0, cases = 0;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, cases++) {
    fails += check(&fixed[i], (int)(i % 2), pools);
  }
  static const size_t ks[] = {1, 1, 1, 3, 3, 5};
  for (int i = 0; i < 60; i++, cases++) {
    layer l = {0};
    l.batch = (size_t)between(1, 2);
    l.k = ks[next() % 6];
    l.stride = (size_t)between(1, 2);
    l.dilation = l.k > 1 && next() % 4 == 0 ? 2 : 1;
    l.ih = (size_t)between((int)(l.dilation * (l.k - 1) + 1), 20);
    l.iw = (size_t)between((int)(l.dilation * (l.k - 1) + 1), 20);
    l.cin = (size_t)between(1, 300);
    l.cout = (size_t)between(1, 300);
    if (l.k > 1) {
      l.pt = (size_t)between(0, (int)l.k / 2);
      l.pb = (size_t)between(0, (int)l.k / 2);
      l.pl = (size_t)between(0, (int)l.k / 2);
      l.pr = (size_t)between(0, (int)l.k / 2);
    }
    l.xs_extra = next() % 3 == 0 ? (size_t)between(1, 40) : 0;
    l.ys_extra = next() % 3 == 0 ? (size_t)between(1, 40) : 0;
    fails += check(&l, i % 3 == 0, pools);
  }
  pthreadpool_destroy(pools[1]);
  if (fails) {
    fprintf(stderr, "qgemm_test: %d failures in %d layers\n", fails, cases);
    return 1;
  }
  printf("qgemm_test: %d layers, 1 and 2 threads: every output byte as XNNPACK's qc8\n", cases);
  return 0;
}
