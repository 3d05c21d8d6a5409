/*
 * timmc_cm.c - the Cortex-M side of a timmc firmware image: the vector table
 * and reset handler QEMU's mps2 machines start from, SysTick, .npy files
 * through semihosting, and the runtime functions a model names (layout
 * changes; image preprocessing, which a firmware has no decoder for).
 */
#include "timmc_cm.h"

#include <stdio.h>
#include <string.h>

#include "timmc_image.h"

/* --- start-up ----------------------------------------------------------- */

void _start(void); /* newlib's crt0 (rdimon.specs): stack, bss, argv, main */
void timmc_cm_reset(void);
extern void (*const timmc_cm_vectors[16])(void);
void timmc_cm_systick(void);
static void hang(void) {
  for (;;) {
  }
}

/* The vector table, linked at address 0 (-Wl,--section-start=.vectors=0):
 * the initial stack pointer (crt0 moves it where semihosting's HEAPINFO
 * says), reset, the faults (they hang: qemu's -icount runs out or a timeout
 * ends it), SysTick. */
__attribute__((section(".vectors"), used)) void (*const timmc_cm_vectors[16])(void) = {
    (void (*)(void))0x00400000, /* top of mps2's SSRAM1 */
    timmc_cm_reset, hang, hang, hang, hang, hang, 0, 0, 0, 0, hang, hang, 0, hang,
    timmc_cm_systick,
};

/* The FPU on (CP10 and CP11, full access) before any floating-point
 * instruction, then newlib's start-up. */
__attribute__((naked, noreturn)) void timmc_cm_reset(void) {
  __asm__ volatile(
      "ldr r0, =0xE000ED88\n" /* CPACR */
      "ldr r1, [r0]\n"
      "orr r1, r1, #(0xF << 20)\n"
      "str r1, [r0]\n"
      "dsb\n"
      "isb\n"
      "b _start\n");
}

/* --- SysTick: virtual time ------------------------------------------------ */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define SYST_RELOAD 0xFFFFFFu

static volatile unsigned long long wraps;

void timmc_cm_systick(void) { wraps++; }

void timmc_cm_ticks_start(void) {
  SYST_CSR = 0;
  SYST_RVR = SYST_RELOAD;
  SYST_CVR = 0;
  wraps = 0;
  SYST_CSR = 7; /* processor clock, interrupt on wrap, enabled */
}

unsigned long long timmc_cm_ticks(void) {
  unsigned long long w;
  uint32_t v;
  do { /* a wrap between the two reads is taken again */
    w = wraps;
    v = SYST_CVR;
  } while (w != wraps);
  /* from the start (CVR 0): a tick loads RELOAD, RELOAD more reach 0, where
   * the interrupt counts a wrap; so v = 0 ends a period, v = RELOAD starts one */
  return v == 0 ? w * (SYST_RELOAD + 1ull) : w * (SYST_RELOAD + 1ull) + (SYST_RELOAD - v) + 1;
}

/* --- the image's size ------------------------------------------------------ */

extern const char __executable_start[], etext[], __data_start[], _edata[], __bss_start__[],
    __bss_end__[];

void timmc_cm_image_size(timmc_cm_size *size) {
  /* the vector table (at 0) counts with the code */
  size->text = (size_t)(etext - __executable_start) + sizeof(timmc_cm_vectors);
  size->rodata = (size_t)(__data_start - etext);
  size->data = (size_t)(_edata - __data_start);
  size->bss = (size_t)(__bss_end__ - __bss_start__);
}

/* --- .npy through semihosting ---------------------------------------------- */

int timmc_cm_read_npy(const char *path, const int64_t *shape, float *dst, size_t count) {
  FILE *f = fopen(path, "rb");
  if (!f) return timmc_fail(TIMMC_EINPUT, "%s: cannot open it (semihosting)", path);
  unsigned char pre[10];
  int rc = TIMMC_OK;
  char header[1024] = {0};
  size_t hlen = 0;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || pre[6] != 1) {
    rc = timmc_fail(TIMMC_EINPUT, "%s: not a version 1 .npy file", path);
  } else {
    hlen = pre[8] | (size_t)pre[9] << 8;
    if (hlen >= sizeof(header) || fread(header, 1, hlen, f) != hlen) {
      rc = timmc_fail(TIMMC_EINPUT, "%s: .npy header cut short or over %zu bytes", path,
                      sizeof(header) - 1);
    }
  }
  char want[128];
  snprintf(want, sizeof(want), "(%lld, %lld, %lld, %lld)", (long long)shape[0],
           (long long)shape[1], (long long)shape[2], (long long)shape[3]);
  if (rc == TIMMC_OK && (!strstr(header, "'descr': '<f4'") ||
                         !strstr(header, "'fortran_order': False") || !strstr(header, want))) {
    rc = timmc_fail(TIMMC_EINPUT, "%s: header %s, expected float32 '<f4', C order, shape %s",
                    path, header, want);
  }
  if (rc == TIMMC_OK && fread(dst, sizeof(float), count, f) != count) {
    rc = timmc_fail(TIMMC_EINPUT, "%s: fewer than the %zu floats of shape %s", path, count, want);
  }
  fclose(f);
  return rc;
}

int timmc_cm_write_npy(const char *path, const timmc_output *o, const float *data) {
  char dims[128] = "", header[256];
  size_t count = 1;
  for (int i = 0; i < o->ndim; i++) {
    size_t used = strlen(dims);
    snprintf(dims + used, sizeof(dims) - used, "%s%lld%s", i ? ", " : "",
             (long long)o->shape[i], o->ndim == 1 ? "," : ""); /* numpy's tuple */
    count *= (size_t)o->shape[i];
  }
  int len = snprintf(header, sizeof(header),
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
  while ((10 + len + 1) % 64) header[len++] = ' ';
  header[len++] = '\n';
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)len,
                                 (unsigned char)(len >> 8)};
  FILE *f = fopen(path, "wb");
  if (!f) return timmc_fail(TIMMC_EINPUT, "%s: cannot create it (semihosting)", path);
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len &&
           fwrite(data, sizeof(float), count, f) == count;
  ok = fclose(f) == 0 && ok;
  return ok ? TIMMC_OK : timmc_fail(TIMMC_ERUNTIME, "%s: write failed", path);
}

/* --- what models name ------------------------------------------------------ */

void timmc_nchw_to_nhwc(const float *src, float *dst, size_t n, size_t c, size_t hw) {
  for (size_t b = 0; b < n; b++) {
    for (size_t p = 0; p < hw; p++) {
      for (size_t k = 0; k < c; k++) dst[(b * hw + p) * c + k] = src[(b * c + k) * hw + p];
    }
  }
}

void timmc_nhwc_to_nchw(const float *src, float *dst, size_t n, size_t hw, size_t c) {
  for (size_t b = 0; b < n; b++) {
    for (size_t k = 0; k < c; k++) {
      for (size_t p = 0; p < hw; p++) dst[(b * c + k) * hw + p] = src[(b * hw + p) * c + k];
    }
  }
}

int timmc_image_preprocess(const uint8_t *rgb, int height, int width, const timmc_image_cfg *cfg,
                           float *input, void *scratch, size_t scratch_bytes) {
  (void)rgb, (void)height, (void)width, (void)cfg, (void)input, (void)scratch,
      (void)scratch_bytes;
  return timmc_fail(TIMMC_EINPUT, "image preprocessing is not part of a firmware image: "
                                  "give the input as a float32 tensor");
}
