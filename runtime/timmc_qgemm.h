/*
 * timmc_qgemm.h - int8 convolutions (not grouped, any kernel, stride,
 * padding and dilation) as timmc's own GEMM with AVX512-VNNI's vpdpbusd, for
 * int8 models on x86-64 CPUs that have it (timmc_qgemm.c). Same bits as
 * XNNPACK's qc8 convolution for the same layer: the generated code takes
 * this kernel where the generator's cost model chose it and the CPU has
 * VNNI, XNNPACK's operator otherwise.
 */
#ifndef TIMMC_QGEMM_H
#define TIMMC_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "timmc_quant.h"
#include "timmc_rt.h"

/* Whether this target has the kernel at all (x86-64, GCC or clang). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TIMMC_QGEMM_BUILT 1
#else
#define TIMMC_QGEMM_BUILT 0
#endif

/* The most input bytes one output pixel reads (kernel x kernel x input
 * channels rounded up to 4). */
#define TIMMC_QGEMM_MAX_K 18432

/* Bytes timmc_qgemm_pack writes for such a layer (the generator sizes the
 * static storage the same way: generator/backends/xnnpack_int8.lua). */
size_t timmc_qgemm_packed_bytes(int out_channels, int in_channels, int kernel);

/* w->qk, w->qs, w->qb (timmc_load_conv_qc8's [out][k][k][in] int8 weights,
 * per-channel scales and int32 bias) with the layer's geometry and
 * quantization (input x, output y, output clamped to [out_min, out_max])
 * into packed (64-byte aligned, `bytes` long) for timmc_kernel_qgemm. */
int timmc_qgemm_pack(const timmc_scratch *w, int out_channels, int in_channels, int kernel,
                     int pad_top, int pad_left, int dilation, timmc_qparams x, timmc_qparams y,
                     int8_t out_min, int8_t out_max, void *packed, size_t bytes);

/* The convolution: a = NHWC int8 input, y = NHWC int8 output, b = what
 * timmc_qgemm_pack wrote. dims: batch, output height, output width, in
 * channels, out channels, input pixel stride, output pixel stride, stride,
 * input height, input width. */
int timmc_kernel_qgemm(const timmc_op *op, pthreadpool_t pool);

/* Whether a layer runs timmc_kernel_qgemm: the CPU has AVX512-VNNI, and the
 * generator's cost model chose it (chosen) or TIMMC_QGEMM=all; never under
 * TIMMC_QGEMM=none. */
int timmc_qgemm_use(int chosen);
/* Whether this build and CPU have timmc_kernel_qgemm. */
int timmc_qgemm_supported(void);

#endif
