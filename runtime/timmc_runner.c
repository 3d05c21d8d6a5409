/*
 * timmc_runner.c - the command-line runner linked into every generated model
 * (DIR/NAME): see README.md "Runner", and below for how it finds its model.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc.h"
#include "timmc_calib.h"
#include "timmc_image.h"
#include "timmc_npy.h"
#include "timmc_png.h"
#include "timmc_rand.h"
#include "timmc_rt.h"
#include "timmc_st.h"
#include "timmc_file.h"

/* The model, and an int8 model's float32 reference (NAME_f32: calibration and
 * --compare-f32, NULL otherwise). Compiled with -DTIMMC_MODEL=NAME_model [and
 * -DTIMMC_REFERENCE=NAME_f32_model], this file defines both pointers itself;
 * without, it is compiled once for many models (CMake's timmc_add_model) and
 * each runner links a few lines that define them for its model. */
#ifdef TIMMC_MODEL
extern const timmc_model TIMMC_MODEL;
const timmc_model *const timmc_runner_model = &TIMMC_MODEL;
#ifdef TIMMC_REFERENCE
extern const timmc_model TIMMC_REFERENCE;
const timmc_model *const timmc_runner_reference = &TIMMC_REFERENCE;
#else
const timmc_model *const timmc_runner_reference = NULL;
#endif
#endif
extern const timmc_model *const timmc_runner_model;
extern const timmc_model *const timmc_runner_reference;
#define M timmc_runner_model
#define R timmc_runner_reference

static const char USAGE[] =
    "usage: %s (--weights FILE.safetensors | --random-weights SEED [--save-weights FILE])\n"
    "          [--input IN.npy | --image FILE ...] [--outdir OUT] [--save-png DIR]\n"
    "          [--entry forward|forward_features|forward_head_pre_logits]\n"
    "          [--threads N] [--bench N [--profile]] [--check-finite] [--info]\n"
    "int8 models (docs/int8.md):\n"
    "       %s (--weights F32.safetensors | --random-weights SEED) --calibrate DIR\n"
    "          [--calibration minmax|percentile|mse] --save-weights INT8.safetensors\n"
    "       %s --weights INT8.safetensors --compare-f32 F32.safetensors\n"
    "          (--input IN.npy | --image FILE ...)\n";

#define MAX_IMAGES 4096 /* the largest batch a spec allows */

typedef struct options {
  const char *weights, *save_weights, *input, *outdir, *entry, *save_png;
  const char *calibrate, *compare_f32;
  timmc_calib_method method;
  const char *images[MAX_IMAGES];
  int num_images;
  unsigned long long seed;
  int have_seed, info, check_finite, profile;
  long threads, bench;
} options;

static int bad(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", M->name);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return TIMMC_EINPUT;
}

static int parse_count(const char *flag, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "%s: %s needs an integer in %ld..%ld, got '%s'\n", M->name, flag, lo, hi, s);
    return TIMMC_EINPUT;
  }
  *out = v;
  return TIMMC_OK;
}

static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof(*o));
  o->entry = "forward";
  o->threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--info")) {
      o->info = 1;
      continue;
    }
    if (!strcmp(a, "--profile")) {
      o->profile = 1;
      continue;
    }
    if (!strcmp(a, "--check-finite")) {
      o->check_finite = 1;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf(USAGE, argv[0], argv[0], argv[0]);
      exit(0);
    }
    if (strncmp(a, "--", 2) != 0) return bad("unexpected argument '%s' (see --help)", a);
    if (!v) return bad("%s needs a value", a);
    i++;
    if (!*v && (!strcmp(a, "--weights") || !strcmp(a, "--save-weights") || !strcmp(a, "--input") ||
                !strcmp(a, "--compare-f32"))) {
      return bad("%s is empty, expected a file name", a);
    }
    if (!*v && (!strcmp(a, "--outdir") || !strcmp(a, "--save-png") || !strcmp(a, "--calibrate"))) {
      return bad("%s is empty, expected a directory", a);
    }
    if (!*v && !strcmp(a, "--image")) return bad("%s is empty, expected an image file", a);
    if (!strcmp(a, "--weights")) o->weights = v;
    else if (!strcmp(a, "--save-weights")) o->save_weights = v;
    else if (!strcmp(a, "--input")) o->input = v;
    else if (!strcmp(a, "--outdir")) o->outdir = v;
    else if (!strcmp(a, "--save-png")) o->save_png = v;
    else if (!strcmp(a, "--image")) {
      if (o->num_images == MAX_IMAGES) return bad("more than %s --image files", "4096");
      o->images[o->num_images++] = v;
    }
    else if (!strcmp(a, "--entry")) o->entry = v;
    else if (!strcmp(a, "--calibrate")) o->calibrate = v;
    else if (!strcmp(a, "--compare-f32")) o->compare_f32 = v;
    else if (!strcmp(a, "--calibration")) {
      if (!strcmp(v, "minmax")) o->method = TIMMC_CALIB_MINMAX;
      else if (!strcmp(v, "percentile")) o->method = TIMMC_CALIB_PERCENTILE;
      else if (!strcmp(v, "mse")) o->method = TIMMC_CALIB_MSE;
      else return bad("--calibration '%s': expected minmax, percentile or mse", v);
    }
    else if (!strcmp(a, "--random-weights")) {
      long seed;
      if (parse_count(a, v, 0, 2147483647L, &seed)) return TIMMC_EINPUT;
      o->seed = (unsigned long long)seed;
      o->have_seed = 1;
    } else if (!strcmp(a, "--threads")) {
      if (parse_count(a, v, 1, 256, &o->threads)) return TIMMC_EINPUT;
    } else if (!strcmp(a, "--bench")) {
      if (parse_count(a, v, 1, 1000000, &o->bench)) return TIMMC_EINPUT;
    } else {
      return bad("unknown option '%s' (see --help)", a);
    }
  }
  if (strcmp(o->entry, "forward") && strcmp(o->entry, "forward_features") &&
      strcmp(o->entry, "forward_head_pre_logits")) {
    return bad("--entry '%s': expected forward, forward_features or forward_head_pre_logits",
               o->entry);
  }
  if (M->features_only && strcmp(o->entry, "forward")) {
    return bad("--entry '%s': a features_only model has only forward", o->entry);
  }
  if (o->info) return TIMMC_OK;
  if (o->weights && o->have_seed) return bad("%s", "give --weights or --random-weights, not both");
  if (!o->weights && !o->have_seed && !M->init_embedded) {
    return bad("%s", "needs --weights FILE or --random-weights SEED");
  }
  if ((o->calibrate || o->compare_f32) && !R) {
    return bad("%s", "--calibrate and --compare-f32 are for int8 models (spec \"precision\": "
                     "\"int8\"); this one is float32");
  }
  if (o->calibrate) {
    if (!o->save_weights) return bad("%s", "--calibrate needs --save-weights INT8.safetensors");
    if (o->input || o->num_images || o->outdir || o->bench || o->compare_f32) {
      return bad("%s", "--calibrate takes its inputs from its folder: no --input, --image, "
                       "--outdir, --bench or --compare-f32 with it");
    }
    if (!o->weights && !o->have_seed) {
      return bad("%s", "--calibrate needs the float weights: --weights F32.safetensors or "
                       "--random-weights SEED");
    }
    return TIMMC_OK;
  }
  if (R && o->have_seed &&
      (!o->save_weights || o->input || o->num_images || o->bench || o->compare_f32)) {
    return bad("%s", "an int8 model runs with --weights INT8.safetensors from --calibrate; "
                     "--random-weights SEED only makes float weights (for --calibrate, or "
                     "written by --save-weights FILE)");
  }
  if (o->save_weights && !o->have_seed) return bad("%s", "--save-weights needs --random-weights");
  if (o->compare_f32) {
    if (!o->input && !o->num_images) {
      return bad("%s", "--compare-f32 needs --input IN.npy or --image FILE");
    }
    if (o->bench || o->outdir || o->save_png || strcmp(o->entry, "forward")) {
      return bad("%s", "--compare-f32 compares forward's outputs only: no --bench, --outdir, "
                       "--save-png or --entry with it");
    }
  }
  if (o->input && o->num_images) return bad("%s", "give --input or --image, not both");
  if (o->num_images && o->num_images != M->input_shape[0]) {
    fprintf(stderr, "%s: %d --image files for a batch of %lld: give one per batch item\n",
            M->name, o->num_images, (long long)M->input_shape[0]);
    return TIMMC_EINPUT;
  }
  if (o->num_images && !M->image_cfg) {
    return bad("%s", "--image: this model has no pretrained data config to preprocess with");
  }
  if (o->input && !o->outdir && !o->compare_f32) return bad("%s", "--input needs --outdir OUT");
  if (o->num_images && !o->outdir && !o->save_png && !o->compare_f32) {
    return bad("%s", "--image needs --outdir OUT or --save-png DIR");
  }
  if ((o->outdir || o->save_png) && !o->input && !o->num_images) {
    return bad("%s", "--outdir and --save-png need --input IN.npy or --image FILE");
  }
  if (o->profile && !o->bench) return bad("%s", "--profile needs --bench N");
  if (!o->input && !o->num_images && !o->bench && !o->save_weights) {
    return bad("%s", "nothing to do: give --input IN.npy --outdir OUT, --image FILE, --bench N "
                     "or --save-weights");
  }
  return TIMMC_OK;
}

/* The outputs of the chosen entry point. */
static const timmc_output *entry_outputs(const char *entry, int *count) {
  *count = 1;
  if (!strcmp(entry, "forward_features")) return M->features;
  if (!strcmp(entry, "forward_head_pre_logits")) return M->pre_logits;
  *count = M->num_outputs;
  return M->outputs;
}

static size_t numel(const timmc_output *o) {
  size_t n = 1;
  for (int d = 0; d < o->ndim; d++) n *= (size_t)o->shape[d];
  return n;
}

static void print_info(const char *entry) {
  int n;
  const timmc_output *outs = entry_outputs(entry, &n);
  printf("{\"name\": \"%s\", \"architecture\": \"%s\", \"input\": [%lld, %lld, %lld, %lld], "
         "\"outputs\": [", M->name, M->architecture, (long long)M->input_shape[0],
         (long long)M->input_shape[1], (long long)M->input_shape[2],
         (long long)M->input_shape[3]);
  for (int i = 0; i < n; i++) {
    const timmc_output *o = &outs[i];
    printf("%s{\"module\": \"%s\", \"num_chs\": %d, \"reduction\": %d, \"shape\": [", i ? ", " : "",
           o->info.module, o->info.num_chs, o->info.reduction);
    for (int d = 0; d < o->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)o->shape[d]);
    printf("]}");
  }
  printf("], \"arena_bytes\": %zu, \"arena_lower_bound_bytes\": %zu, \"weights_bytes\": %zu, "
         "\"flops\": %.0f, \"precision\": \"%s\"", M->arena_bytes, M->arena_lower_bound_bytes,
         M->weights_bytes, M->flops, M->precision);
  if (!strcmp(M->precision, "int8")) { /* which steps run in which precision */
    size_t count[3] = {0};
    for (size_t i = 0; i < M->num_ops; i++) {
      const char p = M->op_precision[i];
      count[p == 'i' ? 0 : p == 'c' ? 1 : 2]++;
    }
    printf(", \"int8_steps\": %zu, \"conversion_steps\": %zu, \"f32_steps\": [", count[0],
           count[1]);
    for (size_t i = 0, n = 0; i < M->num_ops; i++) {
      if (M->op_precision[i] == 'f') printf("%s\"%s\"", n++ ? ", " : "", M->op_names[i]);
    }
    printf("]");
  }
  printf("}\n");
}

static int run_entry(const char *entry, const float *in, float *const outs[]) {
  if (!strcmp(entry, "forward_features")) return M->forward_features(in, outs[0]);
  if (!strcmp(entry, "forward_head_pre_logits")) {
    int rc = M->forward_features(in, outs[1]);
    return rc != TIMMC_OK ? rc : M->forward_head(outs[1], outs[0], 1);
  }
  return M->forward(in, outs);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* --profile: every step's time over the timed runs, longest first. */
static void print_profile(const double *op_ms, long runs) {
  size_t *order = malloc(M->num_ops * sizeof(size_t));
  double total = 0.0;
  if (!order) return;
  for (size_t i = 0; i < M->num_ops; i++) {
    order[i] = i;
    total += op_ms[i];
  }
  for (size_t i = 1; i < M->num_ops; i++) { /* insertion sort, longest first */
    size_t j = i, k = order[i];
    for (; j > 0 && op_ms[order[j - 1]] < op_ms[k]; j--) order[j] = order[j - 1];
    order[j] = k;
  }
  printf("%-6s %-40s %10s %7s\n", "step", "timm module", "ms/run", "share");
  for (size_t i = 0; i < M->num_ops; i++) {
    const size_t k = order[i];
    printf("%-6zu %-40s %10.4f %6.1f%%\n", k, M->op_names[k], op_ms[k] / runs,
           100.0 * op_ms[k] / total);
  }
  printf("all %zu steps: %.3f ms/run\n", M->num_ops, total / runs);
  free(order);
}

static int bench(const options *o, const float *in, float *const outs[]) {
  double *ms = malloc(sizeof(double) * (size_t)o->bench);
  double *op_ms = o->profile ? calloc(M->num_ops, sizeof(double)) : NULL;
  if (!ms || (o->profile && !op_ms)) {
    free(ms);
    return timmc_fail(TIMMC_ERUNTIME, "out of memory");
  }
  int rc = run_entry(o->entry, in, outs); /* warm-up */
  timmc_op_ms = op_ms;
  for (long i = 0; rc == TIMMC_OK && i < o->bench; i++) {
    double t0 = timmc_now_ms();
    rc = run_entry(o->entry, in, outs);
    ms[i] = timmc_now_ms() - t0;
  }
  timmc_op_ms = NULL;
  if (rc == TIMMC_OK && op_ms) print_profile(op_ms, o->bench);
  free(op_ms);
  if (rc == TIMMC_OK) {
    qsort(ms, (size_t)o->bench, sizeof(double), cmp_double);
    printf("model: %s entry: %s threads: %ld runs: %ld\n", M->name, o->entry, o->threads,
           o->bench);
    printf("min_ms: %.3f\n", ms[0]);
    printf("xnnpack_bytes: %zu\n", timmc_xnn_bytes()); /* packed weights + operator state */
    printf("gflops_per_s: %.2f\n", M->flops / (ms[o->bench / 2] * 1e6));
    printf("median_ms: %.3f\n", ms[o->bench / 2]);
  }
  free(ms);
  return rc;
}

/* Writes every output into SET (out<i>.npy) and puts them in place together,
 * replacing an earlier run's set as a whole; on any failure OUT is as it was. */
static int write_outputs(timmc_file_set *set, const timmc_output *defs, int n,
                         float *const outs[]) {
  for (int i = 0; i < n; i++) {
    const char *path;
    int rc = timmc_file_set_path(set, i, &path);
    if (rc == TIMMC_OK) rc = timmc_npy_write_f32(path, defs[i].ndim, defs[i].shape, outs[i]);
    if (rc != TIMMC_OK) {
      timmc_file_set_abort(set);
      return rc;
    }
  }
  return timmc_file_set_commit(set, n);
}

/* --image: each file through timm's eval transform into its batch item of in;
 * with --save-png, crops[n] keeps the RGB8 picture the model sees. */
static int read_images(const options *o, float *in, uint8_t **crops) {
  const size_t item = (size_t)(M->input_shape[1] * M->input_shape[2] * M->input_shape[3]);
  const int h = (int)M->input_shape[2], w = (int)M->input_shape[3];
  int rc = TIMMC_OK;
  for (int n = 0; rc == TIMMC_OK && n < o->num_images; n++) {
    uint8_t *rgb = NULL;
    int ih = 0, iw = 0;
    rc = timmc_image_load(o->images[n], &rgb, &ih, &iw);
    /* an int8 model's arena is a quarter of its float32 reference's: the
     * reference's (linked in, never initialised here) is the scratch then */
    if (rc == TIMMC_OK) rc = (R ? R : M)->preprocess(rgb, ih, iw, in + (size_t)n * item);
    if (rc == TIMMC_OK && crops) {
      const size_t need = timmc_image_scratch_bytes(ih, iw, M->image_cfg);
      void *scratch = malloc(need ? need : 1);
      crops[n] = malloc((size_t)h * w * 3);
      rc = scratch && crops[n] ? timmc_image_resize_crop(rgb, ih, iw, M->image_cfg, crops[n],
                                                         scratch, need)
                               : timmc_fail(TIMMC_ERUNTIME, "out of memory");
      free(scratch);
    }
    if (rc != TIMMC_OK && ih > 0) {
      /* name the file: the preprocessing message may not */
      const char *why = timmc_error();
      if (!strstr(why, o->images[n])) {
        char copy[1024];
        snprintf(copy, sizeof(copy), "%s", why);
        timmc_fail(rc, "%s: %s", o->images[n], copy);
      }
    }
    timmc_image_free(rgb);
  }
  return rc;
}

/* --save-png DIR: a picture of every feature map output ([N, C, H, W]), named
 * by its timm module (MODULE.png, or MODULE.N.png for batch item N of
 * several), upscaled to the input size, over the input picture when there
 * is one. Pooled [N, C] outputs have no picture. */
static int save_pngs(const char *dir, const timmc_output *defs, int n, float *const outs[],
                     uint8_t **crops) {
  const int oh = (int)M->input_shape[2], ow = (int)M->input_shape[3];
  int rc = timmc_file_mkdirs(dir), written = 0;
  for (int i = 0; rc == TIMMC_OK && i < n; i++) {
    const timmc_output *d = &defs[i];
    if (d->ndim != 4) continue;
    const int c = (int)d->shape[1], h = (int)d->shape[2], w = (int)d->shape[3];
    const size_t need = timmc_png_scratch_bytes(h, w, oh, ow);
    void *scratch = malloc(need);
    if (!scratch) return timmc_fail(TIMMC_ERUNTIME, "out of memory");
    for (int64_t b = 0; rc == TIMMC_OK && b < d->shape[0]; b++) {
      char path[4096];
      if (d->shape[0] == 1) {
        snprintf(path, sizeof(path), "%s/%s.png", dir, d->info.module);
      } else {
        snprintf(path, sizeof(path), "%s/%s.%lld.png", dir, d->info.module, (long long)b);
      }
      rc = timmc_png_feature_map(path, outs[i] + (size_t)b * c * h * w, c, h, w,
                                 crops ? crops[b] : NULL, oh, ow, scratch, need);
      written += rc == TIMMC_OK;
    }
    free(scratch);
  }
  if (rc == TIMMC_OK && !written) {
    return timmc_fail(TIMMC_EINPUT, "--save-png: the entry's outputs are pooled vectors, "
                                    "which have no picture");
  }
  if (rc == TIMMC_OK) printf("%d pictures in %s\n", written, dir);
  return rc;
}

/* --calibrate: the float weights (a file, or random ones) through the
 * float32 reference, into the int8 checkpoint. */
static int calibrate(const options *o) {
  const void *data = NULL;
  void *blob = NULL;
  size_t size = 0;
  int rc = o->weights ? timmc_file_map(o->weights, &data, &size)
                      : timmc_rand_state_dict(R->state_dict, R->state_dict_len, o->seed, &blob,
                                              &size);
  if (rc != TIMMC_OK) return rc;
  rc = R->set_threads((size_t)o->threads);
  if (rc == TIMMC_OK) {
    rc = timmc_calibrate(M, R, o->weights ? data : blob, size,
                         o->weights ? o->weights : "--random-weights", o->calibrate, o->method,
                         o->save_weights);
  }
  if (data) timmc_file_unmap(data, size);
  free(blob);
  return rc;
}

/* Inits the model; with --save-weights writes the random state dict too. */
static int load_weights(const options *o) {
  timmc_st_set_check_finite(o->check_finite);
  if (o->weights) return M->init_file(o->weights);
  if (!o->have_seed) return M->init_embedded(); /* the weights linked into the binary */
  void *blob;
  size_t size;
  int rc = timmc_rand_state_dict(M->state_dict, M->state_dict_len, o->seed, &blob, &size);
  if (rc == TIMMC_OK) rc = M->init(blob, size);
  if (rc == TIMMC_OK && o->save_weights) rc = timmc_file_write(o->save_weights, blob, size);
  free(blob);
  return rc;
}

static int run(const options *o) {
  if (o->info) {
    print_info(o->entry);
    return TIMMC_OK;
  }
  timmc_st_set_check_finite(o->check_finite);
  if (o->calibrate) return calibrate(o);
  if (R && o->have_seed) { /* an int8 model's random float weights, for --calibrate */
    void *blob;
    size_t size;
    int rc = timmc_rand_state_dict(R->state_dict, R->state_dict_len, o->seed, &blob, &size);
    if (rc == TIMMC_OK) rc = timmc_file_write(o->save_weights, blob, size);
    free(blob);
    return rc;
  }
  int n;
  const timmc_output *defs = entry_outputs(o->entry, &n);
  const size_t in_count = (size_t)(M->input_shape[0] * M->input_shape[1] * M->input_shape[2] *
                                   M->input_shape[3]);
  float *in = malloc(in_count * sizeof(float));
  float *outs[TIMMC_MAX_OUTPUTS + 1] = {0};
  int rc = in ? TIMMC_OK : timmc_fail(TIMMC_ERUNTIME, "out of memory");
  for (int i = 0; rc == TIMMC_OK && i < n; i++) {
    if (!(outs[i] = malloc(numel(&defs[i]) * sizeof(float)))) rc = TIMMC_ERUNTIME;
  }
  if (rc == TIMMC_OK && !strcmp(o->entry, "forward_head_pre_logits") &&
      !(outs[1] = malloc(numel(M->features) * sizeof(float)))) {
    rc = TIMMC_ERUNTIME;
  }
  if (rc == TIMMC_OK) rc = M->set_threads((size_t)o->threads);
  /* the input first, so that bad input leaves no --save-weights file */
  if (rc == TIMMC_OK && o->input) rc = timmc_npy_read_f32(o->input, 4, M->input_shape, in);
  uint8_t **crops = NULL;
  if (rc == TIMMC_OK && o->num_images) {
    if (o->save_png && !(crops = calloc((size_t)o->num_images, sizeof(*crops)))) {
      rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
    }
    if (rc == TIMMC_OK) rc = read_images(o, in, crops);
  }
  const int have_input = o->input || o->num_images;
  /* then OUT (made, and checked writable), so that a bad --outdir fails
   * before the work and leaves no --save-weights file either */
  timmc_file_set set = {0};
  int set_open = 0;
  if (rc == TIMMC_OK && o->outdir) {
    rc = timmc_file_set_begin(&set, o->outdir, "out", ".npy");
    set_open = rc == TIMMC_OK;
  }
  if (rc == TIMMC_OK) rc = load_weights(o);
  if (rc == TIMMC_OK && o->compare_f32) {
    rc = R->set_threads((size_t)o->threads);
    if (rc == TIMMC_OK) rc = R->init_file(o->compare_f32);
    if (rc == TIMMC_OK) rc = timmc_compare_f32(M, R, in);
    R->free();
  } else if (rc == TIMMC_OK && have_input) {
    rc = run_entry(o->entry, in, outs);
    if (rc == TIMMC_OK && o->save_png) rc = save_pngs(o->save_png, defs, n, outs, crops);
    if (rc == TIMMC_OK && o->outdir) rc = write_outputs(&set, defs, n, outs);
  }
  for (int i = 0; crops && i < o->num_images; i++) free(crops[i]);
  free(crops);
  if (set_open && rc != TIMMC_OK) timmc_file_set_abort(&set); /* safe after a commit too */
  if (rc == TIMMC_OK && o->bench) {
    if (!have_input) timmc_rand_fill(in, in_count, o->seed + 1, -1.0f, 1.0f);
    rc = bench(o, in, outs);
  }
  for (int i = 0; i < TIMMC_MAX_OUTPUTS + 1; i++) free(outs[i]);
  free(in);
  M->free();
  return rc;
}

int main(int argc, char **argv) {
  options o;
  if (parse_args(argc, argv, &o) != TIMMC_OK) return 2;
  /* SIGINT, SIGTERM and SIGHUP remove the temporary files being written */
  int rc = timmc_file_cleanup_on_signals();
  if (rc == TIMMC_OK) rc = run(&o);
  if (rc == TIMMC_OK) return 0;
  fprintf(stderr, "%s: %s\n", M->name, timmc_error());
  return rc == TIMMC_EINPUT ? 2 : 1;
}
