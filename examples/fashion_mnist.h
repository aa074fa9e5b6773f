/* fashion_mnist.h: what the example applications share: the model they were built with (as
 * macros over its name) and a reader of Fashion-MNIST's gzip'd IDX files.
 * Header-only plain C; include it once, after choosing the model (see fashion_classify.c).
 */
#ifndef NETC_EXAMPLES_FASHION_MNIST_H
#define NETC_EXAMPLES_FASHION_MNIST_H

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

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

static int read_exact(gzFile f, void *buf, unsigned n) { return gzread(f, buf, n) == (int)n; }

static uint32_t big_endian(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads the first `count` images (as floats in [0, 1], NCHW) or labels of an IDX file. */
static int read_idx(const char *path, uint32_t magic, int count, float *images, int32_t *labels) {
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
    } else if (magic == 0x803 &&
               (big_endian(header + 8) != INPUT_HEIGHT || big_endian(header + 12) != INPUT_WIDTH)) {
        fprintf(stderr, "%s: images are %ux%u, the model takes %dx%d\n", path,
                big_endian(header + 8), big_endian(header + 12), INPUT_HEIGHT, INPUT_WIDTH);
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

#endif /* NETC_EXAMPLES_FASHION_MNIST_H */
