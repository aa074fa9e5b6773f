#pragma once
// `netc templates FILE --weights CKPT -o templates.png`: the weights of a model's first trained
// layer seen as images (tools/netc/Canvas.h). For a linear classifier, a dense on the image's
// pixels, each class's weight row reshaped to C x H x W: the class templates CS231n's lecture 2
// shows for CIFAR-10. For a model whose first trained layer is a conv2d on the image, that layer's
// filters. Every tile is rescaled on its own, its minimum to 0 and its maximum to 255, so the
// normalization the weights were trained against (they weigh normalized pixels) does not matter.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"
#include "dsl/Diagnostics.h"
#include "runtime/Status.h"
#include "tools/netc/Canvas.h"
#include "tools/netc/Command.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netc::cli {

/// The layer whose weights are drawn, and how its weight tensor cuts into tiles.
struct TemplateLayer {
    enum Kind {
        ClassTemplates,  // a dense on the pixels giving the logits: a linear classifier
        HiddenUnits,     // a dense on the pixels feeding further layers (an MLP's first)
        ConvFilters,     // a conv2d on the image
    } kind = ClassTemplates;
    const Node *node = nullptr;               // the dense or the conv2d
    const ParamEntry *weight = nullptr;       // [units, C*H*W] or [filters, C, kh, kw]
    int tiles = 0;                            // classes, units or filters
    int channels = 0, height = 0, width = 0;  // of one tile: the image's C, H, W or C, kh, kw
};

/// The first trained layer of `graph` when its weights are over the image's pixels: a dense whose
/// input is the image, flattened (dropout between them allowed), or a conv2d on the image. The
/// dense's rows are class templates when its value is the logits, a hidden layer's units else.
/// Otherwise nullopt, with an error in `diags` at the layer (or the model) saying why its weights
/// are not images: a kNN model (no weights), a dense over computed features (hog, a hidden
/// layer), a first trained layer of another op, an image of neither 1 nor 3 channels.
std::optional<TemplateLayer> template_layer(const Graph &graph, const ParamLayout &layout,
                                            Diagnostics &diags);

/// One image of the picture.
struct Tile {
    std::string label;          // the class name, or "filter 3"
    std::vector<float> values;  // (channels, height, width): the weights as trained
};

struct TemplateSet {
    std::string title;  // one line above the tiles, naming the layer and what the tiles are
    int channels = 0, height = 0, width = 0;  // of every tile; channels 1 (gray) or 3 (RGB)
    std::vector<Tile> tiles;
};

/// The tiles of `layer` from the parameter arena `params` (the layout's floats): one per class,
/// labelled with `class_names`, or one per unit or filter, labelled "unit i" or "filter i".
TemplateSet template_set(const TemplateLayer &layer, const std::vector<float> &params,
                         const std::vector<std::string> &class_names);

/// Reads the checkpoint at `weights` (from `netc train`, or a PyTorch state_dict, whose classes
/// are named "0", "1", ...) for the model and cuts `layer`'s weight into tiles. Errors name the
/// file and what does not fit.
runtime::Result<TemplateSet> read_templates(const std::string &weights, const Graph &graph,
                                            const ParamLayout &layout, const TemplateLayer &layer);

/// `values` as bytes: the minimum to 0, the maximum to 255, linearly, rounded; 128 each when
/// they are all equal (nothing to tell apart: an untrained, zero-initialized layer).
std::vector<uint8_t> rescale_to_bytes(const std::vector<float> &values);

struct TemplateOptions {
    int scale = 0;    // screen pixels per weight; 0: about 120 pixels for a tile's longer side
    int columns = 0;  // tiles per row; 0: one row of up to 10, else a grid about as wide as high
};

/// [x0, x1) x [y0, y1) in pixels.
struct Box {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// Where everything goes: the title at the top left, then the tiles in rows, each with its label
/// centred below it.
struct TemplateGrid {
    int width = 0, height = 0;  // of the picture
    int scale = 1;              // screen pixels per weight
    int text_scale = 1;         // screen pixels per font pixel
    int title_x = 0, title_y = 0;
    std::vector<Box> tiles;    // one per tile, in order
    std::vector<int> label_x;  // the left end of each tile's label
    std::vector<int> label_y;  // the top of each tile's label
};

TemplateGrid layout_templates(const TemplateSet &set, const TemplateOptions &options);

/// The picture: white, the title, each tile enlarged `scale` times (every weight a square of
/// `scale` x `scale` pixels, gray or RGB), framed, labelled below.
Canvas draw_templates(const TemplateSet &set, const TemplateOptions &options);

class TemplatesCommand : public Command {
public:
    /// Adds the `templates` subcommand to `app`.
    explicit TemplatesCommand(CLI::App &app);
    /// After parsing: the exit status of `templates` when it was chosen (0 success, 1 a user
    /// error), nullopt otherwise.
    std::optional<int> run() override;

private:
    int run_templates();

    CLI::App *templates_ = nullptr;
    std::string file_, weights_, output_ = "templates.png";
    TemplateOptions options_;
};

}  // namespace netc::cli
