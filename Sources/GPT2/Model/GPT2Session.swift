import Kernels
import GPT2Runtime

/// Which logits a forward pass produces.
public enum LogitsRequest: Sendable {
    /// Only the last position's (generation: the LM head is 31% of GPT-2 124M's weights).
    case last
    /// Every position's (perplexity).
    case all
}

/// The ops of the GPT-2 graph, in execution order: the unit the profiler reports.
public enum Op: String, CaseIterable, Sendable {
    case embedding, ln1, qkv, attention, attnProj = "attn_proj", ln2
    case mlpUp = "mlp_up_gelu", mlpDown = "mlp_down", lnFinal = "ln_f", lmHead = "lm_head"
}

/// Receives the start and end of every op (for `gpt2 profile`). `layer` is -1 outside blocks.
public protocol OpObserver: AnyObject {
    func opDidRun(_ op: Op, layer: Int, tokens: Int, startNanoseconds: UInt64, endNanoseconds: UInt64)
}

/// Inference state of one sequence: KV cache, activations and worker threads over a shared
/// `GPT2Model`. Feed tokens with `evaluate`; each call appends them to the cache.
public final class GPT2Session {
    public let model: GPT2Model
    public let pool: ThreadPool
    /// Tokens already in the KV cache (the position of the next token).
    public private(set) var position = 0
    /// Optional per-op timing hook; nil costs one branch per op.
    public weak var observer: OpObserver?
    /// The NUMA strategy this session was created with (`--numa`).
    public let numa: NumaStrategy
    /// Where `numa` put the threads: a CPU per thread (empty = not pinned) and their nodes.
    public let placement: ThreadPlacement

    let cache: KVCache
    let activations: Activations
    /// Quantised activations for int8 weights (sized for the largest matmul input at init).
    let q8Scratch: Q8Scratch
    /// fp32 activations packed into row slivers for the prefill GEMM (`matmulPacked`).
    let packScratch: AlignedBuffer<Float>
    private var logits: AlignedBuffer<Float>

    /// A session with an empty KV cache over `model`, whose weights it shares (read-only) with
    /// other sessions.
    ///
    /// - Parameters:
    ///   - model: the weights and config to run.
    ///   - threads: worker threads, the caller included (default: every CPU this process may use).
    ///   - batchCapacity: the most tokens one internal forward pass takes; longer inputs are
    ///     processed in chunks of this size.
    ///   - numa: thread pinning and weight placement over NUMA nodes (`--numa`); on a one-node
    ///     machine `.distribute`/`.isolate` only pin threads.
    public init(model: GPT2Model, threads: Int? = nil, batchCapacity: Int = 256, numa: NumaStrategy = .off) {
        let config = model.config
        self.model = model
        let threadCount = max(1, threads ?? ThreadPool.availableCPUs().count)
        self.numa = numa
        if numa == .off {
            placement = ThreadPlacement(cpus: [], nodes: [])
            pool = ThreadPool(threadCount: threadCount)
        } else {
            let topology = NumaTopology.discover()
            let plan = topology.placement(threads: threadCount, strategy: numa, currentNode: topology.currentNodeIndex())
            placement = plan
            pool = ThreadPool(threadCount: threadCount, cpus: plan.cpus)
            if plan.placesMemory { model.weights.place(on: topology, plan) }
        }
        cache = KVCache(layers: config.nLayer, heads: config.nHead, headSize: config.headSize, capacity: config.nPositions)
        activations = Activations(config: config, capacity: min(batchCapacity, config.nPositions))
        logits = AlignedBuffer(count: config.vocabSize)
        q8Scratch = Q8Scratch(bytes: Q8Scratch.bytes(M: activations.capacity, K: max(config.nEmbd, config.nInner)))
        packScratch = AlignedBuffer(count: packedMatmulScratchCount(M: activations.capacity, K: max(config.nEmbd, config.nInner)))
    }

    /// Forgets every position (the next token is position 0).
    public func reset() { position = 0 }

    /// Drops positions from `newPosition` on, keeping the cache before it.
    public func rewind(to newPosition: Int) {
        precondition(newPosition >= 0 && newPosition <= position)
        position = newPosition
    }

    /// Runs `tokens` through the model at positions `position ..< position + tokens.count`,
    /// appends them to the KV cache and returns logits: [V] for `.last`, [T, V] for `.all`, in
    /// the session's own buffer (no copy per token): see `SessionLogits` for how long they hold.
    public func evaluate(_ tokens: [Int], logits request: LogitsRequest = .last) throws -> SessionLogits {
        let config = model.config
        guard !tokens.isEmpty else { throw GPT2Error.emptyPrompt }
        if position + tokens.count > config.nPositions {
            throw GPT2Error.contextOverflow(needed: position + tokens.count, limit: config.nPositions)
        }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw GPT2Error.tokenOutOfRange(token: bad, vocabularySize: config.vocabSize)
        }
        let V = config.vocabSize
        let rows = request == .all ? tokens.count : 1
        if logits.count < rows * V { logits = AlignedBuffer(count: rows * V, zeroed: false) }
        var start = 0
        while start < tokens.count {
            let count = min(activations.capacity, tokens.count - start)
            let isLastChunk = start + count == tokens.count
            tokens.withUnsafeBufferPointer { all in
                let chunk = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
                switch request {
                case .all: forward(chunk, logitRows: 0..<count, into: logits.pointer + start * V)
                case .last: forward(chunk, logitRows: isLastChunk ? (count - 1)..<count : 0..<0, into: logits.pointer)
                }
            }
            position += count
            start += count
        }
        return SessionLogits(buffer: logits, count: rows * V)
    }

    /// One forward pass over `tokens` (at most `activations.capacity`) starting at `position`.
    /// Writes the logits of the chunk rows `logitRows` to `out` ([logitRows.count, V]).
    private func forward(_ tokens: UnsafeBufferPointer<Int>, logitRows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let config = model.config, weights = model.weights, a = activations
        let T = tokens.count, C = config.nEmbd, H = config.nHead, hd = config.headSize
        let eps = config.layerNormEpsilon
        let scale: Float = config.scaleAttentionWeights ? 1 / Float(hd).squareRoot() : 1
        let first = position

        run(.embedding, layer: -1, tokens: T) {
            embedTokens(a.residual, tokens: tokens, firstPosition: first,
                        table: weights.tokenEmbedding, wpe: weights.positionEmbedding, C: C)
        }
        for (l, w) in weights.blocks.enumerated() {
            run(.ln1, layer: l, tokens: T) {
                layerNorm(a.normed, a.residual, weight: w.ln1Weight, bias: w.ln1Bias, T: T, C: C, eps: eps, pool: pool)
            }
            run(.qkv, layer: l, tokens: T) {
                linear(a.qkv, a.normed, w.qkv, bias: w.qkvBias, M: T, scratch: q8Scratch, packScratch: packScratch.pointer, pool: pool)
            }
            run(.attention, layer: l, tokens: T) {
                let keys = cache.keys(layer: l), values = cache.values(layer: l)
                if T == 1 {
                    attentionStep(a.attention, qkv: a.qkv, keys: keys, values: values, position: first,
                                  H: H, hd: hd, capacity: cache.capacity, scale: scale, pool: pool)
                    return
                }
                // A prefill's copy (T·2C floats, keys scattered into tiles) is split by heads.
                pool.parallelFor(H) { heads in
                    storeKeyValues(qkv: a.qkv, keys: keys, values: values, T: T, firstPosition: first,
                                   H: H, hd: hd, capacity: cache.capacity, heads: heads)
                }
                attention(a.attention, qkv: a.qkv, keys: keys, values: values, T: T, firstPosition: first,
                          H: H, hd: hd, capacity: cache.capacity, scale: scale, pool: pool)
            }
            run(.attnProj, layer: l, tokens: T) {  // residual += attention · W + b
                linear(a.residual, a.attention, w.attnProj, bias: w.attnProjBias, M: T, epilogue: .accumulate, scratch: q8Scratch, packScratch: packScratch.pointer, pool: pool)
            }
            run(.ln2, layer: l, tokens: T) {
                layerNorm(a.normed, a.residual, weight: w.ln2Weight, bias: w.ln2Bias, T: T, C: C, eps: eps, pool: pool)
            }
            run(.mlpUp, layer: l, tokens: T) {  // hidden = gelu(normed · W + b)
                linear(a.hidden, a.normed, w.fc, bias: w.fcBias, M: T, epilogue: .gelu, scratch: q8Scratch, packScratch: packScratch.pointer, pool: pool)
            }
            run(.mlpDown, layer: l, tokens: T) {  // residual += hidden · W + b
                linear(a.residual, a.hidden, w.fcProj, bias: w.fcProjBias, M: T, epilogue: .accumulate, scratch: q8Scratch, packScratch: packScratch.pointer, pool: pool)
            }
        }
        guard !logitRows.isEmpty else { return }
        let rows = logitRows.count
        let firstRow = a.residual + logitRows.lowerBound * C
        run(.lnFinal, layer: -1, tokens: rows) {
            layerNorm(a.normed, firstRow, weight: weights.finalNormWeight, bias: weights.finalNormBias,
                      T: rows, C: C, eps: eps, pool: pool)
        }
        run(.lmHead, layer: -1, tokens: rows) {
            linear(out, a.normed, weights.lmHead, bias: nil, M: rows, scratch: q8Scratch, packScratch: packScratch.pointer, pool: pool)
        }
    }

    /// Runs one op, timing it only when an observer is attached.
    @inline(__always)
    private func run(_ op: Op, layer: Int, tokens: Int, _ body: () -> Void) {
        guard let observer else { body(); return }
        let start = monotonicNanoseconds()
        body()
        observer.opDidRun(op, layer: layer, tokens: tokens, startNanoseconds: start, endNanoseconds: monotonicNanoseconds())
    }
}

/// The logits of a session's last `evaluate`, in the session's buffer. The memory stays valid as
/// long as this value exists (it holds the buffer), but the values are those of that call only
/// until the session evaluates again, which overwrites them: copy (`Array(logits)`) to keep them.
public struct SessionLogits: RandomAccessCollection, @unchecked Sendable {
    private let buffer: AlignedBuffer<Float>
    public let count: Int

    init(buffer: AlignedBuffer<Float>, count: Int) {
        precondition(count <= buffer.count)
        self.buffer = buffer
        self.count = count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(i: Int) -> Float {
        precondition(i >= 0 && i < count, "logit index \(i) out of range 0..<\(count)")
        return buffer.pointer[i]
    }

    /// Direct access for the samplers and evaluation code, which read (and may rescale) the
    /// logits in place.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(buffer) { try body(UnsafeMutableBufferPointer(start: buffer.pointer, count: count)) }
    }
}
