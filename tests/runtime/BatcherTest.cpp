// Normalization, the seeded shuffle and validation split (against golden values computed by an
// independent Python transcription of runtime/Random.h), and batching.

#include "runtime/Batcher.h"
#include "runtime/Communicator.h"
#include "runtime/Random.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

using namespace netc::runtime;

namespace {

/// count images of 2x2x3 with pixel (i, c, p) = i + c * 10 + p, labels i % 3.
Dataset toy_dataset(int64_t count) {
    Dataset d;
    d.count = count;
    d.channels = 2;
    d.height = 2;
    d.width = 3;
    d.class_names = {"a", "b", "c"};
    for (int64_t i = 0; i < count; i++) {
        for (int c = 0; c < 2; c++) {
            for (int p = 0; p < 6; p++) d.images.push_back((float)(i + c * 10 + p));
        }
        d.labels.push_back((int32_t)(i % 3));
    }
    d.sources.push_back({"toy", "toy", 0, count, 0});
    return d;
}

}  // namespace

TEST_CASE("splitmix64 matches the reference sequence") {
    // From the reference C implementation (Vigna's splitmix64.c) with state 0.
    random::SplitMix64 rng(0);
    CHECK(rng.next() == 0xe220a8397b1dcdafULL);
    CHECK(rng.next() == 0x6e789e6aa1b965f4ULL);
    CHECK(rng.next() == 0x06c45d188009454fULL);
}

TEST_CASE("shuffle: golden orders for fixed seeds, the same on every machine") {
    CHECK(shuffled_indices(10, 42, 0) == std::vector<int64_t>{5, 0, 9, 4, 8, 1, 7, 6, 2, 3});
    CHECK(shuffled_indices(10, 42, 1) == std::vector<int64_t>{3, 8, 4, 9, 1, 6, 0, 7, 5, 2});
    const auto big = shuffled_indices(60000, 7, 3);
    CHECK(std::vector<int64_t>(big.begin(), big.begin() + 8) ==
          std::vector<int64_t>{31520, 15893, 33264, 43688, 21217, 54022, 1817, 56158});
    // A permutation, and deterministic.
    auto sorted = big;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == all_indices(60000));
    CHECK(shuffled_indices(60000, 7, 3) == big);
    CHECK(shuffled_indices(60000, 8, 3) != big);
    CHECK(shuffled_indices(0, 1, 0).empty());
    CHECK(shuffled_indices(1, 1, 0) == std::vector<int64_t>{0});
}

TEST_CASE("bounded integers are uniform and in range") {
    random::SplitMix64 rng(123);
    std::vector<int> counts(7, 0);
    for (int i = 0; i < 70000; i++) {
        const uint64_t v = rng.below(7);
        REQUIRE(v < 7);
        counts[v]++;
    }
    for (int c : counts) CHECK(std::abs(c - 10000) < 500);
    CHECK(rng.below(1) == 0);
}

TEST_CASE("validation split: deterministic, disjoint, by fraction") {
    auto split = split_validation(20, 0.25, 42);
    REQUIRE_MESSAGE(split.ok(), split.message());
    CHECK(split->validation == std::vector<int64_t>{3, 4, 7, 8, 10});
    CHECK(split->train.size() == 15);
    std::vector<int64_t> all = split->train;
    all.insert(all.end(), split->validation.begin(), split->validation.end());
    std::sort(all.begin(), all.end());
    CHECK(all == all_indices(20));
    CHECK(split_validation(20, 0.25, 42)->validation == split->validation);

    auto none = split_validation(20, 0.0, 42);
    CHECK(none->validation.empty());
    CHECK(none->train == all_indices(20));
    CHECK(split_validation(60000, 0.1, 1)->validation.size() == 6000);

    CHECK(split_validation(20, 1.0, 1).message() ==
          "validation fraction 1.000000 is out of range: expected 0 <= fraction < 1");
    CHECK(split_validation(20, -0.1, 1).message() ==
          "validation fraction -0.100000 is out of range: expected 0 <= fraction < 1");
    CHECK(split_validation(1, 0.9, 1).message() ==
          "validation fraction 0.900000 of 1 samples leaves none to train on");
}

TEST_CASE("normalization: per-channel mean and std") {
    const Dataset d = toy_dataset(4);
    const Normalization all = compute_normalization(d);
    // Channel 0 holds i + p for i in 0..3, p in 0..5: mean 4, variance 35/12 + 5/4.
    CHECK(all.mean[0] == doctest::Approx(4.0));
    CHECK(all.mean[1] == doctest::Approx(14.0));
    CHECK(all.stddev[0] == doctest::Approx(std::sqrt(35.0 / 12.0 + 5.0 / 4.0)));
    CHECK(all.stddev[1] == doctest::Approx(std::sqrt(35.0 / 12.0 + 5.0 / 4.0)));
    const Normalization first = compute_normalization(d, {0});
    CHECK(first.mean[0] == doctest::Approx(2.5));
    const Normalization none = compute_normalization(d, {});
    CHECK(none.mean == std::vector<float>{0, 0});
    CHECK(none.stddev == std::vector<float>{1, 1});

    std::vector<float> images = d.images;
    normalize(all, images.data(), d.count, 2, 2, 3);
    double mean = 0, square = 0;
    for (int64_t i = 0; i < 4; i++) {
        for (int p = 0; p < 6; p++) {
            mean += images[(size_t)(i * 12 + p)];
            square += images[(size_t)(i * 12 + p)] * images[(size_t)(i * 12 + p)];
        }
    }
    CHECK(mean / 24 == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(square / 24 == doctest::Approx(1.0));

    // Metadata strings round-trip to the same bits.
    const std::vector<float> values = {0.28604016f, 0.35302424f, 1e-7f, -3.0f};
    CHECK(format_floats({0.5f, 2.0f}) == "0.5,2");
    auto parsed = parse_floats(format_floats(values), "normalization_mean");
    REQUIRE(parsed.ok());
    CHECK(parsed.value() == values);
    CHECK(parse_floats("0.5,x", "normalization_std").message() ==
          "normalization_std: 'x' is not a number (expected comma-separated floats in '0.5,x')");
    CHECK(!parse_floats("", "m").ok());
}

TEST_CASE("batching covers every sample exactly once per epoch") {
    const Dataset d = toy_dataset(10);
    BatcherOptions options;
    options.batch = 4;
    options.seed = 5;
    Batcher batcher(d, all_indices(10), options);
    CHECK(batcher.batches_per_epoch() == 3);
    for (int64_t epoch = 0; epoch < 3; epoch++) {
        batcher.start_epoch(epoch);
        Batch batch;
        std::vector<int64_t> seen;
        std::vector<int64_t> sizes;
        std::vector<bool> partial;
        while (batcher.next(batch)) {
            sizes.push_back(batch.size);
            partial.push_back(batch.partial);
            CHECK(batch.epoch == epoch);
            CHECK(batch.step == epoch * 3 + batch.index);
            for (int64_t j = 0; j < batch.size; j++) {
                const int64_t i = batch.samples[(size_t)j];
                CHECK(batch.labels[(size_t)j] == d.labels[(size_t)i]);
                CHECK(batch.images[(size_t)(j * 12 + 7)] == d.image(i)[7]);
            }
            seen.insert(seen.end(), batch.samples.begin(), batch.samples.end());
        }
        CHECK(sizes == std::vector<int64_t>{4, 4, 2});
        CHECK(partial == std::vector<bool>{false, false, true});
        CHECK(seen == batcher.epoch_order(epoch));
        std::sort(seen.begin(), seen.end());
        CHECK(seen == all_indices(10));
    }
    CHECK(batcher.epoch_order(0) != batcher.epoch_order(1));
    CHECK(batcher.epoch_order(1) == shuffled_indices(10, 5, 1));

    // Dropping the last partial batch.
    options.drop_last = true;
    Batcher dropping(d, all_indices(10), options);
    CHECK(dropping.batches_per_epoch() == 2);
    Batch batch;
    int batches = 0;
    while (dropping.next(batch)) {
        CHECK(batch.size == 4);
        CHECK(!batch.partial);
        batches++;
    }
    CHECK(batches == 2);
}

TEST_CASE("batching a subset in order, with normalization") {
    const Dataset d = toy_dataset(10);
    BatcherOptions options;
    options.batch = 3;
    options.shuffle = false;
    options.normalization = Normalization{{1.0f, 2.0f}, {2.0f, 4.0f}};
    Batcher batcher(d, {7, 2, 9, 4}, options);
    Batch batch;
    REQUIRE(batcher.next(batch));
    CHECK(batch.samples == std::vector<int64_t>{7, 2, 9});
    CHECK(batch.images[0] == (7.0f - 1.0f) / 2.0f);   // sample 7, channel 0, pixel 0
    CHECK(batch.images[6] == (17.0f - 2.0f) / 4.0f);  // sample 7, channel 1, pixel 0
    REQUIRE(batcher.next(batch));
    CHECK(batch.samples == std::vector<int64_t>{4});
    CHECK(batch.partial);
    CHECK(!batcher.next(batch));

    // get() is a pure function of (epoch, index): the same batch whenever it is asked for.
    BatcherOptions shuffled;
    shuffled.batch = 4;
    shuffled.seed = 9;
    shuffled.augment = {AugmentStep::hflip(0.5f), AugmentStep::random_crop(1)};
    Batcher a(d, all_indices(10), shuffled), b(d, all_indices(10), shuffled);
    a.start_epoch(2);
    b.start_epoch(2);
    Batch first, again;
    a.next(first);
    a.next(first);  // batch 1
    b.get(1, again);
    CHECK(first.samples == again.samples);
    CHECK(first.images == again.images);
    CHECK(first.step == 2 * 3 + 1);

    BatcherOptions zero;
    zero.batch = 0;
    CHECK_THROWS_AS(Batcher(d, all_indices(10), zero), std::invalid_argument);
    CHECK_THROWS_AS(Batcher(d, {10}, BatcherOptions{}), std::invalid_argument);
}

TEST_CASE("a shard of a batch is that part of the whole batch, augmentation included") {
    const Dataset d = toy_dataset(10);
    BatcherOptions options;
    options.batch = 4;
    options.seed = 5;
    options.augment = {AugmentStep::hflip(0.5f), AugmentStep::random_crop(1),
                       AugmentStep::cutout(1)};
    options.normalization = Normalization{{1.0f, 2.0f}, {2.0f, 4.0f}};
    Batcher batcher(d, all_indices(10), options);
    batcher.start_epoch(1);
    const int64_t image = d.image_size();
    for (int64_t index = 0; index < batcher.batches_per_epoch(); index++) {
        Batch whole;
        batcher.get(index, whole);
        CHECK(batcher.batch_size(index) == whole.size);
        for (int ranks : {2, 3}) {
            for (int rank = 0; rank < ranks; rank++) {
                const Shard s = shard_of(whole.size, rank, ranks);
                Batch part;
                batcher.get(index, s.begin, s.count, part);
                CHECK(part.size == s.count);
                CHECK(part.step == whole.step);
                CHECK(part.partial == whole.partial);
                CHECK(std::equal(part.samples.begin(), part.samples.end(),
                                 whole.samples.begin() + s.begin));
                CHECK(std::equal(part.images.begin(), part.images.end(),
                                 whole.images.begin() + s.begin * image));
            }
        }
    }
    // The last batch has 2 samples: a shard past them is a caller's bug.
    Batch past;
    CHECK_THROWS_AS(batcher.get(2, 1, 2, past), std::out_of_range);
}

TEST_CASE("shards: contiguous, in rank order, as even as can be") {
    CHECK(shard_of(48, 0, 2).begin == 0);
    CHECK(shard_of(48, 1, 2).begin == 24);
    CHECK(shard_of(48, 1, 2).count == 24);
    int64_t next = 0;
    for (int rank = 0; rank < 4; rank++) {
        const Shard s = shard_of(10, rank, 4);  // 3 3 2 2
        CHECK(s.begin == next);
        CHECK(s.count == (rank < 2 ? 3 : 2));
        next += s.count;
    }
    CHECK(next == 10);
    CHECK(shard_of(1, 1, 2).count == 0);
}

TEST_CASE("stratified folds: a partition, each class dealt evenly, seeded") {
    // 103 samples of 4 classes in unequal numbers (50, 30, 20, 3), interleaved.
    std::vector<int32_t> labels;
    for (int i = 0; i < 50; i++) labels.push_back(0);
    for (int i = 0; i < 30; i++) labels.push_back(1);
    for (int i = 0; i < 20; i++) labels.push_back(2);
    for (int i = 0; i < 3; i++) labels.push_back(3);
    std::mt19937 order(7);
    std::shuffle(labels.begin(), labels.end(), order);

    for (int k : {2, 5, 7}) {
        CAPTURE(k);
        auto folds = stratified_folds(labels, k, 42);
        REQUIRE_MESSAGE(folds.ok(), folds.message());
        REQUIRE(folds->size() == (size_t)k);

        // Every index exactly once, each fold ascending.
        std::vector<int> seen(labels.size(), 0);
        size_t smallest = labels.size(), largest = 0;
        for (const std::vector<int64_t> &fold : *folds) {
            CHECK(std::is_sorted(fold.begin(), fold.end()));
            for (int64_t i : fold) {
                REQUIRE(i >= 0);
                REQUIRE(i < (int64_t)labels.size());
                seen[(size_t)i]++;
            }
            smallest = std::min(smallest, fold.size());
            largest = std::max(largest, fold.size());
        }
        CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
        CHECK(largest - smallest <= 1);

        // Each class within one sample of count / k in every fold.
        for (int32_t c = 0; c < 4; c++) {
            const int64_t count = std::count(labels.begin(), labels.end(), c);
            for (const std::vector<int64_t> &fold : *folds) {
                const int64_t in_fold = std::count_if(
                    fold.begin(), fold.end(), [&](int64_t i) { return labels[(size_t)i] == c; });
                CHECK(in_fold >= count / k);
                CHECK(in_fold <= (count + k - 1) / k);
            }
        }
    }

    // The same seed gives the same folds; another seed other folds.
    auto a = stratified_folds(labels, 5, 42), b = stratified_folds(labels, 5, 42),
         c = stratified_folds(labels, 5, 43);
    REQUIRE((a.ok() && b.ok() && c.ok()));
    CHECK(*a == *b);
    CHECK(*a != *c);
}

TEST_CASE("stratified folds: fewer than 2 folds, or more folds than samples, are refused") {
    const std::vector<int32_t> labels = {0, 1, 0};
    auto one = stratified_folds(labels, 1, 0);
    REQUIRE_FALSE(one.ok());
    CHECK(one.message() == "cross-validation needs at least 2 folds, got 1");
    auto four = stratified_folds(labels, 4, 0);
    REQUIRE_FALSE(four.ok());
    CHECK(four.message() == "4 folds of 3 samples: each fold needs one at least");
    auto three = stratified_folds(labels, 3, 0);
    REQUIRE(three.ok());
    for (const std::vector<int64_t> &fold : *three) CHECK(fold.size() == 1);
}
