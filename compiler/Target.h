#pragma once
// Target resolution: what `--target host` (and the JIT's default) compiles for.
//
// netc resolves "host" itself rather than trusting Halide 14's get_host_target(), which reports
// AMD Zen 4/5 CPUs as avx512_sapphirerapids (they have AVX512-BF16 and VNNI, the two bits it
// checks, but not AVX512-FP16 or AMX), so LLVM gets -mcpu=sapphirerapids and may emit
// instructions those CPUs lack (upstream issues 7834 and 8592: illegal instructions on Zen 4).
// Starting from Halide's host target, every x86 feature is kept only when the CPU reports, by
// cpuid, each instruction set LLVM may use under that feature (its -mattr and what its -mcpu
// implies), and the OS saves the register state it needs (xgetbv: YMM for AVX, ZMM and opmask
// for AVX-512). Other target strings are validated and used as given.

#include <Halide.h>

#include <optional>
#include <string>
#include <vector>

namespace netc {

/// The host as netc resolved it, computed once per process.
struct HostTarget {
    Halide::Target target;  // what netc compiles "host" for
    Halide::Target halide;  // what Halide 14's get_host_target() reported
    // One line per feature netc dropped from Halide's report, with the reason:
    // "avx512_sapphirerapids (the CPU lacks avx512_fp16, amx_tile)".
    std::vector<std::string> dropped;
    std::string cpu;  // the CPU's model name, "AMD EPYC 9R14 96-Core Processor"
};

/// The resolved host (see the file comment). On a CPU other than x86, Halide's report as is.
const HostTarget &host_target();

/// The target named `name`: "host" is host_target().target, "host-<features>" that plus the
/// features named; any other string must be a valid Halide target string ("x86-64-linux-avx2")
/// and is used as given. Returns nullopt with `error` set (a sentence naming the string) when it
/// is not valid.
std::optional<Halide::Target> resolve_target(const std::string &name, std::string &error);

/// The JIT's default target: HL_JIT_TARGET when the user set it (as Halide reads it), else the
/// resolved host.
Halide::Target default_jit_target();

/// One line for people: "x86-64-linux-avx-avx2-... (16 floats per vector)".
std::string describe_target(const Halide::Target &target);

}  // namespace netc
