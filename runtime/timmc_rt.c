/*
 * timmc_rt.c - weight loading and folding, layout changes, XNNPACK setup.
 */
#define _POSIX_C_SOURCE 200809L
#include "timmc_rt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Elementwise kernels: on x86-64 with GCC, AVX-512 and AVX2 copies beside
 * the baseline one; the loader picks the best the CPU runs (as timmc_wino.c
 * does). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define ACT_CLONES
#endif

void timmc_scratch_free(timmc_scratch *w) {
  free(w->k);
  free(w->b);
  free(w->tmp);
  free(w->qk);
  free(w->qs);
  free(w->qb);
  memset(w, 0, sizeof(*w));
}

int timmc_scratch_reserve(float **buf, size_t *cap, size_t count) {
  if (count <= *cap) return TIMMC_OK;
  float *p = realloc(*buf, count * sizeof(float) + XNN_EXTRA_BYTES);
  if (!p) return timmc_fail(TIMMC_ERUNTIME, "out of memory for %zu weights", count);
  *buf = p;
  *cap = count;
  return TIMMC_OK;
}

static int read_vec(const timmc_st *st, const char *prefix, const char *key, int n, float *dst) {
  char name[512];
  const int64_t shape[1] = {n};
  snprintf(name, sizeof(name), "%s.%s", prefix, key);
  return timmc_st_read_f32(st, name, 1, shape, dst);
}

/* Folds BatchNorm `bn` into the out_channels rows of w->k (per_out weights
 * each) and into w->b: y = (conv(x) + b - mean) * gamma / sqrt(var + eps) + beta. */
static int fold_bn(timmc_scratch *w, const timmc_st *st, const char *bn, double eps,
                   int out_channels, size_t per_out) {
  TIMMC_TRY(timmc_scratch_reserve(&w->tmp, &w->tmp_cap, 4 * (size_t)out_channels));
  float *gamma = w->tmp, *beta = gamma + out_channels, *mean = beta + out_channels,
        *var = mean + out_channels;
  TIMMC_TRY(read_vec(st, bn, "weight", out_channels, gamma));
  TIMMC_TRY(read_vec(st, bn, "bias", out_channels, beta));
  TIMMC_TRY(read_vec(st, bn, "running_mean", out_channels, mean));
  TIMMC_TRY(read_vec(st, bn, "running_var", out_channels, var));
  for (int o = 0; o < out_channels; o++) {
    if (!(var[o] >= 0.0f)) {
      return timmc_fail(TIMMC_EINPUT, "tensor '%s.running_var'[%d] is %g, expected >= 0", bn, o,
                        (double)var[o]);
    }
    const double scale = (double)gamma[o] / sqrt((double)var[o] + eps);
    float *k = w->k + (size_t)o * per_out;
    for (size_t p = 0; p < per_out; p++) k[p] = (float)(k[p] * scale);
    w->b[o] = (float)(((double)w->b[o] - mean[o]) * scale + beta[o]);
  }
  return TIMMC_OK;
}

int timmc_load_conv(timmc_scratch *w, const timmc_st *st, const char *weight, const char *bias,
                    const char *bn, int out_channels, int group_input_channels, int kernel,
                    double bn_eps) {
  const size_t kk = (size_t)kernel * kernel;
  const size_t per_out = (size_t)group_input_channels * kk;
  const size_t count = (size_t)out_channels * per_out;
  const int64_t shape[4] = {out_channels, group_input_channels, kernel, kernel};
  TIMMC_TRY(timmc_scratch_reserve(&w->tmp, &w->tmp_cap, count));
  TIMMC_TRY(timmc_scratch_reserve(&w->k, &w->k_cap, count));
  TIMMC_TRY(timmc_st_read_f32(st, weight, 4, shape, w->tmp));
  for (int o = 0; o < out_channels; o++) { /* OIHW -> OHWI */
    const float *src = w->tmp + o * per_out;
    float *dst = w->k + o * per_out;
    for (int i = 0; i < group_input_channels; i++) {
      for (size_t p = 0; p < kk; p++) dst[p * group_input_channels + i] = src[i * kk + p];
    }
  }
  w->kernel = w->k;
  w->bias = NULL;
  if (!bias && !bn) return TIMMC_OK;
  TIMMC_TRY(timmc_scratch_reserve(&w->b, &w->b_cap, out_channels));
  if (bias) {
    const int64_t bshape[1] = {out_channels};
    TIMMC_TRY(timmc_st_read_f32(st, bias, 1, bshape, w->b));
  } else {
    memset(w->b, 0, out_channels * sizeof(float));
  }
  w->bias = w->b;
  return bn ? fold_bn(w, st, bn, bn_eps, out_channels, per_out) : TIMMC_OK;
}

int timmc_load_conv1d(timmc_scratch *w, const timmc_st *st, const char *weight, int kernel) {
  const int64_t shape[3] = {1, 1, kernel};
  TIMMC_TRY(timmc_scratch_reserve(&w->k, &w->k_cap, kernel));
  TIMMC_TRY(timmc_st_read_f32(st, weight, 3, shape, w->k));
  w->kernel = w->k;
  w->bias = NULL;
  return TIMMC_OK;
}

int timmc_load_linear(timmc_scratch *w, const timmc_st *st, const char *weight,
                      const char *bias, const char *bn, int out_features, int in_features,
                      int ndim, int in_repeat, int hard_sigmoid, double bn_eps) {
  const int64_t shape[4] = {out_features, in_features, 1, 1};
  const int64_t bshape[1] = {out_features};
  const size_t row = (size_t)in_features * in_repeat;
  TIMMC_TRY(timmc_scratch_reserve(&w->tmp, &w->tmp_cap, (size_t)out_features * in_features));
  TIMMC_TRY(timmc_scratch_reserve(&w->k, &w->k_cap, (size_t)out_features * row));
  TIMMC_TRY(timmc_scratch_reserve(&w->b, &w->b_cap, out_features));
  TIMMC_TRY(timmc_st_read_f32(st, weight, ndim, shape, w->tmp));
  TIMMC_TRY(timmc_st_read_f32(st, bias, 1, bshape, w->b));
  for (int o = 0; o < out_features; o++) {
    for (int r = 0; r < in_repeat; r++) {
      memcpy(w->k + o * row + (size_t)r * in_features, w->tmp + (size_t)o * in_features,
             (size_t)in_features * sizeof(float));
    }
  }
  if (bn) TIMMC_TRY(fold_bn(w, st, bn, bn_eps, out_features, row));
  if (hard_sigmoid) { /* relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1) */
    for (size_t i = 0; i < (size_t)out_features * row; i++) w->k[i] /= 6.0f;
    for (int o = 0; o < out_features; o++) w->b[o] = w->b[o] / 6.0f + 0.5f;
  }
  w->kernel = w->k;
  w->bias = w->b;
  return TIMMC_OK;
}

int timmc_load_bn_affine(timmc_scratch *w, const timmc_st *st, const char *bn, int channels,
                         double bn_eps) {
  TIMMC_TRY(timmc_scratch_reserve(&w->k, &w->k_cap, channels));
  TIMMC_TRY(timmc_scratch_reserve(&w->b, &w->b_cap, channels));
  for (int c = 0; c < channels; c++) {
    w->k[c] = 1.0f;
    w->b[c] = 0.0f;
  }
  TIMMC_TRY(fold_bn(w, st, bn, bn_eps, channels, 1));
  w->kernel = w->k;
  w->bias = w->b;
  return TIMMC_OK;
}

int timmc_kernel_rsoftmax(const timmc_op *op, pthreadpool_t pool) {
  (void)pool;
  const size_t batch = op->dims[0], radix = op->dims[1], groups = op->dims[2], rest = op->dims[3];
  const size_t per = radix * groups * rest;
  for (size_t n = 0; n < batch; n++) {
    const float *x = op->a + n * per;
    float *y = op->y + n * per;
    for (size_t g = 0; g < groups; g++) {
      for (size_t j = 0; j < rest; j++) {
        float max = -INFINITY, sum = 0.0f;
        for (size_t r = 0; r < radix; r++) max = fmaxf(max, x[(g * radix + r) * rest + j]);
        for (size_t r = 0; r < radix; r++) {
          const float e = expf(x[(g * radix + r) * rest + j] - max);
          y[(r * groups + g) * rest + j] = e;
          sum += e;
        }
        for (size_t r = 0; r < radix; r++) y[(r * groups + g) * rest + j] /= sum;
      }
    }
  }
  return TIMMC_OK;
}

/* Pixels a task of an elementwise kernel takes: about 8192 floats' worth,
 * so a 56x56 tensor of 64 channels is 25 tasks and a 7x7 one of 1024 is 7. */
static size_t pixels_per_task(size_t channels) {
  const size_t n = 8192 / (channels ? channels : 1);
  return n ? n : 1;
}

/* Tasks run in any order on any thread; every pixel's arithmetic is the
 * same whoever runs it, so results do not depend on the thread count. */
static void radix_sum_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t pixels = op->dims[1], radix = op->dims[2], c = op->dims[3];
  for (size_t p = first; p < first + count; p++) { /* p over batch x pixels */
    const float *attn = op->b + p / pixels * radix * c;
    const float *x = op->a + p * radix * c;
    float *y = op->y + p * c;
    for (size_t i = 0; i < c; i++) y[i] = x[i] * attn[i];
    for (size_t r = 1; r < radix; r++) {
      for (size_t i = 0; i < c; i++) y[i] += x[r * c + i] * attn[r * c + i];
    }
  }
}

int timmc_kernel_radix_sum(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, radix_sum_pixels, (void *)op, op->dims[0] * op->dims[1],
                                     pixels_per_task(op->dims[2] * op->dims[3]),
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

int timmc_elementwise_own(void) {
  const char *env = getenv("TIMMC_ELEMENTWISE");
  return !(env && !strcmp(env, "xnnpack"));
}

void timmc_affine_params(const timmc_scratch *w, int channels, float min, float max,
                         float *dst) {
  dst[0] = min;
  dst[1] = max;
  memcpy(dst + 2, w->kernel, (size_t)channels * sizeof(float));
  memcpy(dst + 2 + channels, w->bias, (size_t)channels * sizeof(float));
}

int timmc_const_kernel(timmc_scratch *w, size_t count, float value) {
  TIMMC_TRY(timmc_scratch_reserve(&w->k, &w->k_cap, count));
  for (size_t i = 0; i < count; i++) w->k[i] = value;
  w->kernel = w->k;
  w->bias = NULL;
  return TIMMC_OK;
}

/* XNNPACK's allocator: the system heap, with every block's size kept in front
 * of it so the bytes XNNPACK holds (packed weights, operator state) are known.
 * It serves only while a model's init creates its operators; sealed, it
 * refuses, so an operator that wanted memory in forward would fail loudly
 * instead of allocating (no_heap_test checks that none does). */
#define HEAD 64 /* header before each block; keeps 64-byte alignment */

static size_t xnn_bytes;
static int xnn_sealed;

void timmc_xnn_seal(int sealed) { xnn_sealed = sealed; }

static void *xnn_aligned_allocate(void *ctx, size_t alignment, size_t size) {
  (void)ctx;
  if (xnn_sealed) return NULL;
  if (alignment < HEAD) alignment = HEAD;
  uint8_t *p = aligned_alloc(alignment, (size + alignment + alignment - 1) / alignment * alignment);
  if (!p) return NULL;
  memcpy(p + alignment - HEAD, &size, sizeof(size));
  memcpy(p + alignment - HEAD + sizeof(size), &alignment, sizeof(alignment));
  xnn_bytes += size;
  return p + alignment;
}

static void xnn_aligned_deallocate(void *ctx, void *ptr) {
  (void)ctx;
  if (!ptr) return;
  size_t size, alignment;
  memcpy(&size, (uint8_t *)ptr - HEAD, sizeof(size));
  memcpy(&alignment, (uint8_t *)ptr - HEAD + sizeof(size), sizeof(alignment));
  xnn_bytes -= size;
  free((uint8_t *)ptr - alignment);
}

static void *xnn_allocate(void *ctx, size_t size) { return xnn_aligned_allocate(ctx, HEAD, size); }

static void *xnn_reallocate(void *ctx, void *ptr, size_t size) {
  if (!ptr) return xnn_allocate(ctx, size); /* sealed, it fails below */
  size_t old;
  memcpy(&old, (uint8_t *)ptr - HEAD, sizeof(old));
  void *p = xnn_allocate(ctx, size);
  if (!p) return NULL;
  memcpy(p, ptr, old < size ? old : size);
  xnn_aligned_deallocate(ctx, ptr);
  return p;
}

static const struct xnn_allocator xnn_counting_allocator = {
    .context = NULL,
    .allocate = xnn_allocate,
    .reallocate = xnn_reallocate,
    .deallocate = xnn_aligned_deallocate,
    .aligned_allocate = xnn_aligned_allocate,
    .aligned_deallocate = xnn_aligned_deallocate,
};

size_t timmc_xnn_bytes(void) { return xnn_bytes; }

int timmc_xnn_init(void) {
  static int done;
  if (done) return TIMMC_OK;
  enum xnn_status s = xnn_initialize(&xnn_counting_allocator);
  if (s != xnn_status_success) {
    return timmc_fail(TIMMC_ERUNTIME, "XNNPACK initialisation failed (status %d; "
                      "does this CPU lack SSE2/NEON?)", (int)s);
  }
  done = 1;
  return TIMMC_OK;
}

int timmc_xnn_fail(const char *layer, const char *what, enum xnn_status s) {
  return timmc_fail(TIMMC_ERUNTIME, "%s: xnn %s failed (status %d)", layer, what, (int)s);
}

double *timmc_op_ms;
void (*timmc_observe)(size_t step);

double timmc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Both transposes walk 8x8 tiles so reads and writes stay in cache lines. */
#define TILE 8

static void transpose(const float *src, float *dst, size_t rows, size_t cols) {
  for (size_t r0 = 0; r0 < rows; r0 += TILE) {
    const size_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
    for (size_t c0 = 0; c0 < cols; c0 += TILE) {
      const size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (size_t r = r0; r < r1; r++) {
        for (size_t c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

void timmc_nchw_to_nhwc(const float *src, float *dst, size_t n, size_t c, size_t hw) {
  for (size_t i = 0; i < n; i++) transpose(src + i * c * hw, dst + i * c * hw, c, hw);
}

void timmc_nhwc_to_nchw(const float *src, float *dst, size_t n, size_t hw, size_t c) {
  for (size_t i = 0; i < n; i++) transpose(src + i * c * hw, dst + i * c * hw, hw, c);
}

/*
 * SiLU, x * sigmoid(x), eight lanes at a time (GCC/clang vector extensions:
 * AVX when the build allows it, two SSE or NEON halves otherwise). exp is
 * Cephes' expf: n = round(x / ln 2) by the 1.5 * 2^23 trick, r = x - n ln 2
 * in two parts, a degree-6 polynomial, times 2^n built in the exponent bits;
 * within 2 ulp of expf over [-88, 88], where the argument is clamped. Every
 * element goes through the same lanes' arithmetic (the tail is padded), so
 * results do not depend on the thread count or the position.
 */
typedef float timmc_v8f __attribute__((vector_size(32)));
typedef int32_t timmc_v8i __attribute__((vector_size(32)));

/* Always inlined: the block is one loop body, and no vector crosses a call. */
#define VINLINE static inline __attribute__((always_inline))

/* a vector of v in every lane; the lanes of a where mask (all ones) is set, else of b */
#define SPLAT(v) ((timmc_v8f){(v), (v), (v), (v), (v), (v), (v), (v)})
#define SELECT(mask, a, b) \
  ((timmc_v8f)(((mask) & (timmc_v8i)(a)) | (~(mask) & (timmc_v8i)(b))))

/* out[0..8) = silu(in[0..8)). No vector crosses a function boundary. */
VINLINE void silu8(const float *in, float *out) {
  timmc_v8f x, v;
  memcpy(&x, in, sizeof(x));
  const timmc_v8f hi = SPLAT(88.3762626647949f), lo = SPLAT(-88.3762626647949f);
  v = -x; /* exp(-x), clamped to where expf is finite and normal */
  v = SELECT(v > hi, hi, v);
  v = SELECT(v < lo, lo, v);
  const timmc_v8f magic = SPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
  const timmc_v8f n = (v * SPLAT(1.44269504088896341f) + magic) - magic;
  timmc_v8f r = v - n * SPLAT(0.693359375f);
  r = r - n * SPLAT(-2.12194440e-4f);
  timmc_v8f p = SPLAT(1.9875691500e-4f);
  p = p * r + SPLAT(1.3981999507e-3f);
  p = p * r + SPLAT(8.3334519073e-3f);
  p = p * r + SPLAT(4.1665795894e-2f);
  p = p * r + SPLAT(1.6666665459e-1f);
  p = p * r + SPLAT(5.0000001201e-1f);
  p = p * r * r + r + SPLAT(1.0f);
  const timmc_v8i bits = (__builtin_convertvector(n, timmc_v8i) + 127) << 23;
  x = x / (SPLAT(1.0f) + p * (timmc_v8f)bits);
  memcpy(out, &x, sizeof(x));
}

ACT_CLONES static void silu_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t channels = op->dims[1], in_stride = op->dims[2], out_stride = op->dims[3];
  for (size_t p = first; p < first + count; p++) {
    const float *in = op->a + p * in_stride;
    float *out = op->y + p * out_stride;
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) silu8(in + c, out + c);
    if (c < channels) { /* the tail through the same lanes, padded with zeros */
      float pad[8] = {0};
      memcpy(pad, in + c, (channels - c) * sizeof(float));
      silu8(pad, pad);
      memcpy(out + c, pad, (channels - c) * sizeof(float));
    }
  }
}

int timmc_kernel_silu(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, silu_pixels, (void *)op, op->dims[0], 64,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

int timmc_kernel_xnn_silu(const timmc_op *op, pthreadpool_t pool) {
  const enum xnn_status s = xnn_run_operator(op->xnn, pool);
  if (s != xnn_status_success) return timmc_xnn_fail("depthwise convolution", "run", s);
  return timmc_kernel_silu(op, pool);
}

/* out[0..n) = clamp(in * scale + shift, lo, hi) for the n <= 8 channels from
 * c, through the same eight lanes whatever n is (a tail is padded), so every
 * channel rounds alike wherever it falls. */
VINLINE void affine8(const float *in, const float *scale, const float *shift, float *out,
                     size_t n, float lo, float hi) {
  timmc_v8f x = {0}, s = {0}, t = {0};
  memcpy(&x, in, n * sizeof(float));
  memcpy(&s, scale, n * sizeof(float));
  memcpy(&t, shift, n * sizeof(float));
  timmc_v8f v = x * s + t;
  v = SELECT(v < SPLAT(lo), SPLAT(lo), v);
  v = SELECT(v > SPLAT(hi), SPLAT(hi), v);
  memcpy(out, &v, n * sizeof(float));
}

ACT_CLONES static void affine_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t channels = op->dims[1], in_stride = op->dims[2], out_stride = op->dims[3];
  const float lo = op->b[0], hi = op->b[1];
  const float *scale = op->b + 2, *shift = op->b + 2 + channels;
  for (size_t p = first; p < first + count; p++) {
    const float *in = op->a + p * in_stride;
    float *out = op->y + p * out_stride;
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) affine8(in + c, scale + c, shift + c, out + c, 8, lo, hi);
    if (c < channels) affine8(in + c, scale + c, shift + c, out + c, channels - c, lo, hi);
  }
}

int timmc_kernel_affine(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, affine_pixels, (void *)op, op->dims[0],
                                     pixels_per_task(op->dims[1]),
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

/* The gate as the scale and the residual as the shift of affine8, read at
 * the pixel's channels. */
ACT_CLONES static void scale_add_pixels(void *context, size_t first, size_t count) {
  const timmc_op *op = context;
  const size_t pixels = op->dims[1], channels = op->dims[2];
  const float lo = op->work[0][0], hi = op->work[0][1];
  for (size_t p = first; p < first + count; p++) { /* p over batch x pixels */
    const float *gate = op->work[1] + p / pixels * channels;
    const float *x = op->a + p * channels, *r = op->b + p * channels;
    float *out = op->y + p * channels;
    size_t c = 0;
    for (; c + 8 <= channels; c += 8) affine8(x + c, gate + c, r + c, out + c, 8, lo, hi);
    if (c < channels) affine8(x + c, gate + c, r + c, out + c, channels - c, lo, hi);
  }
}

int timmc_kernel_scale_add(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, scale_add_pixels, (void *)op, op->dims[0] * op->dims[1],
                                     pixels_per_task(op->dims[2]),
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

/* y = clamp(a + b): runs of ADD_RUN elements a task, eight at a time
 * through affine8 with a scale of one (x * 1 is x exactly, so each element
 * is rounded once, as XNNPACK's add rounds it). XNNPACK 2022's add over a
 * flat tensor is one task: it ran no faster at 2 threads than at 1. */
#define ADD_RUN 8192

ACT_CLONES static void add_run(void *context, size_t first, size_t count) {
  static const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const timmc_op *op = context;
  const float lo = op->work[0][0], hi = op->work[0][1];
  const size_t end = first + count;
  size_t i = first;
  for (; i + 8 <= end; i += 8) affine8(op->a + i, ones, op->b + i, op->y + i, 8, lo, hi);
  if (i < end) affine8(op->a + i, ones, op->b + i, op->y + i, end - i, lo, hi);
}

int timmc_kernel_add(const timmc_op *op, pthreadpool_t pool) {
  pthreadpool_parallelize_1d_tile_1d(pool, add_run, (void *)op, op->dims[0], ADD_RUN,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}

/* Global average pooling, in one task per thread, each a run of channels
 * summed pixel after pixel: a run of up to POOL_RUN channels at a time, its
 * sums in an array the loop keeps in L1, read from each pixel as one
 * contiguous stretch (narrower runs at a 4 KiB pixel stride cost a page
 * per pixel, and ran 2x slower), eight pixels at a time. Each channel's sum
 * is in pixel order, whatever the threads. */
#define POOL_RUN 512
#define POOL_ROWS 8 /* pixels added to a sum between its loads and stores */

ACT_CLONES static void global_mean_task(void *context, size_t n, size_t c0, size_t count) {
  const timmc_op *op = context;
  const size_t pixels = op->dims[1], in_stride = op->dims[3];
  const float scale = 1.0f / (float)pixels;
  for (size_t r0 = c0; r0 < c0 + count; r0 += POOL_RUN) {
    const size_t run = c0 + count - r0 < POOL_RUN ? c0 + count - r0 : POOL_RUN;
    const size_t full = run / 8, rest = run % 8;
    timmc_v8f sum[POOL_RUN / 8 + 1];
    for (size_t v = 0; v <= full; v++) sum[v] = SPLAT(0.0f);
    const float *x = op->a + n * pixels * in_stride + r0;
    size_t p = 0;
    for (; p + POOL_ROWS <= pixels; p += POOL_ROWS, x += POOL_ROWS * in_stride) {
      for (size_t v = 0; v < full; v++) {
        timmc_v8f acc = sum[v];
#pragma GCC unroll 8
        for (size_t k = 0; k < POOL_ROWS; k++) {
          timmc_v8f row;
          memcpy(&row, x + k * in_stride + 8 * v, sizeof(row));
          acc += row;
        }
        sum[v] = acc;
      }
      if (rest) {
        for (size_t k = 0; k < POOL_ROWS; k++) {
          timmc_v8f row = {0};
          memcpy(&row, x + k * in_stride + 8 * full, rest * sizeof(float));
          sum[full] += row;
        }
      }
    }
    for (; p < pixels; p++, x += in_stride) {
      for (size_t v = 0; v < full; v++) {
        timmc_v8f row;
        memcpy(&row, x + 8 * v, sizeof(row));
        sum[v] += row;
      }
      if (rest) {
        timmc_v8f row = {0};
        memcpy(&row, x + 8 * full, rest * sizeof(float));
        sum[full] += row;
      }
    }
    float *y = op->y + n * op->dims[4] + r0;
    for (size_t v = 0; v < full; v++) {
      const timmc_v8f mean = sum[v] * SPLAT(scale);
      memcpy(y + 8 * v, &mean, sizeof(mean));
    }
    if (rest) {
      const timmc_v8f mean = sum[full] * SPLAT(scale);
      memcpy(y + 8 * full, &mean, rest * sizeof(float));
    }
  }
}

/* Under POOL_ALONE bytes an image is pooled on the calling thread: split
 * over two threads, images of 0.45-1.6 MB pooled at 0.63-0.93x of XNNPACK's
 * speed (which runs an image on one thread). */
#define POOL_ALONE (2u << 20)

int timmc_kernel_global_mean(const timmc_op *op, pthreadpool_t pool) {
  const size_t channels = op->dims[2];
  if (op->dims[1] * channels * sizeof(float) < POOL_ALONE) pool = NULL;
  const size_t threads = pthreadpool_get_threads_count(pool);
  size_t run = (channels + threads - 1) / threads;
  run = run < 64 ? 64 : (run + 7) / 8 * 8;
  pthreadpool_parallelize_2d_tile_1d(pool, global_mean_task, (void *)op, op->dims[0], channels, run,
                                     PTHREADPOOL_FLAG_DISABLE_DENORMALS);
  return TIMMC_OK;
}
