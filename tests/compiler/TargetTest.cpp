// Target resolution (compiler/Target.h): the resolved host never has a feature the CPU lacks.
// The CPU's instruction sets are read here from /proc/cpuinfo, a second source beside the cpuid
// bits Target.cpp reads, so a wrong bit there shows up as a mismatch.
#include "compiler/Target.h"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

/// The "flags" line of /proc/cpuinfo's first CPU; empty where there is none.
std::set<std::string> cpuinfo_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::set<std::string> flags;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        for (std::string w; words >> w;) flags.insert(w);
        break;
    }
    return flags;
}

struct FeatureFlags {
    Halide::Target::Feature feature;
    std::vector<const char *> flags;  // as Linux names them; the kernel clears AVX flags when it
                                      // does not save the registers
};

// The instructions each Halide feature names in LLVM's -mattr (Halide 14's CodeGen_X86).
const std::vector<FeatureFlags> x86_features = {
    {Halide::Target::SSE41, {"sse4_1"}},
    {Halide::Target::AVX, {"avx"}},
    {Halide::Target::F16C, {"f16c"}},
    {Halide::Target::FMA, {"fma"}},
    {Halide::Target::AVX2, {"avx2"}},
    {Halide::Target::AVX512, {"avx512f", "avx512cd"}},
    {Halide::Target::AVX512_KNL, {"avx512pf", "avx512er"}},
    {Halide::Target::AVX512_Skylake, {"avx512vl", "avx512bw", "avx512dq"}},
    {Halide::Target::AVX512_Cannonlake, {"avx512ifma", "avx512vbmi"}},
    // -mcpu=sapphirerapids: what Zen 4 and 5 lack beside what Halide 14 checks.
    {Halide::Target::AVX512_SapphireRapids,
     {"avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_tile"}},
};

}  // namespace

TEST_CASE("the resolved host target has no feature the CPU lacks") {
    const netc::HostTarget &host = netc::host_target();
    std::set<std::string> flags = cpuinfo_flags();
    if (host.target.arch != Halide::Target::X86 || flags.empty()) {
        MESSAGE("not an x86 Linux host: nothing to compare");
        return;
    }
    INFO("resolved: " << host.target.to_string() << "\nHalide: " << host.halide.to_string());
    for (const FeatureFlags &f : x86_features) {
        bool cpu_has = true;
        for (const char *flag : f.flags) cpu_has = cpu_has && flags.count(flag);
        CAPTURE(Halide::Target::feature_to_name(f.feature));
        if (host.target.has_feature(f.feature)) CHECK(cpu_has);
        // Nothing dropped that the CPU has, as far as the feature's own flags tell.
        if (host.halide.has_feature(f.feature) &&
            f.feature != Halide::Target::AVX512_SapphireRapids)
            CHECK(host.target.has_feature(f.feature) == cpu_has);
    }
    // Resolution only removes: the arch, OS and bits are Halide's.
    CHECK(host.target.arch == host.halide.arch);
    CHECK(host.target.os == host.halide.os);
    CHECK(host.target.bits == host.halide.bits);
    size_t removed = 0;
    for (int f = 0; f < Halide::Target::FeatureEnd; f++) {
        auto feature = (Halide::Target::Feature)f;
        CHECK((!host.target.has_feature(feature) || host.halide.has_feature(feature)));
        removed += host.halide.has_feature(feature) && !host.target.has_feature(feature);
    }
    CHECK(host.dropped.size() == removed);  // each with its reason
    CHECK(!host.cpu.empty());
}

TEST_CASE("resolve_target: host, a host with extra features, and explicit strings") {
    std::string error;
    std::optional<Halide::Target> host = netc::resolve_target("host", error);
    REQUIRE(host);
    CHECK(*host == netc::host_target().target);
    std::optional<Halide::Target> debug = netc::resolve_target("host-debug", error);
    REQUIRE(debug);
    CHECK(debug->has_feature(Halide::Target::Debug));
    CHECK(debug->without_feature(Halide::Target::Debug) == *host);
    std::optional<Halide::Target> avx2 = netc::resolve_target("x86-64-linux-avx-avx2-fma", error);
    REQUIRE(avx2);
    CHECK(avx2->has_feature(Halide::Target::AVX2));
    CHECK(!avx2->has_feature(Halide::Target::AVX512));
    CHECK(error.empty());
    CHECK(!netc::resolve_target("x86-64-linux-avx9", error));
    CHECK(error == "invalid target 'x86-64-linux-avx9'; expected host or a Halide target string "
                   "such as x86-64-linux-avx2");
}

TEST_CASE("describe_target names the target and its vector width") {
    Halide::Target avx2("x86-64-linux-avx-avx2-f16c-fma-sse41");
    CHECK(netc::describe_target(avx2) ==
          "x86-64-linux-avx-avx2-f16c-fma-sse41 (8 floats per vector)");
}
