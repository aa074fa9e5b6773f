/* The train step as an application gets it: a plain C program linked with a model's object
 * calls <model>_train_step in a tight loop on one synthetic batch and prints the median step
 * time and images per second. Built by bench/aot_loop.sh with -DMODEL=<name> -include <name>.h.
 *
 *   aot_loop STEPS BATCH */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(MODEL, name)
#define CONST(name) CAT(MODEL_UPPER, name)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 100, batch = argc > 2 ? atoi(argv[2]) : 64;
    float *params = malloc(sizeof(float) * CONST(_PARAM_COUNT));
    float *state = calloc(CONST(_OPT_STATE_COUNT) + 1, sizeof(float));
    float *images = malloc(sizeof(float) * CONST(_INPUT_SIZE) * (size_t)batch);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch);
    double *times = malloc(sizeof(double) * (size_t)steps);
    float losses[3];
    if (!params || !state || !images || !labels || !times || steps < 1 || batch < 1) return 2;
    for (size_t i = 0; i < (size_t)CONST(_INPUT_SIZE) * (size_t)batch; i++) {
        images[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    }
    for (int n = 0; n < batch; n++) labels[n] = n % CONST(_CLASSES);
    FN(_init)(params, 1);
    FN(_set_total_steps)(steps + 1);
    for (int s = 0; s <= steps; s++) {
        double start = now();
        if (FN(_train_step)(params, state, images, labels, batch, s, losses) != NETC_OK) return 1;
        if (s > 0) times[s - 1] = now() - start; /* the first call sets up the workspace */
    }
    qsort(times, (size_t)steps, sizeof(double), by_value);
    double median = times[steps / 2];
    printf("{\"step_ms\": %.4f, \"img_per_s\": %.1f}\n", median * 1e3, batch / median);
    return 0;
}
