/*
 * timmc_st.c - safetensors reader and writer.
 */
#define _POSIX_C_SOURCE 200809L
#include "timmc_st.h"

#define XNN_PAD 16 /* readable bytes past the end, as XNNPACK asks of inputs */

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "timmc_st.c assumes a little-endian host"
#endif

#define MAX_HEADER (100u * 1024 * 1024)
#define MAX_EXACT 9007199254740992.0 /* 2^53: larger JSON numbers are inexact */

#define TIMMC_ST_TRY(expr)       \
  do {                           \
    int rc_ = (expr);            \
    if (rc_ != TIMMC_OK) return rc_; \
  } while (0)

/* Every dtype of the safetensors format; a header naming any other is rejected. */
static const struct {
  const char *name;
  int size;
} dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};
#define DTYPE_LIST "BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, " \
                   "F64, I64, U64"

static int default_check_finite;

void timmc_st_set_check_finite(int on) { default_check_finite = on != 0; }

/* Bytes per element, or 0 for a dtype that is not in the format. */
static int dtype_size(const char *name) {
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (strcmp(dtypes[i].name, name) == 0)
      return dtypes[i].size;
  return 0;
}

static int get_u64(const cJSON *item, uint64_t *v) {
  if (!cJSON_IsNumber(item))
    return 0;
  double d = item->valuedouble;
  if (!(d >= 0 && d <= MAX_EXACT) || (double)(uint64_t)d != d)
    return 0;
  *v = (uint64_t)d;
  return 1;
}

/* Element count of a validated shape array; sets *overflow if it exceeds u64. */
static uint64_t json_numel(const cJSON *shape, int *overflow) {
  uint64_t n = 1;
  int zero = 0;
  *overflow = 0;
  for (const cJSON *d = shape->child; d != NULL; d = d->next) {
    uint64_t v = (uint64_t)d->valuedouble;
    if (v == 0)
      zero = 1;
    else if (n > UINT64_MAX / v)
      *overflow = 1;
    else
      n *= v;
  }
  if (zero)
    *overflow = 0;
  return zero ? 0 : n;
}

static void format_json_shape(char *buf, size_t cap, const cJSON *shape) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (const cJSON *d = shape->child; d != NULL && len < cap; d = d->next)
    len += (size_t)snprintf(buf + len, cap - len, "%s%.0f", d == shape->child ? "" : ", ",
                            d->valuedouble);
  if (len < cap)
    snprintf(buf + len, cap - len, "]");
}

typedef struct range {
  const char *name;
  uint64_t begin, end;
} range;

static int by_name(const void *a, const void *b) {
  return strcmp(((const range *)a)->name, ((const range *)b)->name);
}

static int by_begin(const void *a, const void *b) {
  const range *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Checks one header entry and stores its byte range in *r. */
static int check_entry(const timmc_st *st, const cJSON *e, range *r) {
  const char *what = st->what, *name = e->string;
  if (!cJSON_IsObject(e))
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s': header entry is not an object", what, name);
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsString(dtype))
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s': \"dtype\" is missing or not a string",
                      what, name);
  int ok = cJSON_IsArray(shape);
  uint64_t v;
  for (const cJSON *d = ok ? shape->child : NULL; d != NULL; d = d->next)
    ok = ok && get_u64(d, &v);
  if (!ok)
    return timmc_fail(TIMMC_EINPUT,
                      "%s: tensor '%s': \"shape\" is missing or not a list of non-negative integers",
                      what, name);
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
      !get_u64(offs->child, &r->begin) || !get_u64(offs->child->next, &r->end))
    return timmc_fail(TIMMC_EINPUT,
                      "%s: tensor '%s': \"data_offsets\" is missing or not two non-negative "
                      "integers [begin, end]",
                      what, name);
  r->name = name;
  int size = dtype_size(dtype->valuestring), overflow;
  if (size == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s': unknown dtype '%.32s', expected one of "
                      DTYPE_LIST, what, name, dtype->valuestring);
  if (r->begin > r->end)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                      "] end before they begin", what, name, r->begin, r->end);
  if (r->end > st->body_size)
    return timmc_fail(TIMMC_EINPUT, "%s: truncated: tensor '%s' ends at byte %" PRIu64
                      " of the data area but the file holds only %zu bytes of data (file is "
                      "%zu bytes, expected at least %" PRIu64 ")",
                      what, name, r->end, st->body_size, st->size,
                      (uint64_t)(st->body - st->data) + r->end);
  uint64_t numel = json_numel(shape, &overflow);
  if (numel > UINT64_MAX / (uint64_t)size)
    overflow = 1;
  if (overflow || numel * (uint64_t)size != r->end - r->begin) {
    char s[256];
    format_json_shape(s, sizeof s, shape);
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s': %s %s takes %s%" PRIu64 " bytes but "
                      "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                      what, name, dtype->valuestring, s, overflow ? "more than " : "",
                      overflow ? UINT64_MAX : numel * (uint64_t)size, r->begin, r->end,
                      r->end - r->begin);
  }
  return TIMMC_OK;
}

/* The first control character (or DEL) in NAME, or NULL. */
static const char *control_char(const char *name) {
  for (const char *p = name; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return p;
  return NULL;
}

static int check_metadata(const timmc_st *st, const cJSON *m) {
  int ok = cJSON_IsObject(m);
  for (const cJSON *e = ok ? m->child : NULL; e != NULL; e = e->next)
    ok = ok && cJSON_IsString(e);
  if (!ok)
    return timmc_fail(TIMMC_EINPUT, "%s: \"__metadata__\" is not an object of strings", st->what);
  return TIMMC_OK;
}

/* Rejects duplicate names and overlapping byte ranges (empty ranges overlap
 * nothing). Sorts R. */
static int check_ranges(const timmc_st *st, range *r, size_t n) {
  qsort(r, n, sizeof *r, by_name);
  for (size_t i = 1; i < n; i++)
    if (strcmp(r[i - 1].name, r[i].name) == 0)
      return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' appears more than once in the header",
                        st->what, r[i].name);
  qsort(r, n, sizeof *r, by_begin);
  const range *last = NULL; /* the non-empty range reaching furthest so far */
  for (size_t i = 0; i < n; i++) {
    if (r[i].begin == r[i].end)
      continue;
    if (last != NULL && r[i].begin < last->end)
      return timmc_fail(TIMMC_EINPUT, "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%"
                        PRIu64 ", %" PRIu64 ") overlap in the data area",
                        st->what, last->name, last->begin, last->end, r[i].name,
                        r[i].begin, r[i].end);
    if (last == NULL || r[i].end > last->end)
      last = &r[i];
  }
  return TIMMC_OK;
}

static int check_header(timmc_st *st) {
  size_t n = 0;
  for (const cJSON *e = st->header->child; e != NULL; e = e->next)
    n++;
  range *r = malloc((n ? n : 1) * sizeof *r);
  if (r == NULL)
    return timmc_fail(TIMMC_EINPUT, "%s: out of memory checking %zu header entries", st->what, n);
  size_t k = 0;
  int status = TIMMC_OK, metadata = 0;
  for (const cJSON *e = st->header->child; e != NULL && status == TIMMC_OK; e = e->next) {
    const char *bad = control_char(e->string);
    if (bad != NULL)
      status = timmc_fail(TIMMC_EINPUT, "%s: tensor name '%s' holds control character 0x%02x "
                          "at byte %td, expected printable names", st->what, e->string,
                          (unsigned char)*bad, bad - e->string);
    else if (strcmp(e->string, "__metadata__") != 0)
      status = check_entry(st, e, &r[k++]);
    else if (metadata++)
      status = timmc_fail(TIMMC_EINPUT, "%s: \"__metadata__\" appears more than once in the "
                          "header", st->what);
    else
      status = check_metadata(st, e);
  }
  if (status == TIMMC_OK)
    status = check_ranges(st, r, k);
  free(r);
  return status;
}

/* The offset of the first NUL in the JSON TEXT, raw or escaped as \u0000
 * inside a string, or -1. cJSON keeps strings NUL-terminated, so a name
 * "fc.bias\u0000x" would read as "fc.bias" and match it. */
static ptrdiff_t find_nul(const char *text, size_t n) {
  int in_string = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] == '\0')
      return (ptrdiff_t)i;
    if (text[i] == '"') {
      in_string = !in_string;
    } else if (in_string && text[i] == '\\') {
      if (i + 6 <= n && text[i + 1] == 'u' && memcmp(text + i + 2, "0000", 4) == 0)
        return (ptrdiff_t)i;
      i++; /* the escaped character, which may be a quote */
    }
  }
  return -1;
}

/* Parses the header TEXT of N bytes (a copy: the file's bytes may be a mapping
 * that changes under us). */
static int parse_json(timmc_st *st, const char *text, uint64_t n) {
  const char *what = st->what, *end = NULL;
  if (n == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: header is empty, expected a JSON object", what);
  if (text[0] != '{') { /* the format's rule, which also keeps polyglot files out */
    unsigned char c = (unsigned char)text[0];
    return timmc_fail(TIMMC_EINPUT, c > 0x20 && c < 0x7f ? "%s: header is not a JSON object "
                      "(it starts with '%c', expected '{')" : "%s: header is not a JSON object "
                      "(it starts with byte 0x%02x, expected '{')", what, c);
  }
  st->header = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
  if (st->header == NULL)
    return timmc_fail(TIMMC_EINPUT, "%s: header is not valid JSON (error at byte %td of %"
                      PRIu64 ")", what, end ? end - text : 0, n);
  for (; end < text + n; end++)
    if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
      return timmc_fail(TIMMC_EINPUT, "%s: header has text after its JSON object (byte %td "
                        "of %" PRIu64 ")", what, end - text, n);
  if (!cJSON_IsObject(st->header))
    return timmc_fail(TIMMC_EINPUT, "%s: header is not a JSON object", what);
  ptrdiff_t nul = find_nul(text, (size_t)n);
  if (nul >= 0)
    return timmc_fail(TIMMC_EINPUT, "%s: header holds a NUL character at byte %td, expected "
                      "names and strings without NUL", what, nul);
  return TIMMC_OK;
}

static int parse_header(timmc_st *st) {
  const char *what = st->what;
  if (st->size < 8)
    return timmc_fail(TIMMC_EINPUT, "%s: truncated: file is %zu bytes, a safetensors file "
                      "starts with an 8-byte header length", what, st->size);
  uint8_t len[8];
  int status = timmc_file_copy(what, len, st->data, 8);
  if (status != TIMMC_OK)
    return status;
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | len[i];
  if (n > MAX_HEADER)
    return timmc_fail(TIMMC_EINPUT, "%s: header length %" PRIu64 " exceeds the limit of %u "
                      "bytes", what, n, MAX_HEADER);
  if (n > st->size - 8)
    return timmc_fail(TIMMC_EINPUT, "%s: header length %" PRIu64 " runs past the end of the "
                      "file (%zu bytes)", what, n, st->size);
  char *text = malloc(n ? (size_t)n : 1);
  if (text == NULL)
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for a header of %" PRIu64 " bytes",
                      what, n);
  status = timmc_file_copy(what, text, st->data + 8, (size_t)n);
  if (status == TIMMC_OK)
    status = parse_json(st, text, n);
  free(text);
  if (status != TIMMC_OK)
    return status;
  st->body = st->data + 8 + n;
  st->body_size = st->size - 8 - (size_t)n;
  return check_header(st);
}

int timmc_st_open(timmc_st *st, const void *data, size_t size, const char *what) {
  memset(st, 0, sizeof *st);
  st->data = data;
  st->size = size;
  st->check_finite = default_check_finite;
  if ((st->what = strdup(what)) == NULL)
    return timmc_fail(TIMMC_EINPUT, "%s: out of memory", what);
  int status = parse_header(st);
  if (status != TIMMC_OK)
    timmc_st_close(st);
  return status;
}

void timmc_st_close(timmc_st *st) {
  cJSON_Delete(st->header);
  free(st->what);
  memset(st, 0, sizeof *st);
}

/* IEEE half to single, exact for every input: subnormals are man * 2^-24. */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    float f = (float)man * 0x1p-24f;
    return sign ? -f : f;
  }
  if (exp == 0x1f)
    bits = sign | 0x7f800000u | man << 13;
  else
    bits = sign | (exp + 112) << 23 | man << 13;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* COUNT values from SRC (kind 4: F32, 2: F16, 1: BF16) as floats into DST,
 * or (kind 0) COUNT bytes as they are into BYTES; run under timmc_file_guard,
 * as SRC may be a mapping. */
typedef struct convert_args {
  float *dst;
  const uint8_t *src;
  size_t count;
  int kind;
  void *bytes;
} convert_args;

static void convert(void *ctx) {
  const convert_args *a = ctx;
  if (a->kind == 4) {
    if (a->count > 0)
      memcpy(a->dst, a->src, a->count * 4);
    return;
  }
  for (size_t i = 0; i < a->count; i++) {
    uint16_t h;
    memcpy(&h, a->src + 2 * i, 2);
    if (a->kind == 2) {
      a->dst[i] = half_to_float(h);
    } else {
      uint32_t bits = (uint32_t)h << 16;
      memcpy(&a->dst[i], &bits, 4);
    }
  }
}

/* The first NaN or infinity among the COUNT values just read, as an error. */
static int check_finite(const timmc_st *st, const char *name, const char *dtype, int ndim,
                        const int64_t *shape, const float *v, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (isfinite(v[i]))
      continue;
    char s[256];
    timmc_format_shape(s, sizeof s, ndim, shape);
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' (%s %s) holds %s at element %zu; "
                      "expected finite weights", st->what, name, dtype, s,
                      isnan(v[i]) ? "NaN" : v[i] > 0 ? "+Inf" : "-Inf", i);
  }
  return TIMMC_OK;
}

/* The header entry of tensor NAME after checking that its shape is exactly
 * SHAPE (EXPECTED: the dtypes the caller takes, for the message). */
static int find_tensor(const timmc_st *st, const char *name, int ndim, const int64_t *shape,
                       const char *expected, const cJSON **entry) {
  char want[256], have[256];
  timmc_format_shape(want, sizeof want, ndim, shape);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(st->header, name);
  if (e == NULL || strcmp(name, "__metadata__") == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' is missing (expected %s %s)", st->what,
                      name, expected, want);
  const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
  int same = cJSON_GetArraySize(js) == ndim;
  const cJSON *d = js->child;
  for (int i = 0; same && i < ndim; i++, d = d->next)
    same = shape[i] >= 0 && (double)shape[i] == d->valuedouble;
  if (!same) {
    format_json_shape(have, sizeof have, js);
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' has shape %s but the model expects %s",
                      st->what, name, have, want);
  }
  *entry = e;
  return TIMMC_OK;
}

/* Reads COUNT elements of SIZE bytes from the data of entry E into DST
 * through timmc_file_guard (the data may be a mapping that shrinks). */
static int read_guarded(const timmc_st *st, const char *name, const cJSON *e, size_t bytes,
                        void (*fn)(void *), convert_args *a) {
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  a->src = st->body + (size_t)offs->child->valuedouble;
  int status = timmc_file_guard(st->what, a->src, bytes, fn, a);
  if (status == TIMMC_EINPUT)
    return timmc_fail(status, "%s: tensor '%s': the file changed size while being read (it "
                      "was cut short after it was opened)", st->what, name);
  if (status != TIMMC_OK)
    return status;
  if (st->release)
    timmc_file_release(a->src, bytes);
  return TIMMC_OK;
}

int timmc_st_read_f32(const timmc_st *st, const char *name, int ndim,
                      const int64_t *shape, float *dst) {
  const cJSON *e;
  TIMMC_ST_TRY(find_tensor(st, name, ndim, shape, "F32", &e));
  const char *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
  if (strcmp(dtype, "I8") == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' has dtype I8, expected F32, F16 or BF16 "
                      "(an int8 checkpoint from --calibrate: this model is float32)",
                      st->what, name);
  int f32 = strcmp(dtype, "F32") == 0, f16 = strcmp(dtype, "F16") == 0;
  if (!f32 && !f16 && strcmp(dtype, "BF16") != 0)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                      st->what, name, dtype);
  convert_args a = {dst, NULL, 1, f32 ? 4 : f16 ? 2 : 1, NULL};
  for (int i = 0; i < ndim; i++)
    a.count *= (size_t)shape[i];
  TIMMC_ST_TRY(read_guarded(st, name, e, a.count * (f32 ? 4 : 2), convert, &a));
  return st->check_finite ? check_finite(st, name, dtype, ndim, shape, dst, a.count) : TIMMC_OK;
}

static void copy_bytes(void *ctx) {
  const convert_args *a = ctx;
  if (a->count > 0)
    memcpy(a->bytes, a->src, a->count);
}

int timmc_st_read_i8(const timmc_st *st, const char *name, int ndim, const int64_t *shape,
                     int8_t *dst) {
  const cJSON *e;
  TIMMC_ST_TRY(find_tensor(st, name, ndim, shape, "I8", &e));
  const char *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
  if (strcmp(dtype, "I8") != 0)
    return timmc_fail(TIMMC_EINPUT, "%s: tensor '%s' has dtype %s, expected I8 (an int8 model "
                      "takes the checkpoint --calibrate writes, not a float one)",
                      st->what, name, dtype);
  convert_args a = {NULL, NULL, 1, 0, dst};
  for (int i = 0; i < ndim; i++)
    a.count *= (size_t)shape[i];
  return read_guarded(st, name, e, a.count, copy_bytes, &a);
}

int timmc_st_has(const timmc_st *st, const char *name) {
  return strcmp(name, "__metadata__") != 0 &&
         cJSON_GetObjectItemCaseSensitive(st->header, name) != NULL;
}

/* A growable string for the header; a failed allocation sets oom. */
typedef struct strbuf {
  char *p;
  size_t len, cap;
  int oom;
} strbuf;

static void put(strbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void putf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void putf(strbuf *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(b, tmp, (size_t)n);
}

/* A JSON string literal; bytes >= 0x80 pass through as UTF-8. */
static void put_json_string(strbuf *b, const char *s) {
  put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      putf(b, "\\%c", c);
    else if (c < 0x20)
      putf(b, "\\u%04x", c);
    else
      put(b, s, 1);
  }
  put(b, "\"", 1);
}

static int by_entry_name(const void *a, const void *b) {
  return strcmp((*(const timmc_st_entry *const *)a)->name,
                (*(const timmc_st_entry *const *)b)->name);
}

/* Checks that every entry's nbytes matches its dtype and shape and that no
 * name repeats. */
static int check_entries(const char *path, const timmc_st_entry *entries, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const timmc_st_entry *e = &entries[i];
    uint64_t numel = 1, size = (uint64_t)dtype_size(e->dtype);
    int bad = size == 0 || e->ndim < 0;
    for (int k = 0; !bad && k < e->ndim; k++) {
      bad = e->shape[k] < 0 ||
            (e->shape[k] != 0 && numel > UINT64_MAX / size / (uint64_t)e->shape[k]);
      numel *= (uint64_t)e->shape[k];
    }
    if (strcmp(e->name, "__metadata__") == 0)
      return timmc_fail(TIMMC_ERUNTIME, "%s: '__metadata__' is not a tensor name", path);
    if (control_char(e->name) != NULL) /* the reader would refuse the file */
      return timmc_fail(TIMMC_ERUNTIME, "%s: tensor name '%s' holds a control character",
                        path, e->name);
    if (bad || numel * size != e->nbytes) {
      char s[256];
      timmc_format_shape(s, sizeof s, e->ndim < 0 ? 0 : e->ndim, e->shape);
      return timmc_fail(TIMMC_ERUNTIME, "%s: tensor '%s': %s %s does not match %zu bytes of "
                        "data", path, e->name, e->dtype, s, e->nbytes);
    }
  }
  const timmc_st_entry **sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (sorted == NULL)
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory", path);
  for (size_t i = 0; i < n; i++)
    sorted[i] = &entries[i];
  qsort(sorted, n, sizeof *sorted, by_entry_name);
  int status = TIMMC_OK;
  for (size_t i = 1; i < n && status == TIMMC_OK; i++)
    if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
      status = timmc_fail(TIMMC_ERUNTIME, "%s: tensor '%s' is given more than once", path,
                          sorted[i]->name);
  free(sorted);
  return status;
}

static int make_header(const char *path, const timmc_st_entry *entries, size_t n, strbuf *b) {
  uint64_t offset = 0;
  put(b, "{", 1);
  for (size_t i = 0; i < n; i++) {
    const timmc_st_entry *e = &entries[i];
    if (i > 0)
      put(b, ",", 1);
    put_json_string(b, e->name);
    putf(b, ":{\"dtype\":\"%s\",\"shape\":[", e->dtype);
    for (int k = 0; k < e->ndim; k++)
      putf(b, "%s%" PRId64, k ? "," : "", e->shape[k]);
    putf(b, "],\"data_offsets\":[%" PRIu64 ",", offset);
    offset += e->nbytes;
    putf(b, "%" PRIu64 "]}", offset);
  }
  put(b, "}", 1);
  while (b->len % 8 != 0)
    put(b, " ", 1);
  if (b->oom)
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory building the header", path);
  return TIMMC_OK;
}

int timmc_st_serialize(const timmc_st_entry *entries, size_t n, void **blob, size_t *size) {
  strbuf b = {0};
  int status = check_entries("safetensors", entries, n);
  if (status == TIMMC_OK)
    status = make_header("safetensors", entries, n, &b);
  size_t total = 8 + b.len;
  for (size_t i = 0; i < n; i++)
    total += entries[i].nbytes;
  uint8_t *out = status == TIMMC_OK ? malloc(total + XNN_PAD) : NULL;
  if (status == TIMMC_OK && !out)
    status = timmc_fail(TIMMC_ERUNTIME, "out of memory for %zu bytes of safetensors", total);
  if (status != TIMMC_OK) {
    free(b.p);
    return status;
  }
  for (int i = 0; i < 8; i++)
    out[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
  memcpy(out + 8, b.p, b.len);
  size_t at = 8 + b.len;
  for (size_t i = 0; i < n; i++) {
    if (entries[i].nbytes)
      memcpy(out + at, entries[i].data, entries[i].nbytes);
    at += entries[i].nbytes;
  }
  free(b.p);
  *blob = out;
  *size = total;
  return TIMMC_OK;
}

int timmc_st_write(const char *path, const timmc_st_entry *entries, size_t n) {
  void *blob;
  size_t size;
  int status = timmc_st_serialize(entries, n, &blob, &size);
  if (status != TIMMC_OK)
    return status;
  status = timmc_file_write(path, blob, size);
  free(blob);
  return status;
}
