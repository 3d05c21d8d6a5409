/*
 * runtime_test.c - unit tests of the runtime's file formats: safetensors,
 * .npy, the atomic writer, output sets, reads of files that shrink, signals
 * and messages; and timmc_kernel_add's runs and tail against scalar C.
 * Prints "N passed, M failed"; exits 1 on failure.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pthreadpool.h>

#include "timmc_file.h"
#include "timmc_npy.h"
#include "timmc_rt.h"
#include "timmc_st.h"

#include "check.h"

static char dir[] = "/tmp/timmc_runtime_test.XXXXXX";

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
      {"odd \"name\"\\", "F16", 1, hs, h, sizeof h},
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
    CHECK(timmc_st_read_f32(&st, "odd \"name\"\\", 1, hs, hv) == TIMMC_OK);
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

  /* names with control characters are refused, in a message of one line */
  CHECK_ERROR(open_header("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
              "model.safetensors: tensor name 'a?b' holds control character 0x0a at byte 1, "
              "expected printable names");
  CHECK(strchr(timmc_error(), '\n') == NULL);
  CHECK_ERROR(open_header("{\"a\x01\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
              "holds control character 0x01 at byte 1");
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


/* Names holding a NUL (raw or \u0000) never match a prefix of themselves;
 * the writer refuses names the reader would refuse. */
static void test_st_strict_names(void) {
  CHECK_ERROR(open_header("{\"fc.bias\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],"
                          "\"data_offsets\":[0,4]}}", 4),
              "model.safetensors: header holds a NUL character at byte 9, expected names and "
              "strings without NUL");
  CHECK_ERROR(open_header("{\"a\":{\"dtype\":\"F32\\u0000\",\"shape\":[1],"
                          "\"data_offsets\":[0,4]}}", 4), "holds a NUL character");
  CHECK_ERROR(open_header("{\"__metadata__\":{\"k\":\"v\\u0000\"}}", 0), "holds a NUL character");
  /* an escaped backslash before u0000 is no NUL, an escaped quote no end of string */
  CHECK(open_header("{\"a\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                    4) == TIMMC_OK);
  CHECK_ERROR(open_header("{\"a\\\"\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],"
                          "\"data_offsets\":[0,4]}}", 4), "holds a NUL character at byte 5");
  /* a raw NUL inside a name */
  static const char raw[] = "{\"fc.bias\0x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  uint8_t img[8 + sizeof raw - 1 + 4] = {sizeof raw - 1};
  memcpy(img + 8, raw, sizeof raw - 1);
  timmc_st st;
  CHECK_ERROR(timmc_st_open(&st, img, sizeof img, "raw.safetensors"), "raw.safetensors: header");
  const int64_t one = 1;
  const float x = 1;
  timmc_st_entry e = {"a\tb", "F32", 1, &one, &x, sizeof x};
  CHECK_ERROR(timmc_st_write(scratch("ctrl.safetensors"), &e, 1),
              "tensor name 'a?b' holds a control character");
  CHECK(dir_entries(0) == 0);
}

/* A .npy image: HEADER (padded with spaces to 64 bytes minus 10, then '\n'
 * unless RAW) and 3 floats. */
static int parse_npy_header(const char *header, size_t header_len, int raw) {
  uint8_t img[10 + 64 + 12];
  memset(img, ' ', sizeof img);
  memcpy(img, "\x93NUMPY\x01\x00\x40\x00", 10);
  memcpy(img + 10, header, header_len);
  if (!raw)
    img[73] = '\n';
  memset(img + 74, 0, 12);
  timmc_npy arr;
  int status = timmc_npy_parse("strict.npy", img, sizeof img, &arr);
  timmc_npy_free(&arr);
  return status;
}
#define NPY_HEADER(text, raw) parse_npy_header((text), sizeof(text) - 1, (raw))

static void test_npy_strict(void) {
  CHECK(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 0) == TIMMC_OK);
  CHECK(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 1) == TIMMC_OK);
  CHECK_ERROR(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", 0),
              "strict.npy: malformed .npy header (text after the dict, expected only spaces and "
              "a final newline at byte 58)");
  CHECK_ERROR(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", 0),
              "text after the dict");
  CHECK_ERROR(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\0", 0),
              "text after the dict");
  CHECK_ERROR(NPY_HEADER("{'descr': '<f4\0x', 'fortran_order': False, 'shape': (3,), }", 0),
              "strict.npy: malformed .npy header (NUL or control character in a string at "
              "byte 14)");
  CHECK_ERROR(NPY_HEADER("{'descr': '<f4', 'fortran_order': False, 'sha\npe': (3,), }", 0),
              "NUL or control character in a string");
  CHECK(strchr(timmc_error(), '\n') == NULL);
}

/* Anything but a regular file is refused at once (a FIFO without a writer
 * would block an ordinary open). */
static void test_not_regular(void) {
  const void *data;
  size_t size;
  CHECK(mkfifo(scratch("fifo"), 0600) == 0);
  alarm(20); /* a blocked open fails the test instead of hanging it */
  CHECK_ERROR(timmc_file_map(scratch("fifo"), &data, &size),
              "fifo: not a regular file (a FIFO), expected a regular file");
  alarm(0);
  CHECK(size == 0);
  CHECK_ERROR(timmc_file_map("/dev/null", &data, &size),
              "/dev/null: not a regular file (a character device), expected a regular file");
  CHECK_ERROR(timmc_file_map(dir, &data, &size), "not a regular file (a directory)");
  timmc_npy arr;
  CHECK_ERROR(timmc_npy_load(scratch("fifo"), &arr), "not a regular file (a FIFO)");
  dir_entries(1);
}

/* A file cut short under its mapping: reads report it instead of dying of
 * SIGBUS, and SIGBUS is left as it was found. */
static void test_truncated_mapping(void) {
  enum { N = 64 * 1024 }; /* 256 KiB: many pages past the cut */
  static float w[N], got[N];
  struct sigaction before, now;
  CHECK(sigaction(SIGBUS, NULL, &before) == 0); /* SIG_DFL, or ASan's handler */
  const int64_t shape[1] = {N};
  timmc_st_entry e = {"big", "F32", 1, shape, w, sizeof w};
  CHECK(timmc_st_write(scratch("cut.safetensors"), &e, 1) == TIMMC_OK);
  const void *data;
  size_t size;
  timmc_st st;
  CHECK(timmc_file_map(scratch("cut.safetensors"), &data, &size) == TIMMC_OK);
  CHECK(timmc_st_open(&st, data, size, "cut.safetensors") == TIMMC_OK);
  CHECK(truncate(scratch("cut.safetensors"), 4096) == 0);
  CHECK_ERROR(timmc_st_read_f32(&st, "big", 1, shape, got),
              "cut.safetensors: tensor 'big': the file changed size while being read");
  timmc_st_close(&st);
  timmc_file_unmap(data, size);

  /* cut before the header is read */
  CHECK(timmc_st_write(scratch("cut.safetensors"), &e, 1) == TIMMC_OK);
  CHECK(timmc_file_map(scratch("cut.safetensors"), &data, &size) == TIMMC_OK);
  CHECK(truncate(scratch("cut.safetensors"), 0) == 0);
  CHECK_ERROR(timmc_st_open(&st, data, size, "cut.safetensors"),
              "cut.safetensors: the file changed size while being read");
  timmc_file_unmap(data, size);

  /* a .npy cut under timmc_npy_parse */
  CHECK(timmc_npy_write_f32(scratch("cut.npy"), 1, shape, w) == TIMMC_OK);
  CHECK(timmc_file_map(scratch("cut.npy"), &data, &size) == TIMMC_OK);
  CHECK(truncate(scratch("cut.npy"), 4096) == 0);
  timmc_npy arr;
  CHECK_ERROR(timmc_npy_parse("cut.npy", data, size, &arr),
              "cut.npy: the file changed size while being read");
  CHECK(arr.data == NULL);
  timmc_file_unmap(data, size);

  CHECK(sigaction(SIGBUS, NULL, &now) == 0 && now.sa_handler == before.sa_handler);
  dir_entries(1);
}

/* Messages keep their end (the reason) whatever the length of a path. */
static void test_long_messages(void) {
  static char path[6001], want[8192];
  memset(path, 'd', sizeof path - 1);
  for (size_t i = 10; i < sizeof path - 1; i += 10)
    path[i] = '/';
  path[2500] = '\0'; /* fits whole */
  timmc_fail(TIMMC_EINPUT, "%s: cannot open: %s", path, "No such file or directory");
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
  CHECK(strcmp(timmc_error(), want) == 0);
  path[2500] = 'd';
  timmc_fail(TIMMC_EINPUT, "%s: cannot open: %s", path, "No such file or directory");
  const char *m = timmc_error();
  const char *reason = ": cannot open: No such file or directory";
  size_t n = strlen(m);
  CHECK(n < 4096 && n > 4000);
  CHECK(n > strlen(reason) && strcmp(m + n - strlen(reason), reason) == 0);
  CHECK(strncmp(m, path, 40) == 0 && strstr(m, "...") != NULL);
  /* context prefixed onto the message itself */
  timmc_fail(TIMMC_EINPUT, "model: %s", timmc_error());
  n = strlen(timmc_error());
  CHECK(n < 4096 && strncmp(timmc_error(), "model: ", 7) == 0 &&
        strcmp(timmc_error() + n - strlen(reason), reason) == 0);
  /* no long word to shorten: the middle of the message goes */
  static char words[9000];
  for (size_t i = 0; i + 3 < sizeof words; i += 3)
    memcpy(words + i, "ab ", 3);
  timmc_fail(TIMMC_EINPUT, "%s the end", words);
  n = strlen(timmc_error());
  CHECK(n == 4095 && strcmp(timmc_error() + n - 7, "the end") == 0);
}

/* Reads FILE in DIR into buf (NUL-terminated); "" if missing. */
static const char *slurp(const char *d, const char *file) {
  static char buf[256], path[512];
  snprintf(path, sizeof path, "%s/%s", d, file);
  buf[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (f != NULL) {
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
  }
  return buf;
}

/* The names in directory D, sorted, space-separated. */
static const char *listing(const char *d) {
  static char out[1024];
  struct dirent **names;
  int n = scandir(d, &names, NULL, alphasort);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
      strncat(out, names[i]->d_name, sizeof out - strlen(out) - 2);
      strcat(out, " ");
    }
    free(names[i]);
  }
  if (n >= 0)
    free(names);
  return out;
}

/* Writes a set of COUNT files "TAG I" into D; the commit's status. */
static int write_set(const char *d, int count, const char *tag) {
  timmc_file_set set;
  int status = timmc_file_set_begin(&set, d, "out", ".npy");
  char text[64];
  for (int i = 0; status == TIMMC_OK && i < count; i++) {
    const char *path;
    status = timmc_file_set_path(&set, i, &path);
    snprintf(text, sizeof text, "%s %d", tag, i);
    if (status == TIMMC_OK)
      status = timmc_file_write(path, text, strlen(text));
  }
  if (status == TIMMC_OK)
    return timmc_file_set_commit(&set, count);
  timmc_file_set_abort(&set);
  return status;
}

static void test_output_set(void) {
  char d[600], sub[700];
  snprintf(d, sizeof d, "%s", scratch("set"));
  CHECK(mkdir(d, 0777) == 0);
  const char *old[] = {"out0.npy", "out1.npy", "out2.npy", "out12.npy", "out01.npy", "notes"};
  for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
    snprintf(sub, sizeof sub, "%s/%s", d, old[i]);
    write_bytes(sub, "old", 3);
  }
  /* nothing moves before the commit, and an abort leaves all as it was */
  timmc_file_set set;
  const char *path;
  CHECK(timmc_file_set_begin(&set, d, "out", ".npy") == TIMMC_OK);
  CHECK(timmc_file_set_path(&set, 0, &path) == TIMMC_OK &&
        timmc_file_write(path, "new 0", 5) == TIMMC_OK);
  CHECK(strcmp(slurp(d, "out0.npy"), "old") == 0);
  timmc_file_set_abort(&set);
  CHECK(strcmp(listing(d), "notes out0.npy out01.npy out1.npy out12.npy out2.npy ") == 0);
  CHECK(strcmp(slurp(d, "out0.npy"), "old") == 0);
  /* a commit replaces the set as a whole: out2 and out12 of the earlier run go */
  mode_t mask = umask(027);
  CHECK(write_set(d, 2, "new") == TIMMC_OK);
  umask(mask);
  CHECK(strcmp(listing(d), "notes out0.npy out01.npy out1.npy ") == 0);
  CHECK(strcmp(slurp(d, "out0.npy"), "new 0") == 0 && strcmp(slurp(d, "out1.npy"), "new 1") == 0);
  struct stat sb;
  snprintf(sub, sizeof sub, "%s/out0.npy", d);
  CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0640);
  /* a directory in the way fails before anything moves */
  snprintf(sub, sizeof sub, "%s/out2.npy", d);
  CHECK(mkdir(sub, 0777) == 0);
  CHECK_ERROR(write_set(d, 3, "dir"), "out2.npy: is a directory, expected an output file");
  CHECK(strcmp(slurp(d, "out0.npy"), "new 0") == 0);
  CHECK(rmdir(sub) == 0);
  /* bad directories */
  CHECK_ERROR(timmc_file_set_begin(&set, "", "out", ".npy"), "the output directory's name is "
                                                             "empty");
  snprintf(sub, sizeof sub, "%s/notes", d);
  CHECK_ERROR(timmc_file_set_begin(&set, sub, "out", ".npy"),
              "notes: not a directory (a file), expected an output directory");
  snprintf(sub, sizeof sub, "%s/notes/x", d);
  CHECK_ERROR(timmc_file_set_begin(&set, sub, "out", ".npy"),
              "notes/x: cannot create the output directory: Not a directory");
  /* directories begin made go again with an abort */
  snprintf(sub, sizeof sub, "%s/a/b/c/", d);
  CHECK(timmc_file_set_begin(&set, sub, "out", ".npy") == TIMMC_OK);
  snprintf(sub, sizeof sub, "%s/a/b/c", d);
  CHECK(access(sub, F_OK) == 0);
  timmc_file_set_abort(&set);
  CHECK(strcmp(listing(d), "notes out0.npy out01.npy out1.npy ") == 0);

  /* writers take turns: a commit waits for the lock on the directory */
  int fd = open(d, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    close(fd); /* its lock is the parent's */
    _exit(write_set(d, 4, "child") == TIMMC_OK ? 0 : 1);
  }
  struct timespec wait = {0, 300 * 1000 * 1000};
  nanosleep(&wait, NULL);
  int status = 0;
  CHECK(waitpid(child, &status, WNOHANG) == 0);
  CHECK(strcmp(slurp(d, "out0.npy"), "new 0") == 0);
  close(fd);
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(strcmp(listing(d), "notes out0.npy out01.npy out1.npy out2.npy out3.npy ") == 0);
  CHECK(strcmp(slurp(d, "out3.npy"), "child 3") == 0);

  /* two writers of sets of 1 and of 3 files: the last set stands alone */
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    if ((kids[k] = fork()) == 0) {
      int bad = 0;
      for (int i = 0; i < 30; i++)
        bad |= write_set(d, k ? 3 : 1, k ? "three" : "one") != TIMMC_OK;
      _exit(bad);
    }
  }
  for (int k = 0; k < 2; k++)
    CHECK(waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
  const char *list = listing(d);
  if (strncmp(slurp(d, "out0.npy"), "one", 3) == 0)
    CHECK(strcmp(list, "notes out0.npy out01.npy ") == 0);
  else
    CHECK(strcmp(list, "notes out0.npy out01.npy out1.npy out2.npy ") == 0 &&
          strcmp(slurp(d, "out2.npy"), "three 2") == 0);
  const char *rm[] = {"out0.npy", "out1.npy", "out2.npy", "out01.npy", "notes"};
  for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) {
    snprintf(sub, sizeof sub, "%s/%s", d, rm[i]);
    unlink(sub);
  }
  CHECK(rmdir(d) == 0);
}

/* SIGTERM (or SIGINT) in the middle of writing removes the temporary files
 * and directories, and the process still dies of the signal. */
static void test_signal_cleanup(int sig, int use_set) {
  int ready[2];
  CHECK(pipe(ready) == 0);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    timmc_file_writer w;
    timmc_file_set set;
    const char *path = scratch("sig.bin");
    int ok = timmc_file_cleanup_on_signals() == TIMMC_OK;
    if (use_set) {
      ok = ok && timmc_file_set_begin(&set, scratch("sigset"), "out", ".npy") == TIMMC_OK;
      ok = ok && timmc_file_set_path(&set, 0, &path) == TIMMC_OK &&
           timmc_file_write(path, "x", 1) == TIMMC_OK;
      ok = ok && timmc_file_set_path(&set, 1, &path) == TIMMC_OK;
    }
    ok = ok && timmc_file_begin(&w, path) == TIMMC_OK && timmc_file_put(&w, "y", 1) == TIMMC_OK;
    if (write(ready[1], ok ? "1" : "0", 1) != 1)
      _exit(3);
    for (;;)
      pause();
  }
  char c = 0;
  CHECK(read(ready[0], &c, 1) == 1 && c == '1');
  close(ready[0]);
  close(ready[1]);
  CHECK(kill(child, sig) == 0);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == sig);
  if (use_set) {
    CHECK(strcmp(listing(scratch("sigset")), "") == 0);
    rmdir(scratch("sigset"));
  }
  CHECK(dir_entries(0) == 0);
  dir_entries(1);
}

/* A signal the process ignores stays ignored. */
static void test_signal_ignored(void) {
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    struct sigaction ign, now;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &ign, NULL);
    int ok = timmc_file_cleanup_on_signals() == TIMMC_OK;
    ok = ok && sigaction(SIGHUP, NULL, &now) == 0 && now.sa_handler == SIG_IGN;
    ok = ok && sigaction(SIGTERM, NULL, &now) == 0 && now.sa_handler != SIG_DFL;
    _exit(ok ? 0 : 1);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* timmc_kernel_add: every element (runs of 8192 a task, a tail of 3) equal to
 * clamp(a + b) computed here, at 1 and 2 threads, out of place and in place. */
static void test_add_kernel(void) {
  enum { N = 3 * 8192 + 8 * 7 + 3 };
  static float a[N], b[N], y[N];
  float params[2] = {0.0f, 6.0f};
  for (size_t threads = 1; threads <= 2; threads++) {
    pthreadpool_t pool = pthreadpool_create(threads);
    for (int in_place = 0; in_place <= 1; in_place++) {
      unsigned r = 12345;
      for (size_t i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        a[i] = (float)((int)(r >> 8) % 2000 - 1000) / 97.0f;
        b[i] = (float)((int)(r >> 3) % 2000 - 1000) / 89.0f;
      }
      float *out = in_place ? a : y;
      const timmc_op op = {.a = a, .b = b, .y = out, .work = {params}, .dims = {N}};
      float want[N];
      for (size_t i = 0; i < N; i++) {
        const float v = a[i] + b[i];
        want[i] = v < params[0] ? params[0] : v > params[1] ? params[1] : v;
      }
      CHECK(timmc_kernel_add(&op, pool) == TIMMC_OK);
      CHECK(!memcmp(out, want, sizeof want));
    }
    pthreadpool_destroy(pool);
  }
}

/* timmc_kernel_dwconv against a scalar loop that takes each output's taps in
 * the kernel's order (columns, then rows; padding skipped) with fmaf: the
 * same bits; with its SiLU fused, the bits of timmc_kernel_silu after it.
 * Shapes: channel tails of 4 and 12 (20 and 44 channels: timmc_kernel_silu
 * takes a tail of 12 as eight lanes and a padded four), pixel strides wider
 * than the channels, 5x5 at stride 2 with 'SAME' padding (1 before, 2
 * after), rows under one group of outputs (3), rows of 8 + 8 + 3, batch 2. */
static void test_dwconv_kernel(void) {
  if (!timmc_gemm_supported()) return; /* no AVX-512 here: XNNPACK runs them */
  static const struct {
    size_t batch, ih, iw, c, k, s, pt, pl, oh, ow, in_stride, out_stride;
    float lo, hi;
  } cases[] = {
      {2, 9, 11, 20, 3, 1, 1, 1, 9, 11, 24, 20, -INFINITY, INFINITY},
      {1, 8, 8, 32, 5, 2, 1, 1, 4, 4, 32, 40, 0.0f, 6.0f},
      {1, 3, 3, 16, 3, 1, 1, 1, 3, 3, 16, 16, -INFINITY, INFINITY},
      {1, 19, 19, 48, 3, 2, 1, 1, 10, 10, 48, 48, 0.0f, INFINITY},
      {1, 6, 19, 44, 5, 1, 2, 2, 6, 19, 48, 44, -INFINITY, INFINITY},
  };
  for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
    const size_t B = cases[n].batch, IH = cases[n].ih, IW = cases[n].iw, C = cases[n].c;
    const size_t K = cases[n].k, S = cases[n].s, OH = cases[n].oh, OW = cases[n].ow;
    const size_t IS = cases[n].in_stride, OS = cases[n].out_stride;
    float *x = malloc(B * IH * IW * IS * sizeof(float));
    float *y = malloc(B * OH * OW * OS * sizeof(float));
    float *want = malloc(B * OH * OW * OS * sizeof(float));
    float *kernel = malloc(C * K * K * sizeof(float)), *bias = malloc(C * sizeof(float));
    float *packed = aligned_alloc(64, timmc_dw_packed_floats(C, K) * sizeof(float));
    unsigned r = 777u + (unsigned)n;
    for (size_t i = 0; i < B * IH * IW * IS; i++) {
      r = r * 1103515245u + 12345u;
      x[i] = (float)((int)(r >> 8) % 2000 - 1000) / 97.0f;
    }
    for (size_t i = 0; i < C * K * K; i++) kernel[i] = (float)((int)(i * 37 % 23) - 11) / 13.0f;
    for (size_t i = 0; i < C; i++) bias[i] = (float)i / 7.0f - 1.0f;
    const timmc_scratch w = {.kernel = kernel, .bias = bias};
    CHECK(timmc_dw_pack(&w, (int)C, (int)K, packed) == TIMMC_OK);
    for (size_t b = 0; b < B; b++) {
      for (size_t oy = 0; oy < OH; oy++) {
        for (size_t ox = 0; ox < OW; ox++) {
          for (size_t c = 0; c < C; c++) {
            float acc = bias[c];
            for (size_t kx = 0; kx < K; kx++) {
              for (size_t ky = 0; ky < K; ky++) {
                const long iy = (long)(oy * S + ky) - (long)cases[n].pt;
                const long ix = (long)(ox * S + kx) - (long)cases[n].pl;
                if (iy < 0 || iy >= (long)IH || ix < 0 || ix >= (long)IW) continue;
                acc = fmaf(x[((b * IH + (size_t)iy) * IW + (size_t)ix) * IS + c],
                           kernel[(c * K + ky) * K + kx], acc);
              }
            }
            acc = acc < cases[n].lo ? cases[n].lo : acc > cases[n].hi ? cases[n].hi : acc;
            want[((b * OH + oy) * OW + ox) * OS + c] = acc;
          }
        }
      }
    }
    const float params[6] = {cases[n].lo, cases[n].hi, (float)K, (float)cases[n].pt,
                             (float)cases[n].pl, 0.0f};
    for (size_t threads = 1; threads <= 2; threads++) {
      pthreadpool_t pool = pthreadpool_create(threads);
      for (size_t i = 0; i < B * OH * OW * OS; i++) y[i] = -12345.0f; /* past C: untouched */
      const timmc_op op = {.a = x, .b = packed, .y = y, .work = {(float *)params},
                           .dims = {B, OH, OW, C, IS, OS, S, IH, IW}};
      CHECK(timmc_kernel_dwconv(&op, pool) == TIMMC_OK);
      size_t wrong = 0, clobbered = 0;
      for (size_t p = 0; p < B * OH * OW; p++) {
        for (size_t c = 0; c < OS; c++) {
          if (c < C) wrong += y[p * OS + c] != want[p * OS + c];
          else clobbered += y[p * OS + c] != -12345.0f;
        }
      }
      CHECK(wrong == 0);
      CHECK(clobbered == 0);
      /* with a SiLU fused: the bits of timmc_kernel_silu over those outputs */
      const timmc_op silu = {.a = y, .y = y, .dims = {B * OH * OW, C, OS, OS}};
      CHECK(timmc_kernel_silu(&silu, pool) == TIMMC_OK);
      float *fused = malloc(B * OH * OW * OS * sizeof(float));
      const float with_silu[6] = {params[0], params[1], params[2], params[3], params[4], 1.0f};
      const timmc_op op2 = {.a = x, .b = packed, .y = fused, .work = {(float *)with_silu},
                            .dims = {B, OH, OW, C, IS, OS, S, IH, IW}};
      CHECK(timmc_kernel_dwconv(&op2, pool) == TIMMC_OK);
      size_t differ = 0;
      for (size_t p = 0; p < B * OH * OW; p++) {
        differ += memcmp(fused + p * OS, y + p * OS, C * sizeof(float)) != 0;
      }
      CHECK(differ == 0);
      free(fused);
      pthreadpool_destroy(pool);
    }
    free(x);
    free(y);
    free(want);
    free(kernel);
    free(bias);
    free(packed);
  }
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
  test_st_strict_names();
  test_npy_strict();
  test_not_regular();
  test_truncated_mapping();
  test_long_messages();
  test_output_set();
  test_signal_cleanup(SIGTERM, 0);
  test_signal_cleanup(SIGINT, 1);
  test_signal_ignored();
  test_add_kernel();
  test_dwconv_kernel();
  dir_entries(1);
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
