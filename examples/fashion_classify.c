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
#ifndef MODEL
#include "fashion_cnn.h"
#define MODEL fashion_cnn
#define MODEL_UPPER FASHION_CNN
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(MODEL, name)
#define CONST(name) CAT(MODEL_UPPER, name)
#define INPUT_SIZE CONST(_INPUT_SIZE)
#define INPUT_HEIGHT CONST(_INPUT_HEIGHT)
#define INPUT_WIDTH CONST(_INPUT_WIDTH)
#define CLASSES CONST(_CLASSES)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static int read_exact(gzFile f, void *buf, unsigned n) { return gzread(f, buf, n) == (int)n; }

static uint32_t big_endian(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads the first `count` images (as floats in [0, 1], NCHW) or labels of an IDX file. */
static int read_idx(const char *path, uint32_t magic, int count, float *images, int *labels) {
    unsigned char header[16];
    unsigned header_size = magic == 0x803 ? 16 : 8;
    gzFile f = gzopen(path, "rb");
    int ok = 0;
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 0;
    }
    if (!read_exact(f, header, header_size) || big_endian(header) != magic) {
        fprintf(stderr, "%s: not an IDX file with magic 0x%08x\n", path, (unsigned)magic);
    } else if ((int)big_endian(header + 4) < count) {
        fprintf(stderr, "%s: holds %u items, fewer than %d\n", path, big_endian(header + 4), count);
    } else if (magic == 0x803 && (big_endian(header + 8) != INPUT_HEIGHT ||
                                  big_endian(header + 12) != INPUT_WIDTH)) {
        fprintf(stderr, "%s: images are %ux%u, the model takes %dx%d\n", path,
                big_endian(header + 8), big_endian(header + 12), INPUT_HEIGHT,
                INPUT_WIDTH);
    } else {
        unsigned item = magic == 0x803 ? INPUT_SIZE : 1;
        unsigned char *bytes = malloc((size_t)count * item);
        if (bytes && read_exact(f, bytes, (unsigned)count * item)) {
            for (int i = 0; i < count * (int)item; i++) {
                if (images) images[i] = bytes[i] / 255.0f;
                if (labels) labels[i] = bytes[i];
            }
            ok = 1;
        } else {
            fprintf(stderr, "%s: truncated\n", path);
        }
        free(bytes);
    }
    gzclose(f);
    return ok;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int count = argc > 2 ? atoi(argv[2]) : 5;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    char images_path[4096], labels_path[4096];
    float *params = malloc(sizeof(float) * CONST(_PARAM_COUNT));
    float *images = malloc(sizeof(float) * INPUT_SIZE * (count > 0 ? count : 1));
    float *probs = malloc(sizeof(float) * CLASSES * (count > 0 ? count : 1));
    int *labels = malloc(sizeof(int) * (count > 0 ? count : 1));
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
    if (FN(_init)(params, seed) != NETC_OK || FN(_predict)(params, images, count, probs) != NETC_OK) {
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
        if (n >= 10) continue;  /* the first ten in detail */
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
