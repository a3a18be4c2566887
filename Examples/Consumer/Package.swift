// swift-tools-version:6.1
//
// A package that uses swift-gpt2 the way the README's "Library" section says: by path (a branch
// or revision pin works the same way; a version pin does not, see the README). scripts/
// consumer-check.sh builds it against this checkout and runs it on a tiny random model.
//   swift run --package-path Examples/Consumer Consumer MODEL
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name: the checkout's, whatever it is called.
let checkout = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "Consumer",
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [
                .product(name: "GPT2", package: checkout),
                .product(name: "Tokenizer", package: checkout),
            ]
        ),
    ]
)
