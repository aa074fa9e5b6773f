#pragma once
// The graph IR: one node per op application, each producing one value with a static
// per-sample shape. Nodes are stored in a topological order (inputs before users), so
// passes are straight loops. Settings that are not layers (loss, regularizer, training) ride
// along as bound choices; the training passes (compiler/TrainPasses.h) add the nodes that apply
// them: the loss, the regularization, the learning rate, the batch statistics and the updates.

#include "compiler/Attr.h"
#include "compiler/Shape.h"
#include "dsl/Source.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace netc {

struct OpDef;

struct Node {
    int id = 0;  // index in Graph::nodes
    const OpDef *op = nullptr;
    std::string name;  // "conv1", or a generated "conv2d_1"
    bool user_named = false;
    SourceLoc loc;
    std::vector<int> inputs;  // ids of the nodes whose values feed this one, in order
    Attrs attrs;
    Shape shape;  // per-sample output shape, set by infer_shapes
    // Backward nodes (appended by derive_backward):
    int forward = -1;     // the forward node whose backward rule emitted this node (a training
                          // node: the layer whose tensor or statistics it reads)
    bool batched = true;  // false: no batch dimension (a parameter gradient)
    std::string param;    // a parameter gradient, a batch statistic or an update: its tensor
                          // ("conv1.weight")
    std::string setting;  // a training node: what it applies, as the dump shows it
                          // ("svm(margin=0.5)", "l2=0.0005")
};

/// A bound setting from a table: `adam(lr=1e-3)`, `svm(margin=1)`, `random_crop(pad=4)`.
struct Choice {
    std::string name;  // canonical name
    Attrs attrs;
    SourceLoc loc;
};

struct TrainSettings {
    Choice optimizer;
    Choice schedule;
    int64_t batch = 64;
    int64_t epochs = 10;
    uint64_t seed = 0;
    double validation = 0.1;      // fraction of the training set held out
    std::vector<Choice> augment;  // applied in order to training batches
    std::optional<Choice> early_stopping;
    SourceLoc loc;
};

struct Graph {
    std::string model;  // the model's name, a C identifier
    SourceLoc loc;
    Shape input;  // per-sample input shape
    int64_t classes = 0;
    std::vector<Node> nodes;  // nodes[0] is the input; nodes[forward_count - 1] the logits;
                              // backward nodes, when derived, follow the forward ones
    int forward_count = 0;
    std::map<std::string, int> param_grads;  // tensor name -> the node of its gradient (after
                                             // the loss pass, of the loss with regularization)
    int input_grad = -1;                     // the image's gradient, when derived
    // The training nodes (compiler/TrainPasses.h), -1 or empty before their passes run:
    int sample_loss = -1;                    // each sample's loss (batched, scalar)
    int data_loss = -1;                      // its batch mean
    int reg_loss = -1;                       // the regularization term (none without one)
    int learning_rate = -1;                  // the step's rate
    std::map<std::string, int> batch_stats;  // buffer -> the statistic of the batch it averages
    std::map<std::string, int> updates;      // tensor -> the node of its update (trained tensors
                                             // the loss depends on, and buffers)
    Choice loss;
    std::optional<Choice> regularizer;
    std::optional<Choice> classifier;  // `classify knn(...)`: no loss, nothing trained
    TrainSettings train;

    /// The logits: the value of the last forward node (of a kNN model, its features).
    const Node &output() const { return nodes[forward_count - 1]; }
    /// A nearest-neighbour model: its layers compute features, `classifier` compares them with
    /// the stored training set's (compiler/Knn.h).
    bool is_knn() const { return classifier.has_value(); }
    bool has_backward() const { return (int)nodes.size() > forward_count; }
    /// The training passes have run: the graph holds its loss and its updates.
    bool has_training() const { return learning_rate >= 0; }
    /// Ids of the nodes that consume node `id`'s value.
    std::vector<int> users(int id) const;
};

/// A readable, stable dump for `netc --emit=graph` and the golden tests.
std::string dump(const Graph &graph);

}  // namespace netc
