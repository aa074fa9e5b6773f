// Random mutations of the example models (tokens deleted, duplicated or swapped, bytes flipped,
// text truncated, characters inserted) never crash the front end: run_frontend returns normally,
// an InternalError is a failure, and every rejected input carries at least one located error.
#include "compiler/Frontend.h"
#include "dsl/Error.h"

#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char *const examples[] = {"cifar_resnet", "fashion_cnn", "fashion_linear", "fashion_mlp",
                                "fashion_svm"};

std::string read_example(const std::string &name) {
    std::ifstream in(std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net");
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Byte ranges of crude tokens: runs of name/number characters, or single other characters.
std::vector<std::pair<size_t, size_t>> token_spans(const std::string &text) {
    std::vector<std::pair<size_t, size_t>> spans;
    size_t i = 0;
    while (i < text.size()) {
        unsigned char c = (unsigned char)text[i];
        if (std::isspace(c)) {
            i++;
            continue;
        }
        size_t begin = i++;
        if (std::isalnum(c) || c == '_' || c == '.') {
            while (i < text.size() &&
                   (std::isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '.')) {
                i++;
            }
        }
        spans.push_back({begin, i - begin});
    }
    return spans;
}

class Mutator {
public:
    explicit Mutator(uint32_t seed) : rng_(seed) {}

    /// One to three mutations stacked.
    std::string mutate(std::string text) {
        int rounds = (int)pick(3) + 1;
        for (int i = 0; i < rounds && !text.empty(); i++) text = mutate_once(text);
        return text;
    }

private:
    size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

    std::string mutate_once(const std::string &text) {
        auto spans = token_spans(text);
        if (spans.size() < 2) return text;
        auto [at, len] = spans[pick(spans.size())];
        switch (pick(7)) {
        case 0:  // delete a token
            return text.substr(0, at) + text.substr(at + len);
        case 1:  // duplicate a token
            return text.substr(0, at + len) + " " + text.substr(at, len) + text.substr(at + len);
        case 2: {  // swap two neighbouring tokens
            size_t k = pick(spans.size() - 1);
            auto [a, alen] = spans[k];
            auto [b, blen] = spans[k + 1];
            return text.substr(0, a) + text.substr(b, blen) + text.substr(a + alen, b - a - alen) +
                   text.substr(a, alen) + text.substr(b + blen);
        }
        case 3: {  // flip one bit of one byte
            std::string out = text;
            out[pick(out.size())] ^= (char)(1 << pick(8));
            return out;
        }
        case 4:  // truncate
            return text.substr(0, pick(text.size()));
        case 5: {  // insert a character the grammar cares about, or any byte
            static const std::string interesting = "(){}[],:;=-#\"\n\t x.e0123456789_";
            char c = pick(4) == 0 ? (char)pick(256) : interesting[pick(interesting.size())];
            std::string out = text;
            out.insert(out.begin() + (long)pick(out.size() + 1), c);
            return out;
        }
        default: {  // replace a token with another token of the file
            auto [from, from_len] = spans[pick(spans.size())];
            return text.substr(0, at) + text.substr(from, from_len) + text.substr(at + len);
        }
        }
    }

    std::mt19937 rng_;
};

}  // namespace

TEST_CASE("mutated examples never crash the front end") {
    Mutator mutator(20240531);
    int rejected = 0, accepted = 0;
    for (const char *name : examples) {
        std::string original = read_example(name);
        for (int i = 0; i < 1000; i++) {
            std::string text = mutator.mutate(original);
            CAPTURE(name);
            CAPTURE(i);
            CAPTURE(text);
            netc::Frontend f;
            try {
                f = netc::run_frontend(std::string(name) + ".net", text);
            } catch (const netc::InternalError &e) {
                FAIL("internal error: " << e.what());
                continue;
            } catch (const std::exception &e) {
                FAIL("exception: " << e.what());
                continue;
            }
            std::string rendered = f.diags->render();
            if (f.ok()) {
                accepted++;
                CHECK(f.graph->output().shape.dims == std::vector<int64_t>{f.graph->classes});
                continue;
            }
            rejected++;
            // A rejected file always says why, and every message points into the file.
            REQUIRE(f.diags->has_errors());
            int lines = 1;
            for (char c : text) lines += c == '\n';
            for (const netc::Diagnostic &d : f.diags->all()) {
                CHECK(d.loc.known());
                CHECK(d.loc.line <= lines);
                CHECK(d.loc.col >= 1);
            }
            CHECK(rendered.find(": error: ") != std::string::npos);
        }
    }
    // The mutations exercise both paths.
    CHECK(rejected > 1000);
    CHECK(accepted > 100);
}
