// swift-tools-version:6.1
//
// swift-gpt2: a CPU runtime for OpenAI's GPT-2.
//
// Module map (one concern each; the folder tree under Sources/ mirrors it):
//   CNuma      system library: libnuma (Debian: libnuma-dev)
//   Runtime    thread pool, aligned buffers, NUMA topology, clocks
//   Kernels    SIMD math: matmul, attention, LayerNorm, GELU, softmax
//   ModelIO    memory-mapped files, safetensors reader/writer, half-precision conversion
//   Tokenizer  exact GPT-2 byte-level BPE (vocabulary embedded as resources)
//   GPT2       config, weights, graph executor with KV cache, sampler, generator
//   Profiling  per-op timing, traces and reports; benchmark runner; machine calibration
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

/// `GPT2_VNNI`: the target CPU has AVX-512 VNNI, so `vpdpbusd` intrinsics compile (without the
/// feature swiftc crashes on them). For `native`, the build machine's /proc/cpuinfo decides.
let vnniCPUs: Set = ["znver4", "znver5", "icelake-server", "sapphirerapids", "emeraldrapids", "graniterapids", "cascadelake", "cooperlake"]
let hasVNNI = targetCPU == "native"
    ? ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains("avx512_vnni") ?? false)
    : vnniCPUs.contains(targetCPU)
let vnniFlags: [SwiftSetting] = hasVNNI ? [.define("GPT2_VNNI")] : []

/// Hot numeric code is optimised even in debug builds, so that `swift test` runs the same
/// kernels at a usable speed; release builds drop the remaining bounds/exclusivity checks.
let hotCodeFlags: [SwiftSetting] = cpuFlags + [
    .unsafeFlags(["-O"], .when(configuration: .debug)),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swift-gpt2",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gpt2", targets: ["GPT2CLI"]),
        .library(name: "GPT2", targets: ["GPT2"]),
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
        .target(name: "Runtime", dependencies: ["CNuma"], swiftSettings: hotCodeFlags),
        .target(name: "Kernels", dependencies: ["Runtime"], swiftSettings: hotCodeFlags),
        .target(name: "ModelIO", dependencies: ["Runtime"], swiftSettings: hotCodeFlags),
        .target(
            name: "Tokenizer",
            exclude: ["LICENSE-GPT2-VOCABULARY.md"],
            resources: [.copy("Resources/vocab.json"), .copy("Resources/merges.txt")],
            swiftSettings: hotCodeFlags
        ),
        .target(
            name: "GPT2",
            dependencies: ["Runtime", "Kernels", "ModelIO", "Tokenizer"],
            swiftSettings: hotCodeFlags
        ),
        .target(name: "Profiling", dependencies: ["GPT2", "Runtime", "Kernels"], swiftSettings: hotCodeFlags + vnniFlags),
        .executableTarget(
            name: "GPT2CLI",
            dependencies: ["GPT2", "Profiling", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: cpuFlags
        ),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime"], swiftSettings: cpuFlags),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: cpuFlags),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "Runtime"], swiftSettings: cpuFlags),
        .testTarget(
            name: "TokenizerTests", dependencies: ["Tokenizer"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(
            name: "GPT2Tests", dependencies: ["GPT2"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(name: "ProfilingTests", dependencies: ["Profiling"], swiftSettings: cpuFlags),
        .testTarget(name: "GPT2CLITests", dependencies: ["GPT2CLI"], swiftSettings: cpuFlags),
    ]
)
