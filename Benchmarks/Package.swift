// swift-tools-version:6.1
//
// Micro-benchmarks of swift-gpt2's kernels at GPT-2 124M shapes, kept out of the product.
//   swift package --package-path Benchmarks benchmark
// (package-benchmark's plugin; `--filter <regex>` picks benchmarks.)
import Foundation
import PackageDescription

let targetCPU = ProcessInfo.processInfo.environment["GPT2_TARGET_CPU"] ?? "native"
let cpuFlags: [SwiftSetting] =
    targetCPU == "generic" ? [] : [.unsafeFlags(["-Xcc", "-march=\(targetCPU)"])]

// A path dependency's identity is its directory's name (the worktree's, not "swift-gpt2").
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "swift-gpt2-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Kernels", package: root),
                .product(name: "GPT2Runtime", package: root),
            ],
            path: "Benchmarks/KernelBenchmarks",
            swiftSettings: cpuFlags + [.unsafeFlags(["-Ounchecked"])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Plain fallback (no package-benchmark): prints GB/s and GFLOP/s, old vs packed kernels
        // interleaved. `swift run -c release --package-path Benchmarks KernelThroughput`
        .executableTarget(
            name: "KernelThroughput",
            dependencies: [
                .product(name: "Kernels", package: root),
                .product(name: "GPT2Runtime", package: root),
            ],
            path: "Benchmarks/KernelThroughput",
            swiftSettings: cpuFlags + [.unsafeFlags(["-Ounchecked"])]
        ),
    ]
)
