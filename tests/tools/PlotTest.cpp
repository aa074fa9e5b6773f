// `netc plot` end to end through the built binary (NETC_BINARY): the PNG it writes, decoded with
// the runtime's PNG reader; the steps a resumed run writes twice; and every kind of bad input.

#include "runtime/Dataset.h"
#include "runtime/TestFiles.h"
#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using netc::test::read_text;
using netc::test::TempDir;
using netc::test::write_text;

namespace {

using Run = netc::test::NetcRun;
using netc::test::run_netc_in;

/// The two kinds of line runtime/Trainer.cpp writes, as it writes them.
std::string interval_line(int step, int epoch, double loss, double accuracy, double lr) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "{\"step\": %d, \"epoch\": %d, \"loss\": %.9g, \"accuracy\": %.9g, \"lr\": "
                  "%.9g, \"img_per_s\": 20000}\n",
                  step, epoch, loss, accuracy, lr);
    return line;
}

std::string epoch_line(int step, int epoch, double loss, double accuracy, double val) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "{\"step\": %d, \"epoch\": %d, \"loss\": %.9g, \"accuracy\": %.9g, "
                  "\"val_accuracy\": %.9g, \"best_val_accuracy\": %.9g, \"img_per_s\": 20000}\n",
                  step, epoch, loss, accuracy, val, val);
    return line;
}

/// Steps `first` to `last` of a run of 100-step epochs logging every 10 steps: the loss falls
/// and the accuracies rise; `shift` moves the curves, to tell two runs apart.
std::string run_lines(int first, int last, double shift = 0) {
    std::string text;
    for (int step = first; step <= last; step += 10) {
        const int epoch = (step - 1) / 100 + 1;
        const double t = step / 200.0;
        text += interval_line(step, epoch, 2.0 - 1.5 * t + shift, 0.3 + 0.6 * t - shift / 4,
                              0.001 * std::cos(t));
        if (step % 100 == 0) text += epoch_line(step, epoch, 1.5 - 0.5 * t, 0.6, 0.75 + 0.1 * t);
    }
    return text;
}

struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // (height, width, 3)

    /// Pixels of exactly `r, g, b` in rows [y0, y1).
    int count(uint8_t r, uint8_t g, uint8_t b, int y0, int y1) const {
        int n = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = 0; x < width; x++) {
                const uint8_t *p = &rgb[((size_t)y * (size_t)width + (size_t)x) * 3];
                n += p[0] == r && p[1] == g && p[2] == b;
            }
        }
        return n;
    }
};

Image decode_png(const std::string &path) {
    auto shape = netc::runtime::read_image_shape(path);
    REQUIRE_MESSAGE(shape.ok(), shape.message());
    CHECK(shape->channels == 3);
    Image image;
    image.height = shape->height;
    image.width = shape->width;
    auto planes = netc::runtime::read_image(path, {3, image.height, image.width});
    REQUIRE_MESSAGE(planes.ok(), planes.message());
    // (channels, height, width) floats back to interleaved bytes.
    const size_t plane = (size_t)image.height * image.width;
    image.rgb.resize(plane * 3);
    for (size_t p = 0; p < plane; p++) {
        for (size_t c = 0; c < 3; c++)
            image.rgb[p * 3 + c] = (uint8_t)std::lround(planes.value()[c * plane + p] * 255.0f);
    }
    return image;
}

// The series' colours in tools/netc/Plot.cpp.
constexpr uint8_t train[3] = {31, 119, 180};
constexpr uint8_t validation[3] = {230, 97, 1};

bool starts_with(const std::string &s, const std::string &prefix) {
    return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("netc plot draws a run's curves as a PNG of the size asked") {
    TempDir dir;
    write_text(dir / "run/metrics.jsonl", run_lines(10, 200));
    Run r =
        run_netc_in(dir.path(), "plot run/metrics.jsonl -o curves.png --width 640 --height 480");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err == "");
    CHECK(r.out == "curves.png: 2 epochs, 200 steps, best validation accuracy 0.8500 (epoch 2)\n");
    Image image = decode_png(dir / "curves.png");
    CHECK(image.width == 640);
    CHECK(image.height == 480);
    // The loss panel is the top one, below the title: the training curve is drawn there and
    // the validation one (an accuracy) is not; the validation accuracy is drawn below.
    const int loss_panel_end = image.height / 3;
    CHECK(image.count(train[0], train[1], train[2], 0, loss_panel_end) > 200);
    CHECK(image.count(validation[0], validation[1], validation[2], 0, loss_panel_end) == 0);
    CHECK(image.count(validation[0], validation[1], validation[2], loss_panel_end, image.height) >
          40);
    CHECK(image.count(255, 255, 255, 0, image.height) < image.width * image.height * 19 / 20);

    SUBCASE("the default size, and the default output beside the file, given its directory") {
        Run d = run_netc_in(dir.path(), "plot run");
        INFO(d.err);
        REQUIRE(d.status == 0);
        CHECK(starts_with(d.out, "run/curves.png: 2 epochs"));
        Image image = decode_png(dir / "run/curves.png");
        CHECK(image.width == 1000);
        CHECK(image.height == 700);
    }
}

TEST_CASE("after --resume each step is drawn once: the last line written for it wins") {
    // A run stopped at step 130 after its checkpoint at step 100, then continued from there:
    // steps 110 to 130 are in the file twice, first with the stopped run's values.
    TempDir dir;
    write_text(dir / "resumed/metrics.jsonl", run_lines(10, 130, 0.3) + run_lines(110, 300));
    write_text(dir / "once/metrics.jsonl", run_lines(10, 100, 0.3) + run_lines(110, 300));
    // The other way round, the stopped run's values would win: a different picture.
    write_text(dir / "other/metrics.jsonl",
               run_lines(10, 100, 0.3) + run_lines(110, 300) + run_lines(110, 130, 0.3));
    for (const char *name : {"resumed", "once", "other"}) {
        Run r = run_netc_in(dir / name, "plot metrics.jsonl -o curves.png");
        INFO(r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out == "curves.png: 3 epochs, 300 steps, best validation accuracy 0.9000 "
                       "(epoch 3)\n");
    }
    const std::string resumed = read_text(dir / "resumed/curves.png");
    CHECK(resumed == read_text(dir / "once/curves.png"));
    CHECK(resumed != read_text(dir / "other/curves.png"));
}

TEST_CASE("a last line cut short (a run still writing) is left out with a warning") {
    TempDir dir;
    write_text(dir / "metrics.jsonl", run_lines(10, 20) + "{\"step\": 30, \"lo");
    Run r = run_netc_in(dir.path(), "plot metrics.jsonl -o curves.png");
    CHECK(r.status == 0);
    CHECK(r.err == "metrics.jsonl:3: warning: the last line is cut short (a run still writing, "
                   "or killed while writing); it is left out\n");
    CHECK(decode_png(dir / "curves.png").width == 1000);
}

TEST_CASE("bad metrics are errors naming the file and line, exit 1, and write nothing") {
    const std::string good = interval_line(10, 1, 2.0, 0.3, 0.001);
    const std::string hint = "every line netc train writes has \"step\" and \"loss\"";
    struct Case {
        std::string text, error;
    };
    const Case cases[] = {
        {"", "metrics.jsonl: error: no metrics to plot: the file is empty\n"},
        {"\n  \n", "metrics.jsonl: error: no metrics to plot: the file has only blank lines\n"},
        {good + "{\"epoch\": 1, \"loss\": 1.5}\n",
         "metrics.jsonl:2: error: no \"step\": " + hint + "\n"},
        {good + "\n{\"step\": 20, \"accuracy\": 0.5}\n",
         "metrics.jsonl:3: error: no \"loss\": " + hint + "\n"},
        {"[10, 2.0]\n", "metrics.jsonl:1: error: expected a JSON object such as {\"step\": 50, "
                        "\"loss\": 1.79}, not array [10,2.0]\n"},
        {"{\"step\": -10, \"loss\": 2.0}\n",
         "metrics.jsonl:1: error: \"step\" must be a whole number >= 0, not -10\n"},
        {"{\"step\": 10, \"epoch\": \"one\", \"loss\": 2.0}\n",
         "metrics.jsonl:1: error: \"epoch\" must be a whole number >= 0, not \"one\"\n"},
        {"{\"step\": 10, \"loss\": \"high\"}\n",
         "metrics.jsonl:1: error: \"loss\" must be a number or null, not \"high\"\n"},
        {good + "{\"step\": 20, \"loss\": 1.0, \"val_accuracy\": [0.5]}\n",
         "metrics.jsonl:2: error: \"val_accuracy\" must be a number or null, not [0.5]\n"},
    };
    for (const Case &c : cases) {
        CAPTURE(c.text);
        TempDir dir;
        write_text(dir / "metrics.jsonl", c.text);
        Run r = run_netc_in(dir.path(), "plot metrics.jsonl -o curves.png");
        CHECK(r.status == 1);
        CHECK(r.err == c.error);
        CHECK(r.out == "");
        CHECK(!fs::exists(dir / "curves.png"));
    }
}

TEST_CASE("bad metrics: a line that is not JSON, with its column and the JSON parser's reason") {
    const std::string good = interval_line(10, 1, 2.0, 0.3, 0.001);
    TempDir dir;
    write_text(dir / "metrics.jsonl", good + "step 20 loss 1.5\n" + good);
    Run r = run_netc_in(dir.path(), "plot metrics.jsonl");
    CHECK(r.status == 1);
    CHECK(starts_with(r.err, "metrics.jsonl:2: error: not JSON at column 1: syntax error"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

    // A number no double holds (found by the metrics fuzzer: it ended netc with terminate()).
    write_text(dir / "metrics.jsonl", good + R"({"step": 20, "loss": 1e999})" + "\n");
    Run overflow = run_netc_in(dir.path(), "plot metrics.jsonl");
    CHECK(overflow.status == 1);
    CHECK(overflow.err == "metrics.jsonl:2: error: not JSON: number overflow parsing '1e999'\n");
}

TEST_CASE("bad metrics: of many bad lines, the first 10 and a count") {
    const std::string good = interval_line(10, 1, 2.0, 0.3, 0.001);
    TempDir dir;
    std::string text = good;
    for (int i = 0; i < 12; i++) text += "{\"step\": 20}\n";
    write_text(dir / "metrics.jsonl", text);
    Run r = run_netc_in(dir.path(), "plot metrics.jsonl");
    CHECK(r.status == 1);
    CHECK(starts_with(r.err, "metrics.jsonl:2: error: no \"loss\""));
    CHECK(r.err.find("metrics.jsonl:11: error: no \"loss\"") != std::string::npos);
    CHECK(r.err.find("metrics.jsonl:12:") == std::string::npos);
    CHECK(r.err.find("\nmetrics.jsonl: error: 2 more bad lines not shown\n") != std::string::npos);
}

TEST_CASE("bad metrics: a file that is not there") {
    TempDir dir;
    Run r = run_netc_in(dir.path(), "plot no/such/metrics.jsonl -o curves.png");
    CHECK(r.status == 1);
    CHECK(r.err == "no/such/metrics.jsonl: error: cannot open file: No such file or directory\n");
}

TEST_CASE("the output is a PNG written whole or not at all") {
    TempDir dir;
    write_text(dir / "metrics.jsonl", run_lines(10, 100));
    write_text(dir / "curves.png", "an older picture");

    SUBCASE("a bad input leaves the old file as it was") {
        write_text(dir / "bad.jsonl", "{\"step\": 10}\n");
        CHECK(run_netc_in(dir.path(), "plot bad.jsonl -o curves.png").status == 1);
        CHECK(read_text(dir / "curves.png") == "an older picture");
    }
    SUBCASE("success replaces it, and leaves no temporary file behind") {
        CHECK(run_netc_in(dir.path(), "plot metrics.jsonl -o curves.png").status == 0);
        CHECK(decode_png(dir / "curves.png").height == 700);
        std::vector<std::string> names;
        for (const auto &entry : fs::directory_iterator(dir.path())) {
            names.push_back(entry.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        CHECK(names == std::vector<std::string>{"curves.png", "metrics.jsonl"});
    }
    SUBCASE("a directory that is not there") {
        Run r = run_netc_in(dir.path(), "plot metrics.jsonl -o no/such/curves.png");
        CHECK(r.status == 1);
        CHECK(r.err == "netc: error: no/such/curves.png: cannot create a temporary file in "
                       "no/such: No such file or directory\n");
    }
    SUBCASE("a directory netc may not write to") {
        if (::geteuid() == 0) return;  // root writes anywhere
        fs::create_directory(dir / "locked");
        fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
        Run r = run_netc_in(dir.path(), "plot metrics.jsonl -o locked/curves.png");
        fs::permissions(dir / "locked", fs::perms::owner_all);
        CHECK(r.status == 1);
        CHECK(r.err == "netc: error: locked/curves.png: cannot create a temporary file in locked: "
                       "Permission denied\n");
    }
    SUBCASE("another format than PNG") {
        Run r = run_netc_in(dir.path(), "plot metrics.jsonl -o curves.jpg");
        CHECK(r.status == 1);
        CHECK(r.err == "netc: error: curves.jpg: netc plot writes PNG; name the file .png\n");
        CHECK(!fs::exists(dir / "curves.jpg"));
    }
    SUBCASE("a size out of range") {
        Run r = run_netc_in(dir.path(), "plot metrics.jsonl --width 10");
        CHECK(r.status == 1);
        CHECK(r.err.find("--width") != std::string::npos);
    }
}
