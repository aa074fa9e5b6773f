/* fashion_classify: classifies Fashion-MNIST test images with a model netc compiled into an
 * object, prints the three most likely classes of the first COUNT images and the accuracy.
 *
 *   fashion_classify [DATA_DIR [COUNT [SEED]]]
 *
 * DATA_DIR holds t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (default: Debian's
 * /usr/share/datasets/fashion-mnist). Plain C: it links the object with
 * `cc ... model.o -lz -lpthread -ldl -lm`.
 *
 * Built as is, it uses fashion_cnn with parameters from the model's initializers and SEED (an
 * untrained network: it shows the API end to end). Built with -DMODEL=<name>
 * -DMODEL_UPPER=<NAME> -DEMBEDDED -include <name>.h, it uses a model compiled with
 * `netc FILE --weights CKPT`, whose trained weights and normalization are in the object.
 */
#include "fashion_mnist.h"

static const char *class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA_DIR;
    int count = argc > 2 ? atoi(argv[2]) : 5;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    char images_path[4096], labels_path[4096];
    float *params = malloc(sizeof(float) * CONST(_PARAM_COUNT));
    float *images = malloc(sizeof(float) * INPUT_SIZE * (count > 0 ? count : 1));
    float *probs = malloc(sizeof(float) * CLASSES * (count > 0 ? count : 1));
    int32_t *labels = malloc(sizeof(int32_t) * (count > 0 ? count : 1));
    int status = 1;
    if (count < 1 || count > 10000) {
        fprintf(stderr, "usage: %s [DATA_DIR [COUNT (1..10000) [SEED]]]\n", argv[0]);
        goto done;
    }
    snprintf(images_path, sizeof images_path, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels_path, sizeof labels_path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (!read_idx(images_path, 0x803, count, images, NULL) ||
        !read_idx(labels_path, 0x801, count, NULL, labels)) {
        goto done;
    }
#ifdef EMBEDDED
    (void)seed;
    if (FN(_predict_embedded)(images, count, probs) != NETC_OK) {
#else
    if (FN(_init)(params, seed) != NETC_OK ||
        FN(_predict)(params, images, count, probs) != NETC_OK) {
#endif
        fprintf(stderr, "the model failed\n");
        goto done;
    }
    int correct = 0;
    for (int n = 0; n < count; n++) {
        const float *p = probs + (size_t)n * CLASSES;
        int top[3] = {-1, -1, -1};
        for (int rank = 0; rank < 3; rank++) {
            for (int k = 0; k < CLASSES; k++) {
                if (k == top[0] || k == top[1]) continue;
                if (top[rank] < 0 || p[k] > p[top[rank]]) top[rank] = k;
            }
        }
        correct += top[0] == labels[n];
        if (n >= 10) continue; /* the first ten in detail */
        printf("image %d (%s):", n, class_names[labels[n]]);
        for (int rank = 0; rank < 3; rank++) {
            printf(" %s %.3f%s", class_names[top[rank]], p[top[rank]], rank < 2 ? "," : "\n");
        }
    }
    printf("accuracy on %d test images: %.4f\n", count, (double)correct / count);
    status = 0;
done:
    free(params);
    free(images);
    free(probs);
    free(labels);
    return status;
}
