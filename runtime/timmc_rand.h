/*
 * timmc_rand.h - reproducible random weights and inputs (--random-weights).
 * Each tensor draws from its own stream, seeded by the seed and its name, so
 * a tensor's values do not depend on which others the model has.
 */
#ifndef TIMMC_RAND_H
#define TIMMC_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

/* count floats uniform in [lo, hi) from stream `seed`. */
void timmc_rand_fill(float *dst, size_t count, uint64_t seed, float lo, float hi);

/* A safetensors file (in memory, malloc'd) holding every tensor of the state
 * dict, filled as its timmc_init says. */
int timmc_rand_state_dict(const timmc_tensor_spec *sd, size_t n, uint64_t seed, void **blob,
                          size_t *size);

#endif
