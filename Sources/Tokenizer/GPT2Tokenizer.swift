// GPT-2's byte-level BPE tokenizer.
//
// Text is split into pre-tokens (PreTokenizer.swift); the UTF-8 bytes of each pre-token start
// as one token per byte and are merged pairwise, lowest merge rank first, until no listed merge
// applies. vocab.json spells tokens with GPT-2's printable stand-in for each byte (bytes ↔
// unicode map below); internally everything works on token ids and raw bytes.

import Foundation
import Synchronization

/// Why a tokenizer could not be loaded.
public enum TokenizerError: Error, CustomStringConvertible {
    /// A vocabulary or merges file is missing or unreadable.
    case unreadableFile(path: String, reason: String)
    /// A resource of the bundled vocabulary is missing from the package.
    case missingResource(name: String)
    /// vocab.json content is not a valid GPT-2 vocabulary.
    case malformedVocabulary(source: String, problem: String)
    /// merges.txt content is not a valid list of merges; `line` counts from 1.
    case malformedMerges(source: String, line: Int, problem: String)

    /// A one-line message naming the file and the problem.
    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            "cannot read tokenizer file '\(path)': \(reason)"
        case .missingResource(let name):
            "bundled tokenizer resource '\(name)' is missing"
        case .malformedVocabulary(let source, let problem):
            "malformed vocabulary '\(source)': \(problem)"
        case .malformedMerges(let source, let line, let problem):
            "malformed merges file '\(source)', line \(line): \(problem)"
        }
    }
}

/// GPT-2's tokenizer: exact byte-level BPE, identical to OpenAI's and Hugging Face's.
public final class GPT2Tokenizer: Sendable {
    /// The text of GPT-2's only special token, which separates documents.
    public static let endOfTextToken = "<|endoftext|>"

    /// Id of `endOfTextToken` (50256 in GPT-2's vocabulary).
    public let endOfTextID: Int

    /// Number of token ids (50257 for GPT-2).
    public var vocabularySize: Int { pieces.count }

    /// vocab.json spelling of each token, indexed by id.
    private let pieces: [String]
    /// Raw bytes of token `id` are `tokenBytes[tokenOffsets[id]..<tokenOffsets[id + 1]]`.
    private let tokenBytes: [UInt8]
    private let tokenOffsets: [Int32]
    /// Token id of each single byte: the starting point of BPE.
    private let byteTokens: [Int32]
    /// Merge of the adjacent pair (left, right), keyed by `pairKey(left, right)`.
    private let merges: [UInt64: Merge]
    /// BPE result per pre-token, keyed by its UTF-8 bytes (not by String: String equality is
    /// canonical equivalence, which would conflate different byte sequences).
    private let cache = Mutex<[WordKey: [Int32]]>([:])

    private struct Merge {
        var rank: Int32
        var merged: Int32
    }

    /// The cache is emptied when it grows past this many words, to bound memory.
    private static let maxCachedWords = 200_000

    /// Builds a tokenizer from the contents of vocab.json (token → id) and merges.txt.
    /// Throws `TokenizerError.malformedVocabulary` or `.malformedMerges` on bad content.
    public convenience init(vocabJSON: Data, merges: String) throws {
        try self.init(vocabJSON: vocabJSON, vocabSource: "vocab.json", merges: merges, mergesSource: "merges.txt")
    }

    /// Loads a tokenizer from vocab.json and merges.txt files. Throws a `TokenizerError` that
    /// names the file when one is missing, unreadable or malformed.
    public convenience init(vocabFile: String, mergesFile: String) throws {
        let vocab = try Self.readFile(vocabFile)
        guard let merges = String(data: try Self.readFile(mergesFile), encoding: .utf8) else {
            throw TokenizerError.unreadableFile(path: mergesFile, reason: "not valid UTF-8")
        }
        try self.init(vocabJSON: vocab, vocabSource: vocabFile, merges: merges, mergesSource: mergesFile)
    }

    /// The OpenAI GPT-2 vocabulary embedded in this module (loaded once, then shared).
    public static func bundled() throws -> GPT2Tokenizer {
        try bundledTokenizer.get()
    }

    private static let bundledTokenizer = Result<GPT2Tokenizer, any Error> {
        let files = try bundledFiles()
        return try GPT2Tokenizer(vocabFile: files.vocab, mergesFile: files.merges)
    }

    private static func readFile(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError.unreadableFile(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw TokenizerError.unreadableFile(path: path, reason: "is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadableFile(path: path, reason: "permission denied or I/O error")
        }
        return data
    }

    private convenience init(vocabJSON: Data, vocabSource: String, merges mergesText: String, mergesSource: String) throws {
        let entries: [(piece: String, id: Int)]
        do {
            entries = try vocabJSON.withUnsafeBytes { try readVocabulary($0.bindMemory(to: UInt8.self)) }
        } catch let error as VocabularyReadError {
            throw TokenizerError.malformedVocabulary(source: vocabSource, problem: "not a JSON object of token → id: \(error.problem)")
        } catch {
            throw TokenizerError.malformedVocabulary(source: vocabSource, problem: "\(error)")
        }
        try self.init(entries: entries, vocabSource: vocabSource, merges: mergesText, mergesSource: mergesSource)
    }

    /// Builds a tokenizer from the token pieces in id order (vocab.json spellings) and the
    /// merges in rank order ("left right" each), as a GGUF file's `tokenizer.ggml.tokens` and
    /// `tokenizer.ggml.merges` hold them. `source` names where they came from, for errors.
    public convenience init(pieces: [String], merges: [String], source: String) throws {
        try self.init(entries: pieces.enumerated().map { ($0.element, $0.offset) },
                      vocabSource: source + " (tokenizer.ggml.tokens)",
                      merges: merges.joined(separator: "\n"), mergesSource: source + " (tokenizer.ggml.merges)")
    }

    /// The merges in rank order, spelled "left right" as in merges.txt.
    public var mergeList: [String] {
        // Sorted rather than indexed by rank: a pair listed twice keeps one rank, leaving a gap.
        let ranked: [(rank: Int32, key: UInt64)] = merges.map { ($0.value.rank, $0.key) }
        let keys: [UInt64] = ranked.sorted { $0.rank < $1.rank }.map { $0.key }
        return keys.map { key -> String in
            let left: String = pieces[Int(key >> 32)]
            let right: String = pieces[Int(key & 0xFFFF_FFFF)]
            return left + " " + right
        }
    }

    private init(entries: [(piece: String, id: Int)], vocabSource: String, merges mergesText: String, mergesSource: String) throws {
        func vocabError(_ problem: String) -> TokenizerError {
            .malformedVocabulary(source: vocabSource, problem: problem)
        }
        guard !entries.isEmpty else { throw vocabError("no tokens") }

        // Ids must be exactly 0..<count, so that every id in range has a token.
        var pieces = [String?](repeating: nil, count: entries.count)
        for (piece, id) in entries {
            guard id >= 0 && id < entries.count else {
                throw vocabError("id \(id) of token \"\(piece)\" is outside 0..<\(entries.count)")
            }
            guard pieces[id] == nil else { throw vocabError("id \(id) is used by two tokens") }
            pieces[id] = piece
        }
        let allPieces = pieces.compactMap { $0 }

        // Tokens are looked up by their raw bytes: hashing byte arrays is much cheaper than
        // hashing non-ASCII Strings, which Swift hashes in normalised form.
        var tokenBytes: [UInt8] = []
        var tokenOffsets: [Int32] = [0]
        tokenOffsets.reserveCapacity(allPieces.count + 1)
        var idOfBytes: [[UInt8]: Int32] = [:]
        idOfBytes.reserveCapacity(allPieces.count)
        var bytes: [UInt8] = []
        for (id, piece) in allPieces.enumerated() {
            var piece = piece
            guard piece.withUTF8({ spelledBytes($0, into: &bytes) }) else {
                throw vocabError("token \"\(piece)\" has a character outside GPT-2's byte alphabet")
            }
            guard idOfBytes.updateValue(Int32(id), forKey: bytes) == nil else {
                throw vocabError("token \"\(piece)\" is listed twice")
            }
            tokenBytes.append(contentsOf: bytes)
            tokenOffsets.append(Int32(tokenBytes.count))
        }

        var byteTokens = [Int32](repeating: 0, count: 256)
        for byte in 0..<256 {
            guard let id = idOfBytes[[UInt8(byte)]] else { throw vocabError("no token for the single byte \(byte)") }
            byteTokens[byte] = id
        }
        guard let endOfTextID = idOfBytes[Array(Self.endOfTextToken.utf8)] else {
            throw vocabError("no \(Self.endOfTextToken) token")
        }

        let merges = try Self.readMerges(mergesText, source: mergesSource, idOfBytes: idOfBytes)

        self.pieces = allPieces
        self.tokenBytes = tokenBytes
        self.tokenOffsets = tokenOffsets
        self.byteTokens = byteTokens
        self.merges = merges
        self.endOfTextID = Int(endOfTextID)
    }

    /// Parses merges.txt: one merge "left right" per line, in rank order, after an optional
    /// "#version" line. Returns each merge keyed by `pairKey(leftID, rightID)`.
    private static func readMerges(
        _ text: String, source: String, idOfBytes: [[UInt8]: Int32]
    ) throws -> [UInt64: Merge] {
        var text = text
        return try text.withUTF8 { utf8 throws(TokenizerError) in
            var merges: [UInt64: Merge] = [:]
            merges.reserveCapacity(idOfBytes.count)
            var rank: Int32 = 0
            var lineNumber = 0
            var lineStart = 0
            var left: [UInt8] = [], right: [UInt8] = [], merged: [UInt8] = []
            while lineStart < utf8.count {
                lineNumber += 1
                var lineEnd = lineStart
                while lineEnd < utf8.count && utf8[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                let nextLineStart = lineEnd + 1
                if lineEnd > lineStart && utf8[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                let line = UnsafeBufferPointer(rebasing: utf8[lineStart..<lineEnd])
                lineStart = nextLineStart
                if line.isEmpty || (lineNumber == 1 && line.starts(with: "#version".utf8)) { continue }

                func mergesError(_ problem: String) -> TokenizerError {
                    .malformedMerges(source: source, line: lineNumber,
                                     problem: "\(problem): \"\(String(decoding: line, as: UTF8.self))\"")
                }
                guard let space = line.firstIndex(of: UInt8(ascii: " ")), space > 0, space < line.count - 1,
                      !line[(space + 1)...].contains(UInt8(ascii: " ")) else {
                    throw mergesError("expected two tokens separated by one space")
                }
                guard spelledBytes(UnsafeBufferPointer(rebasing: line[..<space]), into: &left),
                      spelledBytes(UnsafeBufferPointer(rebasing: line[(space + 1)...]), into: &right) else {
                    throw mergesError("character outside GPT-2's byte alphabet")
                }
                merged.removeAll(keepingCapacity: true)
                merged.append(contentsOf: left)
                merged.append(contentsOf: right)
                guard let leftID = idOfBytes[left], let rightID = idOfBytes[right],
                      let mergedID = idOfBytes[merged] else {
                    throw mergesError("token not in the vocabulary")
                }
                merges[pairKey(leftID, rightID)] = Merge(rank: rank, merged: mergedID)
                rank += 1
            }
            return merges
        }
    }

    // MARK: Encoding

    /// Token ids of `text`. The literal "<|endoftext|>" becomes `endOfTextID`, as in Hugging Face.
    public func encode(_ text: String) -> [Int] {
        Self.ids(of: text) { utf8, ids in
            let marker = Array(Self.endOfTextToken.utf8)
            var segmentStart = 0
            var i = 0
            while i + marker.count <= utf8.count {
                if utf8[i] == marker[0] && marker.indices.allSatisfy({ utf8[i + $0] == marker[$0] }) {
                    encodeOrdinary(UnsafeBufferPointer(rebasing: utf8[segmentStart..<i]), into: &ids)
                    ids.append(endOfTextID)
                    i += marker.count
                    segmentStart = i
                } else {
                    i += 1
                }
            }
            encodeOrdinary(UnsafeBufferPointer(rebasing: utf8[segmentStart...]), into: &ids)
        }
    }

    /// Token ids of `text`, treating "<|endoftext|>" as ordinary text (for untrusted input).
    public func encodeOrdinary(_ text: String) -> [Int] {
        Self.ids(of: text) { utf8, ids in encodeOrdinary(utf8, into: &ids) }
    }

    /// The ids that `encode` appends for `text`'s UTF-8 bytes (about one per 3 bytes, reserved).
    private static func ids(of text: String, _ encode: (UnsafeBufferPointer<UInt8>, inout [Int]) -> Void) -> [Int] {
        var text = text
        return text.withUTF8 { utf8 in
            var ids: [Int] = []
            ids.reserveCapacity(utf8.count / 3)
            encode(utf8, &ids)
            return ids
        }
    }

    private func encodeOrdinary(_ utf8: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        var workspace = MergeWorkspace()
        forEachPreToken(in: utf8) { range in
            if range.count == 1 {
                ids.append(Int(byteTokens[Int(utf8[range.lowerBound])]))
                return
            }
            let bytes = UnsafeBufferPointer(rebasing: utf8[range])
            // Long pre-tokens are rare and seldom repeat: they are not cached.
            guard let key = WordKey(bytes) else {
                applyMerges(bytes, in: &workspace)
                for id in workspace.word { ids.append(Int(id)) }
                return
            }
            if let cached = cache.withLock({ $0[key] }) {
                for id in cached { ids.append(Int(id)) }
                return
            }
            applyMerges(bytes, in: &workspace)
            for id in workspace.word { ids.append(Int(id)) }
            cache.withLock { cache in
                if cache.count >= Self.maxCachedWords { cache.removeAll(keepingCapacity: true) }
                cache[key] = workspace.word
            }
        }
    }

    /// Buffers of `applyMerges`, reused from one pre-token to the next.
    private struct MergeWorkspace {
        var symbols: [Int32] = []  // token id per position; -1 once merged into its left neighbour
        var next: [Int] = []       // linked list of live positions; `count` means none
        var previous: [Int] = []   // -1 means none
        var heap = MinHeap()       // candidate merges: rank << 32 | position
        var word: [Int32] = []     // the result
    }

    /// Byte-pair encoding of one pre-token into `workspace.word`: repeatedly merges the adjacent
    /// pair with the lowest rank (leftmost first among equal pairs), exactly like GPT-2's `bpe()`.
    /// Symbols form a linked list and candidate merges sit in a min-heap, so long words cost
    /// O(n log n).
    private func applyMerges(_ bytes: UnsafeBufferPointer<UInt8>, in workspace: inout MergeWorkspace) {
        let count = bytes.count
        workspace.symbols.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        for (position, byte) in bytes.enumerated() {
            workspace.symbols.append(byteTokens[Int(byte)])
            workspace.next.append(position + 1)
            workspace.previous.append(position - 1)
        }

        func pushPair(at position: Int) {
            let right = workspace.next[position]
            guard right < count,
                  let merge = merges[pairKey(workspace.symbols[position], workspace.symbols[right])] else { return }
            workspace.heap.push(UInt64(merge.rank) << 32 | UInt64(position))
        }

        for position in 0..<(count - 1) { pushPair(at: position) }
        while let entry = workspace.heap.pop() {
            let position = Int(entry & 0xFFFF_FFFF)
            let right = workspace.next[position]
            // Skip entries made stale by earlier merges: the pair there must still have this rank.
            guard workspace.symbols[position] >= 0, right < count,
                  let merge = merges[pairKey(workspace.symbols[position], workspace.symbols[right])],
                  UInt64(merge.rank) == entry >> 32 else { continue }
            workspace.symbols[position] = merge.merged
            workspace.symbols[right] = -1
            let afterRight = workspace.next[right]
            workspace.next[position] = afterRight
            if afterRight < count { workspace.previous[afterRight] = position }
            if workspace.previous[position] >= 0 { pushPair(at: workspace.previous[position]) }
            pushPair(at: position)
        }

        workspace.word.removeAll(keepingCapacity: true)
        var position = 0
        while position < count {
            workspace.word.append(workspace.symbols[position])
            position = workspace.next[position]
        }
    }

    // MARK: Decoding

    /// Text of `ids`. Invalid UTF-8 becomes U+FFFD (as in Hugging Face); ids out of range are skipped.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Raw bytes of one token; nil if `id` is out of range.
    public func bytes(of id: Int) -> [UInt8]? {
        guard id >= 0 && id < vocabularySize else { return nil }
        return Array(tokenBytes[Int(tokenOffsets[id])..<Int(tokenOffsets[id + 1])])
    }

    /// The vocab.json spelling of a token (bytes shown through GPT-2's printable map, e.g. "Ġthe");
    /// nil if `id` is out of range.
    public func piece(of id: Int) -> String? {
        guard id >= 0 && id < vocabularySize else { return nil }
        return pieces[id]
    }

    /// Appends the bytes of token `id` (nothing if out of range).
    func appendBytes(of id: Int, to bytes: inout [UInt8]) {
        guard id >= 0 && id < vocabularySize else { return }
        bytes.append(contentsOf: tokenBytes[Int(tokenOffsets[id])..<Int(tokenOffsets[id + 1])])
    }
}

@inline(__always)
private func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
}

/// GPT-2's map from each byte to a printable character: printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100...U+0143 in order (so that vocab.json and
/// merges.txt never contain spaces or control characters).
private let byteToUnicode: [Unicode.Scalar] = {
    func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
    var map = [Unicode.Scalar](repeating: " ", count: 256)
    var nextStandIn: UInt32 = 0x100
    for byte in 0..<256 {
        if isPrintable(byte) {
            map[byte] = Unicode.Scalar(UInt8(byte))
        } else {
            map[byte] = Unicode.Scalar(nextStandIn) ?? " "  // always valid: U+0100...U+0143
            nextStandIn += 1
        }
    }
    return map
}()

/// Inverse of `byteToUnicode`, indexed by scalar value (-1: not in GPT-2's alphabet).
private let unicodeToByteTable: [Int16] = {
    var table = [Int16](repeating: -1, count: 0x144)
    for (byte, scalar) in byteToUnicode.enumerated() { table[Int(scalar.value)] = Int16(byte) }
    return table
}()

/// Raw bytes of a token spelled in GPT-2's alphabet (as in vocab.json and merges.txt);
/// false if a character is outside the alphabet.
private func spelledBytes(_ spelling: UnsafeBufferPointer<UInt8>, into bytes: inout [UInt8]) -> Bool {
    bytes.removeAll(keepingCapacity: true)
    var i = 0
    while i < spelling.count {
        let (value, length) = decodeScalar(spelling, at: i)
        guard value < unicodeToByteTable.count, unicodeToByteTable[Int(value)] >= 0 else { return false }
        bytes.append(UInt8(unicodeToByteTable[Int(value)]))
        i += length
    }
    return true
}

/// A pre-token of up to 32 bytes packed inline, so that the cache hashes and compares it without
/// allocating or following pointers (zero padding is told apart by `count`).
private struct WordKey: Hashable {
    var bytes0: UInt64 = 0, bytes1: UInt64 = 0, bytes2: UInt64 = 0, bytes3: UInt64 = 0
    var count: Int

    init?(_ word: UnsafeBufferPointer<UInt8>) {
        guard word.count <= 32 else { return nil }
        count = word.count
        var packed: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // tuples have a fixed layout
        withUnsafeMutableBytes(of: &packed) { $0.copyMemory(from: UnsafeRawBufferPointer(word)) }
        (bytes0, bytes1, bytes2, bytes3) = packed
    }
}

/// A binary min-heap of UInt64, just enough for `applyMerges`.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ item: UInt64) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent] <= items[child] { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
