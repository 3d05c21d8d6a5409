/*
 * main.c - a firmware-style program on a timmc model (examples/firmware):
 * every buffer static, the weights linked in (FIRMWARE_EMBEDDED, from
 * -DFIRMWARE_WEIGHTS=...) or read from a file once, then a loop of forwards
 * that takes no memory (a camera frame would go where the test pattern is).
 * Prints the top class of each frame; exits non-zero on any failure.
 */
#include <math.h>
#include <stdio.h>

#include "classifier.h"

static float frame[CLASSIFIER_INPUT_SIZE];
static float scores[CLASSIFIER_OUTPUT0_SIZE];

int main(int argc, char **argv) {
  float *const outputs[CLASSIFIER_NUM_OUTPUTS] = {scores};
#ifdef FIRMWARE_EMBEDDED
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "usage: %s (the weights are linked in)\n", argv[0]);
    return 2;
  }
  int status = classifier_init_embedded();
#else
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.safetensors\n", argv[0]);
    return 2;
  }
  int status = classifier_init_file(argv[1]);
#endif
  if (status != TIMMC_OK) {
    fprintf(stderr, "init: %s\n", timmc_error());
    return 2;
  }
  int failed = 0;
  for (int f = 0; f < 3; f++) {
    /* a normalised test pattern that changes per frame */
    for (size_t i = 0; i < CLASSIFIER_INPUT_SIZE; i++)
      frame[i] = (float)((i * 7 + (size_t)f * 13) % 255) / 127.5f - 1.0f;
    if (classifier_forward(frame, outputs) != TIMMC_OK) {
      fprintf(stderr, "forward: %s\n", timmc_error());
      classifier_free();
      return 1;
    }
    int best = 0;
    for (int c = 0; c < CLASSIFIER_OUTPUT0_SIZE; c++) {
      if (!isfinite(scores[c])) failed = 1;
      if (scores[c] > scores[best]) best = c;
    }
    printf("frame %d: class %d (score %.6g)\n", f, best, (double)scores[best]);
  }
  classifier_free();
  return failed;
}
