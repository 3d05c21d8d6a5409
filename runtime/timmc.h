/*
 * timmc.h - types shared by the timmc runtime and the C that timmc generates.
 *
 * Every runtime function returns TIMMC_OK or an error status and never exits;
 * the message describing the last error (which file, tensor or key, and what
 * was expected) is read with timmc_error().
 */
#ifndef TIMMC_H
#define TIMMC_H

#include <stddef.h>
#include <stdint.h>

enum {
  TIMMC_OK = 0,
  TIMMC_EINPUT = 2,   /* bad input: spec, weights, .npy, command line */
  TIMMC_ERUNTIME = 3, /* XNNPACK or the system failed */
};

/* The message of the last failure (thread-local, overwritten by each failure). */
const char *timmc_error(void);
/* Sets the message; returns status so callers can `return timmc_fail(...)`. */
int timmc_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "[2, 3, 224, 224]" into buf (cut to cap), for messages. */
void timmc_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);

/* One output of a model, as timm's feature_info describes it. */
typedef struct timmc_feature_info {
  const char *module; /* timm module path, e.g. "layer2" */
  int num_chs;
  int reduction;
  int height, width; /* spatial size of this output for the spec's input */
} timmc_feature_info;

/* How --random-weights fills a tensor (chosen per state_dict entry). */
typedef enum timmc_init {
  TIMMC_INIT_FAN_IN,  /* U(-a, a), a = sqrt(3 / fan_in): conv and linear weights */
  TIMMC_INIT_BIAS,    /* U(-0.1, 0.1): biases, BatchNorm shift and running_mean */
  TIMMC_INIT_SCALE,   /* U(0.5, 1.5): BatchNorm weight and running_var */
  TIMMC_INIT_COUNT,   /* int64 zero: num_batches_tracked */
} timmc_init;

#define TIMMC_MAX_DIMS 4
#define TIMMC_MAX_OUTPUTS 8

/* One entry of the timm state_dict a model reads (and --save-weights writes). */
typedef struct timmc_tensor_spec {
  const char *name; /* timm state_dict key */
  int ndim;
  int64_t shape[TIMMC_MAX_DIMS];
  timmc_init init;
} timmc_tensor_spec;

/* One output of an entry point: its feature_info and its NCHW (or NC) shape. */
typedef struct timmc_output {
  timmc_feature_info info;
  int ndim;
  int64_t shape[TIMMC_MAX_DIMS];
} timmc_output;

struct timmc_image_cfg;  /* timmc_image.h */
struct timmc_quant_info; /* timmc_quant.h */
struct timmc_observed;   /* timmc_quant.h */

/* What a generated model tells the runner about itself (NAME_model). */
typedef struct timmc_model {
  const char *name;
  const char *architecture;
  const char *spec_path;
  int features_only;
  int64_t input_shape[TIMMC_MAX_DIMS]; /* N, C, H, W */
  int num_outputs;
  const timmc_output *outputs;         /* forward's outputs, in order */
  const timmc_output *features;        /* forward_features' output, NULL if features_only */
  const timmc_output *pre_logits;      /* forward_head(pre_logits=1), NULL if features_only */
  size_t num_ops;                      /* the steps of forward */
  const char *const *op_names;         /* their timm modules */
  const timmc_tensor_spec *state_dict; /* the full timm state_dict (for --save-weights) */
  size_t state_dict_len;
  size_t arena_bytes, arena_lower_bound_bytes, weights_bytes;
  double flops; /* multiply-adds x 2 of one forward */
  int (*set_threads)(size_t threads);
  int (*init)(const void *safetensors, size_t size);
  int (*init_file)(const char *path);
  int (*init_embedded)(void); /* NULL unless the spec has embed_weights */
  int (*forward)(const float *input, float *const outputs[]);
  int (*forward_features)(const float *input, float *output);
  int (*forward_head)(const float *features, float *output, int pre_logits);
  void (*free)(void);
  /* timm's eval transform of one RGB8 image into one batch item of the input */
  int (*preprocess)(const uint8_t *rgb, int height, int width, float *input);
  const struct timmc_image_cfg *image_cfg; /* its data config; NULL if it has none */
  const char *precision;                   /* "f32" or "int8" (the spec's) */
  const char *op_precision; /* per step: 'f' float32, 'i' int8, 'c' a conversion between */
  const struct timmc_quant_info *quant;    /* int8: what calibration fills; else NULL */
  /* the float32 reference of an int8 model (NAME_f32): the tensors calibration
   * watches; NULL in other models */
  const struct timmc_observed *observed;
  size_t num_observed;
} timmc_model;

#endif
