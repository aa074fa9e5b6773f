// Must-fail inputs: each malformed model reports exactly these diagnostics, with their line and
// column (Halide's test/error, in one table). Together they cover lexical and syntax errors,
// unknown names with suggestions, attribute types and ranges, shape errors naming the layer,
// duplicate and undefined values, and the model and train settings.
#include "dsl/Diagnostics.h"
#include "compiler/Frontend.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

/// A model with input 1x28x28 and 10 classes around `layers`, which start on line 4; `after`
/// follows the model block (a train block, a second model).
std::string model(const std::string &layers, const std::string &after = "") {
    return "model m {\n  input 1x28x28\n  classes 10\n" + layers + "\n}\n" + after;
}

/// Every diagnostic of the front end on `text`, as "line:col: severity: message", in the order
/// they are printed.
std::vector<std::string> diagnostics(const std::string &text) {
    netc::Frontend f = netc::run_frontend("t.net", text);
    std::vector<std::string> out;
    std::string rendered = f.diags->render();
    size_t begin = 0;
    while (begin < rendered.size()) {
        size_t end = rendered.find('\n', begin);
        std::string line = rendered.substr(begin, end - begin);
        if (line.rfind("t.net:", 0) == 0) out.push_back(line.substr(6));
        begin = end + 1;
    }
    CHECK(f.ok() != f.diags->has_errors());
    return out;
}

std::string join(const std::vector<std::string> &lines) {
    std::string out;
    for (const std::string &l : lines) out += l + "\n";
    return out;
}

struct Case {
    const char *name;
    std::string source;
    std::vector<std::string> expected;
};

const std::vector<Case> &cases() {
    static const std::vector<Case> table = {
        {"unexpected character",
         model("  flatten @\n"
               "  dense(units=10)"),
         {"4:11: error: unexpected character '@'"}},
        {"byte that is not printable",
         model("  flatten \x01"
               "\n"
               "  dense(units=10)"),
         {"4:11: error: unexpected character byte 0x01"}},
        {"unterminated string",
         model("  flatten\n"
               "  dense(units=\"10)"),
         {"5:15: error: unterminated string; expected a closing '\"' on the same line"}},
        {"malformed number",
         model("  flatten\n"
               "  dense(units=3abc)"),
         {"5:15: error: malformed number '3abc'"}},
        {"malformed shape",
         "model m {\n"
         "  input 1x28y\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"2:9: error: malformed shape '1x28y'; expected sizes separated by 'x', such as 3x32x32"}},
        {"missing closing parenthesis",
         model("  flatten\n"
               "  dense(units=10\n"
               "  relu"),
         {"6:3: error: expected ')' to close the '(' at 5:8"}},
        {"values nested too deeply",
         model("  flatten\n"
               "  dense(units=" +
               std::string(100, '[') + std::string(100, ']') + ")"),
         {"5:79: error: values nest too deeply: more than 64 levels of lists and calls"}},
        {"missing comma between attributes",
         model("  conv2d(filters=3 kernel=3)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:20: error: expected ',' or ')' in the argument list, found 'kernel'"}},
        {"missing value after '='",
         model("  flatten\n"
               "  dense(units=)"),
         {"5:15: error: expected a value (a number, a name, a string, a shape or a list), found "
          "')'"}},
        {"minus before a name",
         model("  flatten\n"
               "  dense(units=-x)"),
         {"5:16: error: expected a number after '-', found 'x'"}},
        {"unclosed list",
         model("  flatten\n"
               "  dense(units=[1, 2)"),
         {"5:20: error: expected ',' or ']' in the list, found ')'"}},
        {"line starting with a parenthesis",
         model("  (flatten)\n"
               "  dense(units=10)\n"
               "  (relu)"),
         {"4:3: error: expected a statement (a layer such as 'relu', or a setting such as 'classes "
          "10'), found '('",
          "6:3: error: expected a statement (a layer such as 'relu', or a setting such as 'classes "
          "10'), found '('"}},
        {"label without an op",
         model("  a:\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: expected an op after 'a:', found 'flatten'"}},
        {"two labels",
         model("  a: b: flatten\n"
               "  dense(units=10)"),
         {"4:6: error: 'b:' is a second label; a layer has one"}},
        {"unclosed block",
         "model m {\n"
         "  input 1x28x28\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n",
         {"6:1: error: expected '}' to close the model block opened at line 1"}},
        {"model without a name",
         "model {\n"
         "  input 1x28x28\n"
         "}\n",
         {"1:7: error: expected the model's name after 'model', found '{'"}},
        {"model without a brace",
         "model m\n"
         "  input 1x28x28\n",
         {"2:3: error: expected '{' to open the model block, found 'input'"}},
        {"text outside any block",
         "layer conv\n"
         "model m {\n"
         "  input 1x28x28\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"1:1: error: expected 'model NAME {' or 'train {', found 'layer'"}},
        {"several syntax errors in one run",
         model("  conv2d(filters=3,, kernel=3)\n"
               "  relu @\n"
               "  flatten\n"
               "  dense(units=10"),
         {"4:20: error: expected a value (a number, a name, a string, a shape or a list), found "
          "','",
          "5:8: error: unexpected character '@'",
          "8:1: error: expected ')' to close the '(' at 7:8"}},
        {"unknown op with a suggestion",
         model("  conv2x(filters=3)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: unknown op 'conv2x'; did you mean 'conv2d'?"}},
        {"unknown op without a suggestion",
         model("  frobnicate\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: unknown op 'frobnicate'"}},
        {"train setting in the model block",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  optimizer adam"),
         {"6:3: error: unknown op 'optimizer'; 'optimizer' belongs in the 'train { ... }' block"}},
        {"unknown attribute with a suggestion",
         model("  flatten\n"
               "  dense(unit=10)"),
         {"5:9: error: unknown attribute 'unit' for dense; did you mean 'units'?"}},
        {"attribute of an op that takes none",
         model("  relu(alpha=0.1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:8: error: unknown attribute 'alpha' for relu (it takes no attributes)"}},
        {"missing required attribute",
         model("  flatten\n"
               "  dense"),
         {"5:3: error: dense needs attribute 'units' (number of outputs)"}},
        {"attribute given twice",
         model("  flatten\n"
               "  dense(units=10, units=10)"),
         {"5:19: error: attribute 'units' of dense is given twice"}},
        {"integer attribute given a float",
         model("  flatten\n"
               "  dense(units=1.5)"),
         {"5:15: error: attribute 'units' of dense expects an integer, found 1.5"}},
        {"bool attribute given a number",
         model("  flatten\n"
               "  dense(units=10, bias=1)"),
         {"5:24: error: attribute 'bias' of dense expects true or false, found 1"}},
        {"enum attribute with a suggestion",
         model("  gelu(approximate=tahn)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:20: error: attribute 'approximate' of gelu has no choice 'tahn'; did you mean "
          "'tanh'?"}},
        {"enum attribute given a number",
         model("  gelu(approximate=1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:20: error: attribute 'approximate' of gelu expects one of none, tanh, found 1"}},
        {"negative kernel",
         model("  conv2d(filters=8, kernel=-3)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:28: error: attribute 'kernel' of conv2d must be >= 1, found -3"}},
        {"zero stride",
         model("  conv2d(filters=8, stride=0)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:28: error: attribute 'stride' of conv2d must be >= 1, found 0"}},
        {"dropout p = 1.5",
         model("  dropout(p=1.5)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:13: error: attribute 'p' of dropout must be in [0, 1), found 1.5"}},
        {"negative leaky_relu slope",
         model("  leaky_relu(alpha=-0.1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:20: error: attribute 'alpha' of leaky_relu must be >= 0, found -0.1"}},
        {"maxout with one piece",
         model("  maxout(pieces=1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:17: error: attribute 'pieces' of maxout must be >= 2, found 1"}},
        {"infinite number",
         model("  prelu(init=1e999)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:14: error: attribute 'init' of prelu must be a finite number, found inf"}},
        {"integer too large",
         model("  flatten\n"
               "  dense(units=99999999999999999999)"),
         {"5:15: error: attribute 'units' of dense must be at most 2147483647, found "
          "99999999999999999999"}},
        {"unknown initializer with a suggestion",
         model("  flatten\n"
               "  dense(units=10, init=he_norml)"),
         {"5:24: error: unknown initializer 'he_norml'; did you mean 'he_normal'?"}},
        {"constant initializer without its value",
         model("  flatten\n"
               "  dense(units=10, init=constant)"),
         {"5:24: error: constant initializer expects one number, as in constant(0.1)"}},
        {"initializer that takes no arguments",
         model("  flatten\n"
               "  dense(units=10, init=zeros(1))"),
         {"5:24: error: initializer 'zeros' takes no arguments"}},
        {"initializer given a number",
         model("  flatten\n"
               "  dense(units=10, init=0.1)"),
         {"5:24: error: attribute 'init' of dense expects an initializer such as he_normal or "
          "constant(0.1), found 0.1"}},
        {"positional argument that is not a name",
         model("  flatten\n"
               "  dense(10)"),
         {"5:3: error: dense needs attribute 'units' (number of outputs)",
          "5:9: error: positional arguments of dense name its input values, found 10; attributes "
          "are written name=value, as in dense(units=10)"}},
        {"value after an op",
         model("  relu 3\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:8: error: unexpected 3 after relu; attributes go inside the parentheses, as in "
          "relu(name=value)"}},
        {"add with one input",
         model("  conv2d(filters=3)\n"
               "  add\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: add takes at least 2 inputs, got 1; name the others, as in add(skip)"}},
        {"relu with two inputs",
         model("  a: conv2d(filters=3)\n"
               "  relu(a, input)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: relu takes 1 input, got 2"}},
        {"groups not dividing channels",
         model("  conv2d(filters=6)\n"
               "  groupnorm(groups=4)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'groupnorm_1' (groupnorm): groups=4 does not divide the 6 channels of "
          "the input 6x26x26"}},
        {"maxout pieces not dividing channels",
         model("  conv2d(filters=6)\n"
               "  maxout(pieces=4)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'maxout_1' (maxout): maxout with pieces=4 needs channels divisible by "
          "4, got 6x26x26"}},
        {"dense on an image",
         model("  dense(units=10)"),
         {"4:3: error: layer 'dense_1' (dense): dense expects a flat input F, got 1x28x28; insert "
          "'flatten' (or 'global_avgpool') before it"}},
        {"conv2d on a flat vector",
         model("  flatten\n"
               "  conv2d(filters=3)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'conv2d_1' (conv2d): conv2d expects an image input CxHxW, got 784 (a "
          "flat vector; did the model flatten too early?)"}},
        {"add of mismatched shapes",
         model("  a: conv2d(filters=8, pad=1)\n"
               "  b: conv2d(input, filters=4, pad=1)\n"
               "  add(a, b)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"6:3: error: layer 'add_1' (add): add expects inputs of one shape; input 1 is 8x28x28 "
          "but input 2 is 4x28x28"}},
        {"concat of mismatched sizes",
         model("  a: conv2d(filters=8)\n"
               "  concat(a, input)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'concat_1' (concat): concat expects inputs that differ only in "
          "channels; input 1 is 8x26x26 but input 2 is 1x28x28"}},
        {"conv window bigger than the input",
         "model m {\n"
         "  input 1x5x5\n"
         "  classes 10\n"
         "  conv2d(filters=6, kernel=7)\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"4:3: error: layer 'conv2d_1' (conv2d): kernel 7 with dilation 1 and pad 0 spans 7 "
          "pixels, more than the padded input 1x5x5 allows"}},
        {"dilated window bigger than the input",
         "model m {\n"
         "  input 1x5x5\n"
         "  classes 10\n"
         "  conv2d(filters=6, kernel=3, dilation=3)\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"4:3: error: layer 'conv2d_1' (conv2d): kernel 3 with dilation 3 and pad 0 spans 7 "
          "pixels, more than the padded input 1x5x5 allows"}},
        {"pool window bigger than the input",
         "model m {\n"
         "  input 1x3x3\n"
         "  classes 10\n"
         "  maxpool(kernel=4)\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"4:3: error: layer 'maxpool_1' (maxpool): a 4x4 window with pad 0 does not fit the input "
          "1x3x3"}},
        {"pool padding more than half the window",
         model("  avgpool(kernel=2, pad=2)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'avgpool_1' (avgpool): pad 2 is more than half the kernel 2"}},
        {"hog with fewer cells than a block",
         model("  hog(cell=10, block=3)\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'hog_1' (hog): a 28x28 image holds 2x2 cells of 10x10 pixels, fewer "
          "than one block of 3x3 cells; use a smaller cell or block"}},
        {"hog of a flat vector",
         model("  flatten\n"
               "  hog\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'hog_1' (hog): hog expects an image input CxHxW, got 784 (a flat "
          "vector; did the model flatten too early?)"}},
        {"features after a trained layer",
         model("  stem: conv2d(filters=4)\n"
               "  relu\n"
               "  hog(cell=4)\n"
               "  dense(units=10)"),
         {"6:3: error: layer 'hog_1' (hog) passes no gradient to its input, but 'stem' (conv2d) "
          "before it has trained parameters; compute features from the input or from layers "
          "without parameters"}},
        {"knn with a loss and a regularizer",
         model("  classify knn(k=3)\n"
               "  loss svm\n"
               "  regularize l2"),
         {"5:8: error: the model has a loss, but a kNN model trains nothing: 'classify knn' "
          "compares features with the stored training set's",
          "6:14: error: the model has a regularizer, but a kNN model trains nothing: 'classify "
          "knn' compares features with the stored training set's"}},
        {"knn after a trained layer",
         model("  flatten\n"
               "  fc: dense(units=32)\n"
               "  classify knn"),
         {"5:3: error: layer 'fc' (dense) has parameters, but a kNN model trains nothing: its "
          "layers compute fixed features, such as flatten, avgpool, hog or color_histogram",
          "6:12: note: the model classifies by neighbours here"}},
        {"knn with k below 1 and an unknown distance",
         model("  classify knn(k=0, distance=l3)"),
         {"4:18: error: attribute 'k' of classifier knn must be >= 1, found 0",
          "4:30: error: attribute 'distance' of classifier knn has no choice 'l3'; did you mean "
          "'l1'?"}},
        {"knn with training settings",
         model("  classify knn", "train {\n  optimizer adam\n  epochs 3\n  batch 512\n}\n"),
         {"7:3: error: 'optimizer' does not apply: a kNN model trains nothing (its train block "
          "takes batch, seed and validation)",
          "8:3: error: 'epochs' does not apply: a kNN model trains nothing (its train block takes "
          "batch, seed and validation)"}},
        {"color_histogram with an empty range",
         model("  color_histogram(low=1, high=1)\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'color_histogram_1' (color_histogram): the range [low, high] = [1, "
          "1] is empty: high must be above low"}},
        {"fractional_maxpool with neither output nor ratio",
         model("  fractional_maxpool(kernel=2)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'fractional_maxpool_1' (fractional_maxpool): fractional_maxpool "
          "needs `output` (the pooled size) or `ratio` (of the input size), as "
          "torch.nn.FractionalMaxPool2d does"}},
        {"fractional_maxpool with both output and ratio",
         model("  fractional_maxpool(output=10, ratio=0.5)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'fractional_maxpool_1' (fractional_maxpool): fractional_maxpool "
          "takes `output` or `ratio`, not both"}},
        {"fractional_maxpool output too large for its regions",
         model("  fractional_maxpool(kernel=3, output=27)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'fractional_maxpool_1' (fractional_maxpool): a 3x3 region for each "
          "of 27 outputs along the height needs output + kernel - 1 <= input, but the input "
          "1x28x28 has 28"}},
        {"fractional_maxpool ratio that leaves nothing",
         model("  maxpool(kernel=4)\n"
               "  maxpool(kernel=7)\n"
               "  fractional_maxpool(kernel=1, ratio=0.5)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"6:3: error: layer 'fractional_maxpool_1' (fractional_maxpool): ratio 0.5 of the input "
          "1x1x1 leaves no output along its height"}},
        {"fractional_maxpool ratio 1",
         model("  fractional_maxpool(ratio=1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:28: error: attribute 'ratio' of fractional_maxpool must be in (0, 1), found 1"}},
        {"fractional_maxpool on a vector",
         model("  flatten\n"
               "  fractional_maxpool(output=2)\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'fractional_maxpool_1' (fractional_maxpool): fractional_maxpool "
          "expects an image input CxHxW, got 784 (a flat vector; did the model flatten too "
          "early?)"}},
        {"dropconnect = 1 and below 0",
         model("  conv2d(filters=2, dropconnect=1)\n"
               "  flatten\n"
               "  dense(units=10, dropconnect=-0.5)"),
         {"4:33: error: attribute 'dropconnect' of conv2d must be in [0, 1), found 1",
          "6:31: error: attribute 'dropconnect' of dense must be in [0, 1), found -0.5"}},
        {"stochastic_depth p = 1 and an unknown mode",
         model("  stochastic_depth(p=1)\n"
               "  stochastic_depth(mode=col)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:22: error: attribute 'p' of stochastic_depth must be in [0, 1), found 1",
          "5:25: error: attribute 'mode' of stochastic_depth has no choice 'col'; did you mean "
          "'row'?"}},
        {"last layer not matching classes",
         model("  flatten\n"
               "  dense(units=11)"),
         {"5:3: error: the last layer 'dense_1' must produce one score per class, 10, but produces "
          "11; end the model with dense(units=10)"}},
        {"last layer still an image",
         model("  conv2d(filters=10)"),
         {"4:3: error: the last layer 'conv2d_1' must produce one score per class, 10, but "
          "produces 10x26x26; flatten and end with dense(units=10)"}},
        {"activation too large",
         model("  conv2d(filters=2000000, pad=1)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: layer 'conv2d_1' (conv2d) produces 2000000x28x28 per sample, more than 2^30 "
          "elements"}},
        {"weight too large",
         model("  flatten\n"
               "  dense(units=2000000)\n"
               "  dense(units=10)"),
         {"5:3: error: layer 'dense_1' (dense) needs a weight of [2000000, 784], more than 2^30 "
          "elements"}},
        {"duplicate label",
         model("  a: conv2d(filters=3)\n"
               "  a: relu\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:3: error: 'a' is already defined", "4:3: note: 'a' was defined here"}},
        {"unknown value with a suggestion",
         model("  conv1: conv2d(filters=3)\n"
               "  relu(conv)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"5:8: error: unknown value 'conv'; did you mean 'conv1'?"}},
        {"value used before its definition",
         model("  add(later)\n"
               "  later: relu\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:7: error: 'later' is used before it is defined; values must be defined before they "
          "are used"}},
        {"label that is a reserved word",
         model("  classes: relu\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:3: error: 'classes' is a reserved word and cannot name a layer"}},
        {"broken layer's label used later",
         model("  a: conv2d(filters=3 kernel=3)\n"
               "  add(a)\n"
               "  flatten\n"
               "  dense(units=10)"),
         {"4:23: error: expected ',' or ')' in the argument list, found 'kernel'"}},
        {"no input",
         "model m {\n"
         "  classes 10\n"
         "}\n",
         {"1:1: error: model 'm' has no input; add a line such as 'input 1x28x28'"}},
        {"no classes",
         "model m {\n"
         "  input 1x28x28\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"1:1: error: model 'm' does not say how many classes it has; add a line such as 'classes "
          "10'"}},
        {"no layers",
         "model m {\n"
         "  input 1x28x28\n"
         "  classes 10\n"
         "}\n",
         {"1:1: error: model 'm' has no layers"}},
        {"layers before the input",
         "model m {\n"
         "  classes 10\n"
         "  flatten\n"
         "  input 1x28x28\n"
         "  dense(units=10)\n"
         "}\n",
         {"3:3: error: layers must follow the model's 'input' line, such as 'input 1x28x28'"}},
        {"malformed input line",
         "model m {\n"
         "  input 1x28x\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"2:9: error: malformed shape '1x28x'; expected sizes separated by 'x', such as 3x32x32"}},
        {"input of rank 2",
         "model m {\n"
         "  input 28x28\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"2:9: error: 'input' expects a per-sample image shape CxHxW such as 1x28x28 or 3x32x32"}},
        {"input element type",
         "model m {\n"
         "  input 1x28x28 f64\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"2:17: error: element type must be f32, found f64"}},
        {"input size 0",
         "model m {\n"
         "  input 1x0x28\n"
         "  classes 10\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"2:9: error: input sizes must be in [1, 65536], found 0"}},
        {"classes 0",
         "model m {\n"
         "  input 1x28x28\n"
         "  classes 0\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"3:11: error: 'classes' must be in [1, 1048576], found 0"}},
        {"classes given twice",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  classes 10"),
         {"6:3: error: 'classes' is given twice"}},
        {"classes as a float",
         "model m {\n"
         "  input 1x28x28\n"
         "  classes 10.5\n"
         "  flatten\n"
         "  dense(units=10)\n"
         "}\n",
         {"3:11: error: 'classes' expects an integer, found 10.5"}},
        {"unknown loss with a suggestion",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  loss softmx"),
         {"6:8: error: unknown loss 'softmx'; did you mean 'softmax'?"}},
        {"svm margin not positive",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  loss svm(margin=0)"),
         {"6:19: error: attribute 'margin' of loss svm must be > 0, found 0"}},
        {"loss written as a call",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  loss(svm)"),
         {"6:3: error: 'loss' is a setting, written 'loss VALUE', not a call"}},
        {"regularize without a value",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  regularize"),
         {"6:3: error: 'regularize' expects a regularizer such as l2(5e-4)"}},
        {"elastic net ratio out of range",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  regularize elastic_net(l1_ratio=2)"),
         {"6:35: error: attribute 'l1_ratio' of regularizer elastic_net must be in [0, 1], found "
          "2"}},
        {"regularizer given two values",
         model("  flatten\n"
               "  dense(units=10)\n"
               "  regularize l1, l2"),
         {"6:18: error: 'regularize' expects a regularizer such as l2(5e-4)"}},
        {"two model blocks",
         model("  flatten\n"
               "  dense(units=10)",
               "model m {\n"
               "  input 1x28x28\n"
               "  classes 10\n"
               "  flatten\n"
               "  dense(units=10)\n"
               "}\n"),
         {"7:1: error: a file describes one model; a second 'model' block is not allowed",
          "1:1: note: the first 'model' block is here"}},
        {"no model block",
         "train {\n"
         "  batch 32\n"
         "}\n",
         {"1:1: error: expected a 'model NAME { ... }' block; the file has none"}},
        {"empty file",
         "",
         {"1:1: error: expected a 'model NAME { ... }' block; the file has none"}},
        {"two train blocks",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  batch 32\n"
               "}\n"
               "train {\n"
               "  batch 64\n"
               "}\n"),
         {"10:1: error: a file describes one model; a second 'train' block is not allowed",
          "7:1: note: the first 'train' block is here"}},
        {"unknown optimizer with a suggestion",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  optimizer adamm(lr=1e-3)\n"
               "}\n"),
         {"8:13: error: unknown optimizer 'adamm'; did you mean 'adam'?"}},
        {"optimizer attribute out of range",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  optimizer adam(beta1=1)\n"
               "}\n"),
         {"8:24: error: attribute 'beta1' of optimizer adam must be in [0, 1), found 1"}},
        {"optimizer attribute of another optimizer",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  optimizer sgd(rho=0.9)\n"
               "}\n"),
         {"8:17: error: unknown attribute 'rho' for optimizer sgd"}},
        {"too many positional arguments",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  optimizer sgd(0.1, 0.9)\n"
               "}\n"),
         {"8:22: error: optimizer sgd takes at most 1 argument"}},
        {"optimizer given twice",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  optimizer sgd\n"
               "  optimizer adam\n"
               "}\n"),
         {"9:3: error: 'optimizer' is given twice"}},
        {"unknown schedule",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  schedule cosin\n"
               "}\n"),
         {"8:12: error: unknown schedule 'cosin'; did you mean 'cosine'?"}},
        {"milestones not integers",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  schedule multistep(milestones=[100, 2.5])\n"
               "}\n"),
         {"8:39: error: attribute 'milestones' of schedule multistep expects a list of integers, "
          "found 2.5"}},
        {"batch 0",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  batch 0\n"
               "}\n"),
         {"8:9: error: 'batch' must be in [1, 1048576], found 0"}},
        {"epochs as a float",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  epochs 1.5\n"
               "}\n"),
         {"8:10: error: 'epochs' expects an integer, found 1.5"}},
        {"negative seed",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  seed -1\n"
               "}\n"),
         {"8:8: error: 'seed' must be in [0, 4611686018427387903], found -1"}},
        {"validation 1",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  validation 1\n"
               "}\n"),
         {"8:14: error: 'validation' must be a fraction in [0, 1), found 1"}},
        {"unknown augmentation",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  augment hflip, jitter\n"
               "}\n"),
         {"8:18: error: unknown augmentation 'jitter'"}},
        {"augmentation probability out of range",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  augment hflip(p=2)\n"
               "}\n"),
         {"8:19: error: attribute 'p' of augmentation hflip must be in [0, 1], found 2"}},
        {"augment without a value",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  augment\n"
               "}\n"),
         {"8:3: error: 'augment' expects one or more augmentations, such as 'augment hflip, "
          "random_crop(pad=4)'"}},
        {"early_stopping patience 0",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  early_stopping(patience=0)\n"
               "}\n"),
         {"8:27: error: attribute 'patience' of early_stopping must be >= 1, found 0"}},
        {"early_stopping with a value after it",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  early_stopping 5\n"
               "}\n"),
         {"8:18: error: write early_stopping(patience=N)"}},
        {"learning rate outside the optimizer",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  lr 0.1\n"
               "}\n"),
         {"8:3: error: unknown train setting 'lr'; 'lr' is an attribute of the optimizer, as in "
          "'optimizer sgd(lr=...)'"}},
        {"layer in the train block",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  relu\n"
               "}\n"),
         {"8:3: error: unknown train setting 'relu'; layers belong in the model block"}},
        {"label in the train block",
         model("  flatten\n"
               "  dense(units=10)",
               "train {\n"
               "  a: batch 32\n"
               "}\n"),
         {"8:3: error: the train block holds settings, not named layers"}},
    };
    return table;
}

}  // namespace

TEST_CASE("malformed models report exactly these errors, with line and column") {
    CHECK(cases().size() >= 40);
    for (const Case &c : cases()) {
        CAPTURE(c.name);
        CAPTURE(c.source);
        CHECK(join(diagnostics(c.source)) == join(c.expected));
    }
}

namespace {

/// `n` relu layers after the input, for the train block's `batch`.
std::string relus(int n, int64_t batch) {
    std::string layers;
    for (int i = 0; i < n; i++) layers += "  relu\n";
    return model(layers + "  flatten\n  dense(units=10)",
                 "train {\n  batch " + std::to_string(batch) + "\n}\n");
}

}  // namespace

// A model whose arena or batch tensors cannot exist is refused by `check`, at the layer, rather
// than by an internal error when `netc FILE -o` overflows a 32-bit extent (issue 12).
TEST_CASE("limits: the parameter arena within int32 offsets") {
    // Three tensors of 1.02e9 floats, each within the per-tensor limit; 3.06e9 together.
    std::string text = model("  f: flatten\n"
                             "  a: dense(f, units=1300000)\n"
                             "  b: dense(f, units=1300000)\n"
                             "  c: dense(f, units=1300000)\n"
                             "  concat(a, b, c)\n"
                             "  dense(units=10)");
    CHECK(join(diagnostics(text)) ==
          "7:3: error: layer 'c' (dense): its weight [1300000, 784] takes the parameter arena to "
          "3060200000 floats, more than 2147483647 (2^31 - 1), the most it can index; the model "
          "has too many parameters\n");
    // Two of them fit (2.04e9 floats).
    CHECK(netc::run_frontend("t.net", model("  f: flatten\n"
                                            "  a: dense(f, units=1300000)\n"
                                            "  b: dense(f, units=1300000)\n"
                                            "  concat(a, b)\n"
                                            "  dense(units=10)"))
              .ok());
}

TEST_CASE("limits: a batch's tensor within int32 indices, for the train block's batch") {
    // 10^8 floats per sample; the weights (10^8 and 10^9 floats) are within their limits.
    auto wide = [](const std::string &train) {
        return "model m {\n  input 1x1x1\n  classes 10\n  flatten\n  dense(units=100000000)\n"
               "  dense(units=10)\n}\n" +
               train;
    };
    // The default batch, 64.
    CHECK(join(diagnostics(wide(""))) ==
          "5:3: error: layer 'dense_1' (dense) produces 100000000 elements per sample, "
          "6400000000 for a batch of 64: more than 2147483647 (2^31 - 1), the most elements a "
          "buffer can index; lower the train block's 'batch' to 21 or less, or shrink the "
          "layer\n");
    CHECK(netc::run_frontend("t.net", wide("train {\n  batch 21\n}\n")).ok());
    CHECK(diagnostics(wide("train {\n  batch 22\n}\n")).size() == 1);
    // The input itself is a batch's tensor too.
    CHECK(join(diagnostics("model m {\n  input 1x65536x65536\n  classes 10\n  flatten\n"
                           "  dense(units=10)\n}\n")) ==
          "2:3: error: the input produces 4294967296 elements per sample, 274877906944 for a "
          "batch of 64: more than 2147483647 (2^31 - 1), the most elements a buffer can index; "
          "shrink the input\n");
}

TEST_CASE("limits: the activations of one batch within 64 GiB") {
    // 784 floats per sample, 2^20 samples: 3.06 GiB per value, so 20 values fit (61.3 GiB):
    // the input, 18 relus and the flatten; with 20 relus, relu_20 is the 21st.
    CHECK(netc::run_frontend("t.net", relus(18, 1 << 20)).ok());
    CHECK(join(diagnostics(relus(20, 1 << 20))) ==
          "23:3: error: the activations of one batch of 1048576 reach 64.3 GiB at layer "
          "'relu_20' (relu), more than the 64 GiB a model may use; lower the train block's "
          "'batch' or shrink the layers\n");
    CHECK(netc::run_frontend("t.net", relus(20, 1 << 19)).ok());
}

TEST_CASE("a diagnostic prints file:line:col, the source line and a caret under the column") {
    netc::Frontend f = netc::run_frontend("dir/m.net", model("\tconv2x(filters=3)\n  flatten\n"
                                                             "  dense(units=10)"));
    CHECK(f.diags->render() == "dir/m.net:4:2: error: unknown op 'conv2x'; did you mean 'conv2d'?\n"
                               "  \tconv2x(filters=3)\n"
                               "  \t^\n");
}

TEST_CASE("errors print in source order, each note after its error") {
    // Syntax errors are found before the semantic ones; the report is still in line order.
    netc::Frontend f = netc::run_frontend("t.net", model("  a: conv2d(filters=3)\n"
                                                         "  a: relu\n"
                                                         "  dense(units=10\n"
                                                         "  flatten"));
    CHECK(f.diags->render() == "t.net:5:3: error: 'a' is already defined\n"
                               "    a: relu\n"
                               "    ^\n"
                               "t.net:4:3: note: 'a' was defined here\n"
                               "    a: conv2d(filters=3)\n"
                               "    ^\n"
                               "t.net:7:3: error: expected ')' to close the '(' at 6:8\n"
                               "    flatten\n"
                               "    ^\n");
}

TEST_CASE("a value nobody uses is a warning, not an error") {
    std::string text = model("  unused: conv2d(filters=3)\n"
                             "  conv2d(input, filters=3)\n"
                             "  flatten\n"
                             "  dense(units=10)");
    CHECK(netc::run_frontend("t.net", text).ok());
    CHECK(join(diagnostics(text)) == "4:3: warning: the value of 'unused' is never used\n");
}

TEST_CASE("a layer's regularize= without a model regularizer is a warning") {
    std::string text = model("  flatten\n  dense(units=10, regularize=1e-3)");
    CHECK(netc::run_frontend("t.net", text).ok());
    CHECK(join(diagnostics(text)) ==
          "5:3: warning: regularize=0.001 on layer 'dense_1' has no effect: the model has no "
          "'regularize' line, such as 'regularize l2(5e-4)'\n");
    // With the model's regularizer, or with regularize=0, there is nothing to say.
    CHECK(diagnostics(model("  flatten\n  dense(units=10, regularize=1e-3)\n  regularize l2"))
              .empty());
    CHECK(diagnostics(model("  flatten\n  dense(units=10, regularize=0)")).empty());
}

TEST_CASE("a forgotten '}' closes the model block at the train block") {
    std::string text = "model m {\n  input 1x28x28\n  classes 10\n  flatten\n  dense(units=10)\n"
                       "train {\n  batch 32\n}\n";
    CHECK(join(diagnostics(text)) ==
          "6:1: error: expected '}' to close the model block opened at line 1\n");
}

TEST_CASE("did you mean: the nearest name within a typo's distance") {
    std::vector<std::string> ops = {"conv2d", "dense", "maxpool", "avgpool", "relu"};
    CHECK(netc::nearest_name("conv2x", ops) == "conv2d");
    CHECK(netc::nearest_name("dnese", ops) == "dense");
    CHECK(netc::nearest_name("maxpol", ops) == "maxpool");
    CHECK(netc::nearest_name("frobnicate", ops) == "");
    CHECK(netc::nearest_name("relu", ops) == "relu");
    CHECK(netc::did_you_mean("rlu", ops) == "; did you mean 'relu'?");
    CHECK(netc::did_you_mean("xyz", ops) == "");
}
