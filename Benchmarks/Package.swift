// swift-tools-version:6.1
//
// Benchmarks of swift-gpt2, kept out of the product and out of CI (a release build of
// package-benchmark and its dependencies takes minutes): kernels at GPT-2 124M shapes
// (KernelBenchmarks) and end-to-end GPT-2 124M runs with regression thresholds (EndToEnd).
//   swift package --package-path Benchmarks benchmark [--target T] [--filter REGEX]
//   swift package --package-path Benchmarks benchmark baseline update|check [--target T]
// package-benchmark treats every executable target under Benchmarks/ as a benchmark suite that
// speaks its protocol: put no plain executable there (one broke every run: no results printed).
import Foundation
import PackageDescription

let targetCPU = ProcessInfo.processInfo.environment["GPT2_TARGET_CPU"] ?? "native"
let cpuFlags: [SwiftSetting] =
    targetCPU == "generic" ? [] : [.unsafeFlags(["-Xcc", "-march=\(targetCPU)"])]

// A path dependency's identity is its directory's name (the worktree's, not "swift-gpt2").
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

/// A benchmark suite in `Benchmarks/<name>`, using package-benchmark and the given products of
/// swift-gpt2, built with -Ounchecked.
func benchmarkSuite(_ name: String, products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "package-benchmark")]
            + products.map { Target.Dependency.product(name: $0, package: root) },
        path: "Benchmarks/\(name)",
        swiftSettings: cpuFlags + [.unsafeFlags(["-Ounchecked"])],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    )
}

let package = Package(
    name: "swift-gpt2-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        benchmarkSuite("KernelBenchmarks", products: ["Kernels", "GPT2Runtime"]),
        // End to end: GPT-2 124M fp32 and Q8_0, pp128 and tg32, 1 and 2 threads, with
        // regression thresholds for `benchmark baseline check`.
        benchmarkSuite("EndToEnd", products: ["GPT2", "GPT2Runtime", "Profiling"]),
    ]
)
