// The thread pool every pipeline's parallel loops run on (runtime/ThreadPool.h): each task once,
// errors passed back, nested and concurrent loops, workers that sleep and wake.

#include "runtime/ThreadPool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

/// A loop's closure: how often each index ran, and where a task fails.
struct Counts {
    std::vector<std::atomic<int>> runs;
    int min = 0;
    int fail_at = INT_MIN;  // a task index that returns 7
    explicit Counts(int size, int min_ = 0) : runs((size_t)std::max(size, 0)), min(min_) {}
    bool each_once() const {
        for (const std::atomic<int> &r : runs) {
            if (r.load() != 1) return false;
        }
        return true;
    }
};

int count_task(void *, int i, uint8_t *closure) {
    Counts &c = *reinterpret_cast<Counts *>(closure);
    c.runs[(size_t)(i - c.min)]++;
    return i == c.fail_at ? 7 : 0;
}

int run(Counts &c) {
    return netc_do_par_for(nullptr, count_task, c.min, (int)c.runs.size(),
                           reinterpret_cast<uint8_t *>(&c));
}

}  // namespace

TEST_CASE("thread pool: every task of every loop runs once") {
    for (int size : {0, 1, 2, 3, 17, 64, 1000}) {
        for (int min : {0, -5, 40}) {
            Counts c(size, min);
            CHECK(run(c) == 0);
            INFO("size " << size << ", min " << min);
            CHECK(c.each_once());
        }
    }
    for (int k = 0; k < 2000; k++) {  // back to back, as a pipeline's loops come
        Counts c(1 + k % 37);
        REQUIRE(run(c) == 0);
        REQUIRE(c.each_once());
    }
}

TEST_CASE("thread pool: a failing task's result is the loop's") {
    Counts c(500);
    c.fail_at = 123;
    CHECK(run(c) == 7);
    CHECK(c.runs[123].load() == 1);
    Counts after(100);  // the pool is usable again
    CHECK(run(after) == 0);
    CHECK(after.each_once());
}

TEST_CASE("thread pool: a loop inside a task runs on that task's thread") {
    struct Outer {
        std::atomic<int> inner_ok{0};
    } outer;
    auto outer_task = [](void *, int, uint8_t *closure) {
        Counts inner(50);
        int result = run(inner);
        if (result == 0 && inner.each_once()) {
            reinterpret_cast<Outer *>(closure)->inner_ok++;
        }
        return result;
    };
    CHECK(netc_do_par_for(nullptr, outer_task, 0, 40, reinterpret_cast<uint8_t *>(&outer)) == 0);
    CHECK(outer.inner_ok.load() == 40);
}

TEST_CASE("thread pool: loops from several threads at once") {
    std::atomic<int> wrong{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; t++) {
        callers.emplace_back([&wrong, t] {
            for (int k = 0; k < 300; k++) {
                Counts c(1 + (k * 7 + t) % 90);
                if (run(c) != 0 || !c.each_once()) wrong++;
            }
        });
    }
    for (std::thread &t : callers) t.join();
    CHECK(wrong.load() == 0);
}

TEST_CASE("thread pool: workers asleep after an idle spell wake for the next loop") {
    using namespace std::chrono_literals;
    for (int k = 0; k < 5; k++) {
        std::this_thread::sleep_for(10ms);  // longer than the workers spin
        Counts c(256);
        CHECK(run(c) == 0);
        CHECK(c.each_once());
    }
}

TEST_CASE("thread pool: the workers take part") {
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || getenv("HL_NUM_THREADS")) return;
    std::mutex m;
    std::set<std::thread::id> threads;
    auto task = [](void *, int, uint8_t *closure) {
        auto &[mutex, ids] =
            *reinterpret_cast<std::pair<std::mutex &, std::set<std::thread::id> &> *>(closure);
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
        while (std::chrono::steady_clock::now() < until) {
        }
        std::lock_guard<std::mutex> lock(mutex);
        ids.insert(std::this_thread::get_id());
        return 0;
    };
    std::pair<std::mutex &, std::set<std::thread::id> &> shared{m, threads};
    // 256 tasks of 0.5 ms: 128 ms for the caller alone, time enough for a worker to wake and join
    // on a busy machine
    CHECK(netc_do_par_for(nullptr, task, 0, 256, reinterpret_cast<uint8_t *>(&shared)) == 0);
    CHECK(threads.size() >= 2);
}
