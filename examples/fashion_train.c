/* fashion_train: trains a model netc compiled into an object on Fashion-MNIST from plain C, with
 * nothing but the object's API: init, train_step, predict. Prints the running loss, then the
 * accuracy on test images, and fails when the loss did not fall.
 *
 *   fashion_train [DATA_DIR [STEPS [BATCH [SEED [MIN_ACCURACY]]]]]
 *
 * DATA_DIR holds Fashion-MNIST's four gzip'd IDX files (default: Debian's
 * /usr/share/datasets/fashion-mnist). It reads the first STEPS x BATCH training images (at most
 * 60,000; it cycles through them, reshuffled each pass), normalizes them by their mean and
 * standard deviation per channel, and trains STEPS steps of BATCH images (defaults 300 and 64).
 * Exit status 0 when the mean loss of the last 50 steps is under half that of the first 50 and
 * the accuracy on 2,000 test images is at least MIN_ACCURACY (default 0).
 *
 * Built as is, it uses fashion_mlp; -DMODEL=<name> -DMODEL_UPPER=<NAME> -include <name>.h picks
 * another compiled model. Plain C: `cc ... model.o -lz -lpthread -ldl -lm`.
 */
#ifndef MODEL
#include "fashion_mlp.h"
#define MODEL fashion_mlp
#define MODEL_UPPER FASHION_MLP
#endif
#include "fashion_mnist.h"

#include <math.h>

#if !CONST(_HAS_TRAIN_STEP)
#error "this model has no train step: an op it uses has no backward rule yet"
#endif

#define CHANNELS CONST(_INPUT_CHANNELS)
#define WINDOW 50 /* steps averaged to compare the start of training with its end */
#define TEST_COUNT 2000

/* xorshift64*: the example's own shuffling, seeded; netc's runtime has its own. */
static uint64_t next_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static void shuffle(int32_t *order, int count, uint64_t *state) {
    for (int i = count - 1; i > 0; i--) {
        int j = (int)(next_random(state) % (uint64_t)(i + 1));
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Per-channel mean and standard deviation of `count` NCHW images, as the trainer computes them. */
static void channel_statistics(const float *images, int count, float *mean, float *std) {
    const int plane = INPUT_HEIGHT * INPUT_WIDTH;
    for (int c = 0; c < CHANNELS; c++) {
        double sum = 0, square_sum = 0;
        for (int n = 0; n < count; n++) {
            const float *p = images + (size_t)n * INPUT_SIZE + (size_t)c * plane;
            for (int i = 0; i < plane; i++) {
                sum += p[i];
                square_sum += (double)p[i] * p[i];
            }
        }
        double samples = (double)count * plane, m = sum / samples;
        mean[c] = (float)m;
        std[c] = (float)sqrt(fmax(square_sum / samples - m * m, 1e-12));
    }
}

static void normalize(float *images, int count, const float *mean, const float *std) {
    const int plane = INPUT_HEIGHT * INPUT_WIDTH;
    for (int n = 0; n < count; n++) {
        for (int c = 0; c < CHANNELS; c++) {
            float *p = images + (size_t)n * INPUT_SIZE + (size_t)c * plane;
            for (int i = 0; i < plane; i++) p[i] = (p[i] - mean[c]) / std[c];
        }
    }
}

static double mean_of(const float *values, int count) {
    double sum = 0;
    for (int i = 0; i < count; i++) sum += values[i];
    return sum / count;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA_DIR;
    int steps = argc > 2 ? atoi(argv[2]) : 300;
    int batch = argc > 3 ? atoi(argv[3]) : 64;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    double min_accuracy = argc > 5 ? atof(argv[5]) : 0.0;
    char path[4096];
    int status = 1;
    if (steps < 2 * WINDOW || steps > 1000000 || batch < 1 || batch > 4096) {
        fprintf(
            stderr,
            "usage: %s [DATA_DIR [STEPS (%d..1000000) [BATCH (1..4096) [SEED [MIN_ACCURACY]]]]]\n",
            argv[0], 2 * WINDOW);
        return 1;
    }
    int count = (long)steps * batch < 60000 ? steps * batch : 60000;
    if (count < batch) count = batch;
    float *params = malloc(sizeof(float) * CONST(_PARAM_COUNT));
    float *opt_state = calloc(CONST(_OPT_STATE_COUNT) + 1, sizeof(float));
    float *images = malloc(sizeof(float) * INPUT_SIZE * (size_t)count);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)count);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)count);
    float *batch_images = malloc(sizeof(float) * INPUT_SIZE * (size_t)batch);
    int32_t *batch_labels = malloc(sizeof(int32_t) * (size_t)batch);
    float *losses = malloc(sizeof(float) * (size_t)steps);
    float *test_images = malloc(sizeof(float) * INPUT_SIZE * TEST_COUNT);
    int32_t *test_labels = malloc(sizeof(int32_t) * TEST_COUNT);
    float *probs = malloc(sizeof(float) * CLASSES * TEST_COUNT);
    float mean[CHANNELS], std[CHANNELS];
    uint64_t random_state = seed * 0x9E3779B97F4A7C15ULL + 1;

    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    if (!read_idx(path, 0x803, count, images, NULL)) goto done;
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    if (!read_idx(path, 0x801, count, NULL, labels)) goto done;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (!read_idx(path, 0x803, TEST_COUNT, test_images, NULL)) goto done;
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (!read_idx(path, 0x801, TEST_COUNT, NULL, test_labels)) goto done;
    channel_statistics(images, count, mean, std);
    normalize(images, count, mean, std);
    normalize(test_images, TEST_COUNT, mean, std);

    if (FN(_init)(params, seed) != NETC_OK) {
        fprintf(stderr, "init failed\n");
        goto done;
    }
    FN(_set_total_steps)(steps); /* schedules that anneal over the run need its length */
    for (int i = 0; i < count; i++) order[i] = i;
    for (int step = 0, cursor = count; step < steps; step++) {
        for (int b = 0; b < batch; b++, cursor++) {
            if (cursor == count) {
                shuffle(order, count, &random_state);
                cursor = 0;
            }
            memcpy(batch_images + (size_t)b * INPUT_SIZE,
                   images + (size_t)order[cursor] * INPUT_SIZE, sizeof(float) * INPUT_SIZE);
            batch_labels[b] = labels[order[cursor]];
        }
        float step_losses[3]; /* data loss, regularization, learning rate */
        int32_t code = FN(_train_step)(params, opt_state, batch_images, batch_labels, batch, step,
                                       step_losses);
        losses[step] = step_losses[0] + step_losses[1];
        if (code != NETC_OK) {
            fprintf(stderr, "train step %d failed with code %d\n", step, (int)code);
            goto done;
        }
        if (!isfinite(losses[step])) {
            fprintf(stderr, "train step %d: the loss is %f\n", step, losses[step]);
            goto done;
        }
        if ((step + 1) % WINDOW == 0) {
            printf("step %d: mean loss of the last %d steps %.4f\n", step + 1, WINDOW,
                   mean_of(losses + step + 1 - WINDOW, WINDOW));
        }
    }

    if (FN(_predict)(params, test_images, TEST_COUNT, probs) != NETC_OK) {
        fprintf(stderr, "predict failed\n");
        goto done;
    }
    int correct = 0;
    for (int n = 0; n < TEST_COUNT; n++) {
        const float *p = probs + (size_t)n * CLASSES;
        int best = 0;
        for (int k = 1; k < CLASSES; k++) best = p[k] > p[best] ? k : best;
        correct += best == test_labels[n];
    }
    double first = mean_of(losses, WINDOW), last = mean_of(losses + steps - WINDOW, WINDOW);
    printf("loss %.4f over the first %d steps, %.4f over the last %d\n", first, WINDOW, last,
           WINDOW);
    double accuracy = (double)correct / TEST_COUNT;
    printf("accuracy on %d test images: %.4f\n", TEST_COUNT, accuracy);
    if (!(last < 0.5 * first)) {
        fprintf(stderr, "the loss did not fall to half its starting value\n");
    } else if (accuracy < min_accuracy) {
        fprintf(stderr, "the accuracy is under %.4f\n", min_accuracy);
    } else {
        status = 0;
    }
done:
    free(params);
    free(opt_state);
    free(images);
    free(labels);
    free(order);
    free(batch_images);
    free(batch_labels);
    free(losses);
    free(test_images);
    free(test_labels);
    free(probs);
    return status;
}
