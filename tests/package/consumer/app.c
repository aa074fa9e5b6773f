#include "fashion_linear.h"
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    float *p = malloc(sizeof(float) * FASHION_LINEAR_PARAM_COUNT);
    float img[FASHION_LINEAR_INPUT_SIZE] = {0}, probs[FASHION_LINEAR_CLASSES];
    if (fashion_linear_init(p, 1) || fashion_linear_predict(p, img, 1, probs)) return 1;
    printf("uniform prior: %.3f\n", probs[0]); /* zero-initialized weights: 1/10 */
    return 0;
}
