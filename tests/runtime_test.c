/*
 * runtime_test.c - unit tests of the runtime's file formats: safetensors,
 * .npy and the atomic writer. Prints "N passed, M failed"; exits 1 on failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timmc_file.h"
#include "timmc_npy.h"
#include "timmc_st.h"

static int passed, failed;
static char dir[] = "/tmp/timmc_runtime_test.XXXXXX";

static void check(int ok, const char *what, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAIL line %d: %s\n", line, what);
  }
}
#define CHECK(cond) check((cond) != 0, #cond, __LINE__)

/* STATUS must be a failure whose message contains NEEDLE. */
static void check_error(int status, const char *needle, int line) {
  int ok = status != TIMMC_OK && strstr(timmc_error(), needle) != NULL;
  check(ok, needle, line);
  if (!ok)
    printf("  status %d, message: %s\n", status, timmc_error());
}
#define CHECK_ERROR(status, needle) check_error((status), (needle), __LINE__)

static const char *scratch(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Number of entries in the scratch directory; removes them if CLEAN. */
static int dir_entries(int clean) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    n++;
    if (clean)
      unlink(scratch(e->d_name));
  }
  if (d != NULL)
    closedir(d);
  return n;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f != NULL) {
    fwrite(data, 1, n, f);
    fclose(f);
  }
}

/* A safetensors image: header length, HEADER, then BODY_SIZE bytes of BODY
 * (zeros if BODY is NULL). */
static uint8_t *make_st(const char *header, const void *body, size_t body_size, size_t *size) {
  size_t n = strlen(header);
  uint8_t *p = calloc(8 + n + body_size, 1);
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)((uint64_t)n >> (8 * i));
  memcpy(p + 8, header, n);
  if (body != NULL)
    memcpy(p + 8 + n, body, body_size);
  *size = 8 + n + body_size;
  return p;
}

/* Opens an in-memory image built from HEADER and a zero body. */
static int open_header(const char *header, size_t body_size) {
  size_t size;
  uint8_t *p = make_st(header, NULL, body_size, &size);
  timmc_st st;
  int status = timmc_st_open(&st, p, size, "model.safetensors");
  if (status == TIMMC_OK)
    timmc_st_close(&st);
  free(p);
  return status;
}

static void test_st_round_trip(void) {
  const float w[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
  const int64_t count = 7;
  const uint16_t h[2] = {0x3c00, 0xc000};
  const int64_t ws[2] = {2, 3}, hs[1] = {2};
  const timmc_st_entry e[3] = {
      {"conv.weight", "F32", 2, ws, w, sizeof w},
      {"bn.num_batches_tracked", "I64", 0, NULL, &count, sizeof count},
      {"odd \"name\"\\\n", "F16", 1, hs, h, sizeof h},
  };
  CHECK(timmc_st_write(scratch("w.safetensors"), e, 3) == TIMMC_OK);
  CHECK(dir_entries(0) == 1);
  const void *data;
  size_t size;
  CHECK(timmc_file_map(scratch("w.safetensors"), &data, &size) == TIMMC_OK);
  timmc_st st;
  int status = timmc_st_open(&st, data, size, "w.safetensors");
  CHECK(status == TIMMC_OK);
  if (status == TIMMC_OK) {
    float got[6] = {0}, hv[2] = {0};
    CHECK((st.body - st.data) % 8 == 0);
    CHECK(st.body_size == sizeof w + sizeof count + sizeof h);
    CHECK(timmc_st_read_f32(&st, "conv.weight", 2, ws, got) == TIMMC_OK);
    CHECK(memcmp(got, w, sizeof w) == 0);
    CHECK(timmc_st_read_f32(&st, "odd \"name\"\\\n", 1, hs, hv) == TIMMC_OK);
    CHECK(hv[0] == 1.0f && hv[1] == -2.0f);
    CHECK_ERROR(timmc_st_read_f32(&st, "bn.num_batches_tracked", 0, NULL, got),
                "tensor 'bn.num_batches_tracked' has dtype I64, expected F32, F16 or BF16");
    timmc_st_close(&st);
  }
  timmc_file_unmap(data, size);
  dir_entries(1);
}

static void test_half_conversion(void) {
  const uint16_t bits[9] = {
      0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, /* F16 */
      0x8000,
  };
  const float want[9] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, INFINITY, -INFINITY,
                         NAN, -0.0f};
  const uint16_t bbits[6] = {0x3f80, 0xc000, 0x477f, 0x0001, 0x7f80, 0xff80};
  const float bwant[6] = {1.0f, -2.0f, 65280.0f, 0x1p-133f, INFINITY, -INFINITY};
  uint8_t body[30];
  memcpy(body, bits, 18);
  memcpy(body + 18, bbits, 12);
  size_t size;
  uint8_t *p = make_st("{\"h\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[0,18]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[18,30]}}",
                       body, sizeof body, &size);
  timmc_st st;
  CHECK(timmc_st_open(&st, p, size, "half.safetensors") == TIMMC_OK);
  float got[9];
  const int64_t n9 = 9, n6 = 6;
  CHECK(timmc_st_read_f32(&st, "h", 1, &n9, got) == TIMMC_OK);
  for (int i = 0; i < 9; i++) {
    int ok = isnan(want[i]) ? isnan(got[i]) != 0
                            : got[i] == want[i] && signbit(got[i]) == signbit(want[i]);
    check(ok, "F16 value", __LINE__);
    if (!ok)
      printf("  F16 0x%04x -> %g, expected %g\n", bits[i], got[i], want[i]);
  }
  CHECK(timmc_st_read_f32(&st, "b", 1, &n6, got) == TIMMC_OK);
  for (int i = 0; i < 6; i++) {
    check(got[i] == bwant[i], "BF16 value", __LINE__);
    if (got[i] != bwant[i])
      printf("  BF16 0x%04x -> %g, expected %g\n", bbits[i], got[i], bwant[i]);
  }
  timmc_st_close(&st);
  free(p);
}

static void test_st_read_errors(void) {
  size_t size;
  uint8_t *p = make_st("{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[24,28]}}",
                       NULL, 28, &size);
  timmc_st st;
  CHECK(timmc_st_open(&st, p, size, "model.safetensors") == TIMMC_OK);
  float buf[64];
  const int64_t want[4] = {64, 64, 1, 1}, fc[2] = {3, 2}, q[1] = {4};
  int status = timmc_st_read_f32(&st, "layer1.0.conv1.weight", 4, want, buf);
  CHECK_ERROR(status, "model.safetensors: tensor 'layer1.0.conv1.weight' is missing "
                      "(expected F32 [64, 64, 1, 1])");
  status = timmc_st_read_f32(&st, "fc.weight", 2, fc, buf);
  CHECK_ERROR(status, "model.safetensors: tensor 'fc.weight' has shape [2, 3] but the model "
                      "expects [3, 2]");
  CHECK_ERROR(timmc_st_read_f32(&st, "q", 1, q, buf), "has dtype F8_E4M3");
  CHECK_ERROR(timmc_st_read_f32(&st, "__metadata__", 0, NULL, buf), "is missing");
  timmc_st_close(&st);
  free(p);
}

static void test_st_open_errors(void) {
  uint8_t tiny[5] = {0};
  timmc_st st;
  CHECK_ERROR(timmc_st_open(&st, tiny, sizeof tiny, "model.safetensors"),
              "model.safetensors: truncated: file is 5 bytes");

  uint8_t big[1000] = {0};
  big[0] = 123456 & 0xff;
  big[1] = (123456 >> 8) & 0xff;
  big[2] = 123456 >> 16;
  CHECK_ERROR(timmc_st_open(&st, big, sizeof big, "model.safetensors"),
              "model.safetensors: header length 123456 runs past the end of the file "
              "(1000 bytes)");

  const char *t = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
  CHECK(open_header(t, 24) == TIMMC_OK);
  CHECK_ERROR(open_header(t, 20), "truncated: tensor 'a' ends at byte 24 of the data area but "
                                  "the file holds only 20 bytes of data");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,48]}}",
                          48),
              "tensor 'a' appears more than once");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                          20),
              "tensors 'a' [0, 16) and 'b' [12, 20) overlap");
  CHECK(open_header("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                    "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                    16) == TIMMC_OK);
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}",
                          24),
              "tensor 'a': F32 [2, 3] takes 24 bytes but data_offsets [0, 20] hold 20");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
              "\"shape\" is missing or not a list of non-negative integers");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4),
              "end before they begin");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "\"data_offsets\"");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
              "\"dtype\" is missing");
  CHECK_ERROR(open_header("{\"__metadata__\":{\"x\":1}}", 0), "\"__metadata__\" is not");
  CHECK_ERROR(open_header("{\"a\": [1, 2", 0), "model.safetensors: header is not valid JSON");
  CHECK_ERROR(open_header("[1, 2]", 0),
              "header is not a JSON object (it starts with '[', expected '{')");
  CHECK_ERROR(open_header(" {}     ", 0), "(it starts with byte 0x20, expected '{')");
  CHECK_ERROR(open_header("", 0), "model.safetensors: header is empty, expected a JSON object");
  CHECK_ERROR(open_header("{} x", 0), "header has text after its JSON object");
  CHECK(open_header("{}      ", 0) == TIMMC_OK);
  CHECK_ERROR(open_header("{\"q\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1),
              "tensor 'q': unknown dtype 'F4', expected one of BOOL, U8");
  CHECK(open_header("{\"q\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4) ==
        TIMMC_OK);
  CHECK_ERROR(open_header("\"a string\"", 0), "header is not a JSON object (it starts with '\"'");
  CHECK_ERROR(open_header("{\"a\":[0, 4]}", 4), "tensor 'a': header entry is not an object");

  /* the 100 MB header limit is checked before the file size */
  uint8_t huge[16] = {0};
  const uint64_t limit = 100u * 1024 * 1024;
  for (int i = 0; i < 8; i++)
    huge[i] = (uint8_t)((limit + 1) >> (8 * i));
  CHECK_ERROR(timmc_st_open(&st, huge, sizeof huge, "model.safetensors"),
              "model.safetensors: header length 104857601 exceeds the limit of 104857600 bytes");
  for (int i = 0; i < 8; i++)
    huge[i] = (uint8_t)(limit >> (8 * i));
  CHECK_ERROR(timmc_st_open(&st, huge, sizeof huge, "model.safetensors"),
              "header length 104857600 runs past the end of the file (16 bytes)");

  /* messages stay on one line whatever the names hold */
  CHECK_ERROR(open_header("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
              "tensor 'a?b': \"data_offsets\"");
  CHECK(strchr(timmc_error(), '\n') == NULL);
}

static void test_check_finite(void) {
  const float body[5] = {1, 2, 3, NAN, -INFINITY};
  const uint16_t h[2] = {0x3c00, 0x7c00}; /* F16 1, +Inf */
  uint8_t bytes[24];
  memcpy(bytes, body, 20);
  memcpy(bytes + 20, h, 4);
  size_t size;
  uint8_t *p = make_st("{\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"bad\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                       "\"half\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[20,24]}}",
                       bytes, sizeof bytes, &size);
  const int64_t two = 2, three = 3;
  float got[3];
  timmc_st st;
  CHECK(timmc_st_open(&st, p, size, "nan.safetensors") == TIMMC_OK);
  CHECK(st.check_finite == 0);
  CHECK(timmc_st_read_f32(&st, "bad", 1, &three, got) == TIMMC_OK && isnan(got[1]) &&
        got[2] == -INFINITY);
  st.check_finite = 1;
  CHECK(timmc_st_read_f32(&st, "ok", 1, &two, got) == TIMMC_OK && got[1] == 2);
  CHECK_ERROR(timmc_st_read_f32(&st, "bad", 1, &three, got),
              "nan.safetensors: tensor 'bad' (F32 [3]) holds NaN at element 1; expected finite");
  CHECK_ERROR(timmc_st_read_f32(&st, "half", 1, &two, got),
              "tensor 'half' (F16 [2]) holds +Inf at element 1");
  timmc_st_close(&st);
  timmc_st_set_check_finite(1);
  CHECK(timmc_st_open(&st, p, size, "nan.safetensors") == TIMMC_OK);
  CHECK(st.check_finite == 1);
  timmc_st_close(&st);
  timmc_st_set_check_finite(0);
  free(p);
}

static void test_npy(void) {
  const float a[6] = {1, 2, 3, -4, 5.5f, 1e-20f};
  const int64_t s23[2] = {2, 3}, s5[1] = {5}, s32[2] = {3, 2}, s123[2] = {1, 23};
  CHECK(timmc_npy_write_f32(scratch("a.npy"), 2, s23, a) == TIMMC_OK);
  timmc_npy arr;
  CHECK(timmc_npy_load(scratch("a.npy"), &arr) == TIMMC_OK);
  CHECK(arr.dtype == 'f' && arr.elsize == 4 && arr.ndim == 2 && arr.count == 6);
  CHECK(arr.shape[0] == 2 && arr.shape[1] == 3);
  CHECK(arr.data != NULL && memcmp(arr.data, a, sizeof a) == 0);
  timmc_npy_free(&arr);

  const void *data;
  size_t size;
  CHECK(timmc_file_map(scratch("a.npy"), &data, &size) == TIMMC_OK);
  CHECK(size == 128 + sizeof a && ((const char *)data)[127] == '\n');
  CHECK(memcmp((const char *)data + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
               59) == 0);
  timmc_file_unmap(data, size);

  float got[6] = {0};
  CHECK(timmc_npy_write_f32(scratch("v.npy"), 1, s5, a) == TIMMC_OK);
  CHECK(timmc_npy_read_f32(scratch("v.npy"), 1, s5, got) == TIMMC_OK);
  CHECK(memcmp(got, a, 5 * sizeof(float)) == 0);
  CHECK(timmc_file_map(scratch("v.npy"), &data, &size) == TIMMC_OK);
  static const char v_dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
  CHECK(size >= 10 + sizeof v_dict - 1 &&
        memcmp((const char *)data + 10, v_dict, sizeof v_dict - 1) == 0);
  timmc_file_unmap(data, size);
  CHECK(timmc_npy_write_f32(scratch("s.npy"), 0, NULL, a + 3) == TIMMC_OK);
  CHECK(timmc_npy_read_f32(scratch("s.npy"), 0, NULL, got) == TIMMC_OK && got[0] == -4);

  /* a zero dimension makes any other size valid, for the writer as for the
   * reader (found by fuzz_npy) */
  const int64_t zero_big[3] = {3875820019642106364, 2, 0};
  CHECK(timmc_npy_write_f32(scratch("z.npy"), 3, zero_big, a) == TIMMC_OK);
  CHECK(timmc_npy_load(scratch("z.npy"), &arr) == TIMMC_OK && arr.count == 0 &&
        arr.shape[0] == zero_big[0]);
  timmc_npy_free(&arr);

  CHECK_ERROR(timmc_npy_read_f32(scratch("a.npy"), 2, s32, got),
              "a.npy: shape [2, 3] but the model expects [3, 2]");
  CHECK_ERROR(timmc_npy_read_f32(scratch("a.npy"), 2, s123, got), "expects [1, 23]");
  CHECK_ERROR(timmc_npy_read_f32(scratch("missing.npy"), 2, s23, got), "missing.npy: cannot open");

  char f8[128 + 16];
  memset(f8, ' ', sizeof f8);
  const char *h8 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  memcpy(f8, "\x93NUMPY\x01\x00\x76\x00", 10);
  memcpy(f8 + 10, h8, strlen(h8));
  f8[127] = '\n';
  memset(f8 + 128, 0, 16);
  write_bytes(scratch("f8.npy"), f8, sizeof f8);
  CHECK(timmc_npy_load(scratch("f8.npy"), &arr) == TIMMC_OK && arr.elsize == 8 && arr.count == 2);
  timmc_npy_free(&arr);
  const int64_t two = 2;
  CHECK_ERROR(timmc_npy_read_f32(scratch("f8.npy"), 1, &two, got),
              "f8.npy: dtype float64 ('<f8') but the model expects float32 ('<f4')");
  write_bytes(scratch("short.npy"), f8, sizeof f8 - 3);
  CHECK_ERROR(timmc_npy_load(scratch("short.npy"), &arr),
              "short.npy: truncated: shape [2] of float64 needs 16 bytes of data but the file "
              "has 13");
  memcpy(f8 + 21, ">f4", 3);
  write_bytes(scratch("be.npy"), f8, sizeof f8);
  CHECK_ERROR(timmc_npy_load(scratch("be.npy"), &arr),
              "be.npy: dtype '>f4' is not supported, expected float32 ('<f4')");
  memcpy(f8 + 21, "<f8', 'fortran_order': True ,", 29);
  write_bytes(scratch("fo.npy"), f8, sizeof f8);
  CHECK_ERROR(timmc_npy_load(scratch("fo.npy"), &arr), "fortran_order arrays are not supported");
  memcpy(f8, "\x93NUMPZ", 6);
  write_bytes(scratch("magic.npy"), f8, sizeof f8);
  CHECK_ERROR(timmc_npy_load(scratch("magic.npy"), &arr), "magic.npy: not a .npy file");
  dir_entries(1);
}

static void test_npy_parse(void) {
  const char hdr[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  uint8_t img[10 + 64 + 12];
  memset(img, ' ', sizeof img);
  memcpy(img, "\x93NUMPY\x01\x00\x40\x00", 10);
  memcpy(img + 10, hdr, strlen(hdr));
  img[73] = '\n';
  const float v[3] = {1, -2, 3};
  memcpy(img + 74, v, sizeof v);
  timmc_npy arr;
  CHECK(timmc_npy_parse("mem.npy", img, sizeof img, &arr) == TIMMC_OK);
  CHECK(arr.ndim == 1 && arr.shape[0] == 3 && arr.count == 3 && arr.elsize == 4);
  CHECK(arr.data != NULL && memcmp(arr.data, v, sizeof v) == 0);
  timmc_npy_free(&arr);
  CHECK_ERROR(timmc_npy_parse("mem.npy", img, sizeof img - 1, &arr),
              "mem.npy: truncated: shape [3] of float32 needs 12 bytes of data but the file has 11");
  CHECK(arr.data == NULL);
  CHECK_ERROR(timmc_npy_parse("text.npy", "hello, world\n", 13, &arr),
              "text.npy: not a .npy file (no \\x93NUMPY magic)");
  CHECK_ERROR(timmc_npy_parse("tiny.npy", img, 9, &arr), "tiny.npy: truncated: file is 9 bytes");
  img[8] = 0x50; /* header length 80 > 76 bytes left */
  CHECK_ERROR(timmc_npy_parse("mem.npy", img, sizeof img, &arr),
              "mem.npy: truncated: header of 80 bytes runs past the end");
  img[8] = 0x40;
  memcpy(strstr((char *)img + 10, "(3,)"), "(3 3", 4); /* the data starts with a 0 byte */
  CHECK_ERROR(timmc_npy_parse("mem.npy", img, sizeof img, &arr),
              "mem.npy: malformed .npy header (expected ',' or ')' in the shape");
  CHECK(strchr(timmc_error(), '\n') == NULL);
}

static void test_atomic_writer(void) {
  timmc_file_writer w;
  CHECK(timmc_file_begin(&w, scratch("out.bin")) == TIMMC_OK);
  CHECK(timmc_file_put(&w, "hello", 5) == TIMMC_OK);
  CHECK(dir_entries(0) == 1);
  timmc_file_abort(&w);
  CHECK(dir_entries(0) == 0);
  CHECK(timmc_file_commit(&w) != TIMMC_OK);
  CHECK(dir_entries(0) == 0);

  CHECK(timmc_file_begin(&w, scratch("out.bin")) == TIMMC_OK);
  CHECK(timmc_file_put(&w, "hello", 5) == TIMMC_OK);
  CHECK(timmc_file_commit(&w) == TIMMC_OK);
  CHECK(dir_entries(0) == 1 && access(scratch("out.bin"), F_OK) == 0);

  CHECK_ERROR(timmc_file_begin(&w, scratch("no/such/dir.bin")), "cannot create");
  timmc_file_abort(&w);
  const int64_t s[1] = {3};
  const float x[2] = {0};
  timmc_st_entry bad = {"x", "F32", 1, s, x, sizeof x};
  CHECK_ERROR(timmc_st_write(scratch("bad.safetensors"), &bad, 1),
              "tensor 'x': F32 [3] does not match 8 bytes");
  CHECK(dir_entries(0) == 1);
  dir_entries(1);
}

/* A mapped checkpoint reads like one in memory, and pages given back after a
 * read come back from the file intact. */
/* Kilobytes of the mapping holding addr that are in this process's page
 * tables (Linux: its "Rss:" in /proc/self/smaps, counted exactly there). */
static long mapped_rss_kb(const void *addr) {
  char line[512];
  long rss = -1;
  int inside = 0;
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
      inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
    } else if (inside && sscanf(line, "Rss: %ld kB", &rss) == 1) {
      break;
    }
  }
  fclose(f);
  return rss;
}

/* Reads a mapped 1 MiB tensor with or without release; returns how many
 * kilobytes of the mapping stay in the process afterwards. */
static long mapped_read_rss(const float *w, float *got, int64_t n, int release) {
  const int64_t shape[1] = {n};
  const void *data;
  size_t size;
  long grown = -1; /* kB */
  CHECK(timmc_file_map(scratch("map.safetensors"), &data, &size) == TIMMC_OK);
  timmc_st st;
  if (timmc_st_open(&st, data, size, "map.safetensors") == TIMMC_OK) {
    st.release = release;
    CHECK(timmc_st_read_f32(&st, "big", 1, shape, got) == TIMMC_OK);
    grown = mapped_rss_kb(data);
    CHECK(memcmp(got, w, (size_t)n * sizeof(float)) == 0);
    memset(got, 0, (size_t)n * sizeof(float));
    CHECK(timmc_st_read_f32(&st, "big", 1, shape, got) == TIMMC_OK); /* read again */
    CHECK(memcmp(got, w, (size_t)n * sizeof(float)) == 0);
    timmc_st_close(&st);
  } else {
    CHECK(0);
  }
  timmc_file_unmap(data, size);
  return grown;
}

static void test_mapped_weights(void) {
  enum { N = 256 * 1024 }; /* 1 MiB: 256 pages of 4 KiB */
  static float w[N], got[N];
  for (int i = 0; i < N; i++) w[i] = (float)i * 0.5f;
  memset(got, 1, sizeof got); /* got's own pages in memory before counting */
  const int64_t shape[1] = {N};
  timmc_st_entry e = {"big", "F32", 1, shape, w, sizeof w};
  CHECK(timmc_st_write(scratch("map.safetensors"), &e, 1) == TIMMC_OK);
  /* the file's pages stay mapped without release, and are given back with it
   * (but the header's page and the partial ones at the ends) */
  const long kept = mapped_read_rss(w, got, N, 0), released = mapped_read_rss(w, got, N, 1);
  CHECK(kept >= 1024);
  CHECK(released >= 0 && released <= 16);
  const void *data;
  size_t size;
  CHECK_ERROR(timmc_file_map(scratch("nope.safetensors"), &data, &size), "cannot open");
  CHECK_ERROR(timmc_file_map(dir, &data, &size), "not a regular file");
  dir_entries(1);
}

int main(void) {
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_st_round_trip();
  test_half_conversion();
  test_st_read_errors();
  test_st_open_errors();
  test_check_finite();
  test_npy();
  test_npy_parse();
  test_atomic_writer();
  test_mapped_weights();
  dir_entries(1);
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
