/*
 * timmc_calib.c - int8 calibration and the quality report (timmc_calib.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "timmc_calib.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_image.h"
#include "timmc_npy.h"
#include "timmc_quant.h"
#include "timmc_rt.h"
#include "timmc_st.h"

#define HIST_BINS 4096

/* What calibration records of one int8 tensor of the model. */
typedef struct watched {
  const timmc_observed *t;
  float lo, hi;      /* min and max seen */
  uint64_t *hist;    /* second pass (percentile): HIST_BINS bins over [lo, hi] */
  double *sum;       /* first pass: each channel's sum, for bias correction */
  uint64_t summed;   /* the pixels in sum */
} watched;

static watched *g_watch;
static size_t g_num_watch;
static int g_pass;

static void observe(size_t step) {
  for (size_t i = 0; i < g_num_watch; i++) {
    watched *w = &g_watch[i];
    const timmc_observed *t = w->t;
    if (t->op != step) continue;
    const double width = (double)w->hi - w->lo;
    if (g_pass == 0 && w->sum && step != SIZE_MAX) w->summed += t->pixels;
    for (size_t p = 0; p < t->pixels; p++) {
      const float *v = t->data + p * t->stride;
      for (size_t c = 0; c < t->channels; c++) {
        const float x = v[c];
        if (g_pass == 0) {
          if (x < w->lo) w->lo = x;
          if (x > w->hi) w->hi = x;
          if (w->sum && step != SIZE_MAX) w->sum[c] += x;
        } else if (width > 0.0) {
          long b = (long)(((double)x - w->lo) / width * HIST_BINS);
          w->hist[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b]++;
        }
      }
    }
  }
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix) {
  const size_t n = strlen(s), k = strlen(suffix);
  if (n < k) return 0;
  for (size_t i = 0; i < k; i++) {
    char c = s[n - k + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return 0;
  }
  return 1;
}

static int is_image(const char *s) {
  return has_suffix(s, ".png") || has_suffix(s, ".jpg") || has_suffix(s, ".jpeg");
}

/* The calibration files of DIR (.npy, and images), sorted, as "DIR/NAME". */
static int list_inputs(const char *dir, char ***files, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) return timmc_fail(TIMMC_EINPUT, "--calibrate %s: cannot open the folder", dir);
  char **list = NULL;
  size_t n = 0, cap = 0;
  int rc = TIMMC_OK;
  for (struct dirent *e; rc == TIMMC_OK && (e = readdir(d));) {
    if (e->d_name[0] == '.' || !(has_suffix(e->d_name, ".npy") || is_image(e->d_name))) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **grown = realloc(list, cap * sizeof(*list));
      if (!grown) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
      else list = grown;
    }
    if (rc == TIMMC_OK) {
      const size_t len = strlen(dir) + strlen(e->d_name) + 2;
      if (!(list[n] = malloc(len))) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
      else snprintf(list[n++], len, "%s/%s", dir, e->d_name);
    }
  }
  closedir(d);
  if (rc == TIMMC_OK && n == 0) {
    rc = timmc_fail(TIMMC_EINPUT, "--calibrate %s: no .npy or image files in it, expected "
                    "calibration inputs (float32 [N, C, H, W] as --input takes them)", dir);
  }
  if (rc != TIMMC_OK) {
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    return rc;
  }
  qsort(list, n, sizeof(*list), by_name);
  *files = list;
  *count = n;
  return TIMMC_OK;
}

/* Input batch `b` of the calibration set into in: one .npy file, or images
 * filling the batch items (the last one repeated to complete a batch). */
static int load_batch(const timmc_model *ref, char **files, size_t first, size_t count,
                      float *in) {
  if (!is_image(files[first])) return timmc_npy_read_f32(files[first], 4, ref->input_shape, in);
  const size_t item = (size_t)(ref->input_shape[1] * ref->input_shape[2] * ref->input_shape[3]);
  for (int64_t n = 0; n < ref->input_shape[0]; n++) {
    const char *f = files[first + ((size_t)n < count ? (size_t)n : count - 1)];
    uint8_t *rgb = NULL;
    int h = 0, w = 0;
    int rc = timmc_image_load(f, &rgb, &h, &w);
    if (rc == TIMMC_OK) rc = ref->preprocess(rgb, h, w, in + (size_t)n * item);
    timmc_image_free(rgb);
    if (rc != TIMMC_OK) {
      if (!strstr(timmc_error(), f)) {
        char why[1024];
        snprintf(why, sizeof why, "%s", timmc_error());
        return timmc_fail(rc, "%s: %s", f, why);
      }
      return rc;
    }
  }
  return TIMMC_OK;
}

/* Runs REF over every batch of the files (pass 0: min/max; 1: histograms). */
static int run_all(const timmc_model *ref, char **files, size_t nfiles, float *in,
                   float *const outs[]) {
  size_t i = 0;
  while (i < nfiles) {
    size_t count = 1;
    if (is_image(files[i])) {
      while (count < (size_t)ref->input_shape[0] && i + count < nfiles &&
             is_image(files[i + count]))
        count++;
    }
    TIMMC_TRY(load_batch(ref, files, i, count, in));
    /* the input (step SIZE_MAX): the caller's NCHW floats have the values of its NHWC copy */
    for (size_t k = 0; k < g_num_watch; k++) {
      if (g_watch[k].t->op == SIZE_MAX) {
        const timmc_observed *t = g_watch[k].t;
        timmc_observed whole = {t->key, in, 1, t->pixels * t->channels, 0, SIZE_MAX};
        g_watch[k].t = &whole;
        observe(SIZE_MAX);
        g_watch[k].t = t;
        /* its channel sums, from the NCHW layout */
        watched *w = &g_watch[k];
        if (g_pass == 0 && w->sum) {
          const size_t hw = t->pixels / (size_t)ref->input_shape[0];
          for (size_t p = 0; p < t->pixels * t->channels; p++)
            w->sum[p / hw % t->channels] += in[p];
          w->summed += t->pixels;
        }
      }
    }
    TIMMC_TRY(ref->forward(in, outs));
    i += count;
  }
  return TIMMC_OK;
}

/* The expected squared error of int8 over [a, b] for the histogram of w:
 * clipping outside, a uniform rounding error (step^2 / 12) inside. */
static double mse_of(const watched *w, double a, double b) {
  const double width = ((double)w->hi - w->lo) / HIST_BINS, step = (b - a) / 255.0;
  double err = 0.0;
  for (int i = 0; i < HIST_BINS; i++) {
    if (!w->hist[i]) continue;
    const double x = w->lo + (i + 0.5) * width;
    const double e = x < a ? (a - x) * (a - x) : x > b ? (x - b) * (x - b) : step * step / 12.0;
    err += (double)w->hist[i] * e;
  }
  return err;
}

/* The [lo, hi] of a tensor: min/max; the 0.01%..99.99% quantiles; or the
 * range, among 32 x 32 shrinkings of min/max, with the least squared error. */
static void chosen_range(const watched *w, timmc_calib_method method, float r[2]) {
  r[0] = w->lo, r[1] = w->hi;
  if (method == TIMMC_CALIB_MINMAX || !w->hist || !(w->hi > w->lo)) return;
  if (method == TIMMC_CALIB_MSE) {
    enum { G = 32 };
    const double lo = w->lo < 0.0f ? w->lo : 0.0, hi = w->hi > 0.0f ? w->hi : 0.0;
    double best = INFINITY;
    for (int i = 1; i <= G; i++) {
      const double a = lo * i / G;
      for (int j = 1; j <= G; j++) {
        const double b = hi * j / G;
        if (!(b > a)) continue;
        const double e = mse_of(w, a, b);
        if (e < best) best = e, r[0] = (float)a, r[1] = (float)b;
      }
      if (lo == 0.0) break; /* all of them start at 0 */
    }
    return;
  }
  uint64_t total = 0;
  for (int b = 0; b < HIST_BINS; b++) total += w->hist[b];
  const double cut = (double)total * 1e-4, width = ((double)w->hi - w->lo) / HIST_BINS;
  uint64_t acc = 0;
  int lo = 0, hi = HIST_BINS - 1;
  while (lo < HIST_BINS - 1 && (double)(acc + w->hist[lo]) <= cut) acc += w->hist[lo++];
  acc = 0;
  while (hi > 0 && (double)(acc + w->hist[hi]) <= cut) acc += w->hist[hi--];
  if (hi < lo) return;
  r[0] = (float)(w->lo + lo * width);
  r[1] = (float)(w->lo + (hi + 1) * width);
}

int timmc_narrow_dead_ranges(const timmc_quant_info *qi, float (*ranges)[2]) {
  float(*chosen)[2] = malloc((qi->num_keys ? qi->num_keys : 1) * sizeof(*chosen));
  if (!chosen) return timmc_fail(TIMMC_ERUNTIME, "out of memory");
  memcpy(chosen, ranges, qi->num_keys * sizeof(*chosen));
  for (size_t i = 0; i < qi->num_adds; i++) {
    const timmc_qadd *add = &qi->adds[i];
    for (int side = 0; side < 2; side++) {
      if (!(side ? add->narrow_b : add->narrow_a)) continue;
      const int x = side ? add->b : add->a, other = side ? add->a : add->b;
      const float lo = fmaxf(chosen[x][0], add->clamp_min - chosen[other][1]);
      const float hi = fminf(chosen[x][1], add->clamp_max - chosen[other][0]);
      if (lo < hi) ranges[x][0] = lo, ranges[x][1] = hi;
    }
  }
  free(chosen);
  return TIMMC_OK;
}

int timmc_conv_inputs(const timmc_quant_info *qi, const size_t *channels, const char *model,
                      unsigned char *read) {
  memset(read, 0, qi->num_keys);
  for (size_t i = 0; i < qi->num_convs; i++) {
    const timmc_qconv *q = &qi->convs[i];
    if (q->input < 0 || (size_t)q->input >= qi->num_keys) {
      return timmc_fail(TIMMC_ERUNTIME, "%s: int8 convolution '%s' reads range key %d, expected "
                        "one of its %zu (generated from different specs?)", model, q->weight,
                        q->input, qi->num_keys);
    }
    const size_t in = (size_t)q->groups * (size_t)q->group_input_channels;
    if (channels[q->input] != in) {
      return timmc_fail(TIMMC_ERUNTIME, "%s: int8 convolution '%s' takes %zu input channels, "
                        "but '%s' has %zu (generated from different specs?)", model, q->weight,
                        in, qi->keys[q->input], channels[q->input]);
    }
    read[q->input] = 1;
  }
  return TIMMC_OK;
}

/* The checkpoint being made: entries and the buffers they point to. */
typedef struct ckpt {
  timmc_st_entry *e;
  void **owned;
  int64_t (*shapes)[TIMMC_MAX_DIMS];
  char **names;
  size_t n, cap;
} ckpt;

static void ckpt_free(ckpt *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->owned[i]);
    free(c->names[i]);
  }
  free(c->e);
  free(c->owned);
  free(c->shapes);
  free(c->names);
}

/* Adds tensor NAME (taking data, malloc'd) of dtype and shape. */
static int ckpt_add(ckpt *c, const char *name, const char *dtype, int ndim, const int64_t *shape,
                    void *data, size_t nbytes) {
  if (c->n == c->cap) {
    const size_t cap = c->cap ? 2 * c->cap : 256;
    timmc_st_entry *e = realloc(c->e, cap * sizeof(*e));
    if (e) c->e = e;
    void **o = realloc(c->owned, cap * sizeof(*o));
    if (o) c->owned = o;
    int64_t(*s)[TIMMC_MAX_DIMS] = realloc(c->shapes, cap * sizeof(*s));
    if (s) c->shapes = s;
    char **nm = realloc(c->names, cap * sizeof(*nm));
    if (nm) c->names = nm;
    if (!e || !o || !s || !nm) {
      free(data);
      return timmc_fail(TIMMC_ERUNTIME, "out of memory");
    }
    c->cap = cap;
  }
  char *copy = strdup(name);
  if (!copy) {
    free(data);
    return timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  memcpy(c->shapes[c->n], shape, (size_t)ndim * sizeof(int64_t));
  c->owned[c->n] = data;
  c->names[c->n] = copy;
  c->e[c->n] = (timmc_st_entry){copy, dtype, ndim, c->shapes[c->n], data, nbytes};
  c->n++;
  return TIMMC_OK;
}

static int ckpt_add_f32(ckpt *c, const char *name, int ndim, const int64_t *shape,
                        const float *src) {
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
  float *data = malloc(count * sizeof(float) + 1);
  if (!data) return timmc_fail(TIMMC_ERUNTIME, "out of memory");
  memcpy(data, src, count * sizeof(float));
  return ckpt_add(c, name, "F32", ndim, shape, data, count * sizeof(float));
}

double timmc_tap_share(const timmc_qconv *q, int ky, int kx) {
  int rows = 0, cols = 0;
  for (int o = 0; o < q->out_height; o++) {
    const int i = o * q->stride - q->pad_top + ky * q->dilation;
    rows += i >= 0 && i < q->in_height;
  }
  for (int o = 0; o < q->out_width; o++) {
    const int i = o * q->stride - q->pad_left + kx * q->dilation;
    cols += i >= 0 && i < q->in_width;
  }
  return (double)rows / q->out_height * cols / q->out_width;
}

double timmc_rounding_bias(const timmc_qconv *q, const float *row, const int8_t *q8, float scale,
                           const double *mean) {
  const int in = q->group_input_channels;
  const size_t kk = (size_t)q->kernel * q->kernel;
  double err = 0.0;
  for (size_t p = 0; p < kk; p++) {
    const double share = timmc_tap_share(q, (int)(p / q->kernel), (int)(p % q->kernel));
    for (int i = 0; share > 0.0 && i < in; i++) {
      const double rounded = (double)q8[(size_t)i * kk + p] * scale;
      err += ((double)row[p * in + i] - rounded) * mean[i] * share;
    }
  }
  return err;
}

/* One int8 convolution: folded, then int8 per output channel. With MEAN
 * (its input's mean per channel over the calibration set), bias correction
 * (timmc_rounding_bias). */
static int add_qconv(ckpt *c, const timmc_st *st, const timmc_qconv *q, const double *mean,
                     timmc_scratch *w) {
  if (q->linear_ndim) {
    TIMMC_TRY(timmc_load_linear(w, st, q->weight, q->bias, q->bn, q->out_channels,
                                q->group_input_channels, q->linear_ndim, 1, q->hard_sigmoid,
                                q->bn_eps));
  } else {
    TIMMC_TRY(timmc_load_conv(w, st, q->weight, q->bias, q->bn, q->out_channels,
                              q->group_input_channels, q->kernel, q->bn_eps));
  }
  const int out = q->out_channels, in = q->group_input_channels;
  const size_t kk = (size_t)q->kernel * q->kernel, per_out = (size_t)in * kk;
  int8_t *k8 = malloc((size_t)out * per_out);
  float *scale = malloc((size_t)out * sizeof(float)), *bias = calloc((size_t)out, sizeof(float));
  if (!k8 || !scale || !bias) {
    free(k8), free(scale), free(bias);
    return timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  for (int o = 0; o < out; o++) {
    const float *row = w->kernel + (size_t)o * per_out; /* [k][k][in] */
    float amax = 0.0f;
    for (size_t j = 0; j < per_out; j++) amax = fmaxf(amax, fabsf(row[j]));
    /* a row of zeros (a zero-initialised BatchNorm) takes a small scale, so that
     * the operator's requantization ratio stays in XNNPACK's range */
    scale[o] = amax > 0.0f ? amax / 127.0f : 1e-6f;
    for (int i = 0; i < in; i++) { /* back to timm's [out][in][k][k] */
      for (size_t p = 0; p < kk; p++) {
        const double v = nearbyint((double)row[p * in + i] / scale[o]);
        k8[(size_t)o * per_out + (size_t)i * kk + p] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
      }
    }
    if (w->bias) bias[o] = w->bias[o];
    if (mean) {
      const double *m = mean + (size_t)(o / (out / q->groups)) * in;
      bias[o] = (float)((double)bias[o] + timmc_rounding_bias(q, row, k8 + (size_t)o * per_out,
                                                              scale[o], m));
    }
  }
  char prefix[512], name[600];
  const size_t len = strlen(q->weight) - strlen(".weight");
  snprintf(prefix, sizeof prefix, "%.*s", (int)len, q->weight);
  const int64_t shape[4] = {out, in, q->kernel, q->kernel}, vec[1] = {out};
  int rc = ckpt_add(c, q->weight, "I8", q->linear_ndim ? q->linear_ndim : 4, shape, k8,
                    (size_t)out * per_out);
  snprintf(name, sizeof name, "%s.weight_scale", prefix);
  if (rc == TIMMC_OK) rc = ckpt_add(c, name, "F32", 1, vec, scale, (size_t)out * sizeof(float));
  else free(scale);
  snprintf(name, sizeof name, "%s.bias", prefix);
  if (rc == TIMMC_OK) rc = ckpt_add(c, name, "F32", 1, vec, bias, (size_t)out * sizeof(float));
  else free(bias);
  return rc;
}

/* The int8 checkpoint: the float tensors M still reads, the int8
 * convolutions, the ranges. */
static int write_checkpoint(const timmc_model *m, const timmc_st *st, const float (*ranges)[2],
                            const watched *watch, const char *out) {
  const timmc_quant_info *qi = m->quant;
  ckpt c = {0};
  timmc_scratch w = {0};
  int rc = TIMMC_OK;
  for (size_t i = 0; rc == TIMMC_OK && i < m->state_dict_len; i++) {
    const timmc_tensor_spec *t = &m->state_dict[i];
    int read = 0;
    for (size_t k = 0; !read && k < qi->num_float_keys; k++) read = !strcmp(qi->float_keys[k], t->name);
    if (!read) continue;
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
    float *data = malloc(count * sizeof(float) + 1);
    if (!data) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
    if (rc == TIMMC_OK) rc = timmc_st_read_f32(st, t->name, t->ndim, t->shape, data);
    if (rc == TIMMC_OK) rc = ckpt_add(&c, t->name, "F32", t->ndim, t->shape, data,
                                      count * sizeof(float));
    else free(data);
  }
  for (size_t q = 0; rc == TIMMC_OK && q < qi->num_convs; q++) {
    const timmc_qconv *conv = &qi->convs[q];
    /* (timmc_conv_inputs checked the index and the channels, and every conv's
     * input has its sums) */
    const watched *x = &watch[conv->input];
    const size_t in = x->t->channels;
    double *mean = x->summed ? malloc(in * sizeof(*mean)) : NULL;
    if (x->summed && !mean) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
    for (size_t i = 0; mean && i < in; i++) mean[i] = x->sum[i] / (double)x->summed;
    if (rc == TIMMC_OK) rc = add_qconv(&c, st, conv, mean, &w);
    free(mean);
  }
  static const int64_t two[1] = {2};
  char name[600];
  for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) {
    snprintf(name, sizeof name, "%s.act_range", qi->keys[k]);
    rc = ckpt_add_f32(&c, name, 1, two, ranges[k]);
  }
  for (size_t i = 0; i < c.n; i++) c.e[i].shape = c.shapes[i]; /* where they are now */
  if (rc == TIMMC_OK) rc = timmc_st_write(out, c.e, c.n);
  timmc_scratch_free(&w);
  ckpt_free(&c);
  return rc;
}

int timmc_calibrate(const timmc_model *m, const timmc_model *ref, const void *f32, size_t size,
                    const char *what, const char *dir, timmc_calib_method method,
                    const char *out) {
  const timmc_quant_info *qi = m->quant;
  char **files = NULL;
  size_t nfiles = 0;
  TIMMC_TRY(list_inputs(dir, &files, &nfiles));
  const size_t in_count = (size_t)(ref->input_shape[0] * ref->input_shape[1] *
                                   ref->input_shape[2] * ref->input_shape[3]);
  float *in = malloc(in_count * sizeof(float));
  float *outs[TIMMC_MAX_OUTPUTS] = {0};
  watched *watch = calloc(qi->num_keys ? qi->num_keys : 1, sizeof(*watch));
  float(*ranges)[2] = calloc(qi->num_keys ? qi->num_keys : 1, sizeof(*ranges));
  int rc = in && watch && ranges ? TIMMC_OK : timmc_fail(TIMMC_ERUNTIME, "out of memory");
  for (int i = 0; rc == TIMMC_OK && i < ref->num_outputs; i++) {
    size_t n = 1;
    for (int d = 0; d < ref->outputs[i].ndim; d++) n *= (size_t)ref->outputs[i].shape[d];
    if (!(outs[i] = malloc(n * sizeof(float)))) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  /* every input is checked (shape, dtype, decodable) before the float model runs */
  for (size_t i = 0; rc == TIMMC_OK && i < nfiles; i++) {
    if (!is_image(files[i])) rc = timmc_npy_read_f32(files[i], 4, ref->input_shape, in);
  }
  for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) {
    for (size_t j = 0; j < ref->num_observed && !watch[k].t; j++) {
      if (!strcmp(ref->observed[j].key, qi->keys[k])) watch[k].t = &ref->observed[j];
    }
    if (!watch[k].t) {
      rc = timmc_fail(TIMMC_ERUNTIME, "%s: int8 tensor '%s' is not one its float32 reference "
                      "%s shows (generated from different specs?)", m->name, qi->keys[k],
                      ref->name);
    }
    watch[k].lo = INFINITY, watch[k].hi = -INFINITY;
  }
  /* per-channel sums (bias correction) only of the tensors convolutions read */
  size_t *channels = malloc((qi->num_keys ? qi->num_keys : 1) * sizeof(*channels));
  unsigned char *read = malloc(qi->num_keys ? qi->num_keys : 1);
  if (rc == TIMMC_OK && (!channels || !read)) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
  for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) channels[k] = watch[k].t->channels;
  if (rc == TIMMC_OK) rc = timmc_conv_inputs(qi, channels, m->name, read);
  for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) {
    if (read[k] && !(watch[k].sum = calloc(watch[k].t->channels, sizeof(double))))
      rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  free(channels);
  free(read);
  if (rc == TIMMC_OK) { /* its errors name the checkpoint */
    rc = ref->init(f32, size);
    if (rc != TIMMC_OK && strncmp(timmc_error(), what, strlen(what)) != 0) {
      char why[1024];
      snprintf(why, sizeof why, "%s", timmc_error());
      timmc_fail(rc, "%s: %s", what, why);
    }
  }
  g_watch = watch, g_num_watch = qi->num_keys, g_pass = 0;
  timmc_observe = observe;
  if (rc == TIMMC_OK) rc = run_all(ref, files, nfiles, in, outs);
  if (rc == TIMMC_OK && method != TIMMC_CALIB_MINMAX) { /* a second pass: histograms */
    for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) {
      if (!(watch[k].hist = calloc(HIST_BINS, sizeof(uint64_t))))
        rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
    }
    g_pass = 1;
    if (rc == TIMMC_OK) rc = run_all(ref, files, nfiles, in, outs);
  }
  timmc_observe = NULL;
  for (size_t k = 0; rc == TIMMC_OK && k < qi->num_keys; k++) chosen_range(&watch[k], method, ranges[k]);
  if (rc == TIMMC_OK) rc = timmc_narrow_dead_ranges(qi, ranges);
  if (rc == TIMMC_OK) {
    timmc_st st;
    rc = timmc_st_open(&st, f32, size, what);
    if (rc == TIMMC_OK) {
      rc = write_checkpoint(m, &st, (const float(*)[2])ranges, watch, out);
      timmc_st_close(&st);
    }
  }
  ref->free();
  for (size_t k = 0; watch && k < qi->num_keys; k++) free(watch[k].hist), free(watch[k].sum);
  for (int i = 0; i < TIMMC_MAX_OUTPUTS; i++) free(outs[i]);
  for (size_t i = 0; i < nfiles; i++) free(files[i]);
  free(files);
  free(watch);
  free(ranges);
  free(in);
  return rc;
}

int timmc_compare_f32(const timmc_model *m, const timmc_model *ref, const float *input) {
  float *a[TIMMC_MAX_OUTPUTS] = {0}, *b[TIMMC_MAX_OUTPUTS] = {0};
  size_t counts[TIMMC_MAX_OUTPUTS];
  int rc = TIMMC_OK;
  for (int i = 0; rc == TIMMC_OK && i < m->num_outputs; i++) {
    counts[i] = 1;
    for (int d = 0; d < m->outputs[i].ndim; d++) counts[i] *= (size_t)m->outputs[i].shape[d];
    a[i] = malloc(counts[i] * sizeof(float));
    b[i] = malloc(counts[i] * sizeof(float));
    if (!a[i] || !b[i]) rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  if (rc == TIMMC_OK) rc = ref->forward(input, a);
  if (rc == TIMMC_OK) rc = m->forward(input, b);
  for (int i = 0; rc == TIMMC_OK && i < m->num_outputs; i++) {
    double sig = 0, err = 0, ab = 0, bb = 0;
    for (size_t j = 0; j < counts[i]; j++) {
      const double x = a[i][j], y = b[i][j];
      sig += x * x, err += (x - y) * (x - y), ab += x * y, bb += y * y;
    }
    const double sqnr = err > 0 ? 10.0 * log10(sig / err) : INFINITY;
    const double cosine = sig > 0 && bb > 0 ? ab / sqrt(sig * bb) : 1.0;
    char shape[128];
    timmc_format_shape(shape, sizeof shape, m->outputs[i].ndim, m->outputs[i].shape);
    printf("output %d (%s %s): SQNR %.2f dB, cosine %.6f\n", i, m->outputs[i].info.module, shape,
           sqnr, cosine);
  }
  if (rc == TIMMC_OK && !m->features_only) {
    const size_t batch = (size_t)m->outputs[0].shape[0], classes = counts[0] / batch;
    size_t agree = 0;
    for (size_t n = 0; n < batch; n++) {
      size_t ia = 0, ib = 0;
      for (size_t c = 1; c < classes; c++) {
        if (a[0][n * classes + c] > a[0][n * classes + ia]) ia = c;
        if (b[0][n * classes + c] > b[0][n * classes + ib]) ib = c;
      }
      agree += ia == ib;
    }
    printf("top-1 agreement: %zu/%zu\n", agree, batch);
  }
  for (int i = 0; i < m->num_outputs; i++) free(a[i]), free(b[i]);
  return rc;
}
