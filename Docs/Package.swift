// swift-tools-version:6.1
//
// Builds the DocC archives of swift-gpt2's public API (the GPT2 and Tokenizer modules) with
// swift-docc-plugin:  scripts/docs.sh
// A package of its own so that the plugin is resolved only here: a dependency of the main
// package would be resolved by every package that depends on swift-gpt2. The plugin documents
// the targets of this package's direct dependencies, which is where GPT2 and Tokenizer are.
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name: the checkout's, whatever it is called.
let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "swift-gpt2-docs",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Only here to depend on the documented products; it has no API of its own.
        .target(
            name: "GPT2Docs",
            dependencies: [
                .product(name: "GPT2", package: checkout),
                .product(name: "Tokenizer", package: checkout),
            ]
        ),
    ]
)
