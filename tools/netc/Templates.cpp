#include "tools/netc/Templates.h"

// Before dsl/Error.h: the Halide.h it includes undefines internal_assert and internal_error.
#include "tools/netc/JitTrainable.h"

#include "compiler/Frontend.h"
#include "compiler/ops/OpTable.h"
#include "dsl/Error.h"
#include "runtime/Checkpoint.h"
#include "runtime/Files.h"
#include "tools/netc/PlotFont.h"

#include <algorithm>
#include <cmath>
#include <iostream>

namespace netc::cli {

namespace {

constexpr Rgb background{255, 255, 255};
constexpr Rgb ink{40, 40, 40};       // the title
constexpr Rgb muted{96, 96, 96};     // the labels
constexpr Rgb frame{150, 150, 150};  // a line around each tile, which may be white at its edge

/// The first forward node with a trained parameter, or null.
const Node *first_trained_layer(const Graph &graph, const ParamLayout &layout) {
    for (int id = 1; id < graph.forward_count; id++) {
        for (const ParamEntry *e : layout.of_node(id)) {
            if (e->trainable()) return &graph.nodes[(size_t)id];
        }
    }
    return nullptr;
}

/// The value `node` takes, traced back through the ops that keep each element's meaning: flatten
/// (a reshape) and dropout (the identity at inference). The image itself when nothing else is on
/// the way.
const Node &values_source(const Graph &graph, const Node &node) {
    const Node *at = &graph.nodes[(size_t)node.inputs[0]];
    while (at->op == &op_flatten() || at->op == &op_dropout()) {
        at = &graph.nodes[(size_t)at->inputs[0]];
    }
    return *at;
}

std::string layer_name(const Node &node) {
    return "layer '" + node.name + "' (" + node.op->name + ")";
}

/// "1x28x28".
std::string extents(int channels, int height, int width) {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

/// The layer's weight tensor and how it cuts into tiles; the checks are template_layer's.
TemplateLayer cut_into_tiles(const Graph &graph, const ParamLayout &layout, const Node &node) {
    TemplateLayer layer;
    layer.node = &node;
    layer.weight = layout.find(node.name + ".weight");
    internal_assert(layer.weight);
    const std::vector<int64_t> &w = layer.weight->shape.dims;
    layer.tiles = (int)w[0];
    if (node.op == &op_conv2d()) {
        layer.kind = TemplateLayer::ConvFilters;
        layer.channels = (int)w[1];
        layer.height = (int)w[2];
        layer.width = (int)w[3];
        return layer;
    }
    layer.kind =
        node.id == graph.output().id ? TemplateLayer::ClassTemplates : TemplateLayer::HiddenUnits;
    layer.channels = (int)graph.input.dims[0];
    layer.height = (int)graph.input.dims[1];
    layer.width = (int)graph.input.dims[2];
    internal_assert((int64_t)layer.channels * layer.height * layer.width == w[1]);
    return layer;
}

std::string tile_label(const TemplateLayer &layer, int tile,
                       const std::vector<std::string> &class_names) {
    switch (layer.kind) {
    case TemplateLayer::ClassTemplates: return class_names[(size_t)tile];
    case TemplateLayer::HiddenUnits: return "unit " + std::to_string(tile);
    case TemplateLayer::ConvFilters: return "filter " + std::to_string(tile);
    }
    internal_error("unknown template kind");
}

/// "fc (dense): a template per class, 1x28x28, ..."
std::string title_of(const TemplateLayer &layer) {
    const std::string shape = extents(layer.channels, layer.height, layer.width);
    std::string what;
    switch (layer.kind) {
    case TemplateLayer::ClassTemplates: what = "a template per class, " + shape; break;
    case TemplateLayer::HiddenUnits:
        what = "the weights of its " + std::to_string(layer.tiles) + " units, " + shape + " each";
        break;
    case TemplateLayer::ConvFilters:
        what = "its " + std::to_string(layer.tiles) + " filters, " + shape + " each";
        break;
    }
    return layer.node->name + " (" + layer.node->op->name + "): " + what +
           ", rescaled per tile (lowest weight 0, highest 255)";
}

/// Screen pixels per weight that make a tile's longer side about 120 pixels (56 when there are
/// more than 64 tiles, so that a hidden layer's hundreds still make a picture of sensible size).
int auto_scale(const TemplateSet &set) {
    const double target = set.tiles.size() > 64 ? 56 : 120;
    return std::max(1, (int)std::lround(target / std::max(set.height, set.width)));
}

/// One row of up to 10 tiles (the lecture's ten templates side by side), else about as many
/// columns as rows.
int auto_columns(int tiles) {
    if (tiles <= 10) return std::max(1, tiles);
    return (int)std::ceil(std::sqrt((double)tiles));
}

void draw_tile(Canvas &canvas, const Tile &tile, const TemplateSet &set, Box box, int scale) {
    canvas.fill_rect(box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1, frame);
    const std::vector<uint8_t> bytes = rescale_to_bytes(tile.values);
    const size_t plane = (size_t)set.height * (size_t)set.width;
    for (int y = 0; y < set.height; y++) {
        for (int x = 0; x < set.width; x++) {
            const size_t at = (size_t)y * (size_t)set.width + (size_t)x;
            const Rgb colour = set.channels == 1
                                   ? Rgb{bytes[at], bytes[at], bytes[at]}
                                   : Rgb{bytes[at], bytes[plane + at], bytes[2 * plane + at]};
            const int left = box.x0 + x * scale, top = box.y0 + y * scale;
            canvas.fill_rect(left, top, left + scale, top + scale, colour);
        }
    }
}

bool has_png_extension(const std::string &path) {
    const std::string extension = ".png";
    return path.size() >= extension.size() &&
           path.compare(path.size() - extension.size(), extension.size(), extension) == 0;
}

/// What the picture shows, for the line `netc templates` prints.
std::string describe(const TemplateLayer &layer) {
    const std::string shape = extents(layer.channels, layer.height, layer.width);
    const std::string name = layer_name(*layer.node);
    switch (layer.kind) {
    case TemplateLayer::ClassTemplates:
        return std::to_string(layer.tiles) + " class templates, the weight rows of " + name +
               " over the " + shape + " image";
    case TemplateLayer::HiddenUnits:
        return std::to_string(layer.tiles) + " units of " + name + " over the " + shape +
               " image: the model is not a linear classifier, so its first layer's weights are "
               "drawn, not class templates";
    case TemplateLayer::ConvFilters:
        return std::to_string(layer.tiles) + " filters (" + shape + ") of " + name +
               ": the model is not a linear classifier, so its first layer's filters are drawn, "
               "not class templates";
    }
    internal_error("unknown template kind");
}

}  // namespace

std::optional<TemplateLayer> template_layer(const Graph &graph, const ParamLayout &layout,
                                            Diagnostics &diags) {
    if (graph.is_knn()) {
        diags.error(graph.classifier->loc,
                    "model '" + graph.model +
                        "' is a kNN classifier: it stores the training set and has no weights to "
                        "draw as templates");
        return std::nullopt;
    }
    const Node *first = first_trained_layer(graph, layout);
    if (!first) {
        diags.error(graph.loc, "model '" + graph.model + "' has no trained layer to draw");
        return std::nullopt;
    }
    const bool dense = first->op == &op_dense(), conv = first->op == &op_conv2d();
    if (!dense && !conv) {
        diags.error(first->loc, layer_name(*first) +
                                    " is the model's first trained layer: netc templates draws "
                                    "the weights of a dense or a conv2d on the image");
        return std::nullopt;
    }
    const Node &source =
        dense ? values_source(graph, *first) : graph.nodes[(size_t)first->inputs[0]];
    if (source.id != 0) {
        diags.error(first->loc, layer_name(*first) +
                                    ", the model's first trained layer, weighs the values of " +
                                    layer_name(source) +
                                    ", not the image's pixels: its weights are not over pixels, "
                                    "so they are not images");
        return std::nullopt;
    }
    const int64_t channels = graph.input.dims[0];
    if (channels != 1 && channels != 3) {
        diags.error(graph.loc, "the input has " + std::to_string(channels) +
                                   " channels: templates are drawn gray (1 channel) or RGB (3)");
        return std::nullopt;
    }
    return cut_into_tiles(graph, layout, *first);
}

TemplateSet template_set(const TemplateLayer &layer, const std::vector<float> &params,
                         const std::vector<std::string> &class_names) {
    TemplateSet set;
    set.title = title_of(layer);
    set.channels = layer.channels;
    set.height = layer.height;
    set.width = layer.width;
    const int64_t size = (int64_t)layer.channels * layer.height * layer.width;
    internal_assert(layer.weight->size == size * layer.tiles);
    internal_assert(layer.weight->offset + layer.weight->size <= (int64_t)params.size());
    internal_assert(layer.kind != TemplateLayer::ClassTemplates ||
                    (int)class_names.size() == layer.tiles);
    for (int t = 0; t < layer.tiles; t++) {
        const auto begin = params.begin() + layer.weight->offset + t * size;
        set.tiles.push_back({tile_label(layer, t, class_names), {begin, begin + size}});
    }
    return set;
}

runtime::Result<TemplateSet> read_templates(const std::string &weights, const Graph &graph,
                                            const ParamLayout &layout, const TemplateLayer &layer) {
    // The model describes its arena to the checkpoint reader; nothing is compiled.
    const JitTrainable model(graph, layout);
    runtime::Result<runtime::Checkpoint> ckpt =
        runtime::load_checkpoint(weights, model, /*with_optimizer=*/false);
    if (!ckpt) return ckpt.status();
    return template_set(layer, ckpt->params, ckpt->class_names);
}

std::vector<uint8_t> rescale_to_bytes(const std::vector<float> &values) {
    if (values.empty()) return {};
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const double low = *lo, range = (double)*hi - low;
    std::vector<uint8_t> bytes(values.size(), 128);
    if (range <= 0) return bytes;
    for (size_t i = 0; i < values.size(); i++) {
        bytes[i] = (uint8_t)std::lround(255.0 * (values[i] - low) / range);
    }
    return bytes;
}

TemplateGrid layout_templates(const TemplateSet &set, const TemplateOptions &options) {
    TemplateGrid grid;
    const int count = (int)set.tiles.size();
    grid.scale = options.scale > 0 ? options.scale : auto_scale(set);
    const int tile_width = set.width * grid.scale, tile_height = set.height * grid.scale;
    grid.text_scale = tile_width >= 96 ? 2 : 1;
    const int ts = grid.text_scale;
    int label_width = 0;
    for (const Tile &tile : set.tiles) {
        label_width = std::max(label_width, Canvas::text_width(tile.label, ts));
    }
    const int columns =
        options.columns > 0 ? std::min(options.columns, std::max(1, count)) : auto_columns(count);
    const int rows = (count + columns - 1) / columns;
    const int pad = 16, gap = 8 * ts + 8, label_gap = 4 * ts + 2,
              text_height = Canvas::text_height(ts);
    const int cell_width = std::max(tile_width, label_width);
    const int row_height = tile_height + label_gap + text_height + gap;
    const int top = pad + text_height + 2 * label_gap + 2;
    grid.title_x = pad;
    grid.title_y = pad;
    for (int i = 0; i < count; i++) {
        const int cell_x = pad + (i % columns) * (cell_width + gap);
        const int y0 = top + (i / columns) * row_height;
        const int x0 = cell_x + (cell_width - tile_width) / 2;
        grid.tiles.push_back({x0, y0, x0 + tile_width, y0 + tile_height});
        grid.label_x.push_back(
            cell_x + (cell_width - Canvas::text_width(set.tiles[(size_t)i].label, ts)) / 2);
        grid.label_y.push_back(y0 + tile_height + label_gap);
    }
    grid.width = std::max(2 * pad + columns * cell_width + (columns - 1) * gap,
                          2 * pad + Canvas::text_width(set.title, ts));
    grid.height = top + rows * row_height - gap + pad;
    return grid;
}

Canvas draw_templates(const TemplateSet &set, const TemplateOptions &options) {
    const TemplateGrid grid = layout_templates(set, options);
    Canvas canvas(grid.width, grid.height, background);
    canvas.text(grid.title_x, grid.title_y, set.title, ink, grid.text_scale);
    for (size_t i = 0; i < set.tiles.size(); i++) {
        draw_tile(canvas, set.tiles[i], set, grid.tiles[i], grid.scale);
        canvas.text(grid.label_x[i], grid.label_y[i], set.tiles[i].label, muted, grid.text_scale);
    }
    return canvas;
}

TemplatesCommand::TemplatesCommand(CLI::App &app) {
    templates_ = app.add_subcommand(
        "templates", "draw a linear classifier's class templates (each class's weight row as an "
                     "image), or a deeper model's first-layer filters, as a PNG");
    templates_->add_option("FILE", file_, "model file (.net)")->required();
    templates_
        ->add_option("--weights", weights_,
                     "checkpoint (.safetensors) from netc train, or a PyTorch state_dict")
        ->required();
    templates_->add_option("-o,--output", output_, "the PNG file to write")->capture_default_str();
    templates_
        ->add_option("--scale", options_.scale,
                     "screen pixels per weight (default: a tile about 120 pixels across)")
        ->check(CLI::Range(1, 100));
    templates_
        ->add_option("--columns", options_.columns,
                     "tiles per row (default: one row of up to 10, else a square grid)")
        ->check(CLI::Range(1, 10000));
}

std::optional<int> TemplatesCommand::run() {
    if (*templates_) return run_templates();
    return std::nullopt;
}

int TemplatesCommand::run_templates() {
    if (!has_png_extension(output_)) {
        return user_error(output_ + ": netc templates writes PNG; name the file .png");
    }
    std::optional<Frontend> f = load_model(file_);
    if (!f) return exit_user_error;
    Diagnostics diags(*f->source);  // the front end's were printed by load_model()
    const std::optional<TemplateLayer> layer = template_layer(*f->graph, f->layout, diags);
    if (!layer) {
        diags.print(std::cerr);
        std::cerr << "1 error in " << file_ << "\n";
        return exit_user_error;
    }
    runtime::Result<TemplateSet> set = read_templates(weights_, *f->graph, f->layout, *layer);
    if (!set) return user_error(set.message());
    const std::vector<uint8_t> png = draw_templates(*set, options_).png();
    runtime::Status written = runtime::write_file_atomically(
        output_, [&](const runtime::ByteSink &sink) { sink(png.data(), png.size()); });
    if (!written) return user_error(written.message());
    std::cout << output_ << ": " << describe(*layer) << "\n";
    return 0;
}

}  // namespace netc::cli
