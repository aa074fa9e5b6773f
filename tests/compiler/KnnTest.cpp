// kNN models (compiler/Knn.h) through the JIT against the brute-force reference
// (tests/compiler/Reference.h knn): every distance and vote, ties, reference sets and batches
// that are no multiple of the blocks, a single query, and the refusals.
#include "compiler/Knn.h"
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/Reference.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace netc;

namespace {

constexpr int classes = 4;

/// A kNN model of 1x4x5 images (20 features when `layers` is empty); `calls` queries a call,
/// the train block's batch.
Frontend load_knn(const std::string &layers, const std::string &knn, int calls = 64) {
    std::string text = "model m {\n  input 1x4x5\n  classes " + std::to_string(classes) + "\n" +
                       layers + "\n  classify " + knn + "\n}\ntrain {\n  batch " +
                       std::to_string(calls) + "\n}\n";
    Frontend f = run_frontend("knn.net", text);
    REQUIRE_MESSAGE(f.ok(), text);
    return f;
}

std::vector<float> uniform(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> v(n);
    for (float &x : v) x = u(rng);
    return v;
}

std::vector<int32_t> labels_of(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> v((size_t)n);
    for (int32_t &x : v) x = (int32_t)(rng() % classes);
    return v;
}

struct Run {
    std::vector<int32_t> neighbors;
    std::vector<float> distances, probs;
};

Run run_knn(JitModel &jit, const std::vector<float> &reference, const std::vector<int32_t> &labels,
            const std::vector<float> &images, int batch) {
    const int k = knn_k(jit.graph());
    Run out;
    out.neighbors.resize((size_t)batch * k);
    out.distances.resize((size_t)batch * k);
    out.probs.resize((size_t)batch * classes);
    JitModel::Call c;
    c.images = images.data();
    c.batch = batch;
    c.reference = reference.data();
    c.reference_labels = labels.data();
    c.reference_count = (int)labels.size();
    c.neighbors = out.neighbors.data();
    c.distances = out.distances.data();
    jit.run("neighbors", c);
    c.probs = out.probs.data();
    jit.run("classify", c);
    return out;
}

/// The JIT's neighbours, distances and votes equal the reference's for queries of the raw
/// 20-pixel images.
void check_against_reference(const std::string &knn, int count, int batch, uint32_t seed,
                             int calls = 64) {
    Frontend f = load_knn("", knn, calls);
    JitModel jit(*f.graph, f.layout);
    const int features = 20, k = knn_k(*f.graph);
    std::vector<float> reference = uniform((size_t)count * features, seed);
    // Duplicates: equal distances, so the lower index must come first.
    for (int f2 = 0; f2 < features; f2++) reference[(size_t)7 * features + f2] = reference[f2];
    std::vector<int32_t> labels = labels_of(count, seed + 1);
    std::vector<float> images = uniform((size_t)batch * features, seed + 2);
    // One query equal to a reference sample: distance 0 (the weighted vote's special case).
    for (int f2 = 0; f2 < features; f2++) images[f2] = reference[(size_t)3 * features + f2];
    Run got = run_knn(jit, reference, labels, images, batch);
    const std::string &distance = f.graph->classifier->attrs.get_enum("distance");
    reference::Neighbors want =
        reference::knn(images, batch, reference, labels, features, k, classes, distance,
                       f.graph->classifier->attrs.get_enum("vote"));
    for (int q = 0; q < batch; q++) {
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)q * k + j;
            INFO(knn << " query " << q << " neighbour " << j);
            CHECK(got.neighbors[i] == want.index[i]);
            CHECK(got.distances[i] == doctest::Approx(want.distance[i]).epsilon(1e-4));
        }
        for (int c = 0; c < classes; c++) {
            INFO(knn << " query " << q << " class " << c);
            CHECK(got.probs[(size_t)q * classes + c] ==
                  doctest::Approx(want.probs[(size_t)q * classes + c]).epsilon(1e-4));
        }
    }
}

}  // namespace

TEST_CASE("knn: each distance and vote equals brute force, ties to the lower index") {
    for (const char *distance : {"l1", "l2", "cosine"}) {
        for (const char *vote : {"majority", "distance"}) {
            std::string knn = std::string("knn(k=3, distance=") + distance + ", vote=" + vote + ")";
            check_against_reference(knn, 37, 19, 11);
        }
    }
}

TEST_CASE("knn: blocks of queries and reference samples that the sizes do not divide") {
    // Several query blocks (two threads), a reference set of many blocks and a ragged end.
    check_against_reference("knn(k=5, distance=l1)", 1031, 300, 21);
    check_against_reference("knn(k=7, distance=l2)", 523, 133, 22);
}

TEST_CASE("knn: a single query, and k equal to the reference set") {
    check_against_reference("knn(k=1, distance=l2)", 9, 1, 31);
    check_against_reference("knn(k=9, distance=l1, vote=distance)", 9, 2, 32);
}

TEST_CASE("knn: fewer queries a call than a pack: vectors of features, whole chunks and the rest") {
    // 20 features: one chunk of 16 and 4 more; the queries a call (the train block's batch)
    // below knn_query_pack choose the plan, whatever the batch given.
    for (const char *distance : {"l1", "l2", "cosine"}) {
        for (const char *vote : {"majority", "distance"}) {
            std::string knn = std::string("knn(k=3, distance=") + distance + ", vote=" + vote + ")";
            check_against_reference(knn, 37, 1, 41, 1);
            check_against_reference(knn, 523, 5, 42, 4);
        }
    }
}

TEST_CASE("knn: features are the layers' value, flattened in torch's order") {
    Frontend f = load_knn("  avgpool(kernel=2, stride=1)\n", "knn(k=1)");
    JitModel jit(*f.graph, f.layout);
    REQUIRE(knn_feature_count(*f.graph) == 1 * 3 * 4);
    std::vector<float> images = uniform(2 * 20, 41);
    std::vector<float> features(2 * 12);
    JitModel::Call c;
    c.images = images.data();
    c.batch = 2;
    c.features = features.data();
    jit.run("features", c);
    for (int n = 0; n < 2; n++) {
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 4; x++) {
                const float *img = &images[(size_t)n * 20];
                double want = (img[y * 5 + x] + img[y * 5 + x + 1] + img[(y + 1) * 5 + x] +
                               img[(y + 1) * 5 + x + 1]) /
                              4.0;
                CHECK(features[(size_t)n * 12 + y * 4 + x] == doctest::Approx(want));
            }
        }
    }
}

TEST_CASE("knn: too small a reference set or a bad reference label is refused") {
    Frontend f = load_knn("", "knn(k=3)");
    JitModel jit(*f.graph, f.layout);
    std::vector<float> reference = uniform(2 * 20, 51), images = uniform(20, 52), probs(classes);
    std::vector<int32_t> labels = {0, 1};
    JitModel::Call c;
    c.images = images.data();
    c.batch = 1;
    c.reference = reference.data();
    c.reference_labels = labels.data();
    c.reference_count = 2;
    c.probs = probs.data();
    CHECK_THROWS_WITH_AS(jit.run("classify", c), doctest::Contains("fewer than k = 3"),
                         std::invalid_argument);
    reference = uniform(3 * 20, 53);
    labels = {0, 9, 1};
    c.reference = reference.data();
    c.reference_labels = labels.data();
    c.reference_count = 3;
    CHECK_THROWS_WITH_AS(jit.run("classify", c), doctest::Contains("label 9 of reference sample 1"),
                         std::invalid_argument);
}
