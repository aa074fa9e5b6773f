/* Drives a netc AOT object from plain C for tests/compiler/AotTest.cpp.
 * Built with -DMODEL=<name> -DMODEL_UPPER=<NAME> -include <name>.h.
 *
 *   aot_check SEED BATCH IMAGES_IN OUT
 *
 * Reads BATCH images (NCHW floats) from IMAGES_IN, then writes to OUT: the initialized
 * parameter arena, the probabilities, the return codes of calls with bad arguments, and the
 * arena after 20 training steps on those images with labels n % classes. */
#include <stdio.h>
#include <stdlib.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(MODEL, name)
#define CONST(name) CAT(MODEL_UPPER, name)

int main(int argc, char **argv) {
    if (argc != 5) return 100;
    uint64_t seed = strtoull(argv[1], NULL, 10);
    int32_t batch = atoi(argv[2]);
    float *params = malloc(sizeof(float) * CONST(_PARAM_COUNT));
    float *images = malloc(sizeof(float) * CONST(_INPUT_SIZE) * batch);
    float *probs = malloc(sizeof(float) * CONST(_CLASSES) * batch);
    FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
    if (!in || !out) return 101;
    if (fread(images, sizeof(float), (size_t)CONST(_INPUT_SIZE) * batch, in) !=
        (size_t)CONST(_INPUT_SIZE) * batch) {
        return 102;
    }
    if (FN(_init)(params, seed) != NETC_OK) return 103;
    if (FN(_predict)(params, images, batch, probs) != NETC_OK) return 104;
    int32_t *labels = malloc(sizeof(int32_t) * batch);
    float *state = calloc(CONST(_OPT_STATE_COUNT) + 1, sizeof(float));
    float loss[3] = {0, 0, 0};
    for (int32_t n = 0; n < batch; n++) labels[n] = n % CONST(_CLASSES);
    int32_t codes[8] = {
        FN(_init)(NULL, seed),
        FN(_predict)(NULL, images, batch, probs),
        FN(_predict)(params, NULL, batch, probs),
        FN(_predict)(params, images, 0, probs),
        FN(_predict)(params, images, -3, probs),
        FN(_train_step)(params, state, images, labels, batch, 0, NULL),
        FN(_train_step)(params, state, NULL, labels, batch, 0, loss),
        0,
    };
    labels[0] = CONST(_CLASSES); /* out of range: rejected before anything changes */
    codes[7] = FN(_train_step)(params, state, images, labels, batch, 0, loss);
    labels[0] = 0;
    FN(_set_total_steps)(100);
    fwrite(params, sizeof(float), CONST(_PARAM_COUNT), out);
    fwrite(probs, sizeof(float), (size_t)CONST(_CLASSES) * batch, out);
    fwrite(codes, sizeof(int32_t), 8, out);
    for (int64_t step = 0; step < 20; step++) {
        if (FN(_train_step)(params, state, images, labels, batch, step, loss) != NETC_OK)
            return 105;
    }
    fwrite(params, sizeof(float), CONST(_PARAM_COUNT), out);
    loss[0] += loss[1]; /* the loss the step minimized */
    fwrite(loss, sizeof(float), 1, out);
    fclose(in);
    fclose(out);
    return 0;
}
