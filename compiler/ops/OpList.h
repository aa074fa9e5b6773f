#pragma once
// The one list of ops, in the order the language reference presents them.
// X(identifier) expands once per op; each op's OpDef comes from `op_<identifier>()`, defined in
// that op's own file. Adding an op: its file, one line here, the CMake source list, docs, tests.

#define NETC_FOR_EACH_OP(X)                                                                        \
    X(input)                                                                                       \
    X(dense)                                                                                       \
    X(conv2d)                                                                                      \
    X(maxpool)                                                                                     \
    X(fractional_maxpool)                                                                          \
    X(avgpool)                                                                                     \
    X(global_avgpool)                                                                              \
    X(flatten)                                                                                     \
    X(add)                                                                                         \
    X(concat)                                                                                      \
    X(sigmoid)                                                                                     \
    X(tanh)                                                                                        \
    X(relu)                                                                                        \
    X(leaky_relu)                                                                                  \
    X(prelu)                                                                                       \
    X(elu)                                                                                         \
    X(selu)                                                                                        \
    X(maxout)                                                                                      \
    X(gelu)                                                                                        \
    X(batchnorm)                                                                                   \
    X(layernorm)                                                                                   \
    X(groupnorm)                                                                                   \
    X(dropout)                                                                                     \
    X(stochastic_depth)                                                                            \
    X(hog)                                                                                         \
    X(color_histogram)
