// libFuzzer target: GGUFFile (Sources/ModelIO/GGUFFile.swift) on arbitrary bytes. Any input
// must either open, with every tensor's bytes and metadata value readable, or throw a
// ModelIOError; a crash, hang or memory error is a defect. Built by scripts/fuzz.sh.

private let scratch = ScratchFile()
/// The sum of every tensor byte read, kept so that the reads are not optimised away.
nonisolated(unsafe) private var byteSum: UInt8 = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    scratch.write(data, size)
    guard let gguf = try? GGUFFile(path: scratch.path) else { return 0 }
    for (key, value) in gguf.metadata {
        precondition(gguf[key: key] != nil)  // not == value: a NaN float is unequal to itself
        _ = value.summary
        _ = value.intValue
        _ = value.doubleValue
        _ = value.stringArray
    }
    for tensor in gguf.tensors {
        precondition(gguf[tensor.name] == tensor)
        precondition(tensor.byteRange.lowerBound >= gguf.dataOffset && tensor.byteRange.upperBound <= gguf.file.count)
        for byte in gguf.rawBytes(of: tensor) { byteSum &+= byte }
        _ = tensor.shape
        _ = tensor.elementCount
        if let values = try? gguf.floats(tensor) {
            precondition(values.shape == tensor.shape)
        }
    }
    return 0
}
