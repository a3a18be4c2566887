// libFuzzer target: BaseLogitsFile (Sources/ModelIO/BaseLogitsFile.swift), the file that
// `perplexity --kl-divergence-base` writes and a later run reads back, on arbitrary bytes. Any
// input must either open, with every row decodable, or throw a ModelIOError; a crash, hang or
// memory error is a defect. Built by scripts/fuzz.sh.

private let scratch = ScratchFile()
/// The sum of every value read, kept so that the reads are not optimised away.
nonisolated(unsafe) private var valueSum: Float = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBaseLogits(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    scratch.write(data, size)
    guard let file = try? BaseLogitsFile(path: scratch.path) else { return 0 }
    precondition(file.targets.allSatisfy { $0 >= 0 && $0 < file.vocabularySize })
    for i in file.targets.indices {
        let row = file.logits(i)
        precondition(row.count == file.vocabularySize)
        for value in row { valueSum += value }
    }
    return 0
}
