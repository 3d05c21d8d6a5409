/*
 * timmc_cm.h - what a Cortex-M firmware image of timmc needs beside the
 * model: the image's own size, .npy files through semihosting, SysTick as a
 * counter of virtual time, and the runtime functions a model names that the
 * host takes from timmc_rt.c and timmc_image.c.
 */
#ifndef TIMMC_CM_H
#define TIMMC_CM_H

#include <stddef.h>
#include <stdint.h>

#include "timmc.h"

/* Bytes of each part of this image, from the linker's symbols: flash holds
 * text and rodata (and data's initial values), RAM data and bss. */
typedef struct timmc_cm_size {
  size_t text, rodata, data, bss;
} timmc_cm_size;
void timmc_cm_image_size(timmc_cm_size *size);

/* IN.npy (float32, C order, exactly that [N, C, H, W]) into dst (count floats). */
int timmc_cm_read_npy(const char *path, const int64_t *shape, float *dst, size_t count);
/* data (o's shape) as a float32 .npy at path. */
int timmc_cm_write_npy(const char *path, const timmc_output *o, const float *data);

/* SysTick on the processor clock, counting up across its 24-bit wraps. */
#define TIMMC_CM_NS_PER_TICK 40ULL /* mps2's 25 MHz */
void timmc_cm_ticks_start(void);
unsigned long long timmc_cm_ticks(void);

#endif
