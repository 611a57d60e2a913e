import Foundation
import NeuralNetwork
import TensorEngine

/// T5 / Flan-T5 configuration, decoded from a Hugging Face `config.json` (snake_case keys, the same
/// defaults as `transformers.T5Config`).
public struct T5Config: Codable, Equatable, Sendable {
    public var vocabSize: Int = 32128
    public var dModel: Int = 512
    public var dKv: Int = 64
    public var dFf: Int = 2048
    public var numLayers: Int = 6
    public var numDecoderLayers: Int?
    public var numHeads: Int = 8
    public var relativeAttentionNumBuckets: Int = 32
    public var relativeAttentionMaxDistance: Int = 128
    public var dropoutRate: Float = 0.1
    public var layerNormEpsilon: Float = 1e-6
    /// `relu` (T5 v1.0), `gated-gelu` (v1.1, Flan-T5), or `gated-relu`/`gelu`/`silu` variants.
    public var feedForwardProj: String = "relu"
    /// True for T5 v1.0 (shared input/output embedding, decoder output scaled by d_model^-0.5);
    /// false for v1.1 and Flan-T5 (separate `lm_head.weight`, no scaling).
    public var tieWordEmbeddings: Bool = true
    public var padTokenId: Int = 0
    public var eosTokenId: Int = 1
    public var decoderStartTokenId: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", dModel = "d_model", dKv = "d_kv", dFf = "d_ff", numLayers = "num_layers"
        case numDecoderLayers = "num_decoder_layers", numHeads = "num_heads"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case dropoutRate = "dropout_rate", layerNormEpsilon = "layer_norm_epsilon", feedForwardProj = "feed_forward_proj"
        case tieWordEmbeddings = "tie_word_embeddings", padTokenId = "pad_token_id", eosTokenId = "eos_token_id"
        case decoderStartTokenId = "decoder_start_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        let d = T5Config()
        vocabSize = try v(.vocabSize, d.vocabSize); dModel = try v(.dModel, d.dModel); dKv = try v(.dKv, d.dKv)
        dFf = try v(.dFf, d.dFf); numLayers = try v(.numLayers, d.numLayers)
        numDecoderLayers = try c.decodeIfPresent(Int.self, forKey: .numDecoderLayers)
        numHeads = try v(.numHeads, d.numHeads)
        relativeAttentionNumBuckets = try v(.relativeAttentionNumBuckets, d.relativeAttentionNumBuckets)
        relativeAttentionMaxDistance = try v(.relativeAttentionMaxDistance, d.relativeAttentionMaxDistance)
        dropoutRate = try v(.dropoutRate, d.dropoutRate); layerNormEpsilon = try v(.layerNormEpsilon, d.layerNormEpsilon)
        feedForwardProj = try v(.feedForwardProj, d.feedForwardProj)
        tieWordEmbeddings = try v(.tieWordEmbeddings, d.tieWordEmbeddings)
        padTokenId = try v(.padTokenId, d.padTokenId)
        // eos_token_id may be a list in some configs; the first is the one generation stops on.
        if let one = try? c.decodeIfPresent(Int.self, forKey: .eosTokenId) { eosTokenId = one }
        else if let many = try? c.decodeIfPresent([Int].self, forKey: .eosTokenId), let first = many.first { eosTokenId = first }
        decoderStartTokenId = try v(.decoderStartTokenId, d.decoderStartTokenId)
    }

    /// Number of decoder blocks (defaults to the encoder's).
    public var decoderLayers: Int { numDecoderLayers ?? numLayers }
    /// Whether the feed-forward is gated (`gated-gelu`): two input projections `wi_0`, `wi_1`.
    public var isGated: Bool { feedForwardProj.hasPrefix("gated-") }

    /// The feed-forward activation. `gated-gelu` means the tanh approximation (`gelu_new`), as transformers maps it.
    public func activation() throws -> Activation.Kind {
        let name = feedForwardProj.split(separator: "-").last.map(String.init) ?? ""
        if feedForwardProj == "gated-gelu" { return .geluTanh }
        switch name {
        case "relu": return .relu
        case "gelu": return .gelu
        case "gelu_new": return .geluTanh
        case "silu", "swish": return .silu
        default: throw ModuleError.invalidConfiguration("feed_forward_proj \"\(feedForwardProj)\" is not supported (relu, gelu, gelu_new, silu, optionally gated-)")
        }
    }

    /// Checks the numbers make a model.
    public func validate() throws {
        for (name, value) in [("vocab_size", vocabSize), ("d_model", dModel), ("d_kv", dKv), ("d_ff", dFf),
                              ("num_heads", numHeads), ("num_layers", numLayers), ("decoder layers", decoderLayers),
                              ("relative_attention_num_buckets", relativeAttentionNumBuckets)] where value <= 0 {
            throw ModuleError.invalidConfiguration("\(name) must be positive, got \(value)")
        }
        guard dropoutRate >= 0 && dropoutRate < 1 else { throw ModuleError.invalidConfiguration("dropout_rate \(dropoutRate) outside [0, 1)") }
        // A hostile or mistyped config.json must fail here, not in a terabyte allocation.
        for (name, value, limit) in [("vocab_size", vocabSize, 4_000_000), ("d_model", dModel, 65_536), ("d_kv", dKv, 65_536),
                                     ("d_ff", dFf, 262_144), ("num_heads", numHeads, 1024), ("num_layers", numLayers, 512),
                                     ("decoder layers", decoderLayers, 512), ("relative_attention_num_buckets", relativeAttentionNumBuckets, 4096)]
            where value > limit {
            throw ModuleError.invalidConfiguration("\(name) \(value) is above the limit of \(limit)")
        }
        let perLayer = Double(dModel) * Double(numHeads * dKv) * 4 + Double(dModel) * Double(dFf) * 3
        let weights = Double(vocabSize) * Double(dModel) * 2 + perLayer * Double(numLayers + 2 * decoderLayers)
        guard weights <= 20e9 else {
            throw ModuleError.invalidConfiguration("the configuration asks for \(Int(weights / 1e9)) billion weights, above the limit of 20 billion")
        }
        _ = try activation()
    }
}

// MARK: - Building blocks (keys are Hugging Face's)

/// T5 attention: no bias, no score scaling (folded into initialisation), optional relative position
/// bias table (`relative_attention_bias`, only in the first block of each stack).
final class T5Attention: Module {
    let q: Linear, k: Linear, v: Linear, o: Linear
    let relativeAttentionBias: Embedding?
    let heads: Int, dKv: Int
    let dropout: Dropout?

    override var keyOverrides: [String: String] { ["relativeAttentionBias": "relative_attention_bias"] }

    init(_ c: T5Config, hasRelativeBias: Bool, rng: inout SeededRNG) {
        let inner = c.numHeads * c.dKv
        q = Linear(c.dModel, inner, bias: false, rng: &rng)
        k = Linear(c.dModel, inner, bias: false, rng: &rng)
        v = Linear(c.dModel, inner, bias: false, rng: &rng)
        o = Linear(inner, c.dModel, bias: false, rng: &rng)
        relativeAttentionBias = hasRelativeBias ? Embedding(c.relativeAttentionNumBuckets, c.numHeads, rng: &rng) : nil
        heads = c.numHeads; dKv = c.dKv
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
    }

    /// `[B, T, H*d] -> [B, H, T, d]`
    func split(_ x: Tensor) -> Tensor { x.reshaped([x.shape[0], x.shape[1], heads, dKv]).permuted([0, 2, 1, 3]) }

    /// `x [B, Tq, D]`; `context [B, Tk, D]` for cross-attention; `bias` broadcastable to `[B, H, Tq, Tk]`.
    func callAsFunction(_ x: Tensor, context: Tensor?, bias: Tensor?, cache: KVCache?) -> Tensor {
        let (b, tq) = (x.shape[0], x.shape[1])
        let qh = split(q(x))                                          // [B, H, Tq, d]
        var kh: Tensor, vh: Tensor
        if let context {
            if let cache, let ck = cache.keys, let cv = cache.values { (kh, vh) = (ck, cv) } else {
                kh = split(k(context)); vh = split(v(context))        // [B, H, Tk, d]
                cache?.store(kh, vh)
            }
        } else {
            kh = split(k(x)); vh = split(v(x))
            if let cache { (kh, vh) = cache.append(kh, vh) }
        }
        let out = scaledDotProductAttention(q: qh, k: kh, v: vh, bias: bias, scale: 1, dropout: dropout)
        return o(out.permuted([0, 2, 1, 3]).reshaped([b, tq, heads * dKv]))   // [B, Tq, D]
    }
}

/// HF's `_relative_position_bucket`, in the same Float32 arithmetic so bucket edges agree.
func relativePositionBucket(_ relative: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
    var buckets = numBuckets, result = 0, rp = relative
    if bidirectional {
        buckets /= 2
        if rp > 0 { result += buckets }
        rp = abs(rp)
    } else {
        rp = -min(rp, 0)
    }
    let maxExact = buckets / 2
    if rp < maxExact { return result + rp }
    let scaled = Foundation.log(Float(rp) / Float(maxExact)) / Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
        * Float(buckets - maxExact)
    return result + min(maxExact + Int(scaled), buckets - 1)
}

/// Self-attention sub-layer: `x + Dropout(Attn(RMSNorm(x)))`.
final class T5LayerSelfAttention: Module {
    let attention: T5Attention
    let layerNorm: RMSNorm
    let dropout: Dropout?
    override var keyOverrides: [String: String] { ["attention": "SelfAttention", "layerNorm": "layer_norm"] }

    init(_ c: T5Config, hasRelativeBias: Bool, rng: inout SeededRNG) {
        attention = T5Attention(c, hasRelativeBias: hasRelativeBias, rng: &rng)
        layerNorm = RMSNorm(c.dModel, eps: c.layerNormEpsilon)
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
    }

    func callAsFunction(_ x: Tensor, bias: Tensor?, cache: KVCache?) -> Tensor {
        let a = attention(layerNorm(x), context: nil, bias: bias, cache: cache)
        return x + (dropout.map { $0(a) } ?? a)
    }
}

/// Cross-attention sub-layer of the decoder.
final class T5LayerCrossAttention: Module {
    let attention: T5Attention
    let layerNorm: RMSNorm
    let dropout: Dropout?
    override var keyOverrides: [String: String] { ["attention": "EncDecAttention", "layerNorm": "layer_norm"] }

    init(_ c: T5Config, rng: inout SeededRNG) {
        attention = T5Attention(c, hasRelativeBias: false, rng: &rng)
        layerNorm = RMSNorm(c.dModel, eps: c.layerNormEpsilon)
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
    }

    func callAsFunction(_ x: Tensor, context: Tensor, bias: Tensor?, cache: KVCache?) -> Tensor {
        let a = attention(layerNorm(x), context: context, bias: bias, cache: cache)
        return x + (dropout.map { $0(a) } ?? a)
    }
}

/// Feed-forward (`DenseReluDense`): `wo(act(wi(x)))`, or gated `wo(act(wi_0(x)) * wi_1(x))`.
final class T5DenseActDense: Module {
    let wi: Linear?
    let wi0: Linear?, wi1: Linear?
    let wo: Linear
    let activation: Activation
    let dropout: Dropout?
    override var keyOverrides: [String: String] { ["wi0": "wi_0", "wi1": "wi_1"] }

    init(_ c: T5Config, rng: inout SeededRNG) throws {
        if c.isGated {
            wi = nil
            wi0 = Linear(c.dModel, c.dFf, bias: false, rng: &rng)
            wi1 = Linear(c.dModel, c.dFf, bias: false, rng: &rng)
        } else {
            wi = Linear(c.dModel, c.dFf, bias: false, rng: &rng)
            wi0 = nil; wi1 = nil
        }
        wo = Linear(c.dFf, c.dModel, bias: false, rng: &rng)
        activation = Activation(try c.activation())
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h: Tensor
        if let wi0, let wi1 { h = activation(wi0(x)) * wi1(x) } else { h = activation(wi!(x)) }   // [B, T, F]
        if let dropout { h = dropout(h) }
        return wo(h)
    }
}

/// Feed-forward sub-layer: `x + Dropout(FF(RMSNorm(x)))`.
final class T5LayerFF: Module {
    let denseReluDense: T5DenseActDense
    let layerNorm: RMSNorm
    let dropout: Dropout?
    override var keyOverrides: [String: String] { ["denseReluDense": "DenseReluDense", "layerNorm": "layer_norm"] }

    init(_ c: T5Config, rng: inout SeededRNG) throws {
        denseReluDense = try T5DenseActDense(c, rng: &rng)
        layerNorm = RMSNorm(c.dModel, eps: c.layerNormEpsilon)
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let f = denseReluDense(layerNorm(x))
        return x + (dropout.map { $0(f) } ?? f)
    }
}

/// One block: `layer.0` self-attention, (`layer.1` cross-attention in the decoder), last the feed-forward.
final class T5Block: Module {
    let layer: [Module]

    init(_ c: T5Config, isDecoder: Bool, hasRelativeBias: Bool, rng: inout SeededRNG) throws {
        var l: [Module] = [T5LayerSelfAttention(c, hasRelativeBias: hasRelativeBias, rng: &rng)]
        if isDecoder { l.append(T5LayerCrossAttention(c, rng: &rng)) }
        l.append(try T5LayerFF(c, rng: &rng))
        layer = l
    }

    var selfAttention: T5LayerSelfAttention { layer[0] as! T5LayerSelfAttention }
    var crossAttention: T5LayerCrossAttention? { layer.count == 3 ? (layer[1] as! T5LayerCrossAttention) : nil }
    var feedForward: T5LayerFF { layer[layer.count - 1] as! T5LayerFF }
}

/// Per-layer caches of one decoding run: self-attention keys/values grow by one step per call,
/// cross-attention keys/values are computed from the encoder output once.
public final class T5DecoderCache {
    let selfAttention: [KVCache]
    let crossAttention: [KVCache]

    init(layers: Int) {
        selfAttention = (0..<layers).map { _ in KVCache() }
        crossAttention = (0..<layers).map { _ in KVCache() }
    }

    /// Decoder positions already processed.
    public var length: Int { selfAttention.first?.length ?? 0 }

    /// Keeps only the batch rows in `indices`, in that order (beam search).
    public func select(batch indices: [Int]) {
        for c in selfAttention + crossAttention { c.select(batch: indices) }
    }
}

/// The encoder or the decoder stack: blocks, then a final RMS norm. The token embedding is the
/// model's `shared` table, passed in, so it is stored (and checkpointed) once.
final class T5Stack: Module {
    let block: [T5Block]
    let finalLayerNorm: RMSNorm
    let dropout: Dropout?
    let isDecoder: Bool
    let config: T5Config
    override var keyOverrides: [String: String] { ["finalLayerNorm": "final_layer_norm"] }

    init(_ c: T5Config, isDecoder: Bool, rng: inout SeededRNG) throws {
        let n = isDecoder ? c.decoderLayers : c.numLayers
        block = try (0..<n).map { try T5Block(c, isDecoder: isDecoder, hasRelativeBias: $0 == 0, rng: &rng) }
        finalLayerNorm = RMSNorm(c.dModel, eps: c.layerNormEpsilon)
        dropout = c.dropoutRate > 0 ? Dropout(c.dropoutRate, seed: rng.next()) : nil
        self.isDecoder = isDecoder
        config = c
    }

    /// Relative position bias `[1, H, Tq, Tk]` for queries at `offset..<offset+Tq`.
    func positionBias(queryLength: Int, keyLength: Int, offset: Int) -> Tensor {
        let table = block[0].selfAttention.attention.relativeAttentionBias!.weight     // [buckets, H]
        var ids: [Int] = []
        ids.reserveCapacity(queryLength * keyLength)
        for i in 0..<queryLength {
            for j in 0..<keyLength {
                ids.append(relativePositionBucket(j - (i + offset), bidirectional: !isDecoder,
                                                  numBuckets: config.relativeAttentionNumBuckets,
                                                  maxDistance: config.relativeAttentionMaxDistance))
            }
        }
        return Tensor.embedding(table, ids: ids, shape: [queryLength, keyLength])      // [Tq, Tk, H]
            .permuted([2, 0, 1]).unsqueezed(0)                                          // [1, H, Tq, Tk]
    }

    /// `embeddings [B, T, D]`; `selfMask` additive `[B, 1, 1|Tq, Tk]`; for the decoder, the encoder
    /// output and its additive mask `[B, 1, 1, Tenc]`. Returns the normalised hidden states `[B, T, D]`.
    func callAsFunction(_ embeddings: Tensor, selfMask: Tensor?, encoderOutput: Tensor? = nil,
                        encoderMask: Tensor? = nil, cache: T5DecoderCache? = nil) -> Tensor {
        let t = embeddings.shape[1]
        let past = cache?.length ?? 0
        var bias = positionBias(queryLength: t, keyLength: past + t, offset: past)
        if let selfMask { bias = bias + selfMask }
        var h = dropout.map { $0(embeddings) } ?? embeddings
        for (i, blk) in block.enumerated() {
            h = blk.selfAttention(h, bias: bias, cache: cache?.selfAttention[i])
            if let cross = blk.crossAttention, let encoderOutput {
                h = cross(h, context: encoderOutput, bias: encoderMask, cache: cache?.crossAttention[i])
            }
            h = blk.feedForward(h)
        }
        h = finalLayerNorm(h)
        return dropout.map { $0(h) } ?? h
    }
}

// MARK: - The model

/// A T5 encoder-decoder with a language-model head (`T5ForConditionalGeneration`), Hugging Face key
/// names: `shared.weight`, `encoder.block.N.layer.M....`, `decoder...`, and `lm_head.weight` when
/// the output embedding is not tied.
public final class T5Model: Module {
    public private(set) var config: T5Config
    public let shared: Embedding
    let encoder: T5Stack
    let decoder: T5Stack
    let lmHead: Linear?
    override public var keyOverrides: [String: String] { ["lmHead": "lm_head"] }

    /// A randomly initialised model (seeded), with transformers' initialisation scales.
    public init(config: T5Config, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = SeededRNG(seed: seed)
        shared = Embedding(config.vocabSize, config.dModel, rng: &rng)
        encoder = try T5Stack(config, isDecoder: false, rng: &rng)
        decoder = try T5Stack(config, isDecoder: true, rng: &rng)
        lmHead = config.tieWordEmbeddings ? nil : Linear(config.dModel, config.vocabSize, bias: false, rng: &rng)
        super.init()
        initialiseLikeTransformers(rng: &rng)
    }

    /// Normal initialisation with the per-matrix standard deviations `T5PreTrainedModel._init_weights` uses.
    private func initialiseLikeTransformers(rng: inout SeededRNG) {
        let c = config
        func fill(_ t: Tensor, _ std: Float) { t.assign(Tensor.randn(t.shape, std: std, rng: &rng)) }
        fill(shared.weight, 1)
        if let lmHead { fill(lmHead.weight, 1 / Float(c.dModel).squareRoot()) }
        for (key, t) in namedTensors() where key.hasSuffix(".weight") {
            let name = key.split(separator: ".").dropLast().last.map(String.init) ?? ""
            switch name {
            case "q": fill(t, 1 / Float(c.dModel * c.dKv).squareRoot())
            case "k", "v": fill(t, 1 / Float(c.dModel).squareRoot())
            case "o": fill(t, 1 / Float(c.numHeads * c.dKv).squareRoot())
            case "wi", "wi_0", "wi_1": fill(t, 1 / Float(c.dModel).squareRoot())
            case "wo": fill(t, 1 / Float(c.dFf).squareRoot())
            case "relative_attention_bias": fill(t, 1 / Float(c.dModel).squareRoot())
            default: continue
            }
        }
    }

    /// Additive mask `[B, 1, 1, T]` from a 0/1 attention mask `[B][T]`.
    public static func additiveMask(_ mask: [[Int]]) -> Tensor {
        let b = mask.count, t = mask.first?.count ?? 0
        let m = Tensor.zeros([b, 1, 1, t])
        for i in 0..<b { for j in 0..<t where mask[i][j] == 0 { m[i, 0, 0, j] = attentionMaskValue } }
        return m
    }

    func embed(_ ids: [[Int]]) -> Tensor {
        let b = ids.count, t = ids.first?.count ?? 0
        precondition(ids.allSatisfy { $0.count == t }, "token rows must have equal length (pad them)")
        return shared(ids.flatMap { $0 }, shape: [b, t])                                 // [B, T, D]
    }

    /// Runs the encoder: `ids [B][T]` (padded), `mask [B][T]` 1 for real tokens. Returns `[B, T, D]`.
    public func encode(_ ids: [[Int]], mask: [[Int]]? = nil) -> Tensor {
        encoder(embed(ids), selfMask: mask.map { Self.additiveMask($0) })
    }

    /// Decoder logits `[B, T, V]` for `decoderIds [B][T]` given the encoder output. With a cache,
    /// `decoderIds` are only the new positions and the cache holds the earlier ones.
    public func decode(_ decoderIds: [[Int]], encoderOutput: Tensor, encoderMask: [[Int]]? = nil,
                       cache: T5DecoderCache? = nil) -> Tensor {
        let t = decoderIds.first?.count ?? 0
        let past = cache?.length ?? 0
        let causal = causalMask(queryLength: t, keyLength: past + t, offset: past)      // [Tq, Tk]
        var h = decoder(embed(decoderIds), selfMask: causal, encoderOutput: encoderOutput,
                        encoderMask: encoderMask.map { Self.additiveMask($0) }, cache: cache)
        if let lmHead { return lmHead(h) }
        // Tied embeddings: T5 v1.0 rescales before reusing the input embedding as the output layer.
        h = h * (1 / Float(config.dModel).squareRoot())
        return shared.project(h)                                                         // [B, T, V]
    }

    /// Grows (or cuts) the vocabulary to `size` tokens, as `resize_token_embeddings` does for added
    /// tokens such as `<motion_id_N>`: the shared embedding and an untied `lm_head` keep their rows,
    /// new rows start from the statistics of the old ones. Create optimisers after this.
    public func resizeTokenEmbeddings(_ size: Int, seed: UInt64 = 0) throws {
        guard size > 0 else { throw ModuleError.invalidConfiguration("vocabulary size must be positive, got \(size)") }
        var rng = SeededRNG(seed: seed)
        shared.resize(to: size, rng: &rng)
        lmHead?.resizeOutputs(to: size, rng: &rng)
        config.vocabSize = size
    }

    /// A fresh decoding cache for this model.
    public func makeCache() -> T5DecoderCache { T5DecoderCache(layers: config.decoderLayers) }

    /// Decoder inputs for teacher forcing: labels shifted right behind the start token, with ignored
    /// positions (-100) replaced by the pad token, as `T5ForConditionalGeneration` does.
    public func shiftRight(_ labels: [[Int]]) -> [[Int]] {
        labels.map { row in [config.decoderStartTokenId] + row.dropLast().map { $0 == -100 ? config.padTokenId : $0 } }
    }

    /// Teacher-forced cross-entropy over `labels [B][T]` (-100 ignored), averaged over counted tokens.
    /// Returns the loss and the logits `[B, T, V]`.
    public func loss(inputIds: [[Int]], attentionMask: [[Int]]? = nil, labels: [[Int]]) -> (loss: Tensor, logits: Tensor) {
        let enc = encode(inputIds, mask: attentionMask)
        let logits = decode(shiftRight(labels), encoderOutput: enc, encoderMask: attentionMask)
        let loss = logits.reshaped([-1, config.vocabSize]).crossEntropy(targets: labels.flatMap { $0 }, ignoreIndex: -100)
        return (loss, logits)
    }
}
