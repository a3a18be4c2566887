// libFuzzer target: SafetensorsFile (Sources/ModelIO/SafetensorsFile.swift) on arbitrary bytes.
// Any input must either open, with every tensor's bytes readable, or throw a ModelIOError; a
// crash, hang or memory error is a defect. Built by scripts/fuzz.sh.

private let scratch = ScratchFile()
/// The sum of every tensor byte read, kept so that the reads are not optimised away.
nonisolated(unsafe) private var byteSum: UInt8 = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    scratch.write(data, size)
    guard let file = try? SafetensorsFile(path: scratch.path) else { return 0 }
    for tensor in file.tensors {
        precondition(file[tensor.name]?.byteRange == tensor.byteRange)
        precondition(tensor.byteRange.lowerBound >= file.dataOffset && tensor.byteRange.upperBound <= file.file.count)
        for byte in file.rawBytes(of: tensor) { byteSum &+= byte }
        _ = tensor.elementCount
        if let values = try? file.floats(tensor) {
            precondition(values.shape == tensor.shape)
        }
    }
    return 0
}
