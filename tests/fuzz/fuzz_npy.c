/*
 * fuzz_npy.c - libFuzzer target for the .npy reader (timmc_npy_parse, the
 * code behind timmc_npy_load and --input).
 *
 * Any input: either rejected with a message, or accepted as a float32 or
 * float64 C-order array whose data exactly fills the rest of the file; an
 * accepted float32 array must read back the same after timmc_npy_write_f32.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timmc_file.h"
#include "timmc_npy.h"

static void require(int ok) {
  if (!ok)
    __builtin_trap();
}

static char dir[] = "/dev/shm/timmc_fuzz_npy.XXXXXX", path[64];

static void remove_dir(void) {
  unlink(path);
  rmdir(dir);
}

/* Writes ARR with timmc_npy_write_f32 and parses it again. */
static void round_trip(const timmc_npy *arr) {
  if (path[0] == '\0') {
    if (access("/dev/shm", W_OK) != 0) /* tmpfs keeps fsync cheap; else /tmp */
      memcpy(dir, "/tmp/timmc_fuzz_npy.XXXXXX", sizeof "/tmp/timmc_fuzz_npy.XXXXXX");
    require(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    atexit(remove_dir);
  }
  require(timmc_npy_write_f32(path, arr->ndim, arr->shape, arr->data) == TIMMC_OK);
  timmc_npy again;
  require(timmc_npy_load(path, &again) == TIMMC_OK);
  require(again.elsize == 4 && again.ndim == arr->ndim && again.count == arr->count);
  require(memcmp(again.shape, arr->shape, sizeof arr->shape[0] * (size_t)arr->ndim) == 0);
  require(arr->count == 0 || memcmp(again.data, arr->data, arr->count * 4) == 0);
  timmc_npy_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  timmc_npy arr;
  timmc_fail(TIMMC_OK, "%s", ""); /* so a rejection must write its own message */
  int status = timmc_npy_parse("fuzz.npy", data, size, &arr);
  if (status != TIMMC_OK) {
    require(status == TIMMC_EINPUT && arr.data == NULL && timmc_error()[0] != '\0');
    return 0;
  }
  require(arr.dtype == 'f' && (arr.elsize == 4 || arr.elsize == 8));
  require(arr.ndim >= 0 && arr.ndim <= TIMMC_NPY_MAX_DIMS && arr.data != NULL);
  size_t count = 1;
  for (int i = 0; i < arr.ndim; i++)
    count *= (size_t)arr.shape[i];
  require(count == arr.count && count * (size_t)arr.elsize <= size);
  require(arr.count == 0 ||
          memcmp(arr.data, data + size - count * (size_t)arr.elsize,
                 count * (size_t)arr.elsize) == 0);
  if (arr.elsize == 4 && arr.count <= 4096)
    round_trip(&arr);
  timmc_npy_free(&arr);
  return 0;
}
