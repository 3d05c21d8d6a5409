/*
 * timmc_cm_runner.c - the runner of a Cortex-M firmware image (timmc build
 * --target cortex-m): the model of the portable backend on its const weights
 * (NAME_weights.c), host files read and written through semihosting
 * (newlib's rdimon: fopen on the host, argv from SYS_GET_CMDLINE, which
 * qemu's -append gives). The host runner's flags where they make sense:
 *   --input IN.npy    float32 [N, C, H, W] as timm takes it
 *   --outdir OUT      OUT/out0.npy, out1.npy, ... (OUT must exist)
 *   --entry E         forward (default), forward_features, forward_head_pre_logits
 *   --info            JSON: shapes, arena, packed weights, flash and RAM of this image
 *   --bench N         N forwards; instructions per forward from SysTick, exact
 *                     under qemu's -icount shift=0 (one instruction a nanosecond)
 * Compiled with -DTIMMC_MODEL=NAME_model -DTIMMC_INIT_CONST=NAME_init_const.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc.h"
#include "timmc_cm.h"

extern const timmc_model TIMMC_MODEL;
int TIMMC_INIT_CONST(void);
static const timmc_model *const M = &TIMMC_MODEL;

static const char USAGE[] =
    "usage: %s [--input IN.npy] [--outdir OUT] [--info] [--bench N]\n"
    "          [--entry forward|forward_features|forward_head_pre_logits]\n";

static size_t numel(const timmc_output *o) {
  size_t n = 1;
  for (int i = 0; i < o->ndim; i++) n *= (size_t)o->shape[i];
  return n;
}

/* The outputs of an entry point: how many and their shapes. */
static const timmc_output *entry_outputs(const char *entry, int *n) {
  *n = 1;
  if (!strcmp(entry, "forward_features")) return M->features;
  if (!strcmp(entry, "forward_head_pre_logits")) return M->pre_logits;
  *n = M->num_outputs;
  return M->outputs;
}

static void print_shape(const timmc_output *o) {
  printf("[");
  for (int i = 0; i < o->ndim; i++) printf("%s%lld", i ? ", " : "", (long long)o->shape[i]);
  printf("]");
}

static void print_info(const char *entry) {
  int n;
  const timmc_output *outs = entry_outputs(entry, &n);
  timmc_cm_size size;
  timmc_cm_image_size(&size);
  printf("{\"name\": \"%s\", \"architecture\": \"%s\", \"target\": \"cortex-m\", "
         "\"input\": [%lld, %lld, %lld, %lld], \"outputs\": [", M->name, M->architecture,
         (long long)M->input_shape[0], (long long)M->input_shape[1],
         (long long)M->input_shape[2], (long long)M->input_shape[3]);
  for (int i = 0; i < n; i++) {
    printf("%s{\"module\": \"%s\", \"num_chs\": %d, \"reduction\": %d, \"shape\": ", i ? ", " : "",
           outs[i].info.module, outs[i].info.num_chs, outs[i].info.reduction);
    print_shape(&outs[i]);
    printf("}");
  }
  printf("], \"arena_bytes\": %lu, \"arena_lower_bound_bytes\": %lu, \"weights_bytes\": %lu, "
         "\"flops\": %.0f, \"flash_bytes\": %lu, \"text_bytes\": %lu, \"rodata_bytes\": %lu, "
         "\"ram_bytes\": %lu, \"data_bytes\": %lu, \"bss_bytes\": %lu}\n",
         (unsigned long)M->arena_bytes, (unsigned long)M->arena_lower_bound_bytes,
         (unsigned long)M->weights_bytes, M->flops, (unsigned long)(size.text + size.rodata),
         (unsigned long)size.text, (unsigned long)size.rodata,
         (unsigned long)(size.data + size.bss), (unsigned long)size.data,
         (unsigned long)size.bss);
}

static int run_entry(const char *entry, const float *in, float *const outs[]) {
  if (!strcmp(entry, "forward_features")) return M->forward_features(in, outs[0]);
  if (!strcmp(entry, "forward_head_pre_logits")) {
    int rc = M->forward_features(in, outs[1]);
    return rc == TIMMC_OK ? M->forward_head(outs[1], outs[0], 1) : rc;
  }
  return M->forward(in, outs);
}

int main(int argc, char **argv) {
  const char *input = NULL, *outdir = NULL, *entry = "forward";
  const char *prog = argc > 0 ? argv[0] : M->name;
  long bench = 0;
  int info = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const int has_value = i + 1 < argc;
    if (!strcmp(a, "--info")) {
      info = 1;
    } else if (!strcmp(a, "--input") && has_value) {
      input = argv[++i];
    } else if (!strcmp(a, "--outdir") && has_value) {
      outdir = argv[++i];
    } else if (!strcmp(a, "--entry") && has_value) {
      entry = argv[++i];
    } else if (!strcmp(a, "--bench") && has_value) {
      char *end;
      bench = strtol(argv[++i], &end, 10);
      if (*end || bench < 1) {
        fprintf(stderr, "%s: --bench '%s': expected a count >= 1\n", prog, argv[i]);
        return 2;
      }
    } else {
      fprintf(stderr, USAGE, prog);
      return 2;
    }
  }
  if (strcmp(entry, "forward") && (M->features_only || (strcmp(entry, "forward_features") &&
                                                        strcmp(entry, "forward_head_pre_logits")))) {
    fprintf(stderr, "%s: --entry '%s': expected forward%s\n", prog, entry,
            M->features_only ? " (a features_only model)"
                             : ", forward_features or forward_head_pre_logits");
    return 2;
  }
  if (info) {
    print_info(entry);
    return 0;
  }
  if (!input && !bench) {
    /* semihosting (newlib's rdimon) drops a command line over 255 characters,
     * this image's path included: it arrives with no arguments */
    fprintf(stderr, "%s: needs --input IN.npy or --bench N%s\n", prog,
            argc <= 1 ? " (no arguments arrived: semihosting passes at most 255 characters "
                        "of command line, the image's path included)" : "");
    return 2;
  }
  int n;
  const timmc_output *defs = entry_outputs(entry, &n);
  const size_t in_count = (size_t)(M->input_shape[0] * M->input_shape[1] *
                                   M->input_shape[2] * M->input_shape[3]);
  float *in = calloc(in_count, sizeof(float));
  float *outs[TIMMC_MAX_OUTPUTS + 1] = {0};
  int rc = in ? TIMMC_OK : timmc_fail(TIMMC_ERUNTIME, "out of memory for the input");
  for (int i = 0; rc == TIMMC_OK && i < n; i++) {
    if (!(outs[i] = malloc(numel(&defs[i]) * sizeof(float)))) {
      rc = timmc_fail(TIMMC_ERUNTIME, "out of memory for output %d", i);
    }
  }
  if (rc == TIMMC_OK && !strcmp(entry, "forward_head_pre_logits") &&
      !(outs[1] = malloc(numel(M->features) * sizeof(float)))) {
    rc = timmc_fail(TIMMC_ERUNTIME, "out of memory for the features");
  }
  if (rc == TIMMC_OK && input) rc = timmc_cm_read_npy(input, M->input_shape, in, in_count);
  if (rc == TIMMC_OK) rc = TIMMC_INIT_CONST();
  if (rc == TIMMC_OK && input) {
    rc = run_entry(entry, in, outs);
    for (int i = 0; rc == TIMMC_OK && outdir && i < n; i++) {
      char path[1024];
      snprintf(path, sizeof(path), "%s/out%d.npy", outdir, i);
      rc = timmc_cm_write_npy(path, &defs[i], outs[i]);
    }
  }
  if (rc == TIMMC_OK && bench) {
    timmc_cm_ticks_start();
    const unsigned long long t0 = timmc_cm_ticks();
    for (long i = 0; rc == TIMMC_OK && i < bench; i++) rc = run_entry(entry, in, outs);
    const unsigned long long ticks = timmc_cm_ticks() - t0;
    if (rc == TIMMC_OK) {
      printf("model: %s entry: %s runs: %ld\n", M->name, entry, bench);
      printf("systick_per_forward: %llu\n", ticks / (unsigned long long)bench);
      /* SysTick counts the 25 MHz clock of virtual time; -icount shift=0
       * makes an instruction one nanosecond of it: 40 per tick */
      printf("instructions_per_forward: %llu\n",
             ticks * TIMMC_CM_NS_PER_TICK / (unsigned long long)bench);
    }
  }
  for (int i = 0; i < TIMMC_MAX_OUTPUTS + 1; i++) free(outs[i]);
  free(in);
  M->free();
  if (rc == TIMMC_OK) return 0;
  fprintf(stderr, "%s: %s\n", M->name, timmc_error());
  return rc == TIMMC_EINPUT ? 2 : 1;
}
