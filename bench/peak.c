/*
 * peak.c - this CPU's float32 multiply-add peak, in GFLOP/s (an FMA counts
 * as two FLOPs), at 1 thread and at N threads, as bench/bound.sh uses it.
 *
 * Usage: peak [-t THREADS] [-r RUNS] [-m MS] [-i avx512f|avx2|scalar]
 *
 * Each thread runs a loop of independent FMA chains in registers (16 zmm
 * accumulators with AVX-512F, 12 ymm with AVX2 and FMA, 8 scalars
 * otherwise; the instruction set is chosen at run time), so nothing but the
 * FMA units limits it: no loads, no stores, enough chains in flight to hide
 * the FMA latency. A run lasts about MS milliseconds (default 200); the
 * median of RUNS runs (default 7) is printed, after one warm-up run, at 1
 * thread and at THREADS threads (default: the online CPUs), all threads
 * started together and timed until the last one ends. -i asks for a narrower
 * instruction set than the widest the CPU has. Prints
 *
 *   cpu: MODEL NAME
 *   isa: avx512f | avx2+fma | scalar
 *   threads: N
 *   peak_gflops_1: X   (the median at 1 thread)
 *   peak_gflops_N: Y   (the median at THREADS threads, all of them together)
 *   best_gflops_1: X'  (the fastest run at 1 thread)
 *   best_gflops_N: Y'
 *
 * On a shared machine other work can only slow a run down, so the fastest
 * run is the closer figure for the hardware; bound.sh uses it.
 *
 * Built by bench/bound.sh (cc -O2 -pthread); no timmc code is used. The
 * figure is what the FMA units do at the clock the CPU holds under this
 * load; a real kernel also loads, stores and shuffles, so it stays below.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PEAK_X86 1
#endif

/* One chain step is acc = acc * b + c; b just below 1 and c small keep every
 * accumulator near c / (1 - b) = 1, far from overflow and denormals. */
static volatile float g_mul = 0.9999f, g_add = 1e-4f; /* read at run time: nothing folds */

/* Runs iters iterations; returns a sum of the accumulators (so the loop is
 * not dead code) and sets *flops to the FLOPs done. */
typedef float (*kernel_fn)(uint64_t iters, double *flops);

/* A different start for every chain: chains alike would be computed once. */
#define START(k) (1.0f + 0.001f * (float)(k))

#ifdef PEAK_X86
__attribute__((target("avx512f")))
static inline __m512 start512(int k) { return _mm512_set1_ps(START(k)); }

__attribute__((target("avx2")))
static inline __m256 start256(int k) { return _mm256_set1_ps(START(k)); }

__attribute__((target("avx512f")))
static float kernel_avx512(uint64_t iters, double *flops) {
  const __m512 b = _mm512_set1_ps(g_mul), c = _mm512_set1_ps(g_add);
  __m512 a0 = start512(0), a1 = start512(1), a2 = start512(2), a3 = start512(3),
         a4 = start512(4), a5 = start512(5), a6 = start512(6), a7 = start512(7),
         a8 = start512(8), a9 = start512(9), a10 = start512(10), a11 = start512(11),
         a12 = start512(12), a13 = start512(13), a14 = start512(14), a15 = start512(15);
  for (uint64_t i = 0; i < iters; i++) {
    a0 = _mm512_fmadd_ps(a0, b, c);
    a1 = _mm512_fmadd_ps(a1, b, c);
    a2 = _mm512_fmadd_ps(a2, b, c);
    a3 = _mm512_fmadd_ps(a3, b, c);
    a4 = _mm512_fmadd_ps(a4, b, c);
    a5 = _mm512_fmadd_ps(a5, b, c);
    a6 = _mm512_fmadd_ps(a6, b, c);
    a7 = _mm512_fmadd_ps(a7, b, c);
    a8 = _mm512_fmadd_ps(a8, b, c);
    a9 = _mm512_fmadd_ps(a9, b, c);
    a10 = _mm512_fmadd_ps(a10, b, c);
    a11 = _mm512_fmadd_ps(a11, b, c);
    a12 = _mm512_fmadd_ps(a12, b, c);
    a13 = _mm512_fmadd_ps(a13, b, c);
    a14 = _mm512_fmadd_ps(a14, b, c);
    a15 = _mm512_fmadd_ps(a15, b, c);
  }
  *flops = (double)iters * 16 * 16 * 2;
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                           _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15)));
  return _mm512_reduce_add_ps(_mm512_add_ps(s, t));
}

__attribute__((target("avx2,fma")))
static float kernel_avx2(uint64_t iters, double *flops) {
  const __m256 b = _mm256_set1_ps(g_mul), c = _mm256_set1_ps(g_add);
  __m256 a0 = start256(0), a1 = start256(1), a2 = start256(2), a3 = start256(3),
         a4 = start256(4), a5 = start256(5), a6 = start256(6), a7 = start256(7),
         a8 = start256(8), a9 = start256(9), a10 = start256(10), a11 = start256(11);
  for (uint64_t i = 0; i < iters; i++) {
    a0 = _mm256_fmadd_ps(a0, b, c);
    a1 = _mm256_fmadd_ps(a1, b, c);
    a2 = _mm256_fmadd_ps(a2, b, c);
    a3 = _mm256_fmadd_ps(a3, b, c);
    a4 = _mm256_fmadd_ps(a4, b, c);
    a5 = _mm256_fmadd_ps(a5, b, c);
    a6 = _mm256_fmadd_ps(a6, b, c);
    a7 = _mm256_fmadd_ps(a7, b, c);
    a8 = _mm256_fmadd_ps(a8, b, c);
    a9 = _mm256_fmadd_ps(a9, b, c);
    a10 = _mm256_fmadd_ps(a10, b, c);
    a11 = _mm256_fmadd_ps(a11, b, c);
  }
  *flops = (double)iters * 12 * 8 * 2;
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float v[8];
  _mm256_storeu_ps(v, s);
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#endif

static float kernel_scalar(uint64_t iters, double *flops) {
  const float b = g_mul, c = g_add;
  float a0 = START(0), a1 = START(1), a2 = START(2), a3 = START(3), a4 = START(4),
        a5 = START(5), a6 = START(6), a7 = START(7);
  for (uint64_t i = 0; i < iters; i++) {
    a0 = a0 * b + c;
    a1 = a1 * b + c;
    a2 = a2 * b + c;
    a3 = a3 * b + c;
    a4 = a4 * b + c;
    a5 = a5 * b + c;
    a6 = a6 * b + c;
    a7 = a7 * b + c;
  }
  *flops = (double)iters * 8 * 2;
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The threads of one run: all wait at the barrier, then run the kernel. */
typedef struct job {
  kernel_fn kernel;
  uint64_t iters;
  pthread_barrier_t *start;
  double flops;
  float sink;
} job;

static void *worker(void *arg) {
  job *j = arg;
  pthread_barrier_wait(j->start);
  j->sink = j->kernel(j->iters, &j->flops);
  return NULL;
}

/* One run at nthreads threads: GFLOP/s of all of them together, timed from
 * the release of the barrier (the main thread is one of the waiters) to the
 * end of the last thread. */
static double run(kernel_fn kernel, uint64_t iters, int nthreads, float *sink) {
  pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
  job *jobs = calloc((size_t)nthreads, sizeof *jobs);
  pthread_barrier_t start;
  if (!tid || !jobs) {
    fprintf(stderr, "peak: out of memory\n");
    exit(1);
  }
  pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
  for (int i = 0; i < nthreads; i++) {
    jobs[i] = (job){ kernel, iters, &start, 0, 0 };
    if (pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0) {
      fprintf(stderr, "peak: cannot start thread %d\n", i);
      exit(1);
    }
  }
  pthread_barrier_wait(&start);
  double t0 = now_s();
  double flops = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(tid[i], NULL);
    flops += jobs[i].flops;
    *sink += jobs[i].sink;
  }
  double secs = now_s() - t0;
  pthread_barrier_destroy(&start);
  free(jobs);
  free(tid);
  return flops / secs * 1e-9;
}

/* The median GFLOP/s of runs runs at nthreads threads, each about ms long;
 * *best: the fastest run. */
static double peak(kernel_fn kernel, int nthreads, int runs, double ms, double *best,
                   float *sink) {
  /* iterations for ms milliseconds, from a 20 ms probe on one thread */
  double flops = 0;
  uint64_t iters = 1u << 16;
  for (;;) {
    double t0 = now_s();
    *sink += kernel(iters, &flops);
    double secs = now_s() - t0;
    if (secs > 0.02) {
      iters = (uint64_t)((double)iters * (ms * 1e-3) / secs) + 1;
      break;
    }
    iters *= 2;
  }
  double *g = calloc((size_t)runs, sizeof *g);
  if (!g) {
    fprintf(stderr, "peak: out of memory\n");
    exit(1);
  }
  run(kernel, iters, nthreads, sink); /* warm-up: clocks and threads settle */
  for (int r = 0; r < runs; r++) g[r] = run(kernel, iters, nthreads, sink);
  qsort(g, (size_t)runs, sizeof *g, cmp_double);
  double median = g[(runs - 1) / 2];
  *best = g[runs - 1];
  free(g);
  return median;
}

static void cpu_name(char *buf, size_t size) {
  snprintf(buf, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *v = strchr(line, ':');
    if (!v) continue;
    v++;
    while (*v == ' ' || *v == '\t') v++;
    v[strcspn(v, "\n")] = '\0';
    snprintf(buf, size, "%s", v);
    break;
  }
  fclose(f);
}

static void usage(void) {
  fprintf(stderr, "usage: peak [-t THREADS] [-r RUNS] [-m MS] [-i avx512f|avx2|scalar]\n");
  exit(2);
}

int main(int argc, char **argv) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  int nthreads = online > 0 ? (int)online : 1, runs = 7;
  double ms = 200;
  const char *want = "avx512f";
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "-t") == 0) nthreads = atoi(argv[++i]);
    else if (strcmp(argv[i], "-r") == 0) runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "-m") == 0) ms = atof(argv[++i]);
    else if (strcmp(argv[i], "-i") == 0) want = argv[++i];
    else usage();
  }
  if (nthreads < 1 || runs < 1 || !(ms > 0)) usage();
  int max_level = strcmp(want, "avx512f") == 0 ? 2 : strcmp(want, "avx2") == 0 ? 1
                : strcmp(want, "scalar") == 0 ? 0 : -1;
  if (max_level < 0) usage();

  kernel_fn kernel = kernel_scalar;
  const char *isa = "scalar";
#ifdef PEAK_X86
  __builtin_cpu_init();
  if (max_level >= 2 && __builtin_cpu_supports("avx512f")) {
    kernel = kernel_avx512;
    isa = "avx512f";
  } else if (max_level >= 1 && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma")) {
    kernel = kernel_avx2;
    isa = "avx2+fma";
  }
#endif
  char cpu[256];
  cpu_name(cpu, sizeof cpu);
  float sink = 0;
  double b1, bn;
  double p1 = peak(kernel, 1, runs, ms, &b1, &sink);
  double pn = p1;
  bn = b1;
  if (nthreads > 1) pn = peak(kernel, nthreads, runs, ms, &bn, &sink);
  printf("cpu: %s\n", cpu);
  printf("isa: %s\n", isa);
  printf("threads: %d\n", nthreads);
  printf("peak_gflops_1: %.1f\n", p1);
  printf("peak_gflops_N: %.1f\n", pn);
  printf("best_gflops_1: %.1f\n", b1);
  printf("best_gflops_N: %.1f\n", bn);
  /* the accumulators stay near 1; this line never prints, but the compiler
   * cannot know it */
  if (sink < 0) printf("sink: %g\n", sink);
  return 0;
}
