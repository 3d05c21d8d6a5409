/*
 * timmc_st.h - safetensors files: a validating reader over bytes in memory
 * and an atomic writer.
 *
 * Layout: u64 little-endian N, N bytes of JSON header, then the data area;
 * each header entry maps a tensor name to {"dtype", "shape", "data_offsets"}
 * with offsets relative to the start of the data area.
 */
#ifndef TIMMC_ST_H
#define TIMMC_ST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "timmc.h"

typedef struct timmc_st {
  const uint8_t *data; /* the whole file (not owned) */
  size_t size;
  const uint8_t *body; /* the data area */
  size_t body_size;
  cJSON *header;
  char *what;       /* file name used in messages */
  int check_finite; /* timmc_st_read_f32 rejects NaN and infinities */
  int release;      /* the data is a file mapping: give pages back once read */
} timmc_st;

/* The check_finite of every timmc_st opened from now on (default 0); the
 * runner's --check-finite sets it before init. */
void timmc_st_set_check_finite(int on);

/* Parses and validates the header of DATA (which must outlive st). On
 * failure st holds nothing that needs closing. */
int timmc_st_open(timmc_st *st, const void *data, size_t size, const char *what);
/* Converts tensor NAME (F32, F16 or BF16) to float32 into DST after checking
 * that its shape is exactly SHAPE; with st->check_finite, a NaN or infinity
 * among the values is an error naming the tensor and the element. */
int timmc_st_read_f32(const timmc_st *st, const char *name, int ndim,
                      const int64_t *shape, float *dst);
/* Tensor NAME, which must be I8 of exactly SHAPE, into DST (int8 checkpoints). */
int timmc_st_read_i8(const timmc_st *st, const char *name, int ndim, const int64_t *shape,
                     int8_t *dst);
/* Whether the file holds a tensor NAME. */
int timmc_st_has(const timmc_st *st, const char *name);
void timmc_st_close(timmc_st *st);

typedef struct timmc_st_entry {
  const char *name;
  const char *dtype; /* "F32", "I64", ... */
  int ndim;
  const int64_t *shape;
  const void *data;
  size_t nbytes;
} timmc_st_entry;

/* ENTRIES, in order, as the bytes of a safetensors file (malloc'd). */
int timmc_st_serialize(const timmc_st_entry *entries, size_t n, void **blob, size_t *size);
/* Writes ENTRIES, in order, to PATH atomically. */
int timmc_st_write(const char *path, const timmc_st_entry *entries, size_t n);

#endif
