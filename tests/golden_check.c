/*
 * golden_check.c - compares timmc's output with timm's.
 *
 *   golden_check OURS.npy REF.npy TIMM_F32_ERR
 *
 * err = max|ours - ref| / max|ref| must not exceed tol = max(4 * TIMM_F32_ERR,
 * 1e-5), where TIMM_F32_ERR is how far timm's own float32 run strayed from
 * float64. Prints one line naming the worst element; exits 0 on PASS, 1 on
 * FAIL (a NaN in OURS always fails), 2 on bad input.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "timmc_npy.h"

static double at(const timmc_npy *a, size_t i) {
  return a->elsize == 4 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
}

static void print_shape(const timmc_npy *a) {
  printf("[");
  for (int i = 0; i < a->ndim; i++)
    printf("%s%lld", i ? ", " : "", (long long)a->shape[i]);
  printf("]");
}

/* Prints flat index I of A as a multi-index. */
static void print_index(const timmc_npy *a, size_t i) {
  printf("[");
  for (int d = 0; d < a->ndim; d++) {
    size_t stride = 1;
    for (int k = d + 1; k < a->ndim; k++)
      stride *= (size_t)a->shape[k];
    printf("%s%zu", d ? ", " : "", i / stride % (size_t)a->shape[d]);
  }
  printf("]");
}

/* Returns 0 (PASS), 1 (FAIL) or 2 (bad input). */
static int compare(const char *ours_path, const timmc_npy *ours, const char *ref_path,
                   const timmc_npy *ref, double timm_err) {
  if (ours->elsize != 4) {
    fprintf(stderr, "golden_check: %s: float64, but timmc writes float32\n", ours_path);
    return 2;
  }
  int same = ours->ndim == ref->ndim;
  for (int i = 0; same && i < ours->ndim; i++)
    same = ours->shape[i] == ref->shape[i];
  if (!same) {
    printf("golden %s: shape ", ours_path);
    print_shape(ours);
    printf(" but %s has ", ref_path);
    print_shape(ref);
    printf(" FAIL\n");
    return 1;
  }
  double max_ref = 0, max_diff = 0;
  size_t worst = 0, nan_at = ours->count;
  for (size_t i = 0; i < ours->count; i++) {
    double o = at(ours, i), r = at(ref, i), d = fabs(o - r);
    if (!isfinite(r)) {
      fprintf(stderr, "golden_check: %s: element %zu is %g, expected finite\n", ref_path, i, r);
      return 2;
    }
    if (isnan(o) && nan_at == ours->count)
      nan_at = i;
    if (fabs(r) > max_ref)
      max_ref = fabs(r);
    if (d > max_diff) {
      max_diff = d;
      worst = i;
    }
  }
  if (nan_at < ours->count)
    worst = nan_at;
  double err = nan_at < ours->count ? NAN : max_diff / (max_ref > 0 ? max_ref : 1);
  double tol = fmax(4 * timm_err, 1e-5);
  int pass = err <= tol;
  printf("golden %s: ", ours_path);
  if (ours->count == 0) {
    printf("empty array");
  } else {
    printf("worst element ");
    print_index(ours, worst);
    printf(" ours=%.8g ref=%.8g", at(ours, worst), at(ref, worst));
  }
  printf(" err=%.3g tol=%.3g ratio=%.3f %s\n", err, tol, err / tol, pass ? "PASS" : "FAIL");
  return !pass;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: golden_check OURS.npy REF.npy TIMM_F32_ERR\n");
    return 2;
  }
  char *end;
  double timm_err = strtod(argv[3], &end);
  if (*argv[3] == '\0' || *end != '\0' || !(timm_err >= 0) || isinf(timm_err)) {
    fprintf(stderr, "golden_check: TIMM_F32_ERR '%s' is not a non-negative number\n", argv[3]);
    return 2;
  }
  timmc_npy ours, ref;
  if (timmc_npy_load(argv[1], &ours) != TIMMC_OK) {
    fprintf(stderr, "golden_check: %s\n", timmc_error());
    return 2;
  }
  if (timmc_npy_load(argv[2], &ref) != TIMMC_OK) {
    fprintf(stderr, "golden_check: %s\n", timmc_error());
    timmc_npy_free(&ours);
    return 2;
  }
  int rc = compare(argv[1], &ours, argv[2], &ref, timm_err);
  timmc_npy_free(&ours);
  timmc_npy_free(&ref);
  return rc;
}
