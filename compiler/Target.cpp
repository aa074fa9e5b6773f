#include "compiler/Target.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define NETC_X86 1
#endif

namespace netc {

using Halide::Target;

namespace {

#ifdef NETC_X86

/// One instruction set as the CPU reports it: a cpuid leaf, subleaf, register and bit, under the
/// name Linux gives it in /proc/cpuinfo (so a reader can compare).
struct CpuBit {
    const char *name;
    unsigned leaf, subleaf;
    int reg;  // 0 eax, 1 ebx, 2 ecx, 3 edx
    int bit;
};

// Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E.
constexpr CpuBit ssse3 = {"ssse3", 1, 0, 2, 9}, fma = {"fma", 1, 0, 2, 12},
                 sse4_1 = {"sse4_1", 1, 0, 2, 19}, sse4_2 = {"sse4_2", 1, 0, 2, 20},
                 movbe = {"movbe", 1, 0, 2, 22}, popcnt = {"popcnt", 1, 0, 2, 23},
                 avx = {"avx", 1, 0, 2, 28}, f16c = {"f16c", 1, 0, 2, 29},
                 bmi1 = {"bmi1", 7, 0, 1, 3}, avx2 = {"avx2", 7, 0, 1, 5},
                 bmi2 = {"bmi2", 7, 0, 1, 8}, avx512f = {"avx512f", 7, 0, 1, 16},
                 avx512dq = {"avx512dq", 7, 0, 1, 17}, avx512ifma = {"avx512ifma", 7, 0, 1, 21},
                 avx512pf = {"avx512pf", 7, 0, 1, 26}, avx512er = {"avx512er", 7, 0, 1, 27},
                 avx512cd = {"avx512cd", 7, 0, 1, 28}, avx512bw = {"avx512bw", 7, 0, 1, 30},
                 avx512vl = {"avx512vl", 7, 0, 1, 31}, avx512vbmi = {"avx512vbmi", 7, 0, 2, 1},
                 avx512_vbmi2 = {"avx512_vbmi2", 7, 0, 2, 6}, gfni = {"gfni", 7, 0, 2, 8},
                 vaes = {"vaes", 7, 0, 2, 9}, vpclmulqdq = {"vpclmulqdq", 7, 0, 2, 10},
                 avx512_vnni = {"avx512_vnni", 7, 0, 2, 11},
                 avx512_bitalg = {"avx512_bitalg", 7, 0, 2, 12},
                 avx512_vpopcntdq = {"avx512_vpopcntdq", 7, 0, 2, 14},
                 amx_bf16 = {"amx_bf16", 7, 0, 3, 22}, avx512_fp16 = {"avx512_fp16", 7, 0, 3, 23},
                 amx_tile = {"amx_tile", 7, 0, 3, 24}, amx_int8 = {"amx_int8", 7, 0, 3, 25},
                 avx_vnni = {"avx_vnni", 7, 1, 0, 4}, avx512_bf16 = {"avx512_bf16", 7, 1, 0, 5},
                 lzcnt = {"abm", 0x80000001, 0, 2, 5};

bool cpu_has(const CpuBit &b) {
    unsigned r[4] = {0, 0, 0, 0};
    if (!__get_cpuid_count(b.leaf, b.subleaf, &r[0], &r[1], &r[2], &r[3])) return false;
    return (r[b.reg] >> b.bit) & 1;
}

/// XCR0, the register state the OS saves on a context switch; 0 when the OS does not say.
uint64_t os_saved_state() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0;  // OSXSAVE
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

constexpr uint64_t ymm_state = 0x6;   // XCR0 bits 1, 2: SSE and AVX registers
constexpr uint64_t zmm_state = 0xe6;  // and bits 5-7: opmask, ZMM_Hi256, Hi16_ZMM

/// What a Halide x86 feature lets LLVM emit. Halide 14's CodeGen_X86 turns each feature into
/// -mattr flags and picks -mcpu from the highest one (penryn, corei7-avx, haswell,
/// skylake-avx512, cannonlake, sapphirerapids), and LLVM may use anything that CPU has, in
/// scalar code too (BMI, LZCNT, MOVBE under haswell); so each feature requires the instruction
/// sets of its -mcpu, and the features below it.
struct FeatureNeeds {
    Target::Feature feature;
    std::vector<CpuBit> bits;
    uint64_t state;  // XCR0 bits the OS must save
};

const std::vector<FeatureNeeds> &x86_feature_needs() {
    static const std::vector<CpuBit> haswell = {ssse3, sse4_1, sse4_2, popcnt, avx,   f16c,
                                                fma,   avx2,   bmi1,   bmi2,   lzcnt, movbe};
    static const std::vector<CpuBit> skylake = [] {
        std::vector<CpuBit> v = haswell;
        v.insert(v.end(), {avx512f, avx512cd, avx512vl, avx512bw, avx512dq});
        return v;
    }();
    static const std::vector<CpuBit> cannonlake = [] {
        std::vector<CpuBit> v = skylake;
        v.insert(v.end(), {avx512ifma, avx512vbmi});
        return v;
    }();
    // LLVM 14's sapphirerapids: Ice Lake's AVX-512 extensions, then BF16, FP16, AVX-VNNI, AMX.
    static const std::vector<CpuBit> sapphirerapids = [] {
        std::vector<CpuBit> v = cannonlake;
        v.insert(v.end(),
                 {avx512_vbmi2, avx512_bitalg, avx512_vpopcntdq, avx512_vnni, gfni, vaes,
                  vpclmulqdq, avx512_bf16, avx512_fp16, avx_vnni, amx_tile, amx_int8, amx_bf16});
        return v;
    }();
    static const std::vector<FeatureNeeds> needs = {
        {Target::SSE41, {ssse3, sse4_1}, 0},
        {Target::AVX, {ssse3, sse4_1, sse4_2, popcnt, avx}, ymm_state},
        {Target::F16C, {avx, f16c}, ymm_state},
        {Target::FMA, {avx, fma}, ymm_state},
        {Target::AVX2, haswell, ymm_state},
        {Target::AVX512,
         [] {
             std::vector<CpuBit> v = haswell;
             v.insert(v.end(), {avx512f, avx512cd});
             return v;
         }(),
         zmm_state},
        {Target::AVX512_KNL,
         [] {
             std::vector<CpuBit> v = haswell;
             v.insert(v.end(), {avx512f, avx512cd, avx512pf, avx512er});
             return v;
         }(),
         zmm_state},
        {Target::AVX512_Skylake, skylake, zmm_state},
        {Target::AVX512_Cannonlake, cannonlake, zmm_state},
        {Target::AVX512_SapphireRapids, sapphirerapids, zmm_state},
    };
    return needs;
}

std::string cpu_brand() {
    unsigned words[12];
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000004) return "";
    for (unsigned i = 0; i < 3; i++) {
        __get_cpuid(0x80000002 + i, &words[4 * i], &words[4 * i + 1], &words[4 * i + 2],
                    &words[4 * i + 3]);
    }
    char text[49];
    std::memcpy(text, words, 48);
    text[48] = '\0';
    std::string s = text;
    size_t begin = s.find_first_not_of(' '), end = s.find_last_not_of(' ');
    return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

#endif  // NETC_X86

/// "model name" from /proc/cpuinfo, for CPUs without a cpuid brand string.
std::string proc_cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        for (const char *key : {"model name", "Model"}) {
            if (line.rfind(key, 0) != 0) continue;
            size_t colon = line.find(':');
            if (colon != std::string::npos && colon + 2 <= line.size()) {
                return line.substr(colon + 2);
            }
        }
    }
    return "unknown CPU";
}

HostTarget resolve_host() {
    HostTarget host;
    host.halide = Halide::get_host_target();
    host.target = host.halide;
#ifdef NETC_X86
    host.cpu = cpu_brand();
    if (host.halide.arch == Target::X86) {
        uint64_t state = os_saved_state();
        for (const FeatureNeeds &needs : x86_feature_needs()) {
            if (!host.target.has_feature(needs.feature)) continue;
            std::string missing;
            for (const CpuBit &bit : needs.bits) {
                if (!cpu_has(bit)) missing += std::string(missing.empty() ? "" : ", ") + bit.name;
            }
            if ((state & needs.state) != needs.state) {
                missing += std::string(missing.empty() ? "" : ", ") +
                           (needs.state == zmm_state ? "OS support for AVX-512 state"
                                                     : "OS support for AVX state");
            }
            if (missing.empty()) continue;
            host.target = host.target.without_feature(needs.feature);
            host.dropped.push_back(Target::feature_to_name(needs.feature) + " (the CPU lacks " +
                                   missing + ")");
        }
    }
#endif
    if (host.cpu.empty()) host.cpu = proc_cpu_model();
    return host;
}

}  // namespace

const HostTarget &host_target() {
    static const HostTarget host = resolve_host();
    return host;
}

std::optional<Target> resolve_target(const std::string &name, std::string &error) {
    if (name == "host") return host_target().target;
    if (!Target::validate_target_string(name)) {
        error = "invalid target '" + name +
                "'; expected host or a Halide target string such as x86-64-linux-avx2";
        return std::nullopt;
    }
    Target given(name);
    if (name.rfind("host-", 0) != 0) return given;
    // "host-debug": Halide starts from its own host report; start from the resolved one and add
    // what the string asks for beyond that report.
    const HostTarget &host = host_target();
    Target out = host.target;
    for (int f = 0; f < Target::FeatureEnd; f++) {
        auto feature = (Target::Feature)f;
        if (given.has_feature(feature) && !host.halide.has_feature(feature)) {
            out = out.with_feature(feature);
        }
    }
    return out;
}

Target default_jit_target() {
    const char *env = std::getenv("HL_JIT_TARGET");
    if (env && *env) return Halide::get_jit_target_from_environment();
    return host_target().target;
}

std::string describe_target(const Target &target) {
    int floats = target.natural_vector_size<float>();
    return target.to_string() + " (" + std::to_string(floats) + " floats per vector)";
}

}  // namespace netc
