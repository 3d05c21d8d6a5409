/*
 * timmc_npy.h - NumPy .npy files (versions 1.0, 2.0, 3.0) of float32/float64.
 */
#ifndef TIMMC_NPY_H
#define TIMMC_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

#define TIMMC_NPY_MAX_DIMS 8

typedef struct timmc_npy {
  char dtype; /* 'f' */
  int elsize; /* 4 or 8 */
  int ndim;
  int64_t shape[TIMMC_NPY_MAX_DIMS];
  void *data; /* malloc'd, count * elsize bytes, C order */
  size_t count;
} timmc_npy;

/* Validates the .npy image DATA (SIZE bytes; WHAT names it in messages) and
 * fills ARR with a malloc'd copy of its data: a little-endian '<f4' or '<f8'
 * C-order array. On failure ARR holds nothing. */
int timmc_npy_parse(const char *what, const void *data, size_t size, timmc_npy *arr);
/* timmc_npy_parse on the contents of PATH. */
int timmc_npy_load(const char *path, timmc_npy *arr);
void timmc_npy_free(timmc_npy *arr);

/* Loads PATH into DST, requiring float32 and exactly SHAPE. */
int timmc_npy_read_f32(const char *path, int ndim, const int64_t *shape, float *dst);
/* Writes a version 1.0 '<f4' C-order file atomically. */
int timmc_npy_write_f32(const char *path, int ndim, const int64_t *shape, const float *src);

#endif
