/*
 * timmc_rt.h - what generated models call: weight loading with BatchNorm
 * folding into XNNPACK's layouts, layout changes at the API, XNNPACK setup.
 */
#ifndef TIMMC_RT_H
#define TIMMC_RT_H

#include <stddef.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include "timmc.h"
#include "timmc_file.h"
#include "timmc_st.h"

#define TIMMC_TRY(expr)                \
  do {                                 \
    int timmc_rc_ = (expr);            \
    if (timmc_rc_ != TIMMC_OK) return timmc_rc_; \
  } while (0)

/* One step of forward: an XNNPACK operator, or a runtime kernel (for what
 * XNNPACK lacks) with its operands, bound at init. */
typedef struct timmc_op {
  xnn_operator_t xnn;
  xnn_operator_t xnn_after; /* a second operator run after xnn, or NULL: the two
                               steps a fused kernel's XNNPACK form takes */
  int (*kernel)(const struct timmc_op *op, pthreadpool_t pool); /* TIMMC_OK or an error */
  const float *a, *b;
  float *y;
  float *work[2]; /* scratch in the arena, for kernels that need it */
  const float *packed; /* weights a kernel packed for timmc's own GEMM, or NULL */
  size_t dims[11];
} timmc_op;

/* timm's RadixSoftmax of [batch][groups][radix][rest] into
 * [batch][radix][groups][rest], softmax over radix. dims: batch, radix, groups, rest. */
int timmc_kernel_rsoftmax(const timmc_op *op, pthreadpool_t pool);
/* Split attention's weighted sum: y[n][p][c] = sum_r a[n][p][r*C + c] * b[n][r*C + c].
 * dims: batch, pixels, radix, C. */
int timmc_kernel_radix_sum(const timmc_op *op, pthreadpool_t pool);

/* timmc's elementwise kernels below, or XNNPACK's operators for the same
 * steps under TIMMC_ELEMENTWISE=xnnpack (bench/elementwise_layers.sh times
 * both ways). */
int timmc_elementwise_own(void);
/* A per-channel affine with a clamp: y[p][c] = clamp(a[p][c] * scale[c] +
 * shift[c], min, max), b = {min, max, scale[C], shift[C]} (as
 * timmc_affine_params writes it from a loaded BatchNorm: w->kernel the
 * scales, w->bias the shifts). dims: pixels, C, input and output pixel strides. */
int timmc_kernel_affine(const timmc_op *op, pthreadpool_t pool);
struct timmc_scratch;
void timmc_affine_params(const struct timmc_scratch *w, int channels, float min, float max,
                         float *dst);
/* A gate and a residual add in one pass: y[n][p][c] = clamp(a[n][p][c] *
 * work[1][n][c] + b[n][p][c], work[0][0], work[0][1]); y may be a or b.
 * Compact tensors. dims: batch, pixels, C. */
int timmc_kernel_scale_add(const timmc_op *op, pthreadpool_t pool);

/* A residual add with a clamp: y[i] = clamp(a[i] + b[i], work[0][0],
 * work[0][1]) for i < dims[0]; y may be a or b. */
int timmc_kernel_add(const timmc_op *op, pthreadpool_t pool);

/* Global average pooling: y[n * out_stride + c] = the mean over pixels p of
 * a[(n * pixels + p) * in_stride + c]. dims: batch, pixels, C, input pixel
 * stride, output stride. */
int timmc_kernel_global_mean(const timmc_op *op, pthreadpool_t pool);

/* SiLU (x * sigmoid(x)) of a tensor, in place or not: y[p][c] = silu(a[p][c]).
 * dims: pixels, channels, input pixel stride, output pixel stride. */
int timmc_kernel_silu(const timmc_op *op, pthreadpool_t pool);

/* xnn (a depthwise convolution XNNPACK runs where timmc_kernel_dwconv does
 * not), then SiLU in place over its output: dims and a = y as
 * timmc_kernel_silu's. */
int timmc_kernel_xnn_silu(const timmc_op *op, pthreadpool_t pool);

/* Scratch buffers for one operator's weights, reused layer after layer at
 * init (XNNPACK packs its own copy when the operator is created). */
typedef struct timmc_scratch {
  const float *kernel, *bias; /* what the next xnn_create_* takes; bias may be NULL */
  float *k, *b, *tmp;         /* owned buffers behind them */
  size_t k_cap, b_cap, tmp_cap;
  /* an int8 convolution (timmc_quant.h): kernel [out][k][k][in/groups],
   * per-channel scales, int32 bias */
  int8_t *qk;
  float *qs;
  int32_t *qb;
  size_t qk_cap, q_out_cap;
} timmc_scratch;

void timmc_scratch_free(timmc_scratch *w);
/* Grows *buf to count floats plus XNN_EXTRA_BYTES. */
int timmc_scratch_reserve(float **buf, size_t *cap, size_t count);

/* Reads conv `weight` [out, in/groups, k, k] (timm's OIHW) into w->kernel as
 * XNNPACK's [out][k][k][in/groups]; folds BatchNorm `bn` (its eps) into it and
 * into w->bias; bias may be NULL, and w->bias is NULL when there is neither. */
int timmc_load_conv(timmc_scratch *w, const timmc_st *st, const char *weight, const char *bias,
                    const char *bn, int out_channels, int group_input_channels, int kernel,
                    double bn_eps);
/* A Conv1d(1, 1, k) weight [1, 1, k] (ECA) into w->kernel; w->bias NULL. */
int timmc_load_conv1d(timmc_scratch *w, const timmc_st *st, const char *weight, int kernel);
/* nn.Linear [out, in] (ndim 2), or a 1x1 conv [out, in, 1, 1] (ndim 4) run on a
 * pooled vector, and its bias; BatchNorm `bn` (or NULL) after it folded in;
 * the weight tiled in_repeat times along its input (the layer then sums that
 * many slices of its input first); hard_sigmoid: x/6 + 1/2 folded in (the
 * operator clamps to [0, 1]). */
int timmc_load_linear(timmc_scratch *w, const timmc_st *st, const char *weight,
                      const char *bias, const char *bn, int out_features, int in_features,
                      int ndim, int in_repeat, int hard_sigmoid, double bn_eps);
/* BatchNorm `bn` as scale (w->kernel) and shift (w->bias) per channel. */
int timmc_load_bn_affine(timmc_scratch *w, const timmc_st *st, const char *bn, int channels,
                         double bn_eps);
/* w->kernel = count copies of value (average pooling as a depthwise conv). */
int timmc_const_kernel(timmc_scratch *w, size_t count, float value);

/* Winograd F(4x4, 3x3) for a 3x3 stride-1 convolution padded by its dilation
 * (timmc_wino.c): a = NHWC input, y = NHWC output (same height and width), b =
 * bias. The tiles go in blocks of `block` through work[0] (the transformed
 * input), the products over input channels (36 x groups matrix products) into
 * work[1], and the output transform back to pixels, so a block's buffers stay
 * in cache. work[0] is [block][36][in], work[1] [block][36][out]. The
 * products are timmc's GEMM where `packed` holds their weights
 * (timmc_gemm_products_pack), else xnn, XNNPACK's 1x1 convolution of 36 x
 * groups groups over `block` pixels. dims: batch, height,
 * width, in channels, out channels, input pixel stride, output pixel stride,
 * dilation, relu (1 clamps at 0), block, groups. */
int timmc_kernel_wino(const timmc_op *op, pthreadpool_t pool);
/* How many tiles an image of that size has at that dilation. */
size_t timmc_wino_tiles(size_t batch, size_t height, size_t width, size_t dilation);
/* Turns w->kernel ([out][3][3][in/groups] as timmc_load_conv leaves it, with
 * w->bias) into the grouped 1x1 weights [36][out][in/groups]; the bias goes
 * to bias[out] (zeros without one) for timmc_kernel_wino, and w->bias becomes
 * NULL. */
int timmc_wino_weights(timmc_scratch *w, int out_channels, int group_input_channels, float *bias);

/* timmc's GEMM for convolutions (1x1 or 3x3, not grouped) on AVX-512 CPUs
 * (timmc_gemm.c): a = NHWC input, y = NHWC output, b = weights packed by
 * timmc_gemm_pack, work[0] = {output min, output max, kernel, padding top,
 * padding left, dilation, groups (1 here)}. dims: batch, output height,
 * output width, in channels (at most TIMMC_GEMM_MAX_IN), out channels, input
 * pixel stride, output pixel stride, stride, input height, input width. */
#define TIMMC_GEMM_MAX_IN 4096
/* Whether this target has the kernel at all (x86-64, GCC or clang). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TIMMC_GEMM_BUILT 1
#else
#define TIMMC_GEMM_BUILT 0
#endif
int timmc_kernel_gemm(const timmc_op *op, pthreadpool_t pool);
/* Floats timmc_gemm_pack writes for those channels and kernel size. */
size_t timmc_gemm_packed_floats(size_t in_channels, size_t out_channels, size_t kernel);
/* w->kernel ([out][k][k][in], as timmc_load_conv leaves it) and w->bias (or
 * none) into panels for timmc_kernel_gemm, 64-byte aligned. */
int timmc_gemm_pack(const timmc_scratch *w, int out_channels, int in_channels, int kernel,
                    float *packed);
/* Grouped convolutions of 24 output channels a group: timmc_kernel_gemm's
 * operands with dims[3], dims[4] = in and out channels a group (out: 24) and
 * work[0][6] = groups; the weights packed by timmc_gemm24_pack. */
int timmc_kernel_gemm24(const timmc_op *op, pthreadpool_t pool);
size_t timmc_gemm24_packed_floats(size_t in_channels, size_t kernel, size_t groups);
int timmc_gemm24_pack(const timmc_scratch *w, int groups, int in_channels, int kernel,
                      float *packed);
/* Winograd's products with timmc's GEMM: products groups of cin -> cout,
 * their weights ([products][cout][cin]) packed by timmc_gemm_products_pack
 * (timmc_gemm_products_floats floats); a = [rows][products][cin], y =
 * [rows][products][cout]. */
size_t timmc_gemm_products_floats(size_t products, size_t cin, size_t cout);
int timmc_gemm_products_pack(const float *kernel, size_t products, size_t cin, size_t cout,
                             float *packed);
/* Row r of product G is a + (r * products + G) * cin and y + (r * products
 * + G) * cout: Winograd's [rows][36 x groups][channels] buffers. */
typedef struct timmc_products {
  const float *packed, *a;
  float *y;
  size_t products, cin, cout, rows;
} timmc_products;
int timmc_gemm_products(const timmc_products *p, pthreadpool_t pool);
/* Whether a layer runs timmc_kernel_gemm: the CPU has it (AVX-512F), and the
 * generator's cost model chose it (chosen) or TIMMC_GEMM=all; never under
 * TIMMC_GEMM=none. Otherwise the layer creates XNNPACK's operator. */
int timmc_gemm_use(int chosen);
/* Whether this build and CPU have timmc_kernel_gemm. */
int timmc_gemm_supported(void);

/* Depthwise convolutions (one filter a channel, multiplier 1), 3x3 or 5x5,
 * stride 1 or 2, any padding, no dilation, as timmc's own kernel on AVX-512
 * CPUs (timmc_dw.c): a = NHWC input, y = NHWC output, b = weights packed by
 * timmc_dw_pack, work[0] = {output min, output max, kernel, padding top,
 * padding left, silu (1: SiLU after the clamp)}. dims: batch, output height,
 * output width, channels, input pixel stride, output pixel stride, stride,
 * input height, input width. */
int timmc_kernel_dwconv(const timmc_op *op, pthreadpool_t pool);
size_t timmc_dw_packed_floats(size_t channels, size_t kernel);
/* w->kernel ([c][k][k], as timmc_load_conv leaves a depthwise weight) and
 * w->bias (or none) into [c / 16][1 + k x k][16], 64-byte aligned. */
int timmc_dw_pack(const timmc_scratch *w, int channels, int kernel, float *packed);
/* Whether a depthwise layer runs timmc_kernel_dwconv: the CPU has it
 * (AVX-512F) and the generator's cost model chose it (chosen) or
 * TIMMC_DWCONV=all; never under TIMMC_DWCONV=xnnpack. */
int timmc_dw_use(int chosen);

/* Initialises XNNPACK once per process, with an allocator that counts. */
int timmc_xnn_init(void);
/* Bytes XNNPACK holds now: packed weights and operator state of every model. */
size_t timmc_xnn_bytes(void);
/* While sealed (after each init) XNNPACK's allocations fail. Init is not
 * thread-safe: initialise models one at a time. */
void timmc_xnn_seal(int sealed);
/* Message "LAYER: xnn WHAT failed (status)"; returns TIMMC_ERUNTIME. */
int timmc_xnn_fail(const char *layer, const char *what, enum xnn_status s);

/* When not NULL, forward adds each step's milliseconds to timmc_op_ms[step]
 * (the runner's --profile). */
extern double *timmc_op_ms;
/* When not NULL, forward calls it after each step (int8 calibration watches
 * the float32 reference model's tensors). */
extern void (*timmc_observe)(size_t step);
double timmc_now_ms(void);

/* [n][c][hw] <-> [n][hw][c] */
void timmc_nchw_to_nhwc(const float *src, float *dst, size_t n, size_t c, size_t hw);
void timmc_nhwc_to_nchw(const float *src, float *dst, size_t n, size_t hw, size_t c);

#endif
