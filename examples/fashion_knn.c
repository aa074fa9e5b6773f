/* knn_classify: the k-nearest-neighbour model of examples/fashion_knn.net, compiled by netc to an
 * object, classifies Fashion-MNIST test images from plain C. The application owns the training
 * set: it normalizes the training images with their own mean and standard deviation (as
 * `netc train` does), turns them into the reference set with fashion_knn_features, and passes
 * that set to every fashion_knn_classify call.
 *
 *   knn_classify [DATA_DIR] [TRAIN_COUNT] [TEST_COUNT] [MIN_ACCURACY]
 *
 * Prints the test accuracy and the classification rate; exits 1 when the accuracy is below
 * MIN_ACCURACY (default 0).
 */
#include "fashion_knn.h"
#define MODEL fashion_knn
#define MODEL_UPPER FASHION_KNN
#include "fashion_mnist.h"

#include <math.h>
#include <time.h>

#define BATCH 1024 /* queries per call: the train block's batch */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The training images' per-channel mean and (population) standard deviation, applied to `n`
 * images in place. */
static void normalize(float *images, int n, const double *mean, const double *std) {
    const int pixels = INPUT_HEIGHT * INPUT_WIDTH;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < CONST(_INPUT_CHANNELS); c++) {
            float *p = images + (size_t)i * INPUT_SIZE + (size_t)c * pixels;
            for (int j = 0; j < pixels; j++) p[j] = (float)((p[j] - mean[c]) / std[c]);
        }
    }
}

static void channel_statistics(const float *images, int n, double *mean, double *std) {
    const int pixels = INPUT_HEIGHT * INPUT_WIDTH;
    for (int c = 0; c < CONST(_INPUT_CHANNELS); c++) {
        double sum = 0, squares = 0;
        for (int i = 0; i < n; i++) {
            const float *p = images + (size_t)i * INPUT_SIZE + (size_t)c * pixels;
            for (int j = 0; j < pixels; j++) {
                sum += p[j];
                squares += (double)p[j] * p[j];
            }
        }
        double count = (double)n * pixels;
        mean[c] = sum / count;
        double var = squares / count - mean[c] * mean[c];
        std[c] = var > 0 ? sqrt(var) : 1.0;
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA_DIR;
    int train_count = argc > 2 ? atoi(argv[2]) : 60000;
    int test_count = argc > 3 ? atoi(argv[3]) : 10000;
    double min_accuracy = argc > 4 ? atof(argv[4]) : 0;
    if (train_count < CONST(_K) || test_count < 1) {
        fprintf(stderr, "fashion_knn: need at least %d training and 1 test image\n", CONST(_K));
        return 2;
    }
    char path[4096];
    float *train = malloc(sizeof(float) * INPUT_SIZE * (size_t)train_count);
    float *test = malloc(sizeof(float) * INPUT_SIZE * (size_t)test_count);
    int32_t *train_labels = malloc(sizeof(int32_t) * (size_t)train_count);
    int32_t *test_labels = malloc(sizeof(int32_t) * (size_t)test_count);
    float *reference = malloc(sizeof(float) * CONST(_FEATURES) * (size_t)train_count);
    float *probs = malloc(sizeof(float) * CLASSES * BATCH);
    if (!train || !test || !train_labels || !test_labels || !reference || !probs) return 2;
    struct {
        const char *file;
        uint32_t magic;
        int count;
        float *images;
        int32_t *labels;
    } files[] = {
        {"train-images-idx3-ubyte.gz", 0x803, train_count, train, NULL},
        {"train-labels-idx1-ubyte.gz", 0x801, train_count, NULL, train_labels},
        {"t10k-images-idx3-ubyte.gz", 0x803, test_count, test, NULL},
        {"t10k-labels-idx1-ubyte.gz", 0x801, test_count, NULL, test_labels},
    };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].file);
        if (!read_idx(path, files[i].magic, files[i].count, files[i].images, files[i].labels))
            return 2;
    }

    double mean[CONST(_INPUT_CHANNELS)], std[CONST(_INPUT_CHANNELS)];
    channel_statistics(train, train_count, mean, std);
    normalize(train, train_count, mean, std);
    normalize(test, test_count, mean, std);
    for (int first = 0; first < train_count; first += BATCH) {
        int n = train_count - first < BATCH ? train_count - first : BATCH;
        int32_t status = FN(_features)(train + (size_t)first * INPUT_SIZE, n,
                                       reference + (size_t)first * CONST(_FEATURES));
        if (status != NETC_OK) {
            fprintf(stderr, "fashion_knn: features failed with %d\n", (int)status);
            return 1;
        }
    }

    int correct = 0;
    double start = now();
    for (int first = 0; first < test_count; first += BATCH) {
        int n = test_count - first < BATCH ? test_count - first : BATCH;
        int32_t status = FN(_classify)(reference, train_labels, train_count,
                                       test + (size_t)first * INPUT_SIZE, n, probs);
        if (status != NETC_OK) {
            fprintf(stderr, "fashion_knn: classify failed with %d\n", (int)status);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < CLASSES; c++) {
                if (probs[i * CLASSES + c] > probs[i * CLASSES + best]) best = c;
            }
            correct += best == test_labels[first + i];
        }
    }
    double seconds = now() - start;
    double accuracy = (double)correct / test_count;
    printf("k = %d against %d training images: accuracy %.4f on %d test images, %.0f queries/s\n",
           CONST(_K), train_count, accuracy, test_count, test_count / seconds);
    free(train);
    free(test);
    free(train_labels);
    free(test_labels);
    free(reference);
    free(probs);
    return accuracy >= min_accuracy ? 0 : 1;
}
