import Foundation
import NeuralNetwork
import TensorEngine

/// BERT configuration, decoded from a Hugging Face `config.json` (snake_case keys, the defaults of
/// `transformers.BertConfig`).
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int = 30522
    public var hiddenSize: Int = 768
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 12
    public var intermediateSize: Int = 3072
    /// `gelu` (exact, erf), `gelu_new`/`gelu_pytorch_tanh` (tanh approximation), `relu`, `silu`.
    public var hiddenAct: String = "gelu"
    public var maxPositionEmbeddings: Int = 512
    public var typeVocabSize: Int = 2
    public var layerNormEps: Float = 1e-12
    public var padTokenId: Int = 0
    /// Only `absolute` is supported (all-MiniLM and every BERT sentence encoder we know use it).
    public var positionEmbeddingType: String = "absolute"

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", padTokenId = "pad_token_id", positionEmbeddingType = "position_embedding_type"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        let d = BertConfig()
        vocabSize = try v(.vocabSize, d.vocabSize); hiddenSize = try v(.hiddenSize, d.hiddenSize)
        numHiddenLayers = try v(.numHiddenLayers, d.numHiddenLayers); numAttentionHeads = try v(.numAttentionHeads, d.numAttentionHeads)
        intermediateSize = try v(.intermediateSize, d.intermediateSize); hiddenAct = try v(.hiddenAct, d.hiddenAct)
        maxPositionEmbeddings = try v(.maxPositionEmbeddings, d.maxPositionEmbeddings); typeVocabSize = try v(.typeVocabSize, d.typeVocabSize)
        layerNormEps = try v(.layerNormEps, d.layerNormEps); padTokenId = try v(.padTokenId, d.padTokenId)
        positionEmbeddingType = try v(.positionEmbeddingType, d.positionEmbeddingType)
    }

    /// The feed-forward activation, as transformers' `ACT2FN` maps `hidden_act`.
    public func activation() throws -> Activation.Kind {
        switch hiddenAct {
        case "gelu": return .gelu
        case "gelu_new", "gelu_pytorch_tanh": return .geluTanh
        case "relu": return .relu
        case "silu", "swish": return .silu
        default: throw ModuleError.invalidConfiguration("hidden_act \"\(hiddenAct)\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)")
        }
    }

    /// Checks the numbers make a model, and refuses sizes no real BERT has before allocating them.
    public func validate() throws {
        for (name, value, limit) in [("vocab_size", vocabSize, 4_000_000), ("hidden_size", hiddenSize, 65_536),
                                     ("num_hidden_layers", numHiddenLayers, 512), ("num_attention_heads", numAttentionHeads, 1024),
                                     ("intermediate_size", intermediateSize, 262_144), ("max_position_embeddings", maxPositionEmbeddings, 1_048_576),
                                     ("type_vocab_size", typeVocabSize, 1024)] {
            guard value > 0 else { throw ModuleError.invalidConfiguration("\(name) must be positive, got \(value)") }
            guard value <= limit else { throw ModuleError.invalidConfiguration("\(name) \(value) is above the limit of \(limit)") }
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModuleError.invalidConfiguration("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard positionEmbeddingType == "absolute" else {
            throw ModuleError.invalidConfiguration("position_embedding_type \"\(positionEmbeddingType)\" is not supported (absolute)")
        }
        let weights = Double(vocabSize + maxPositionEmbeddings) * Double(hiddenSize)
            + Double(numHiddenLayers) * (4 * Double(hiddenSize * hiddenSize) + 2 * Double(hiddenSize) * Double(intermediateSize))
        guard weights <= 20e9 else {
            throw ModuleError.invalidConfiguration("the configuration asks for \(Int(weights / 1e9)) billion weights, above the limit of 20 billion")
        }
        _ = try activation()
    }
}

// MARK: - Building blocks (keys are Hugging Face's `BertModel` keys)

/// Word + position + token-type embeddings, then LayerNorm (`embeddings.*`).
final class BertEmbeddings: Module {
    let wordEmbeddings: Embedding
    let positionEmbeddings: Embedding
    let tokenTypeEmbeddings: Embedding
    let layerNorm: LayerNorm
    override var keyOverrides: [String: String] {
        ["wordEmbeddings": "word_embeddings", "positionEmbeddings": "position_embeddings",
         "tokenTypeEmbeddings": "token_type_embeddings", "layerNorm": "LayerNorm"]
    }

    init(_ c: BertConfig, rng: inout SeededRNG) {
        wordEmbeddings = Embedding(c.vocabSize, c.hiddenSize, rng: &rng)
        positionEmbeddings = Embedding(c.maxPositionEmbeddings, c.hiddenSize, rng: &rng)
        tokenTypeEmbeddings = Embedding(c.typeVocabSize, c.hiddenSize, rng: &rng)
        layerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    /// `ids [B][T]` -> `[B, T, H]`. Positions count from 0 in every row (padding is on the right, so
    /// real tokens get the positions transformers gives them); token types are all 0 (one segment).
    func callAsFunction(_ ids: [[Int]]) -> Tensor {
        let b = ids.count, t = ids.first?.count ?? 0
        let words = wordEmbeddings(ids.flatMap { $0 }, shape: [b, t])                  // [B, T, H]
        let positions = positionEmbeddings(Array(0..<t), shape: [1, t])                // [1, T, H]
        let types = tokenTypeEmbeddings([0], shape: [1, 1])                            // [1, 1, H]
        return layerNorm(words + positions + types)
    }
}

/// Multi-head self-attention with biased projections and 1/sqrt(d) score scaling (`attention.self.*`).
final class BertSelfAttention: Module {
    let query: Linear, key: Linear, value: Linear
    let heads: Int, headDim: Int

    init(_ c: BertConfig, rng: inout SeededRNG) {
        query = Linear(c.hiddenSize, c.hiddenSize, rng: &rng)
        key = Linear(c.hiddenSize, c.hiddenSize, rng: &rng)
        value = Linear(c.hiddenSize, c.hiddenSize, rng: &rng)
        heads = c.numAttentionHeads
        headDim = c.hiddenSize / c.numAttentionHeads
    }

    /// `[B, T, H*d] -> [B, H, T, d]`
    func split(_ x: Tensor) -> Tensor { x.reshaped([x.shape[0], x.shape[1], heads, headDim]).permuted([0, 2, 1, 3]) }

    /// `x [B, T, C]`, `mask` additive `[B, 1, 1, T]` -> `[B, T, C]` (before the output projection).
    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let out = scaledDotProductAttention(q: split(query(x)), k: split(key(x)), v: split(value(x)), bias: mask,
                                            scale: 1 / Float(headDim).squareRoot())    // [B, H, T, d]
        return out.permuted([0, 2, 1, 3]).reshaped([b, t, heads * headDim])             // [B, T, C]
    }
}

/// A projection, then post-LN around the residual (`attention.output.*` and `output.*`).
final class BertResidualOutput: Module {
    let dense: Linear
    let layerNorm: LayerNorm
    override var keyOverrides: [String: String] { ["layerNorm": "LayerNorm"] }

    init(_ inFeatures: Int, _ c: BertConfig, rng: inout SeededRNG) {
        dense = Linear(inFeatures, c.hiddenSize, rng: &rng)
        layerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    /// `LayerNorm(residual + dense(x))`: BERT normalises after the sum (post-LN), unlike T5.
    func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor { layerNorm(dense(x) + residual) }
}

/// `attention.self` and `attention.output`.
final class BertAttention: Module {
    let selfAttention: BertSelfAttention
    let output: BertResidualOutput
    override var keyOverrides: [String: String] { ["selfAttention": "self"] }

    init(_ c: BertConfig, rng: inout SeededRNG) {
        selfAttention = BertSelfAttention(c, rng: &rng)
        output = BertResidualOutput(c.hiddenSize, c, rng: &rng)
    }

    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor { output(selfAttention(x, mask: mask), residual: x) }
}

/// `intermediate.dense` with the activation.
final class BertIntermediate: Module {
    let dense: Linear
    let activation: Activation

    init(_ c: BertConfig, rng: inout SeededRNG) throws {
        dense = Linear(c.hiddenSize, c.intermediateSize, rng: &rng)
        activation = Activation(try c.activation())
    }

    func callAsFunction(_ x: Tensor) -> Tensor { activation(dense(x)) }                 // [B, T, F]
}

/// One encoder layer: attention, then the feed-forward, each post-LN.
final class BertLayer: Module {
    let attention: BertAttention
    let intermediate: BertIntermediate
    let output: BertResidualOutput

    init(_ c: BertConfig, rng: inout SeededRNG) throws {
        attention = BertAttention(c, rng: &rng)
        intermediate = try BertIntermediate(c, rng: &rng)
        output = BertResidualOutput(c.intermediateSize, c, rng: &rng)
    }

    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        let a = attention(x, mask: mask)                                                // [B, T, C]
        return output(intermediate(a), residual: a)                                     // [B, T, C]
    }
}

/// `encoder.layer.N`.
final class BertEncoder: Module {
    let layer: [BertLayer]

    init(_ c: BertConfig, rng: inout SeededRNG) throws {
        layer = try (0..<c.numHiddenLayers).map { _ in try BertLayer(c, rng: &rng) }
    }

    func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        var h = x
        for l in layer { h = l(h, mask: mask) }
        return h
    }
}

// MARK: - The model

/// A BERT encoder (`transformers.BertModel` without its pooler: sentence encoders pool the token
/// features themselves), Hugging Face key names `embeddings.*`, `encoder.layer.N.*`.
/// Inference only here: dropout is left out (every BERT checkpoint is used in eval mode).
public final class BertModel: Module {
    public let config: BertConfig
    let embeddings: BertEmbeddings
    let encoder: BertEncoder

    /// A randomly initialised model (seeded); real weights come through the model-folder layer.
    public init(config: BertConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = SeededRNG(seed: seed)
        embeddings = BertEmbeddings(config, rng: &rng)
        encoder = try BertEncoder(config, rng: &rng)
        super.init()
        train(false)
    }

    /// Additive mask `[B, 1, 1, T]` from a 0/1 attention mask `[B][T]`.
    public static func additiveMask(_ mask: [[Int]]) -> Tensor {
        let b = mask.count, t = mask.first?.count ?? 0
        let m = Tensor.zeros([b, 1, 1, t])
        for i in 0..<b { for j in 0..<t where mask[i][j] == 0 { m[i, 0, 0, j] = attentionMaskValue } }
        return m
    }

    /// The last hidden states `[B, T, H]` of `ids [B][T]` (padded on the right), `mask [B][T]` 1 for
    /// real tokens. Rows must be no longer than `max_position_embeddings`.
    public func callAsFunction(_ ids: [[Int]], mask: [[Int]]? = nil) -> Tensor {
        let t = ids.first?.count ?? 0
        precondition(ids.allSatisfy { $0.count == t }, "token rows must have equal length (pad them)")
        precondition(t <= config.maxPositionEmbeddings, "\(t) tokens is more than max_position_embeddings \(config.maxPositionEmbeddings)")
        return encoder(embeddings(ids), mask: mask.map { Self.additiveMask($0) })
    }
}
