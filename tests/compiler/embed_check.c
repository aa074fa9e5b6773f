/* Drives <model>_predict_embedded from plain C for tests/compiler/AotTest.cpp.
 * Built with -DMODEL=<name> -DMODEL_UPPER=<NAME> -include <name>.h.
 *
 *   embed_check BATCH IMAGES_IN OUT
 *
 * Reads BATCH raw images (NCHW floats in [0, 1]) and writes their probabilities and the return
 * codes of calls with bad arguments. */
#include <stdio.h>
#include <stdlib.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(MODEL, name)
#define CONST(name) CAT(MODEL_UPPER, name)

int main(int argc, char **argv) {
    if (argc != 4) return 100;
    int32_t batch = atoi(argv[1]);
    float *images = malloc(sizeof(float) * CONST(_INPUT_SIZE) * batch);
    float *probs = malloc(sizeof(float) * CONST(_CLASSES) * batch);
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!in || !out) return 101;
    if (fread(images, sizeof(float), (size_t)CONST(_INPUT_SIZE) * batch, in) !=
        (size_t)CONST(_INPUT_SIZE) * batch) {
        return 102;
    }
    if (FN(_predict_embedded)(images, batch, probs) != NETC_OK) return 103;
    int32_t codes[2] = {FN(_predict_embedded)(NULL, batch, probs),
                        FN(_predict_embedded)(images, 0, probs)};
    fwrite(probs, sizeof(float), (size_t)CONST(_CLASSES) * batch, out);
    fwrite(codes, sizeof(int32_t), 2, out);
    fclose(in);
    fclose(out);
    return 0;
}
