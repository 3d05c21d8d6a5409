/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader.
 *
 * Any input: timmc_st_open must either reject it or accept a header whose
 * every tensor timmc_st_read_f32 can read (with and without check_finite)
 * without touching bytes outside the file. An accepted file must survive a
 * round trip through timmc_st_serialize byte for byte. Built by run.sh or
 * CMake's TIMMC_FUZZ.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_st.h"

#define MAX_READ (1u << 20) /* floats read per tensor, to keep runs fast */

static void require(int ok) {
  if (!ok)
    __builtin_trap();
}

/* The shape of header entry E as int64s (malloc'd), its ndim and numel. */
static int64_t *entry_shape(const cJSON *e, int *ndim, uint64_t *numel) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
  int n = cJSON_GetArraySize(shape);
  int64_t *s = malloc(((size_t)n + 1) * sizeof *s);
  require(s != NULL);
  uint64_t count = 1;
  int i = 0;
  for (const cJSON *d = shape->child; d != NULL; d = d->next, i++) {
    s[i] = (int64_t)d->valuedouble;
    count = count > MAX_READ ? count : count * (uint64_t)s[i];
  }
  *ndim = n;
  *numel = count;
  return s;
}

static int is_float(const char *dtype) {
  return !strcmp(dtype, "F32") || !strcmp(dtype, "F16") || !strcmp(dtype, "BF16");
}

/* Reads every float tensor of ST, with an exactly sized buffer. */
static void read_all(timmc_st *st) {
  for (const cJSON *e = st->header->child; e != NULL; e = e->next) {
    if (!strcmp(e->string, "__metadata__"))
      continue;
    int ndim;
    uint64_t numel;
    int64_t *shape = entry_shape(e, &ndim, &numel);
    const char *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
    if (numel <= MAX_READ) {
      float *dst = malloc(numel ? numel * sizeof(float) : 1);
      require(dst != NULL);
      int status = timmc_st_read_f32(st, e->string, ndim, shape, dst);
      require(status == TIMMC_OK ? is_float(dtype)
                                 : status == TIMMC_EINPUT && (!is_float(dtype) ||
                                                              st->check_finite));
      if (ndim > 0) { /* a wrong shape is always refused */
        shape[0]++;
        require(timmc_st_read_f32(st, e->string, ndim, shape, dst) == TIMMC_EINPUT);
      }
      free(dst);
    }
    free(shape);
  }
  require(timmc_st_read_f32(st, "__metadata__", 0, NULL, NULL) == TIMMC_EINPUT);
}

/* Writes the tensors of ST with timmc_st_serialize and checks that the
 * result opens and holds the same dtypes, shapes and bytes. */
static void round_trip(const timmc_st *st) {
  size_t n = 0;
  for (const cJSON *e = st->header->child; e != NULL; e = e->next)
    n += strcmp(e->string, "__metadata__") != 0;
  timmc_st_entry *entries = calloc(n + 1, sizeof *entries);
  int64_t **shapes = calloc(n + 1, sizeof *shapes);
  require(entries != NULL && shapes != NULL);
  size_t k = 0;
  for (const cJSON *e = st->header->child; e != NULL; e = e->next) {
    if (!strcmp(e->string, "__metadata__"))
      continue;
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t begin = (uint64_t)offs->child->valuedouble;
    uint64_t end = (uint64_t)offs->child->next->valuedouble;
    uint64_t numel;
    timmc_st_entry *t = &entries[k];
    t->name = e->string;
    t->dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
    t->shape = shapes[k] = entry_shape(e, &t->ndim, &numel);
    t->data = st->body + begin;
    t->nbytes = (size_t)(end - begin);
    k++;
  }
  void *blob;
  size_t size;
  require(timmc_st_serialize(entries, n, &blob, &size) == TIMMC_OK);
  timmc_st again;
  require(timmc_st_open(&again, blob, size, "round trip") == TIMMC_OK);
  size_t at = 0;
  for (const cJSON *e = again.header->child; e != NULL; e = e->next, at++) {
    const timmc_st_entry *t = &entries[at];
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    require(at < n && !strcmp(e->string, t->name));
    require(!strcmp(cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring, t->dtype));
    require(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "shape")) == t->ndim);
    uint64_t begin = (uint64_t)offs->child->valuedouble;
    require((uint64_t)offs->child->next->valuedouble - begin == t->nbytes);
    require(t->nbytes == 0 || memcmp(again.body + begin, t->data, t->nbytes) == 0);
  }
  require(at == n);
  timmc_st_close(&again);
  free(blob);
  for (size_t i = 0; i < n; i++)
    free(shapes[i]);
  free(shapes);
  free(entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  timmc_st st;
  timmc_fail(TIMMC_OK, "%s", ""); /* so a rejection must write its own message */
  if (timmc_st_open(&st, data, size, "fuzz.safetensors") != TIMMC_OK) {
    require(timmc_error()[0] != '\0' && st.header == NULL);
    return 0;
  }
  read_all(&st);
  st.check_finite = 1;
  read_all(&st);
  round_trip(&st);
  timmc_st_close(&st);
  return 0;
}
