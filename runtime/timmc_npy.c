/*
 * timmc_npy.c - NumPy .npy reader and writer.
 *
 * A file is the magic "\x93NUMPY", a major and minor version byte, the header
 * length (u16 in 1.0, u32 in 2.0 and 3.0, little-endian), then a Python dict
 * literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw data.
 */
#include "timmc_npy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timmc_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "timmc_npy.c assumes a little-endian host"
#endif

static const char magic[6] = "\x93NUMPY";

static const char *dtype_name(int elsize) { return elsize == 4 ? "float32" : "float64"; }

/* A cursor over the header dict; the parse stops at the first error. */
typedef struct cursor {
  const char *p, *end;
  const char *error; /* what was expected, NULL while all is well */
} cursor;

static void skip_space(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int peek(cursor *c, char ch) {
  skip_space(c);
  return c->p < c->end && *c->p == ch;
}

static int eat(cursor *c, char ch) {
  if (!peek(c, ch))
    return 0;
  c->p++;
  return 1;
}

static void expect(cursor *c, char ch, const char *error) {
  if (!c->error && !eat(c, ch))
    c->error = error;
}

/* A quoted string without escapes or control characters (a NUL would cut it
 * short: '<f4\0x' is not '<f4'), truncated to CAP-1 bytes. */
static void parse_string(cursor *c, char *out, size_t cap) {
  out[0] = '\0';
  if (c->error)
    return;
  if (!peek(c, '\'') && !peek(c, '"')) {
    c->error = "expected a quoted string";
    return;
  }
  char quote = *c->p++;
  const char *s = c->p;
  while (c->p < c->end && *c->p != quote) {
    if ((unsigned char)*c->p < 0x20 || *c->p == 0x7f) {
      c->error = "NUL or control character in a string";
      return;
    }
    c->p++;
  }
  if (c->p == c->end) {
    c->error = "unterminated string";
    return;
  }
  size_t n = (size_t)(c->p - s) < cap - 1 ? (size_t)(c->p - s) : cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
  c->p++;
}

static int parse_bool(cursor *c) {
  skip_space(c);
  size_t left = (size_t)(c->end - c->p);
  if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
    c->p += 4;
    return 1;
  }
  if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
    c->p += 5;
    return 0;
  }
  if (!c->error)
    c->error = "expected True or False";
  return 0;
}

/* A tuple of non-negative integers: (), (5,), (2, 3) or (2, 3,); Python 2
 * files may suffix each with L. */
static void parse_shape(cursor *c, int *ndim, int64_t *shape) {
  *ndim = 0;
  expect(c, '(', "expected '(' to start the shape");
  while (!c->error && !eat(c, ')')) {
    skip_space(c);
    int64_t v = 0;
    const char *s = c->p;
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
      if (v > (INT64_MAX - 9) / 10) {
        c->error = "shape dimension too large";
        return;
      }
      v = v * 10 + (*c->p - '0');
    }
    if (c->p == s) {
      c->error = "expected a non-negative integer in the shape";
      return;
    }
    if (c->p < c->end && *c->p == 'L')
      c->p++;
    if (*ndim == TIMMC_NPY_MAX_DIMS) {
      c->error = "more than 8 dimensions";
      return;
    }
    shape[(*ndim)++] = v;
    if (!peek(c, ')'))
      expect(c, ',', "expected ',' or ')' in the shape");
  }
}

typedef struct header {
  char descr[32];
  int fortran_order;
  int ndim;
  int64_t shape[TIMMC_NPY_MAX_DIMS];
} header;

static int parse_header(const char *path, const char *text, size_t n, header *h) {
  cursor c = {text, text + n, NULL};
  int seen = 0; /* bits: descr, fortran_order, shape */
  expect(&c, '{', "expected '{'");
  while (!c.error && !eat(&c, '}')) {
    char key[32];
    parse_string(&c, key, sizeof key);
    expect(&c, ':', "expected ':' after a key");
    if (c.error)
      break;
    if (strcmp(key, "descr") == 0 && !(seen & 1)) {
      if (peek(&c, '['))
        return timmc_fail(TIMMC_EINPUT, "%s: structured dtypes are not supported, expected "
                          "float32 ('<f4')", path);
      parse_string(&c, h->descr, sizeof h->descr);
      seen |= 1;
    } else if (strcmp(key, "fortran_order") == 0 && !(seen & 2)) {
      h->fortran_order = parse_bool(&c);
      seen |= 2;
    } else if (strcmp(key, "shape") == 0 && !(seen & 4)) {
      parse_shape(&c, &h->ndim, h->shape);
      seen |= 4;
    } else {
      c.error = "unknown or repeated key";
    }
    if (!peek(&c, '}'))
      expect(&c, ',', "expected ',' or '}' after a value");
  }
  if (!c.error && seen != 7)
    c.error = "'descr', 'fortran_order' and 'shape' are all required";
  if (!c.error) { /* after the dict only the padding spaces and the final newline */
    const char *end = text + n;
    if (end > c.p && end[-1] == '\n')
      end--;
    while (c.p < end && *c.p == ' ')
      c.p++;
    if (c.p < end)
      c.error = "text after the dict, expected only spaces and a final newline";
  }
  size_t shown = n < 120 ? n : 120; /* the start of the header, without its padding */
  while (shown > 0 && (text[shown - 1] == ' ' || text[shown - 1] == '\n'))
    shown--;
  if (c.error)
    return timmc_fail(TIMMC_EINPUT, "%s: malformed .npy header (%s at byte %td): %.*s", path,
                      c.error, c.p - text, (int)shown, text);
  return TIMMC_OK;
}

/* Checks magic and version in PRE (the first min(SIZE, 12) bytes of a file
 * of SIZE bytes) and finds the header: LEN bytes from *START. */
static int parse_preamble(const char *path, const uint8_t *pre, size_t size, size_t *start,
                          size_t *len) {
  if (size < 10)
    return timmc_fail(TIMMC_EINPUT, "%s: truncated: file is %zu bytes, too short for .npy",
                      path, size);
  if (memcmp(pre, magic, sizeof magic) != 0)
    return timmc_fail(TIMMC_EINPUT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
  int major = pre[6], minor = pre[7];
  if (major == 1) {
    *len = (size_t)pre[8] | (size_t)pre[9] << 8;
    *start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      return timmc_fail(TIMMC_EINPUT, "%s: truncated: file is %zu bytes", path, size);
    *len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
           (size_t)pre[11] << 24;
    *start = 12;
  } else {
    return timmc_fail(TIMMC_EINPUT, "%s: unsupported .npy version %d.%d, expected 1.0, 2.0 "
                      "or 3.0", path, major, minor);
  }
  if (*len > size - *start)
    return timmc_fail(TIMMC_EINPUT, "%s: truncated: header of %zu bytes runs past the end of "
                      "the file (%zu bytes)", path, *len, size);
  return TIMMC_OK;
}

/* Reads the preamble and header of the file image DATA into H (copies taken
 * through timmc_file_copy, as DATA may be a mapping of a file that shrinks);
 * *data_start is where the array's bytes begin. */
static int read_header(const char *path, const uint8_t *data, size_t size, header *h,
                       size_t *data_start) {
  uint8_t pre[12];
  size_t start = 0, len = 0;
  int status = timmc_file_copy(path, pre, data, size < sizeof pre ? size : sizeof pre);
  if (status == TIMMC_OK)
    status = parse_preamble(path, pre, size, &start, &len);
  if (status != TIMMC_OK)
    return status;
  char *text = malloc(len ? len : 1);
  if (text == NULL)
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for a header of %zu bytes", path, len);
  status = timmc_file_copy(path, text, data + start, len);
  if (status == TIMMC_OK)
    status = parse_header(path, text, len, h);
  free(text);
  *data_start = start + len;
  return status;
}

/* Validates the file in DATA and fills everything in ARR but data. */
static int check_file(const char *path, const uint8_t *data, size_t size, timmc_npy *arr,
                      size_t *start) {
  header h = {0};
  int status = read_header(path, data, size, &h, start);
  if (status != TIMMC_OK)
    return status;
  int elsize = strcmp(h.descr, "<f4") == 0 ? 4 : strcmp(h.descr, "<f8") == 0 ? 8 : 0;
  if (elsize == 0)
    return timmc_fail(TIMMC_EINPUT, "%s: dtype '%s' is not supported, expected float32 "
                      "('<f4')", path, h.descr);
  if (h.fortran_order)
    return timmc_fail(TIMMC_EINPUT, "%s: fortran_order arrays are not supported", path);
  char s[256];
  timmc_format_shape(s, sizeof s, h.ndim, h.shape);
  size_t count = 1;
  for (int i = 0; i < h.ndim; i++)
    if (h.shape[i] == 0)
      count = 0;
  for (int i = 0; i < h.ndim && count != 0; i++) {
    if (count > SIZE_MAX / 8 / (size_t)h.shape[i])
      return timmc_fail(TIMMC_EINPUT, "%s: shape %s is too large", path, s);
    count *= (size_t)h.shape[i];
  }
  size_t need = count * (size_t)elsize, have = size - *start;
  if (have != need)
    return timmc_fail(TIMMC_EINPUT, "%s: %sshape %s of %s needs %zu bytes of data but the file "
                      "has %zu (%zu bytes in all)", path, have < need ? "truncated: " : "", s,
                      dtype_name(elsize), need, have, size);
  arr->dtype = 'f';
  arr->elsize = elsize;
  arr->ndim = h.ndim;
  memcpy(arr->shape, h.shape, sizeof h.shape);
  arr->count = count;
  return TIMMC_OK;
}

int timmc_npy_parse(const char *what, const void *data, size_t size, timmc_npy *arr) {
  memset(arr, 0, sizeof *arr);
  size_t start = 0;
  int status = check_file(what, data, size, arr, &start);
  if (status != TIMMC_OK) {
    memset(arr, 0, sizeof *arr);
    return status;
  }
  size_t n = arr->count * (size_t)arr->elsize;
  if ((arr->data = malloc(n ? n : 1)) == NULL) {
    memset(arr, 0, sizeof *arr);
    return timmc_fail(TIMMC_ERUNTIME, "%s: out of memory for %zu bytes", what, n);
  }
  status = timmc_file_copy(what, arr->data, (const uint8_t *)data + start, n);
  if (status != TIMMC_OK)
    timmc_npy_free(arr);
  return status;
}

int timmc_npy_load(const char *path, timmc_npy *arr) {
  const void *data;
  size_t size;
  memset(arr, 0, sizeof *arr);
  int status = timmc_file_map(path, &data, &size);
  if (status != TIMMC_OK) return status;
  status = timmc_npy_parse(path, data, size, arr);
  timmc_file_unmap(data, size);
  return status;
}

void timmc_npy_free(timmc_npy *arr) {
  free(arr->data);
  memset(arr, 0, sizeof *arr);
}

int timmc_npy_read_f32(const char *path, int ndim, const int64_t *shape, float *dst) {
  timmc_npy a;
  int status = timmc_npy_load(path, &a);
  if (status != TIMMC_OK)
    return status;
  int same = a.ndim == ndim;
  for (int i = 0; same && i < ndim; i++)
    same = a.shape[i] == shape[i];
  char have[256], want[256];
  timmc_format_shape(have, sizeof have, a.ndim, a.shape);
  timmc_format_shape(want, sizeof want, ndim, shape);
  if (a.elsize != 4)
    status = timmc_fail(TIMMC_EINPUT, "%s: dtype %s ('<f%d') but the model expects float32 "
                        "('<f4')", path, dtype_name(a.elsize), a.elsize);
  else if (!same)
    status = timmc_fail(TIMMC_EINPUT, "%s: shape %s but the model expects %s", path, have,
                        want);
  else if (a.count > 0)
    memcpy(dst, a.data, a.count * 4);
  timmc_npy_free(&a);
  return status;
}

int timmc_npy_write_f32(const char *path, int ndim, const int64_t *shape, const float *src) {
  char h[512];
  size_t count = 1;
  if (ndim < 0 || ndim > TIMMC_NPY_MAX_DIMS)
    return timmc_fail(TIMMC_ERUNTIME, "%s: cannot write %d dimensions, at most %d", path, ndim,
                      TIMMC_NPY_MAX_DIMS);
  memcpy(h, magic, sizeof magic);
  h[6] = 1;
  h[7] = 0;
  int len = 10 + snprintf(h + 10, sizeof h - 10, "{'descr': '<f4', 'fortran_order': False, "
                          "'shape': (");
  int empty = 0; /* a zero dimension makes any other size writable, as it is readable */
  for (int i = 0; i < ndim; i++)
    empty |= shape[i] == 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (!empty && count > SIZE_MAX / 4 / (size_t)shape[i]))
      return timmc_fail(TIMMC_ERUNTIME, "%s: cannot write dimension %d of size %" PRId64, path,
                        i, shape[i]);
    count = empty ? 0 : count * (size_t)shape[i];
    len += snprintf(h + len, sizeof h - (size_t)len, "%s%" PRId64, i ? ", " : "", shape[i]);
  }
  len += snprintf(h + len, sizeof h - (size_t)len, "%s), }", ndim == 1 ? "," : "");
  while ((len + 1) % 64 != 0)
    h[len++] = ' ';
  h[len++] = '\n';
  h[8] = (char)((len - 10) & 0xff);
  h[9] = (char)((len - 10) >> 8);
  timmc_file_writer w;
  int status = timmc_file_begin(&w, path);
  if (status == TIMMC_OK)
    status = timmc_file_put(&w, h, (size_t)len);
  if (status == TIMMC_OK)
    status = timmc_file_put(&w, src, count * 4);
  if (status == TIMMC_OK)
    status = timmc_file_commit(&w);
  else
    timmc_file_abort(&w);
  return status;
}
