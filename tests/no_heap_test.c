/*
 * no_heap_test.c - proves that forward makes no heap call. malloc, calloc,
 * realloc, free and the aligned allocators are interposed (this executable's
 * definitions win over libc's for XNNPACK and pthreadpool too) and counted
 * while forward runs. Linked with one generated model: -DTIMMC_MODEL=NAME_model.
 * Usage: no_heap_test THREADS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc.h"
#include "timmc_rand.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int counting;
static volatile size_t calls;

void *malloc(size_t n) {
  if (counting) calls++;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  if (counting) calls++;
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  if (counting) calls++;
  return __libc_realloc(p, n);
}
void free(void *p) {
  if (counting && p) calls++;
  __libc_free(p);
}
void *aligned_alloc(size_t a, size_t n) {
  if (counting) calls++;
  return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n) {
  if (counting) calls++;
  return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n) {
  if (counting) calls++;
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12;
}

extern const timmc_model TIMMC_MODEL;

int main(int argc, char **argv) {
  const timmc_model *m = &TIMMC_MODEL;
  const size_t threads = argc > 1 ? (size_t)atoi(argv[1]) : 1;
  void *blob;
  size_t size;
  if (m->set_threads(threads) != TIMMC_OK ||
      timmc_rand_state_dict(m->state_dict, m->state_dict_len, 1, &blob, &size) != TIMMC_OK ||
      m->init(blob, size) != TIMMC_OK) {
    fprintf(stderr, "%s: %s\n", m->name, timmc_error());
    return 1;
  }
  free(blob);
  size_t in_count = 1;
  for (int d = 0; d < 4; d++) in_count *= (size_t)m->input_shape[d];
  float *in = malloc(in_count * sizeof(float));
  float *outs[TIMMC_MAX_OUTPUTS] = {0};
  for (int i = 0; i < m->num_outputs; i++) {
    size_t n = 1;
    for (int d = 0; d < m->outputs[i].ndim; d++) n *= (size_t)m->outputs[i].shape[d];
    outs[i] = malloc(n * sizeof(float));
  }
  timmc_rand_fill(in, in_count, 2, -1.0f, 1.0f);

  counting = 1; /* the counter itself must see a heap call */
  free(malloc(16));
  counting = 0;
  if (calls != 2) {
    fprintf(stderr, "the malloc interposer did not count (%zu calls)\n", (size_t)calls);
    return 1;
  }
  calls = 0;

  counting = 1;
  int rc = TIMMC_OK;
  for (int k = 0; k < 3 && rc == TIMMC_OK; k++) rc = m->forward(in, outs); /* the first too */
  counting = 0;

  printf("%s: %zu heap calls in 3 forwards on %zu threads\n", m->name, (size_t)calls, threads);
  for (int i = 0; i < m->num_outputs; i++) free(outs[i]);
  free(in);
  m->free();
  if (rc != TIMMC_OK) {
    fprintf(stderr, "%s: %s\n", m->name, timmc_error());
    return 1;
  }
  return calls == 0 ? 0 : 1;
}
