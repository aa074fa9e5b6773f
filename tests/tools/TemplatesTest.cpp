// `netc templates` in process (tools/netc/Templates.h): which layer a model's templates come from
// and the errors where there is none, the tiles cut from checkpoints netc and PyTorch write, and
// the picture, written as PNG and read back with the runtime's image reader.

#include "tools/netc/Templates.h"
#include "compiler/Frontend.h"
#include "runtime/Checkpoint.h"
#include "runtime/Dataset.h"
#include "runtime/Safetensors.h"
#include "runtime/TestFiles.h"
#include "tools/netc/JitTrainable.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using netc::cli::Box;
using netc::cli::TemplateLayer;
using netc::cli::TemplateSet;
using netc::test::TempDir;

namespace {

/// A tiny model: `layers` on a 1x4x6 image (taller than wide is not square, so a transposed
/// tile would show), 3 classes.
netc::Frontend model(const std::string &input, const std::string &layers) {
    netc::Frontend f = netc::run_frontend("t.net", "model tiny {\n  input " + input +
                                                       "\n  classes 3\n" + layers + "\n}\n");
    REQUIRE_MESSAGE(f.ok(), f.diags->render());
    return f;
}

const std::string linear = "  flatten\n  fc: dense(units=3)";

netc::Frontend example(const std::string &name) {
    std::string read_error;
    netc::Frontend f = netc::load_model_file(
        std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net", read_error);
    REQUIRE_MESSAGE(read_error.empty(), read_error);
    REQUIRE_MESSAGE(f.ok(), f.diags->render());
    return f;
}

/// The layer to draw, which the test expects there to be.
TemplateLayer layer_of(const netc::Frontend &f) {
    netc::Diagnostics diags(*f.source);
    std::optional<TemplateLayer> layer = netc::cli::template_layer(*f.graph, f.layout, diags);
    REQUIRE_MESSAGE(layer, diags.render());
    return *layer;
}

/// The rendered error when the model has no layer to draw ("" when it has one).
std::string refusal(const netc::Frontend &f) {
    netc::Diagnostics diags(*f.source);
    std::optional<TemplateLayer> layer = netc::cli::template_layer(*f.graph, f.layout, diags);
    CHECK(layer.has_value() == !diags.has_errors());
    return diags.render();
}

/// A parameter arena for `f` whose tensor `name` holds `values` (the rest zero).
std::vector<float> arena_with(const netc::Frontend &f, const std::string &name,
                              const std::vector<float> &values) {
    std::vector<float> arena((size_t)f.layout.total, 0.0f);
    const netc::ParamEntry *e = f.layout.find(name);
    REQUIRE(e);
    REQUIRE(e->size == (int64_t)values.size());
    std::copy(values.begin(), values.end(), arena.begin() + e->offset);
    return arena;
}

/// Row c of the linear model's [3, 24] weight: class 0 rises along the flattened image, class 1
/// rises 10 times as steeply from -50, class 2 falls.
std::vector<float> ramps() {
    std::vector<float> w;
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 24; i++) {
            w.push_back(c == 0 ? 0.01f * (float)i : c == 1 ? 10.0f * (float)i - 50 : -(float)i);
        }
    }
    return w;
}

/// What pixel i of row c of ramps() must become: rising ramps 0 to 255, the falling one 255 to 0.
uint8_t ramp_byte(int c, int i) {
    const int position = c == 2 ? 23 - i : i;
    return (uint8_t)std::lround(255.0 * position / 23.0);
}

struct Image {
    int width = 0, height = 0;
    std::vector<float> planes;  // (3, height, width) in [0, 1]

    uint8_t at(int channel, int x, int y) const {
        return (uint8_t)std::lround(
            planes[((size_t)channel * (size_t)height + (size_t)y) * (size_t)width + (size_t)x] *
            255.0f);
    }
    bool gray_at(int x, int y, uint8_t value) const {
        return at(0, x, y) == value && at(1, x, y) == value && at(2, x, y) == value;
    }
    /// Pixels in `box` that are not white.
    int inked(Box box) const {
        int n = 0;
        for (int y = box.y0; y < box.y1; y++) {
            for (int x = box.x0; x < box.x1; x++) n += !gray_at(x, y, 255);
        }
        return n;
    }
};

/// The picture as a PNG file in `dir`, read back with the runtime's image reader.
Image written_and_read(const TempDir &dir, const TemplateSet &set,
                       const netc::cli::TemplateOptions &options) {
    const std::vector<uint8_t> png = netc::cli::draw_templates(set, options).png();
    const std::string path = dir / "templates.png";
    netc::test::write_bytes(path, png);
    auto shape = netc::runtime::read_image_shape(path);
    REQUIRE_MESSAGE(shape.ok(), shape.message());
    CHECK(shape->channels == 3);
    Image image;
    image.width = shape->width;
    image.height = shape->height;
    auto planes = netc::runtime::read_image(path, {3, image.height, image.width});
    REQUIRE_MESSAGE(planes.ok(), planes.message());
    image.planes = std::move(*planes);
    return image;
}

/// Whether every screen pixel of weight (x, y) of the tile in `box`, `scale` pixels a side, is
/// `rgb`.
bool weight_drawn(const Image &image, Box box, int scale, int x, int y, const uint8_t rgb[3]) {
    for (int dy = 0; dy < scale; dy++) {
        for (int dx = 0; dx < scale; dx++) {
            for (int k = 0; k < 3; k++) {
                if (image.at(k, box.x0 + x * scale + dx, box.y0 + y * scale + dy) != rgb[k]) {
                    return false;
                }
            }
        }
    }
    return true;
}

}  // namespace

TEST_CASE("rescale_to_bytes: the minimum to 0, the maximum to 255, a constant to 128") {
    using netc::cli::rescale_to_bytes;
    CHECK(rescale_to_bytes({-2, 0, 2}) == std::vector<uint8_t>{0, 128, 255});
    CHECK(rescale_to_bytes({5, 1, 3}) == std::vector<uint8_t>{255, 0, 128});
    CHECK(rescale_to_bytes({0.5f, 0.5f}) == std::vector<uint8_t>{128, 128});
    CHECK(rescale_to_bytes({}).empty());
}

TEST_CASE("a linear classifier's templates: each weight row rescaled, drawn and labelled") {
    netc::Frontend f = model("1x4x6", linear);
    const TemplateLayer layer = layer_of(f);
    CHECK(layer.kind == TemplateLayer::ClassTemplates);
    CHECK(layer.node->name == "fc");
    CHECK(layer.tiles == 3);
    CHECK(layer.channels == 1);
    CHECK(layer.height == 4);
    CHECK(layer.width == 6);

    // A netc checkpoint, written as netc train writes one, with its class names.
    TempDir dir;
    const std::string ckpt = dir / "ckpt.safetensors";
    {
        const netc::JitTrainable trainable(*f.graph, f.layout);
        const std::vector<float> arena = arena_with(f, "fc.weight", ramps());
        netc::runtime::Status saved =
            netc::runtime::save_checkpoint(ckpt, trainable, arena.data(), nullptr,
                                           {"left", "middle", "right"}, {{0.5f}, {0.25f}}, {}, 1);
        REQUIRE_MESSAGE(saved.ok(), saved.message());
    }
    netc::runtime::Result<TemplateSet> set =
        netc::cli::read_templates(ckpt, *f.graph, f.layout, layer);
    REQUIRE_MESSAGE(set.ok(), set.message());
    REQUIRE(set->tiles.size() == 3);
    CHECK(set->tiles[0].label == "left");
    CHECK(set->tiles[2].label == "right");
    CHECK(set->tiles[1].values[23] == doctest::Approx(180));
    CHECK(set->title.find("fc (dense)") == 0);

    const netc::cli::TemplateOptions options{.scale = 5, .columns = 0};
    const netc::cli::TemplateGrid grid = netc::cli::layout_templates(*set, options);
    const Image image = written_and_read(dir, *set, options);
    CHECK(image.width == grid.width);
    CHECK(image.height == grid.height);
    for (int c = 0; c < 3; c++) {
        CAPTURE(c);
        const Box box = grid.tiles[(size_t)c];
        CHECK(box.x1 - box.x0 == 6 * 5);
        CHECK(box.y1 - box.y0 == 4 * 5);
        CHECK(box.y0 == grid.tiles[0].y0);  // three tiles: one row
        int wrong = 0;
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 6; x++) {
                const uint8_t v = ramp_byte(c, y * 6 + x);
                const uint8_t rgb[3] = {v, v, v};
                wrong += !weight_drawn(image, box, 5, x, y, rgb);
            }
        }
        CHECK(wrong == 0);
        // The label strip below the tile holds the label's ink and nothing else does.
        const int text_width = netc::cli::Canvas::text_width(set->tiles[(size_t)c].label, 1);
        const Box label{grid.label_x[(size_t)c], grid.label_y[(size_t)c],
                        grid.label_x[(size_t)c] + text_width,
                        grid.label_y[(size_t)c] + netc::cli::Canvas::text_height(1)};
        CHECK(label.y0 > box.y1);
        CHECK(image.inked(label) > 10);
        CHECK(image.inked({box.x0, box.y1 + 1, box.x1, label.y0}) == 0);
    }
    CHECK(image.inked({0, grid.title_y, image.width, grid.title_y + 9}) > 100);  // the title
}

TEST_CASE("a PyTorch state_dict's classes are named 0, 1, ...") {
    netc::Frontend f = model("1x4x6", linear);
    TempDir dir;
    const std::string ckpt = dir / "torch.safetensors";
    const std::vector<float> weight = ramps(), bias(3, 0.0f);
    netc::runtime::Status saved = netc::runtime::write_safetensors(
        ckpt, {{"fc.weight", netc::runtime::DType::F32, {3, 24}, weight.data()},
               {"fc.bias", netc::runtime::DType::F32, {3}, bias.data()}});
    REQUIRE_MESSAGE(saved.ok(), saved.message());
    netc::runtime::Result<TemplateSet> set =
        netc::cli::read_templates(ckpt, *f.graph, f.layout, layer_of(f));
    REQUIRE_MESSAGE(set.ok(), set.message());
    REQUIRE(set->tiles.size() == 3);
    CHECK(set->tiles[0].label == "0");
    CHECK(set->tiles[2].label == "2");
    CHECK(set->tiles[2].values == std::vector<float>(weight.begin() + 48, weight.end()));

    SUBCASE("a checkpoint of another model is refused, naming the file and the tensor") {
        netc::Frontend other = model("1x4x6", "  flatten\n  fc: dense(units=3, bias=false)");
        netc::runtime::Result<TemplateSet> refused =
            netc::cli::read_templates(ckpt, *other.graph, other.layout, layer_of(other));
        REQUIRE(!refused.ok());
        CHECK(refused.message().find(ckpt) != std::string::npos);
        CHECK(refused.message().find("fc.bias") != std::string::npos);
    }
    SUBCASE("a missing file is refused, naming it") {
        netc::runtime::Result<TemplateSet> refused =
            netc::cli::read_templates(dir / "none.safetensors", *f.graph, f.layout, layer_of(f));
        REQUIRE(!refused.ok());
        CHECK(refused.message().find("none.safetensors") != std::string::npos);
    }
}

TEST_CASE("a conv2d first: its filters in a grid, RGB over a colour image") {
    netc::Frontend f = model("3x8x8", "  conv1: conv2d(filters=5, kernel=3)\n  relu\n  flatten\n"
                                      "  dense(units=3)");
    const TemplateLayer layer = layer_of(f);
    CHECK(layer.kind == TemplateLayer::ConvFilters);
    CHECK(layer.node->name == "conv1");
    CHECK(layer.tiles == 5);
    CHECK(layer.channels == 3);
    CHECK(layer.height == 3);
    CHECK(layer.width == 3);
    // Filter f's weights: channel k of tap t is f + 10 k + t / 10 for filters 0 to 3, so red
    // (k = 0) is lowest and blue highest; filter 4 is zero, a constant drawn gray.
    std::vector<float> weights;
    for (int filter = 0; filter < 5; filter++) {
        for (int k = 0; k < 3; k++) {
            for (int t = 0; t < 9; t++) {
                weights.push_back(
                    filter == 4 ? 0.0f : (float)filter + 10.0f * (float)k + (float)t / 10.0f);
            }
        }
    }
    const TemplateSet set =
        netc::cli::template_set(layer, arena_with(f, "conv1.weight", weights), {"a", "b", "c"});
    REQUIRE(set.tiles.size() == 5);
    CHECK(set.tiles[3].label == "filter 3");
    CHECK(set.title.find("conv1 (conv2d): its 5 filters, 3x3x3 each") == 0);

    TempDir dir;
    const netc::cli::TemplateOptions options{.scale = 0, .columns = 2};
    const netc::cli::TemplateGrid grid = netc::cli::layout_templates(set, options);
    CHECK(grid.scale == 40);  // about 120 pixels a tile
    // Two columns: filters 0, 2 and 4 one under the other on the left.
    CHECK(grid.tiles[0].x0 == grid.tiles[2].x0);
    CHECK(grid.tiles[2].x0 == grid.tiles[4].x0);
    CHECK(grid.tiles[1].x0 > grid.tiles[0].x1);
    CHECK(grid.tiles[0].y0 < grid.tiles[2].y0);
    CHECK(grid.tiles[2].y0 < grid.tiles[4].y0);
    CHECK(grid.tiles[0].y0 == grid.tiles[1].y0);

    const Image image = written_and_read(dir, set, options);
    CHECK(image.height == grid.height);
    // Each filter's lowest weight (red, tap 0) is 0 and its highest (blue, tap 8) 255.
    const auto byte = [](double v, double lo, double hi) {
        return (uint8_t)std::lround(255.0 * (v - lo) / (hi - lo));
    };
    for (int filter = 0; filter < 4; filter++) {
        CAPTURE(filter);
        const double lo = filter, hi = filter + 20.8;
        for (int t = 0; t < 9; t++) {
            const double v = filter + t / 10.0;
            const uint8_t rgb[3] = {byte(v, lo, hi), byte(v + 10, lo, hi), byte(v + 20, lo, hi)};
            CHECK(weight_drawn(image, grid.tiles[(size_t)filter], 40, t % 3, t / 3, rgb));
        }
    }
    const uint8_t gray[3] = {128, 128, 128};
    CHECK(weight_drawn(image, grid.tiles[4], 40, 1, 1, gray));
}

TEST_CASE("an MLP's first dense: the weights of its units, not class templates") {
    netc::Frontend f = example("fashion_mlp");
    const TemplateLayer layer = layer_of(f);
    CHECK(layer.kind == TemplateLayer::HiddenUnits);
    CHECK(layer.tiles == 256);
    CHECK(layer.height == 28);
    const TemplateSet set = netc::cli::template_set(
        layer, std::vector<float>((size_t)f.layout.total, 0.0f), std::vector<std::string>(10));
    CHECK(set.tiles[255].label == "unit 255");
    const netc::cli::TemplateGrid grid = netc::cli::layout_templates(set, {});
    CHECK(grid.scale == 2);                        // smaller tiles when there are hundreds
    CHECK(grid.tiles[16].y0 > grid.tiles[15].y0);  // 16 a row
}

TEST_CASE("the examples: the linear ones and the CNNs are drawn, the rest refused at the layer") {
    CHECK(layer_of(example("fashion_linear")).kind == TemplateLayer::ClassTemplates);
    CHECK(layer_of(example("fashion_svm")).kind == TemplateLayer::ClassTemplates);
    CHECK(layer_of(example("fashion_cnn")).node->name == "conv1");
    const netc::Frontend cifar_resnet =
        example("cifar_resnet");  // owns the graph resnet.node is in
    const TemplateLayer resnet = layer_of(cifar_resnet);
    CHECK(resnet.node->name == "stem_conv");
    CHECK(resnet.channels == 3);

    const std::string hog = refusal(example("fashion_hog_svm"));
    CHECK(hog.find("fashion_hog_svm.net:12:3: error: layer 'fc' (dense), the model's first "
                   "trained layer, weighs the values of layer 'concat_1' (concat), not the "
                   "image's pixels") != std::string::npos);
    const std::string knn = refusal(example("fashion_knn"));
    CHECK(knn.find("fashion_knn.net:9:") != std::string::npos);
    CHECK(knn.find("is a kNN classifier: it stores the training set and has no weights") !=
          std::string::npos);
}

TEST_CASE("refused: a first trained layer of another op, a conv2d on features, no weights") {
    CHECK(
        refusal(model("1x4x6", "  bn: batchnorm\n" + linear))
            .find("t.net:4:3: error: layer 'bn' (batchnorm) is the model's first trained layer") !=
        std::string::npos);
    CHECK(
        refusal(model("1x8x8", "  maxpool(kernel=2)\n  c: conv2d(filters=2, kernel=3)\n" + linear))
            .find("layer 'c' (conv2d), the model's first trained layer, weighs the values of "
                  "layer 'maxpool_1' (maxpool)") != std::string::npos);
    CHECK(refusal(model("2x4x4", linear)).find("the input has 2 channels") != std::string::npos);
    // Dropout on the pixels keeps them pixels.
    CHECK(refusal(model("1x4x6", "  dropout(p=0.2)\n" + linear)) == "");
}
