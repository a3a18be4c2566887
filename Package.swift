// swift-tools-version:6.1
//
// swift-gpt2: a CPU runtime for OpenAI's GPT-2. Linux only (x86-64 kernels, Glibc, libnuma):
// no Apple platform is declared because none is built or tested.
//
// Module map (one concern each; the folder tree under Sources/ mirrors it):
//   CNuma      system library: libnuma (Debian: libnuma-dev)
//   CPUHints   header-only C: the spin-wait pause and software prefetches for hot loops
//   GPT2Runtime thread pool, libdispatch parallelFor, aligned buffers, NUMA topology, clocks,
//              the cache directory
//   Calibration this machine's ceilings (read bandwidth, fp32 and int8 peaks); no GPT-2 in it
//   Kernels    SIMD math: matmul, attention, LayerNorm, GELU, softmax
//   ModelIO    memory-mapped files, safetensors and GGUF readers/writers, the base-logits file,
//              half-precision conversion, JSON string escaping
//   Tokenizer  exact GPT-2 byte-level BPE (vocabulary embedded as resources)
//   GPT2       config, weights, graph executor with KV cache, sampler, generator, the default
//              (random-weight) model cache
//   Hub        Hugging Face hub downloads into the shared hub cache (Foundation only)
//   Profiling  per-op timing, traces and reports; benchmark runner
//   GPT2CLI    the `gpt2` command
//
// Code generation: kernels are written with Swift SIMD types and need the host's vector ISA
// (without it an FMA becomes a libm call, ~100x slower). By default every target is compiled
// for the machine that builds it (`-march=native`). Set GPT2_TARGET_CPU to choose another
// (e.g. `GPT2_TARGET_CPU=znver4`, `x86-64-v3`), or `GPT2_TARGET_CPU=generic` for a portable build.
import Foundation
import PackageDescription

let targetCPU = ProcessInfo.processInfo.environment["GPT2_TARGET_CPU"] ?? "native"
let cpuFlags: [SwiftSetting] =
    targetCPU == "generic" ? [] : [.unsafeFlags(["-Xcc", "-march=\(targetCPU)"])]

/// The build machine's CPU flags (/proc/cpuinfo, read once), for `GPT2_TARGET_CPU=native`.
let nativeFlags: Set<String> = {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    return Set(line.split(separator: " ").map(String.init))
}()

/// Whether the target CPU has a feature: the build machine's flags for "native", else a list of
/// the `-march` names known to have it. `GPT2_<FEATURE>=0|1` forces the answer.
func target(_ cpu: String, has feature: String, flags: Set<String>, cpus: Set<String>) -> Bool {
    if let forced = ProcessInfo.processInfo.environment["GPT2_" + feature] { return forced == "1" }
    return cpu == "native" ? nativeFlags.isSuperset(of: flags) : cpus.contains(cpu)
}

/// `GPT2_VNNI`: the AVX-512 VNNI (`vpdpbusd`) int8 code in Kernels/Quantized (with AVX-512 BW/VL,
/// which the kernels also use). The intrinsics crash swiftc unless the target CPU has the
/// feature, so the condition follows the target. `GPT2_VNNI=0` leaves VNNI out (to compare or
/// test the others). The portable Swift path is always compiled and tested.
let targetHasVNNI = target(targetCPU, has: "VNNI", flags: ["avx512_vnni", "avx512bw", "avx512vl"], cpus: [
    "znver4", "znver5", "icelake-server", "icelake-client", "tigerlake", "cooperlake", "cascadelake",
    "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d", "rocketlake",
])  // x86-64-v4 is AVX-512 without VNNI
/// `GPT2_AVX2`: the AVX2 int8 kernels (implied by VNNI).
let targetHasAVX2 = targetHasVNNI || target(targetCPU, has: "AVX2", flags: ["avx2", "fma", "f16c"], cpus: [
    "haswell", "broadwell", "skylake", "skylake-avx512", "alderlake", "raptorlake", "meteorlake",
    "znver1", "znver2", "znver3", "x86-64-v3", "x86-64-v4",
])
/// `GPT2_AVX512`: the target has 32 zmm registers (AVX-512F). Without it a register-blocked
/// kernel must count in ymm: AVX2 has 16 registers, and 12 SIMD16 accumulators (24 ymm) spill.
let targetHasAVX512 = targetHasVNNI || target(targetCPU, has: "AVX512", flags: ["avx512f"], cpus: [
    "skylake-avx512", "x86-64-v4", "knl", "knm",
])
let int8Flags: [SwiftSetting] = (targetHasVNNI ? [.define("GPT2_VNNI")] : [])
    + (targetHasAVX2 ? [.define("GPT2_AVX2")] : [])
    + (targetHasAVX512 ? [.define("GPT2_AVX512")] : [])

/// Hot numeric code is optimised even in debug builds, so that `swift test` runs the same
/// kernels at a usable speed. Release builds keep Swift's checks (plain `-O`): integer overflow
/// and out-of-range indices trap instead of wrapping. This matters most where files and text are
/// parsed (ModelIO, Tokenizer, the config in GPT2, the CLI), and the measured cost elsewhere is
/// within noise (README, "Build modes").
let hotCodeFlags: [SwiftSetting] = cpuFlags + [
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
/// The kernels alone drop the remaining bounds and overflow checks in release (`-Ounchecked`):
/// they read only buffers whose sizes the loader has validated.
let kernelFlags: [SwiftSetting] = hotCodeFlags + [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swift-gpt2",
    products: [
        .executable(name: "gpt2", targets: ["GPT2CLI"]),
        .library(name: "GPT2", targets: ["GPT2"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        // For the benchmarks in Benchmarks/ (a separate package that depends on this one).
        .library(name: "GPT2Runtime", targets: ["GPT2Runtime"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Profiling", targets: ["Profiling"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CNuma",
            pkgConfig: "numa",
            providers: [.apt(["libnuma-dev"])]
        ),
        // Header only: the spin-wait pause and software prefetches (see cpu_hints.h).
        .systemLibrary(name: "CPUHints"),
        .target(name: "GPT2Runtime", dependencies: ["CNuma", "CPUHints"], swiftSettings: hotCodeFlags),
        .target(name: "Calibration", dependencies: ["GPT2Runtime"], swiftSettings: hotCodeFlags + int8Flags),
        .target(name: "Kernels", dependencies: ["GPT2Runtime", "CPUHints"], swiftSettings: kernelFlags + int8Flags),
        .target(name: "ModelIO", dependencies: ["GPT2Runtime"], swiftSettings: hotCodeFlags),
        .target(
            name: "Tokenizer",
            exclude: ["LICENSE-GPT2-VOCABULARY.md"],
            resources: [.copy("Resources/vocab.json"), .copy("Resources/merges.txt")],
            swiftSettings: hotCodeFlags
        ),
        .target(
            name: "GPT2",
            dependencies: ["GPT2Runtime", "Kernels", "ModelIO", "Tokenizer"],
            swiftSettings: hotCodeFlags
        ),
        // Foundation only (URLSession from FoundationNetworking): the Hugging Face hub client and cache.
        .target(name: "Hub", swiftSettings: hotCodeFlags),
        .target(name: "Profiling", dependencies: ["Calibration", "GPT2", "GPT2Runtime", "Kernels", "ModelIO"], swiftSettings: hotCodeFlags + int8Flags),
        .executableTarget(
            name: "GPT2CLI",
            dependencies: ["Calibration", "GPT2", "Hub", "ModelIO", "Profiling", "GPT2Runtime", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: cpuFlags
        ),
        .testTarget(name: "GPT2RuntimeTests", dependencies: ["GPT2Runtime"], swiftSettings: cpuFlags),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration"], swiftSettings: cpuFlags),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: cpuFlags + int8Flags),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "GPT2Runtime"], swiftSettings: cpuFlags),
        .testTarget(
            name: "TokenizerTests", dependencies: ["Tokenizer"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(
            name: "GPT2Tests", dependencies: ["GPT2", "GPT2Runtime"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(name: "ProfilingTests", dependencies: ["Calibration", "Profiling"], swiftSettings: cpuFlags),
        .testTarget(name: "GPT2CLITests", dependencies: ["GPT2CLI"], swiftSettings: cpuFlags),
    ]
)
