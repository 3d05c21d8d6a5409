/*
 * features_demo.c - the emitted API used directly, as firmware or a service
 * would: generated/resnet50_features.{h,c} (timm.create_model('resnet50',
 * features_only=True)) with a timm checkpoint, one image in, five feature
 * maps out.
 *
 *   cc -O2 -Igenerated -Iruntime examples/features_demo.c generated/resnet50_features.c \
 *      $(ls runtime/timmc_*.c | grep -v timmc_runner) -lXNNPACK -lpthreadpool -lcjson -lm
 *   ./a.out model.safetensors
 */
#include <math.h>
#include <stdio.h>

#include "resnet50_features.h"

/* Static buffers: the sizes are known when the model is generated. */
static float image[RESNET50_FEATURES_INPUT_SIZE];
static float act1[RESNET50_FEATURES_OUTPUT0_SIZE], layer1[RESNET50_FEATURES_OUTPUT1_SIZE],
    layer2[RESNET50_FEATURES_OUTPUT2_SIZE], layer3[RESNET50_FEATURES_OUTPUT3_SIZE],
    layer4[RESNET50_FEATURES_OUTPUT4_SIZE];

int main(int argc, char **argv) {
  float *const features[RESNET50_FEATURES_NUM_OUTPUTS] = {act1, layer1, layer2, layer3, layer4};
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.safetensors\n", argv[0]);
    return 2;
  }
  if (resnet50_features_set_threads(2) != TIMMC_OK ||
      resnet50_features_init_file(argv[1]) != TIMMC_OK) {
    fprintf(stderr, "%s\n", timmc_error());
    return 2;
  }
  /* an image would be normalised with ImageNet's mean and std; a ramp will do */
  for (size_t i = 0; i < RESNET50_FEATURES_INPUT_SIZE; i++) image[i] = (float)(i % 255) / 255.0f;
  if (resnet50_features_forward(image, features) != TIMMC_OK) {
    fprintf(stderr, "%s\n", timmc_error());
    return 1;
  }
  /* every map must be finite and hold something forward wrote (the buffers
   * start as zeros; ReLU outputs of a real forward are not all zero) */
  static const size_t sizes[RESNET50_FEATURES_NUM_OUTPUTS] = {
      RESNET50_FEATURES_OUTPUT0_SIZE, RESNET50_FEATURES_OUTPUT1_SIZE,
      RESNET50_FEATURES_OUTPUT2_SIZE, RESNET50_FEATURES_OUTPUT3_SIZE,
      RESNET50_FEATURES_OUTPUT4_SIZE};
  int status = 0;
  for (int i = 0; i < RESNET50_FEATURES_NUM_OUTPUTS; i++) {
    const timmc_feature_info *fi = &resnet50_features_feature_info[i];
    size_t nonzero = 0;
    for (size_t j = 0; j < sizes[i]; j++) {
      if (!isfinite(features[i][j])) status = 1;
      nonzero += features[i][j] != 0.0f;
    }
    if (nonzero == 0) status = 1;
    printf("%-7s num_chs %4d reduction %2d  [%d, %d, %d, %d]  first value %g\n", fi->module,
           fi->num_chs, fi->reduction, RESNET50_FEATURES_INPUT_N, fi->num_chs, fi->height,
           fi->width, (double)features[i][0]);
  }
  resnet50_features_free();
  return status;
}
