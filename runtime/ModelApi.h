/* The C types every model header that netc generates starts with: return codes, the parameter
 * table's entry and netc_model, a compiled model described as data. A generic driver (netc's
 * runtime/AotModel.h, a binding to another language) takes a `const netc_model *` and runs any
 * model object without its name written in its source.
 *
 * netc copies this file verbatim into each `<model>.h`; the include guard lets several model
 * headers, and this file itself, be included together.
 *
 * ABI changes (a driver and the objects it runs must be compiled against the same netc_model):
 *   - the train block's augment list and early stopping were added after `validation`
 *     (augment_count, augment, patience, min_delta) so that an object trains as `netc train`
 *     does; an object compiled before them must be compiled again.
 */
#ifndef NETC_MODEL_API_H
#define NETC_MODEL_API_H

#include <stdint.h>

#define NETC_OK 0
#define NETC_ERROR_NULL_POINTER 1       /* a pointer argument is NULL */
#define NETC_ERROR_BAD_BATCH 2          /* batch < 1, or batch * sample size overflows int32 */
#define NETC_ERROR_BAD_LABEL 3          /* a label is < 0 or >= the number of classes */
#define NETC_ERROR_RUNTIME 4            /* the generated code failed; Halide printed why */
#define NETC_ERROR_NO_SCHEDULE_LENGTH 5 /* the schedule needs the run's length: set it first */
#define NETC_ERROR_BAD_STEP 6           /* the step is negative */
#define NETC_ERROR_BAD_SAMPLE_OFFSET 7  /* gradient's sample_offset is negative */
#define NETC_ERROR_BAD_REFERENCE                                                                   \
    8 /* a kNN reference set of fewer than k samples, or one                                       \
         whose size overflows int32 */

/* One tensor of a parameter arena. */
typedef struct netc_param_info {
    const char *name; /* "conv1.weight" */
    int64_t offset;   /* in floats from the start of the arena */
    int32_t rank;
    int64_t shape[4];  /* torch layout; unused entries 0 */
    int32_t trainable; /* 0 for batchnorm running statistics */
} netc_param_info;

/* One parameter of an augmentation: `pad=4`. */
typedef struct netc_augment_param {
    const char *name; /* "pad" */
    double value;
} netc_augment_param;

/* One augmentation of the train block's augment list, its parameters with their values (the
 * file's or the language's defaults): `random_crop(pad=4)` is {"random_crop", 1, {{"pad", 4}}}. */
typedef struct netc_augment {
    const char *name; /* "random_crop", "hflip", ... */
    int32_t param_count;
    const netc_augment_param *params; /* (param_count); NULL when 0 */
} netc_augment;

/* A compiled model: its shapes, its parameter table, its train block and its entry points.
 * Each object defines one, `<model>_model`. */
typedef struct netc_model {
    const char *name;                                  /* the model's name in its .net file */
    int32_t input_channels, input_height, input_width; /* images are NCHW floats */
    int32_t classes;
    int64_t param_count; /* floats in the parameter arena */
    int32_t param_tensor_count;
    const netc_param_info *params; /* (param_tensor_count) tensors, in arena order */
    const char *optimizer;         /* "adam" */
    int64_t opt_state_count;       /* floats of optimizer state: slots x param_count */
    int32_t optimizer_slot_count;
    const char *const *optimizer_slots; /* (optimizer_slot_count) torch.optim names: "exp_avg" */

    /* The train block's settings. */
    int32_t batch;
    int32_t epochs;
    uint64_t seed;
    double validation; /* fraction of the training data held out */
    int32_t augment_count;
    const netc_augment *augment; /* (augment_count), applied in order to training batches */
    int32_t patience; /* early stopping: epochs without a better validation accuracy; 0: off */
    double min_delta; /* early stopping: the smallest improvement that counts */

    /* The entry points, as the header declares them; NULL where the object has none. The
     * training ones are NULL when the model cannot train (an op it uses has no backward rule
     * yet). losses[0] is the data loss, losses[1] the regularization, losses[2] the learning
     * rate used. */
    int32_t (*init)(float *params, uint64_t seed);
    int32_t (*predict)(const float *params, const float *images, int32_t batch, float *probs);
    int32_t (*gradient)(const float *params, const float *images, const int32_t *labels,
                        int32_t batch, int32_t sample_offset, int64_t step, float *grad,
                        float losses[3]);
    int32_t (*apply_update)(float *params, float *opt_state, const float *grad, int64_t step);
    int32_t (*train_step)(float *params, float *opt_state, const float *images,
                          const int32_t *labels, int32_t batch, int64_t step, float losses[3]);
    void (*set_total_steps)(int64_t steps);
    int32_t (*predict_embedded)(const float *images, int32_t batch, float *probs);
    /* A nearest-neighbour model (`classify knn`) has none of the entry points above but these,
     * NULL otherwise: the reference set is the features of the stored training samples, one
     * row of feature_count floats each, with their labels. */
    int32_t feature_count; /* floats per sample that `features` writes; 0 unless kNN */
    int32_t k;             /* neighbours that vote */
    int32_t (*features)(const float *images, int32_t batch, float *features);
    int32_t (*classify)(const float *reference, const int32_t *reference_labels,
                        int32_t reference_count, const float *images, int32_t batch, float *probs);
    int32_t (*neighbors)(const float *reference, int32_t reference_count, const float *images,
                         int32_t batch, int32_t *neighbors, float *distances);
} netc_model;

#endif /* NETC_MODEL_API_H */
