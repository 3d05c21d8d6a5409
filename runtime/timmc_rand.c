/*
 * timmc_rand.c - splitmix64 streams for reproducible weights and inputs.
 */
#include "timmc_rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_st.h"

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void timmc_rand_fill(float *dst, size_t count, uint64_t seed, float lo, float hi) {
  uint64_t state = seed;
  for (size_t i = 0; i < count; i++) {
    const float u = (float)(splitmix64(&state) >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
    dst[i] = lo + (hi - lo) * u;
  }
}

static uint64_t name_seed(uint64_t seed, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    h = (h ^ *p) * 0x100000001b3ull;
  }
  return h;
}

int timmc_rand_state_dict(const timmc_tensor_spec *sd, size_t n, uint64_t seed, void **blob,
                          size_t *size) {
  timmc_st_entry *entries = calloc(n ? n : 1, sizeof(*entries));
  void **data = calloc(n ? n : 1, sizeof(*data));
  int rc = entries && data ? TIMMC_OK : timmc_fail(TIMMC_ERUNTIME, "out of memory");
  for (size_t i = 0; rc == TIMMC_OK && i < n; i++) {
    const timmc_tensor_spec *t = &sd[i];
    size_t count = 1, fan_in = 1;
    for (int d = 0; d < t->ndim; d++) {
      count *= (size_t)t->shape[d];
      if (d > 0) fan_in *= (size_t)t->shape[d];
    }
    const int is_count = t->init == TIMMC_INIT_COUNT;
    const size_t nbytes = count * (is_count ? sizeof(int64_t) : sizeof(float));
    if (!(data[i] = calloc(1, nbytes ? nbytes : 1))) {
      rc = timmc_fail(TIMMC_ERUNTIME, "out of memory");
      break;
    }
    const uint64_t s = name_seed(seed, t->name);
    switch (t->init) {
      case TIMMC_INIT_FAN_IN: {
        const float a = sqrtf(3.0f / (float)fan_in);
        timmc_rand_fill(data[i], count, s, -a, a);
        break;
      }
      case TIMMC_INIT_BIAS: timmc_rand_fill(data[i], count, s, -0.1f, 0.1f); break;
      case TIMMC_INIT_SCALE: timmc_rand_fill(data[i], count, s, 0.5f, 1.5f); break;
      case TIMMC_INIT_COUNT: break; /* num_batches_tracked = 0 */
    }
    entries[i] = (timmc_st_entry){t->name, is_count ? "I64" : "F32", t->ndim, t->shape, data[i],
                                  nbytes};
  }
  if (rc == TIMMC_OK) rc = timmc_st_serialize(entries, n, blob, size);
  for (size_t i = 0; data && i < n; i++) free(data[i]);
  free(data);
  free(entries);
  return rc;
}
