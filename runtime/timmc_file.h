/*
 * timmc_file.h - read-only file mappings and atomic (temp file + rename) writes.
 */
#ifndef TIMMC_FILE_H
#define TIMMC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "timmc.h"

/* Maps PATH read-only (an empty file gives size 0); unmap with
 * timmc_file_unmap. */
int timmc_file_map(const char *path, const void **data, size_t *size);
void timmc_file_unmap(const void *data, size_t size);
/* Gives back the whole pages of a mapped range that was read (it reads back
 * from the file if touched again), so a checkpoint's pages do not pile up
 * while init packs its weights. */
void timmc_file_release(const void *data, size_t size);

/*
 * An atomic writer: data goes to PATH.tmp.XXXXXX in the same directory and is
 * renamed onto PATH by timmc_file_commit. After any failure, or after
 * timmc_file_abort, neither PATH nor the temporary file has been touched or
 * left behind; later calls return the same status and change nothing.
 */
typedef struct timmc_file_writer {
  FILE *f;
  char *tmp_path;
  char *path;
  int failed; /* status of the first failure, 0 while all is well */
} timmc_file_writer;

int timmc_file_begin(timmc_file_writer *w, const char *path);
int timmc_file_put(timmc_file_writer *w, const void *data, size_t n);
int timmc_file_commit(timmc_file_writer *w);
/* Closes and removes the temporary file; safe to call in any state. */
void timmc_file_abort(timmc_file_writer *w);
/* The whole of DATA to PATH through the atomic writer. */
int timmc_file_write(const char *path, const void *data, size_t n);

#endif
