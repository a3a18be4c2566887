import Foundation

/// A base model's log-probabilities saved for a later KL-divergence run (`--kl-divergence-base`).
///
/// Layout, little-endian: magic "GPT2KLD2", u32 n_vocab, u32 context, u32 stride, u32 0,
/// u64 n_tokens, u64 n_positions, n_tokens × i32 (the whole tokenized text), n_positions rows,
/// then n_positions × i32 (the token each scored position predicts). A row is the position's
/// log-softmax quantised to 16 bits, as llama-perplexity stores it: f32 `floor`, f32 `scale`,
/// f32 the target's log-probability (exact: perplexity reads it alone), n_vocab × u16 q,
/// log p ≈ floor + q·scale, where floor is the smallest log-probability but no lower than the
/// largest − 40 (a token below e⁻⁴⁰ of the top one carries no KL weight). That is 2 bytes per
/// entry instead of 4, and the KL statistics move by far less than a Q8_0 model's divergence
/// (tested). Files of the first layout ("GPT2KLD1": float32 logits) still read.
/// The quantized run checks that it scores the same tokens with the same windows.
public final class BaseLogitsFile: @unchecked Sendable {
    public static let magic = Array("GPT2KLD2".utf8)
    static let float32Magic = Array("GPT2KLD1".utf8)
    static let headerBytes = 8 + 4 * 4 + 8 + 8
    /// How far below the most likely token log-probabilities are kept (see the layout).
    static let logProbRange: Float = 40

    public let vocabularySize: Int
    public let context: Int
    public let stride: Int
    public let tokens: [Int]
    public let targets: [Int]
    private let file: MappedFile
    private let rowsOffset: Int
    private let quantized: Bool
    private let row: UnsafeMutableBufferPointer<Float>

    /// Maps and validates a file written by `BaseLogitsWriter`.
    public init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func fail(_ problem: String) -> ModelIOError { .malformed(path: path, format: "base-logits", problem: problem) }
        guard bytes.count >= Self.headerBytes else { throw fail("file is \(bytes.count) bytes, shorter than the \(Self.headerBytes)-byte header") }
        let magic = Array(bytes[0..<8])
        guard magic == Self.magic || magic == Self.float32Magic else {
            throw fail("bad magic (expected 'GPT2KLD2'; write it with --kl-divergence-base without --kl-divergence)")
        }
        quantized = magic == Self.magic
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        vocabularySize = u32(8); context = u32(12); stride = u32(16)
        let nTokens = u64(24), nPositions = u64(32)
        guard vocabularySize > 0 else { throw fail("n_vocab is 0") }
        let rowBytes = quantized ? 12 + 2 * vocabularySize : 4 * vocabularySize
        let limit = UInt64(bytes.count)
        guard nTokens <= limit / 4, nPositions <= limit / UInt64(rowBytes) else {
            throw fail("counts (\(nTokens) tokens, \(nPositions) positions) exceed the file size")
        }
        let expected = Self.headerBytes + 4 * Int(nTokens) + Int(nPositions) * (rowBytes + 4)
        guard bytes.count == expected else { throw fail("file is \(bytes.count) bytes; its header implies \(expected)") }
        let read = { (offset: Int, n: Int) in
            (0..<n).map { Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4 * $0, as: Int32.self))) }
        }
        tokens = read(Self.headerBytes, Int(nTokens))
        rowsOffset = Self.headerBytes + 4 * Int(nTokens)
        targets = read(rowsOffset + Int(nPositions) * rowBytes, Int(nPositions))
        let V = vocabularySize
        if let bad = targets.first(where: { $0 < 0 || $0 >= V }) { throw fail("target token \(bad) is outside the vocabulary") }
        row = .allocate(capacity: V)
    }

    deinit { row.deallocate() }

    /// The base log-probabilities of scored position `i` (logits up to a constant, which every KL
    /// statistic ignores), decoded into a buffer this object reuses: valid until the next call.
    public func logits(_ i: Int) -> UnsafeBufferPointer<Float> {
        let V = vocabularySize
        if quantized {
            let start = file.bytes.baseAddress! + rowsOffset + i * (12 + 2 * V)
            func float(_ offset: Int) -> Float { Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
            let floor = float(0), scale = float(4)
            for j in 0..<V {
                row[j] = floor + scale * Float(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 12 + 2 * j, as: UInt16.self)))
            }
            row[targets[i]] = float(8)
        } else {
            let start = file.bytes.baseAddress! + rowsOffset + 4 * i * V
            for j in 0..<V { row[j] = start.loadUnaligned(fromByteOffset: 4 * j, as: Float.self) }
        }
        return UnsafeBufferPointer(row)
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

    /// Appends the next scored position (its logits, stored as 16-bit log-probabilities) and the
    /// token it predicts.
    public func append(logits: UnsafeBufferPointer<Float>, target: Int) {
        handle.write(Self.quantizedLogProbs(logits, target: target))
        targets.append(Int32(target).littleEndian)
    }

    /// One row of the file: floor, scale, the target's log-probability and the u16
    /// log-probabilities (see `BaseLogitsFile`).
    static func quantizedLogProbs(_ logits: UnsafeBufferPointer<Float>, target: Int) -> Data {
        let top = Double(logits.max() ?? 0)
        let logSum = top + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) })
        let logProbs = logits.map { Float(Double($0) - logSum) }
        let highest = logProbs.max() ?? 0
        let floor = max(logProbs.min() ?? 0, highest - BaseLogitsFile.logProbRange)
        let scale = highest > floor ? (highest - floor) / 65535 : 1
        var row = Data(capacity: 12 + 2 * logits.count)
        let targetLogProb = logProbs.indices.contains(target) ? logProbs[target] : 0
        for value in [floor, scale, targetLogProb] { withUnsafeBytes(of: value.bitPattern.littleEndian) { row.append(contentsOf: $0) } }
        for p in logProbs {
            let q = UInt16(min(65535, max(0, ((max(p, floor) - floor) / scale).rounded())))
            withUnsafeBytes(of: q.littleEndian) { row.append(contentsOf: $0) }
        }
        return row
    }

    /// Appends the targets, writes the position count and closes the file.
    public func finish() throws {
        handle.write(targets.withUnsafeBytes { Data($0) })
        try handle.seek(toOffset: Self.positionsOffset)
        handle.write(withUnsafeBytes(of: UInt64(targets.count).littleEndian) { Data($0) })
        try handle.close()
    }
}
