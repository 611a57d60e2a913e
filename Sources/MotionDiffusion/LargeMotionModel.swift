import Foundation
import NeuralNetwork
import TensorEngine

/// The 10 per-part read-in linears of one dataset (`SinglePoseEncoder`: `<part>_embed`, 669 slice -> L).
public final class PartEncoder: Module {
    public let root, head, stem, larm, rarm, lleg, rleg, lhnd, rhnd, face: Linear
    override public var keyOverrides: [String: String] {
        Dictionary(uniqueKeysWithValues: BodyPart.allCases.map { ($0.officialName, $0.officialName + "_embed") })
    }
    /// In slot order (`BodyPart` raw values).
    public var parts: [Linear] { [root, head, stem, larm, rarm, lleg, rleg, lhnd, rhnd, face] }

    public init(latentPartDim l: Int, rng: inout SeededRNG) {
        let m = BodyPart.allCases.map { Linear($0.featureIndices.count, l, rng: &rng) }
        (root, head, stem, larm, rarm) = (m[0], m[1], m[2], m[3], m[4])
        (lleg, rleg, lhnd, rhnd, face) = (m[5], m[6], m[7], m[8], m[9])
    }

    /// `[n, T, 669] -> [n, T, 10 L]` (parts in slot order).
    public func callAsFunction(_ motion: Tensor) -> Tensor {
        Tensor.concat(zip(BodyPart.allCases, parts).map { p, m in m(motion.indexSelect(dim: 2, p.featureIndices)) }, dim: 2)
    }
}

/// The 10 per-part read-out linears of one dataset (`SinglePoseDecoder`: `<part>_out`, L -> 669 slice).
public final class PartDecoder: Module {
    public let root, head, stem, larm, rarm, lleg, rleg, lhnd, rhnd, face: Linear
    /// Where each of the 669 values sits in the concatenation of the parts' outputs.
    let _inverse: [Int]
    override public var keyOverrides: [String: String] {
        Dictionary(uniqueKeysWithValues: BodyPart.allCases.map { ($0.officialName, $0.officialName + "_out") })
    }
    /// In slot order.
    public var parts: [Linear] { [root, head, stem, larm, rarm, lleg, rleg, lhnd, rhnd, face] }

    public init(latentPartDim l: Int, rng: inout SeededRNG) {
        let m = BodyPart.allCases.map { Linear(l, $0.featureIndices.count, rng: &rng) }
        (root, head, stem, larm, rarm) = (m[0], m[1], m[2], m[3], m[4])
        (lleg, rleg, lhnd, rhnd, face) = (m[5], m[6], m[7], m[8], m[9])
        var inv = [Int](repeating: 0, count: UnifiedMotion.dimension)
        for (k, i) in BodyPart.allCases.flatMap(\.featureIndices).enumerated() { inv[i] = k }
        _inverse = inv
    }

    /// `[n, T, 10 L] -> [n, T, 669]`
    public func callAsFunction(_ h: Tensor) -> Tensor {
        let l = h.shape[2] / 10
        let outs = parts.enumerated().map { i, m in m(h.slice(dim: 2, i * l, (i + 1) * l)) }
        return Tensor.concat(outs, dim: 2).indexSelect(dim: 2, _inverse)
    }
}

/// Per-dataset read-in or read-out sets (`PoseEncoder` / `PoseDecoder`: `models.<i>.*`).
public final class PerDataset<Part: Module>: Module {
    public let models: [Module]
    public init(_ models: [Part]) { self.models = models }
    public func model(_ i: Int) -> Part { models[i] as! Part }
}

/// The efficient self-attention of the condition encoders (`EfficientSelfAttention`, no time embedding):
/// queries softmaxed over each head's features, keys over the tokens. Keys `norm`, `query`, `key`, `value`.
public final class EfficientSelfAttention: Module {
    public let norm: LayerNorm
    public let query: Linear, key: Linear, value: Linear
    public let heads: Int

    public init(latentDim d: Int, heads: Int, rng: inout SeededRNG) {
        norm = LayerNorm(d)
        query = Linear(d, d, rng: &rng); key = Linear(d, d, rng: &rng); value = Linear(d, d, rng: &rng)
        self.heads = heads
    }

    /// `[B, M, D] -> [B, M, D]`
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, m, d) = (x.shape[0], x.shape[1], x.shape[2])
        let n = norm(x)
        let q = query(n).reshaped([b, m, heads, d / heads]).softmax().permuted([0, 2, 1, 3])      // [B, H, M, dh]
        let k = softmax(key(n).reshaped([b, m, heads, d / heads]), dim: 1).permuted([0, 2, 1, 3])  // [B, H, M, dh]
        let v = value(n).reshaped([b, m, heads, d / heads]).permuted([0, 2, 1, 3])                // [B, H, M, dh]
        let att = k.matmul(v, transposeA: true)                                                   // [B, H, dh, dh]
        return x + q.matmul(att).permuted([0, 2, 1, 3]).reshaped([b, m, d])
    }
}

/// A residual GELU FFN (`FFN`: `linear1`, `linear2`).
public final class ResidualFFN: Module {
    public let linear1: Linear, linear2: Linear
    public init(_ d: Int, _ hidden: Int, rng: inout SeededRNG) {
        linear1 = Linear(d, hidden, rng: &rng); linear2 = Linear(hidden, d, rng: &rng)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x + linear2(linear1(x).gelu()) }
}

/// One condition-encoder layer (`EncoderLayer`: `sa_block`, `ffn`).
public final class ConditionEncoderLayer: Module {
    public let saBlock: EfficientSelfAttention
    public let ffn: ResidualFFN
    override public var keyOverrides: [String: String] { ["saBlock": "sa_block"] }
    public init(_ d: Int, heads: Int, rng: inout SeededRNG) {
        saBlock = EfficientSelfAttention(latentDim: d, heads: heads, rng: &rng)
        ffn = ResidualFFN(d, 4 * d, rng: &rng)
    }
}

/// A condition encoder (the official `Transformer`): input projection, a learned position embedding over
/// 300 tokens, efficient self-attention layers. Turns per-token features of any modality (the sentence
/// encoder's token features for text) into the denoiser's width; a new modality is one more of these.
public final class ConditionEncoder: Module {
    public let projIn: Linear
    public let embedding: Tensor
    public let blocks: [ConditionEncoderLayer]
    /// Every `stride`-th input token is kept (the official music and speech encoders use 3).
    public let stride: Int
    public static let maxTokens = 300
    override public var keyOverrides: [String: String] { ["projIn": "proj_in"] }

    public init(inputDim: Int, latentDim d: Int, heads: Int, layers: Int, stride: Int = 1, rng: inout SeededRNG) {
        self.stride = stride
        projIn = Linear(inputDim, d, rng: &rng)
        embedding = .randn([1, Self.maxTokens, d], rng: &rng, requiresGrad: true)
        blocks = (0..<layers).map { _ in ConditionEncoderLayer(d, heads: heads, rng: &rng) }
    }

    /// `[B, M, input] -> [B, M, D]`
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let x = stride == 1 ? x : x.indexSelect(dim: 1, Array(Swift.stride(from: 0, to: x.shape[1], by: stride)))
        let m = x.shape[1]
        precondition(m <= Self.maxTokens, "condition encoder: \(m) tokens exceed \(Self.maxTokens)")
        var h = projIn(x) + embedding.slice(dim: 1, 0, m)
        for blk in blocks { h = blk.ffn(blk.saBlock(h)) }
        return h
    }
}

/// The sinusoidal embedding of diffusion timesteps (`timestep_embedding`): `[cos(t f), sin(t f)]` with
/// `f_i = 10000^(-i / (dim/2))`. `[B] -> [B, dim]`
public func timestepEmbedding(_ timesteps: [Float], dim: Int, maxPeriod: Double = 10000) -> Tensor {
    let half = dim / 2
    var v = [Float](repeating: 0, count: timesteps.count * dim)
    for (b, t) in timesteps.enumerated() {
        for i in 0..<half {
            let f = Float(Foundation.exp(-Foundation.log(maxPeriod) * Double(i) / Double(half)))
            let arg = t * f  // float32 products, as the official code computes them
            v[b * dim + i] = Foundation.cos(arg)
            v[b * dim + half + i] = Foundation.sin(arg)
        }
    }
    return Tensor(v, shape: [timesteps.count, dim])
}

/// The inputs of one denoiser call beyond the noisy motion.
public struct LMMInputs {
    /// `[B]` diffusion timesteps (0...999).
    public var timesteps: [Float]
    /// `[B, T, 10]` part presence (1 known/present, 0 replaced by the mask token).
    public var partMask: Tensor
    /// Frames of each sample (the rest of `T` is padding).
    public var lengths: [Int]
    /// Frames per second of each sample.
    public var fps: [Float]
    /// Index into `dataset_names` per sample (0 = `all` by convention).
    public var datasetIndex: [Int]
    /// Rotation type per sample: 0 `h3d_rot` (ours), 1 `smpl_rot`, 2 `bvh_rot`.
    public var rotationIndex: [Int]
    /// Raw per-token condition features by name (`text`: `[B, M, text_input_dim]`) and who has them.
    public var conditions: [String: ConditionTokens]

    public init(timesteps: [Float], partMask: Tensor, lengths: [Int], fps: [Float], datasetIndex: [Int],
                rotationIndex: [Int]? = nil, conditions: [String: ConditionTokens] = [:]) {
        self.timesteps = timesteps
        self.partMask = partMask
        self.lengths = lengths
        self.fps = fps
        self.datasetIndex = datasetIndex
        self.rotationIndex = rotationIndex ?? [Int](repeating: 0, count: lengths.count)
        self.conditions = conditions
    }
}

/// The Large Motion Model's denoiser (official `LargeMotionModel`, keys as its state dict): predicts the
/// clean motion x0 `[B, T, 669]` from a noisy one, with parts masked by `partMask`, any conditions, and
/// classifier-free guidance when asked.
public final class LargeMotionModel: Module {
    public let config: LMMConfig
    public let timeEmbed: [Module]
    public let jointEmbed: PerDataset<PartEncoder>
    public let out: PerDataset<PartDecoder>
    public let temporalDecoderBlocks: [LMMLayer]
    public let textTransformer: ConditionEncoder?
    public let musicTransformer: ConditionEncoder?
    public let maskToken: Tensor
    /// Unused by the forward pass (as in the official code), kept so official checkpoints load strictly.
    public let cleanToken: Tensor

    override public var keyOverrides: [String: String] {
        ["timeEmbed": "time_embed", "jointEmbed": "joint_embed", "temporalDecoderBlocks": "temporal_decoder_blocks",
         "textTransformer": "text_transformer", "musicTransformer": "music_transformer", "maskToken": "mask_token",
         "cleanToken": "clean_token"]
    }

    public init(config c: LMMConfig, seed: UInt64 = 0) throws {
        try c.validate()
        config = c
        var rng = SeededRNG(seed: seed)
        let d = c.latentDim
        timeEmbed = [Linear(d, c.timeEmbedDim, rng: &rng), Activation(.silu), Linear(c.timeEmbedDim, c.timeEmbedDim, rng: &rng)]
        jointEmbed = PerDataset((0..<c.datasetNames.count).map { _ in PartEncoder(latentPartDim: c.latentPartDim, rng: &rng) })
        let decoders = (0..<c.datasetNames.count).map { _ in PartDecoder(latentPartDim: c.latentPartDim, rng: &rng) }
        // The read-out starts at zero (official zero_module): an untrained model predicts x0 = 0.
        for dec in decoders { for lin in dec.parts { lin.weight.fill(0); lin.bias?.fill(0) } }
        out = PerDataset(decoders)
        temporalDecoderBlocks = (0..<c.numLayers).map { LMMLayer(c, seed: seed &+ UInt64(2 * $0 + 100), rng: &rng) }
        textTransformer = c.textInputDim.map { ConditionEncoder(inputDim: $0, latentDim: d, heads: c.numParts, layers: c.numCondLayers, rng: &rng) }
        musicTransformer = c.musicInputDim.map { ConditionEncoder(inputDim: $0, latentDim: d, heads: c.numParts, layers: c.numCondLayers, stride: c.musicInputStride, rng: &rng) }
        maskToken = .randn([c.numParts, c.latentPartDim], rng: &rng, requiresGrad: true)
        cleanToken = .randn([c.numParts, c.latentPartDim], rng: &rng, requiresGrad: true)
    }

    /// The sum of the layers' template KL losses of the last forward pass in training mode (the official
    /// `template_kl_loss`, weighted 1e-4 in its training loss); nil after an inference-mode pass.
    public var templateKL: Tensor? {
        let parts = temporalDecoderBlocks.compactMap { $0.caBlock._templateKL }
        guard parts.count == temporalDecoderBlocks.count, let first = parts.first else { return nil }
        return parts.dropFirst().reduce(first, +)
    }

    /// The sum of the layers' experts load-balancing losses of the last forward pass (the official
    /// `moe_route_loss`, weighted 10 in its training loss); nil with one expert.
    public var routingLoss: Tensor? {
        let parts = temporalDecoderBlocks.compactMap { $0.caBlock._routingLoss }
        guard let first = parts.first else { return nil }
        return parts.dropFirst().reduce(first, +)
    }

    /// The condition encoder of a modality by name.
    public func conditionEncoder(_ name: String) -> ConditionEncoder? {
        switch name {
        case "text": return textTransformer
        case "music": return musicTransformer
        default: return nil
        }
    }

    /// Per sample, its dataset's set of linears applied to its row. `x [B, T, *] -> [B, T, *]`
    func perDataset<P: Module>(_ x: Tensor, _ sets: PerDataset<P>, _ index: [Int], _ apply: (P, Tensor) -> Tensor) -> Tensor {
        let b = x.shape[0]
        if Set(index).count == 1 { return apply(sets.model(index[0]), x) }
        return Tensor.concat((0..<b).map { apply(sets.model(index[$0]), x.slice(dim: 0, $0, $0 + 1)) }, dim: 0)
    }

    func check(_ motion: Tensor, _ inp: LMMInputs) throws {
        let c = config
        guard motion.rank == 3, motion.shape[2] == c.inputFeats else {
            throw MotionDiffusionError.invalidShape("motion must be [B, T, \(c.inputFeats)], got \(motion.shape)")
        }
        let (b, t) = (motion.shape[0], motion.shape[1])
        guard t <= c.maxSeqLen else { throw MotionDiffusionError.invalidShape("\(t) frames exceed max_seq_len \(c.maxSeqLen)") }
        guard inp.partMask.shape == [b, t, c.numParts] else {
            throw MotionDiffusionError.invalidShape("part mask must be [\(b), \(t), \(c.numParts)], got \(inp.partMask.shape)")
        }
        for (name, n) in [("timesteps", inp.timesteps.count), ("lengths", inp.lengths.count), ("fps", inp.fps.count),
                          ("dataset indices", inp.datasetIndex.count), ("rotation indices", inp.rotationIndex.count)] where n != b {
            throw MotionDiffusionError.invalidShape("\(name): \(n) values for a batch of \(b)")
        }
        if let bad = inp.lengths.first(where: { $0 < 1 || $0 > t }) { throw MotionDiffusionError.invalidShape("length \(bad) outside 1...\(t)") }
        if let bad = inp.fps.first(where: { !($0 > 0 && $0.isFinite) }) { throw MotionDiffusionError.invalidShape("fps \(bad) is not positive") }
        if let bad = inp.datasetIndex.first(where: { $0 < 0 || $0 >= c.datasetNames.count }) {
            throw MotionDiffusionError.invalidShape("dataset index \(bad) outside 0..<\(c.datasetNames.count)")
        }
        if let bad = inp.rotationIndex.first(where: { $0 < 0 || $0 > 2 }) { throw MotionDiffusionError.invalidShape("rotation index \(bad) outside 0...2") }
        for (name, cond) in inp.conditions {
            guard let enc = conditionEncoder(name) else {
                throw MotionDiffusionError.invalidConfiguration("the model has no \(name) condition")
            }
            let w = cond.words
            guard w.rank == 3, w.shape[0] == b, w.shape[2] == enc.projIn.weight.shape[1], cond.present.count == b else {
                throw MotionDiffusionError.invalidShape("\(name) features must be [\(b), M, \(enc.projIn.weight.shape[1])] with \(b) presence flags, got \(w.shape)")
            }
        }
    }

    /// x0 prediction `[B, T, 669]` from the noisy motion `[B, T, 669]`. Without `guidance` one pass with the
    /// conditions as given (training; the caller drops conditions). With `guidance` (the scale s), the
    /// official sampling pass: conditional and unconditional halves in one batch, combined as
    /// `w cond + (1 - w) uncond` with `w = 1 + s t / 1000` (t of the first sample, as the official code).
    public func callAsFunction(_ motion: Tensor, _ inp: LMMInputs, guidance: Float? = nil) throws -> Tensor {
        try check(motion, inp)
        let c = config
        let (b, t) = (motion.shape[0], motion.shape[1])
        let (h, l) = (c.numParts, c.latentPartDim)

        // Condition tokens through their encoders (all zero when no sample has the condition).
        var conditions: [String: ConditionTokens] = [:]
        for (name, cond) in inp.conditions {
            let words: Tensor = cond.present.contains(where: { $0 > 0 })
                ? conditionEncoder(name)!(cond.words) : Tensor.zeros([b, cond.words.shape[1], c.latentDim])
            conditions[name] = ConditionTokens(words: words, present: cond.present)
        }

        // Timestep embedding [B, E].
        var emb = timestepEmbedding(inp.timesteps, dim: c.latentDim)
        for m in timeEmbed { emb = (m as! UnaryLayer)(emb) }

        // Part tokens; masked parts become the mask token. [B, T, D]
        let mask = inp.partMask.reshaped([b, t, h, 1])
        var x = perDataset(motion, jointEmbed, inp.datasetIndex) { $0($1) }
        x = (x.reshaped([b, t, h, l]) * mask + (1 - mask) * maskToken).reshaped([b, t, h * l])

        var src = [Float](repeating: 0, count: b * t * h)
        for i in 0..<b { for f in 0..<inp.lengths[i] { for p in 0..<h { src[(i * t + f) * h + p] = 1 } } }
        var context = ArtAttentionContext(sourceMask: Tensor(src, shape: [b, t, h, 1]), lengths: inp.lengths.map(Float.init),
                                          duration: inp.fps.map { 1 / $0 }, datasetIndex: inp.datasetIndex,
                                          rotationIndex: inp.rotationIndex, conditions: conditions)
        var datasetIndex = inp.datasetIndex
        if guidance != nil {
            // Second half: the same samples with every condition absent.
            x = Tensor.concat([x, x], dim: 0)
            emb = Tensor.concat([emb, emb], dim: 0)
            context.sourceMask = Tensor.concat([context.sourceMask, context.sourceMask], dim: 0)
            context.lengths += context.lengths
            context.duration += context.duration
            context.datasetIndex += context.datasetIndex
            context.rotationIndex += context.rotationIndex
            datasetIndex += datasetIndex
            for (name, cond) in conditions {
                context.conditions[name] = ConditionTokens(words: Tensor.concat([cond.words, cond.words], dim: 0),
                                                           present: cond.present + [Float](repeating: 0, count: b))
            }
        }
        for layer in temporalDecoderBlocks { x = layer(x, emb: emb, context: context) }
        let y = perDataset(x, out, datasetIndex) { $0($1) }                                   // [B or 2B, T, 669]
        guard let s = guidance else { return y }
        let w = 1 + s * inp.timesteps[0] / 1000
        return y.slice(dim: 0, 0, b) * w + y.slice(dim: 0, b, 2 * b) * (1 - w)
    }
}
