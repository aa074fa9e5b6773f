/* mpi_train: data-parallel training of a model netc compiled into an object, from plain C with
 * MPI. Every process holds the same parameters and computes, with <model>_gradient, the gradient
 * of its shard of each global batch; one MPI_Allreduce sums the processes' gradient arenas; every
 * process then applies the same update with <model>_apply_update, so the parameters stay the same
 * on every process without ever being sent. Rank 0 prints the loss and writes the parameters.
 *
 *   mpirun -np N mpi_train [DATA_DIR [STEPS [BATCH [OUT [SHARDS]]]]]
 *
 * It trains STEPS steps (default 100) of BATCH images (default 64) on the first STEPS x BATCH
 * Fashion-MNIST training images of DATA_DIR (default Debian's /usr/share/datasets/fashion-mnist),
 * in file order (a real program shuffles, with the same seed on every process). Each global
 * batch is cut into SHARDS equal shards (default N), SHARDS / N per process, one gradient call
 * each, summed (gradient accumulation): with SHARDS = 2, one process computes exactly what two
 * do, batchnorm's per-shard statistics included. OUT: a safetensors file of rank 0's parameters,
 * each tensor under its torch name. Exit status 0 when every step succeeded with a finite loss.
 *
 * Built as is, it uses fashion_mlp; -DMODEL=<name> -DMODEL_UPPER=<NAME> -include <name>.h picks
 * another compiled model. `mpicc mpi_train.c model.o -lz -lpthread -ldl -lm`.
 */
#ifndef MODEL
#include "fashion_mlp.h"
#define MODEL fashion_mlp
#define MODEL_UPPER FASHION_MLP
#endif
#include "fashion_mnist.h"

#include <math.h>
#include <mpi.h>

#if !CONST(_HAS_TRAIN_STEP)
#error "this model has no train step: an op it uses has no backward rule yet"
#endif

#define PARAM_COUNT CONST(_PARAM_COUNT)

/* Stops every process: the others would wait in MPI_Allreduce for this one forever. */
static void fail(const char *what, int step, int code) {
    fprintf(stderr, "%s failed at step %d with code %d\n", what, step, code);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* Writes the arena as a safetensors file (little-endian): a JSON header naming each tensor's
 * dtype, shape and bytes, then the tensors back to back. PyTorch reads it with
 * safetensors.torch.load_file into a state_dict for the equivalent torch.nn model. */
static int write_safetensors(const char *path, const float *params) {
    char json[16384];
    int n = snprintf(json, sizeof json, "{");
    int64_t bytes = 0;
    for (int t = 0; t < CONST(_PARAM_TENSORS) && n < (int)sizeof json; t++) {
        const netc_param_info *p = &FN(_params)[t];
        int64_t count = 1;
        n += snprintf(json + n, sizeof json - n, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                      t ? "," : "", p->name);
        for (int d = 0; d < p->rank && n < (int)sizeof json; d++) {
            n +=
                snprintf(json + n, sizeof json - n, "%s%lld", d ? "," : "", (long long)p->shape[d]);
            count *= p->shape[d];
        }
        if (n < (int)sizeof json) {
            n += snprintf(json + n, sizeof json - n, "],\"data_offsets\":[%lld,%lld]}",
                          (long long)bytes, (long long)(bytes + 4 * count));
        }
        bytes += 4 * count;
    }
    while (n < (int)sizeof json - 1 && (n + 1) % 8 != 0) json[n++] = ' '; /* 8-byte alignment */
    if (n >= (int)sizeof json - 1) return 0;
    json[n++] = '}';
    unsigned char size[8];
    for (int i = 0; i < 8; i++) size[i] = (unsigned char)((uint64_t)n >> (8 * i));
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(size, 1, 8, f) == 8 && fwrite(json, 1, n, f) == (size_t)n;
    for (int t = 0; ok && t < CONST(_PARAM_TENSORS); t++) {
        const netc_param_info *p = &FN(_params)[t];
        size_t count = 1;
        for (int d = 0; d < p->rank; d++) count *= (size_t)p->shape[d];
        ok = fwrite(params + p->offset, sizeof(float), count, f) == count;
    }
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "%s: cannot write\n", path);
    return ok;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA_DIR;
    int steps = argc > 2 ? atoi(argv[2]) : 100;
    int batch = argc > 3 ? atoi(argv[3]) : 64;
    const char *out = argc > 4 && argv[4][0] ? argv[4] : NULL;
    int shards = argc > 5 ? atoi(argv[5]) : size;
    if (steps < 1 || batch < 1 || (long)steps * batch > 60000 || shards < size ||
        shards % size != 0 || batch % shards != 0) {
        if (rank == 0) {
            fprintf(stderr,
                    "usage: mpirun -np N %s [DATA_DIR [STEPS [BATCH [OUT [SHARDS]]]]]\n"
                    "  STEPS x BATCH at most 60000; SHARDS (default N) a multiple of N that "
                    "divides BATCH\n",
                    argv[0]);
        }
        MPI_Finalize();
        return 1;
    }
    const int count = steps * batch, shard = batch / shards, my_shards = shards / size;
    float *params = malloc(sizeof(float) * PARAM_COUNT);
    float *opt_state = calloc(CONST(_OPT_STATE_COUNT) + 1, sizeof(float));
    float *grad = malloc(sizeof(float) * PARAM_COUNT); /* this process's, then the sum */
    float *part = malloc(sizeof(float) * PARAM_COUNT); /* a further shard's, when SHARDS > N */
    float *images = malloc(sizeof(float) * INPUT_SIZE * (size_t)count);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)count);
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    int ok = read_idx(path, 0x803, count, images, NULL);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    ok = ok && read_idx(path, 0x801, count, NULL, labels);
    if (!ok) MPI_Abort(MPI_COMM_WORLD, 1);

    /* The same seed gives every process the same parameters (or MPI_Bcast rank 0's). */
    int code = FN(_init)(params, 1);
    if (code != NETC_OK) fail("init", 0, code);
    FN(_set_total_steps)(steps); /* schedules that anneal over the run need its length */
    double start = 0, allreduce_seconds = 0;
    for (int step = 0; step < steps; step++) {
        if (step == 1) start = MPI_Wtime(); /* the first step sets up the workspace */
        const float *batch_images = images + (size_t)step * batch * INPUT_SIZE;
        const int32_t *batch_labels = labels + (size_t)step * batch;
        float loss = 0; /* the sum of this process's shards' losses */
        for (int k = 0; k < my_shards; k++) {
            /* The shard's first sample in the global batch: dropout masks are keyed by it, so
             * they do not depend on how the batch is split. */
            const int offset = (rank * my_shards + k) * shard;
            float losses[3]; /* data loss (the shard's mean), regularization, learning rate */
            code = FN(_gradient)(params, batch_images + (size_t)offset * INPUT_SIZE,
                                 batch_labels + offset, shard, offset, step, k == 0 ? grad : part,
                                 losses);
            if (code != NETC_OK) fail("gradient", step, code);
            if (k > 0) {
                for (int i = 0; i < PARAM_COUNT; i++) grad[i] += part[i];
            }
            loss += losses[0] + losses[1];
        }
        if (!isfinite(loss)) fail("the loss", step, 0);
        const double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, grad, PARAM_COUNT, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (step > 0) allreduce_seconds += MPI_Wtime() - t0;
        /* Each shard's gradient is of its own mean loss plus the whole regularization term: their
         * mean is the gradient of the global batch's mean loss, the regularization counted once
         * (at batchnorm buffers, the mean of the shards' batch statistics). */
        for (int i = 0; i < PARAM_COUNT; i++) grad[i] /= shards;
        code = FN(_apply_update)(params, opt_state, grad, step);
        if (code != NETC_OK) fail("apply_update", step, code);
        if ((step + 1) % 10 == 0 || step + 1 == steps) {
            float total = 0;
            MPI_Reduce(&loss, &total, 1, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
            if (rank == 0) printf("step %d: loss %.4f\n", step + 1, total / shards);
        }
    }
    const double seconds = MPI_Wtime() - start;
    int status = 0;
    if (rank == 0) {
        if (steps > 1) {
            printf("%d process%s: %.0f samples/s; the all-reduce %.1f %% of the step (rank 0)\n",
                   size, size > 1 ? "es" : "", (steps - 1) * (double)batch / seconds,
                   100.0 * allreduce_seconds / seconds);
        }
        if (out && !write_safetensors(out, params)) status = 1;
    }
    free(params);
    free(opt_state);
    free(grad);
    free(part);
    free(images);
    free(labels);
    MPI_Finalize();
    return status;
}
