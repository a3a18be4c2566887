import Foundation

/// A base model's logits saved for a later KL-divergence run (`--kl-divergence-base`).
///
/// Layout, little-endian: magic "GPT2KLD1", u32 n_vocab, u32 context, u32 stride, u32 0,
/// u64 n_tokens, u64 n_positions, n_tokens × i32 (the whole tokenized text), n_positions ×
/// n_vocab float32 logits, then n_positions × i32 (the token each scored position predicts).
/// The quantized run checks that it scores the same tokens with the same windows.
public final class BaseLogitsFile: @unchecked Sendable {
    public static let magic = Array("GPT2KLD1".utf8)
    static let headerBytes = 8 + 4 * 4 + 8 + 8

    public let vocabularySize: Int
    public let context: Int
    public let stride: Int
    public let tokens: [Int]
    public let targets: [Int]
    private let file: MappedFile
    private let logitsOffset: Int

    /// Maps and validates a file written by `BaseLogitsWriter`.
    public init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func fail(_ problem: String) -> ModelIOError { .malformed(path: path, format: "base-logits", problem: problem) }
        guard bytes.count >= Self.headerBytes else { throw fail("file is \(bytes.count) bytes, shorter than the \(Self.headerBytes)-byte header") }
        guard Array(bytes[0..<8]) == Self.magic else { throw fail("bad magic (expected 'GPT2KLD1'; write it with --kl-divergence-base without --kl-divergence)") }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        vocabularySize = u32(8); context = u32(12); stride = u32(16)
        let nTokens = u64(24), nPositions = u64(32)
        guard vocabularySize > 0 else { throw fail("n_vocab is 0") }
        let limit = UInt64(bytes.count)
        guard nTokens <= limit / 4, nPositions <= limit / 4 / UInt64(vocabularySize) else {
            throw fail("counts (\(nTokens) tokens, \(nPositions) positions) exceed the file size")
        }
        let expected = Self.headerBytes + 4 * Int(nTokens) + 4 * Int(nPositions) + 4 * Int(nPositions) * vocabularySize
        guard bytes.count == expected else { throw fail("file is \(bytes.count) bytes; its header implies \(expected)") }
        let read = { (offset: Int, n: Int) in
            (0..<n).map { Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4 * $0, as: Int32.self))) }
        }
        tokens = read(Self.headerBytes, Int(nTokens))
        logitsOffset = Self.headerBytes + 4 * Int(nTokens)
        targets = read(logitsOffset + 4 * Int(nPositions) * vocabularySize, Int(nPositions))
        if let bad = targets.first(where: { $0 < 0 || $0 >= vocabularySize }) { throw fail("target token \(bad) is outside the vocabulary") }
    }

    /// The base logits of scored position `i`, valid while this object is alive.
    public func logits(_ i: Int) -> UnsafeBufferPointer<Float> {
        let start = (file.bytes.baseAddress! + logitsOffset + 4 * i * vocabularySize).assumingMemoryBound(to: Float.self)
        return UnsafeBufferPointer(start: start, count: vocabularySize)
    }
}

/// Streams a base-logits file (see `BaseLogitsFile`): header and tokens first, then one row
/// per scored position; `finish()` appends the targets and fills in the position count.
public final class BaseLogitsWriter {
    private let handle: FileHandle
    private var targets: [Int32] = []
    /// Byte offset of the n_positions field.
    private static let positionsOffset: UInt64 = 32

    /// Creates `path` for a run over `tokens`.
    public init(path: String, vocabularySize: Int, context: Int, stride: Int, tokens: [Int]) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ModelIOError.cannotWrite(path: path, reason: "cannot create the file")
        }
        self.handle = handle
        var header = Data(BaseLogitsFile.magic)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        append(UInt32(vocabularySize)); append(UInt32(context)); append(UInt32(stride)); append(UInt32(0))
        append(UInt64(tokens.count)); append(UInt64(0))  // n_positions: filled in by finish()
        for t in tokens { append(Int32(t)) }
        handle.write(header)
    }

    /// Appends the logits of the next scored position and the token it predicts.
    public func append(logits: UnsafeBufferPointer<Float>, target: Int) {
        handle.write(Data(buffer: logits))
        targets.append(Int32(target).littleEndian)
    }

    /// Appends the targets, writes the position count and closes the file.
    public func finish() throws {
        handle.write(targets.withUnsafeBytes { Data($0) })
        try handle.seek(toOffset: Self.positionsOffset)
        handle.write(withUnsafeBytes(of: UInt64(targets.count).littleEndian) { Data($0) })
        try handle.close()
    }
}
