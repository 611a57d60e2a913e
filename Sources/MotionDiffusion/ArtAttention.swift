import Foundation
import NeuralNetwork
import TensorEngine

// The Large Motion Model's building blocks under the official module and key names
// (mogen/models/attentions/art_attention.py, mogen/models/utils/stylization_block.py,
// mogen/models/transformers/large_motion_model.py). Shapes: B batch, T frames, H = 10 part heads,
// L = latent_part_dim, D = H * L.

/// Softmax over dimension `dim` (the engine's softmax is over the last one): moves `dim` last and back.
func softmax(_ x: Tensor, dim: Int) -> Tensor {
    let a = x.axis(dim)
    if a == x.rank - 1 { return x.softmax() }
    var order = Array(0..<x.rank); order.swapAt(a, x.rank - 1)
    return x.permuted(order).softmax().permuted(order)
}

/// `nn.Sequential(Linear(in, hidden), GELU(), Linear(hidden, out))` with keys `0.*` and `2.*`.
public final class GELUMLP: Module {
    public let first: Linear
    public let second: Linear
    override public var keyOverrides: [String: String] { ["first": "0", "second": "2"] }

    public init(_ inDim: Int, _ hidden: Int, _ outDim: Int, rng: inout SeededRNG) {
        first = Linear(inDim, hidden, rng: &rng)
        second = Linear(hidden, outDim, rng: &rng)
    }

    /// `[..., in] -> [..., out]`
    public func callAsFunction(_ x: Tensor) -> Tensor { second(first(x).gelu()) }
}

/// The stylisation block: LayerNorm of the features, scaled and shifted by the timestep embedding
/// (`h * (1 + scale) + shift`), then SiLU and a linear (zero-initialised in the official code, so a new
/// block starts as the identity of its residual). Keys `emb_layers.1`, `norm`, `out_layers.2`.
public final class StylizationBlock: Module {
    public let embLinear: Linear
    public let norm: LayerNorm
    public let outLinear: Linear
    public let dropout: Dropout
    override public var keyOverrides: [String: String] { ["embLinear": "emb_layers.1", "outLinear": "out_layers.2"] }

    public init(latentDim: Int, timeEmbedDim: Int, dropout p: Float, rng: inout SeededRNG) {
        embLinear = Linear(timeEmbedDim, 2 * latentDim, rng: &rng)
        norm = LayerNorm(latentDim)
        outLinear = Linear(latentDim, latentDim, rng: &rng)
        outLinear.weight.fill(0)
        outLinear.bias!.fill(0)
        dropout = Dropout(p)
    }

    /// `h [B, T, D]`, `emb [B, E]` -> `[B, T, D]`
    public func callAsFunction(_ h: Tensor, emb: Tensor) -> Tensor {
        let d = h.shape[2]
        let e = embLinear(emb.silu()).unsqueezed(1)                       // [B, 1, 2D]
        let scale = e.slice(dim: 2, 0, d), shift = e.slice(dim: 2, d, 2 * d)  // [B, 1, D] each
        let y = norm(h) * (scale + 1) + shift
        return outLinear(dropout(y.silu()))
    }
}

/// The gate of a mixture of experts under tutel's keys (`gates.0.*`): `top` (a bias-free linear `wg [E, D]`)
/// or `cosine_top` (tutel's `CosineTopKGate`: cosine similarity of a 256-wide projection `cosine_projector`
/// with the expert embeddings `sim_matrix [256, E]`, times `exp(min(temperature, log 100))`).
public final class MoEGate: Module {
    public let wg: Linear?
    public let temperature: Tensor?
    public let cosineProjector: Linear?
    public let simMatrix: Tensor?
    override public var keyOverrides: [String: String] { ["cosineProjector": "cosine_projector", "simMatrix": "sim_matrix"] }

    public init(type: String, modelDim: Int, experts: Int, rng: inout SeededRNG) {
        if type == "cosine_top" {
            wg = nil
            temperature = Tensor([Foundation.log(2)], shape: [1], requiresGrad: true)  // log(1 / init_t), init_t 0.5
            cosineProjector = Linear(modelDim, 256, rng: &rng)
            simMatrix = .randn([256, experts], std: 0.01, rng: &rng, requiresGrad: true)
        } else {
            wg = Linear(modelDim, experts, bias: false, rng: &rng)
            temperature = nil; cosineProjector = nil; simMatrix = nil
        }
    }

    /// Rows divided by their L2 norm (at least 1e-12, as `F.normalize`) along `dim`.
    static func normalized(_ x: Tensor, dim: Int) -> Tensor {
        x / (x * x).sum(dim: dim, keepDims: true).sqrt().clamped(min: 1e-12, max: .greatestFiniteMagnitude)
    }

    /// `[N, D] -> [N, E]` logits.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let wg { return wg(x) }
        let scale = temperature!.clamped(min: -.greatestFiniteMagnitude, max: Foundation.log(100)).exp()
        return Self.normalized(cosineProjector!(x), dim: 1).matmul(Self.normalized(simMatrix!, dim: 0)) * scale
    }
}

/// The mixture-of-experts projection (`MOE`): the learned per-frame embedding (when `embedding`), tutel's
/// `moe_layer` over the tokens (every (frame, part) cell), GELU and the output projection `proj`.
///
/// tutel's layer, as it runs with LMM's settings (`batch_prioritized_routing`, capacity factor 1.5,
/// `is_gshard_loss` False, gates normalised over the top k, scores applied after the experts): softmax of
/// the gate logits (plus `gate_noise * N(0,1) / E` in training), each token's top-k experts, each expert
/// taking at most `k * int(1.5 * ceil(N / E))` tokens: first choices before second ones, within a choice the
/// tokens with the highest top score first, the rest dropped; a token's output is the gate-weighted sum of its
/// kept experts' FFNs `fc2(gelu(fc1 x))` (keys `model.experts.batched_fc1_w [E, hidden, L]`, `batched_fc1_bias
/// [E, hidden]`, `batched_fc2_w [E, hidden, L]`, `batched_fc2_bias [E, L]`). The load-balancing loss is
/// tutel's importance + load loss (`load_importance_loss`). One expert is a plain FFN (its gate's softmax is
/// 1, nothing is dropped) with no balancing loss.
public final class MixtureOfExperts: Module {
    public let proj: Linear
    public let embedding: Tensor?
    public let fc1Weight: Tensor, fc1Bias: Tensor, fc2Weight: Tensor, fc2Bias: Tensor
    public let gates: [Module]
    public let topk: Int
    public let gateNoise: Float
    public let capacityFactor: Double
    private var _rng: SeededRNG
    /// The load-balancing loss of the last forward pass (nil with one expert).
    public private(set) var _auxLoss: Tensor?
    /// Token-expert assignments dropped by the capacity in the last pass.
    public private(set) var _dropped = 0
    override public var keyOverrides: [String: String] {
        ["fc1Weight": "model.experts.batched_fc1_w", "fc1Bias": "model.experts.batched_fc1_bias",
         "fc2Weight": "model.experts.batched_fc2_w", "fc2Bias": "model.experts.batched_fc2_bias", "gates": "model.gates"]
    }

    public init(inputDim: Int, ffnDim: Int, outputDim: Int, heads: Int, maxSeqLen: Int, embedding: Bool,
                experts: Int = 1, topk: Int = 1, gateType: String = "top", gateNoise: Float = 0, capacityFactor: Double = 1.5,
                seed: UInt64 = 0, rng: inout SeededRNG) {
        proj = Linear(inputDim, outputDim, rng: &rng)
        self.embedding = embedding ? Tensor.randn([1, maxSeqLen, heads, inputDim], rng: &rng, requiresGrad: true) : nil
        let b1 = 1 / Float(inputDim).squareRoot(), b2 = 1 / Float(ffnDim).squareRoot()
        fc1Weight = .uniform([experts, ffnDim, inputDim], low: -b1, high: b1, rng: &rng, requiresGrad: true)
        fc1Bias = .zeros([experts, ffnDim], requiresGrad: true)
        fc2Weight = .uniform([experts, ffnDim, inputDim], low: -b2, high: b2, rng: &rng, requiresGrad: true)
        fc2Bias = .zeros([experts, inputDim], requiresGrad: true)
        gates = [MoEGate(type: gateType, modelDim: inputDim, experts: experts, rng: &rng)]
        self.topk = min(topk, experts)
        self.gateNoise = gateNoise
        self.capacityFactor = capacityFactor
        _rng = SeededRNG(seed: seed)
    }

    /// Restarts the gate-noise sequence (reproducible and resumed training).
    public func reseed(_ seed: UInt64) { _rng = SeededRNG(seed: seed) }

    public var expertCount: Int { fc1Weight.shape[0] }

    /// Expert `e`'s FFN on rows `[n, L] -> [n, L]`.
    func expert(_ e: Int, _ x: Tensor) -> Tensor {
        let (hidden, l) = (fc1Weight.shape[1], fc1Weight.shape[2])
        let w1 = fc1Weight.slice(dim: 0, e, e + 1).reshaped([hidden, l]), b1 = fc1Bias.slice(dim: 0, e, e + 1).reshaped([hidden])
        let w2 = fc2Weight.slice(dim: 0, e, e + 1).reshaped([hidden, l]), b2 = fc2Bias.slice(dim: 0, e, e + 1).reshaped([l])
        return x.linear(weight: w1, bias: b1).gelu().matmul(w2) + b2
    }

    /// tutel's routed layer over tokens `[N, L] -> [N, L]`.
    func routed(_ x: Tensor) -> Tensor {
        let (n, l, e, k) = (x.shape[0], x.shape[1], expertCount, topk)
        guard e > 1 else { _auxLoss = nil; _dropped = 0; return expert(0, x) }
        let logits = (gates[0] as! MoEGate)(x)                                             // [N, E]
        var noisy = logits
        if isTraining && gateNoise > 0 { noisy = logits + Tensor.randn([n, e], rng: &_rng) * (gateNoise / Float(e)) }
        let scores = noisy.softmax()                                                        // [N, E]
        let sv = scores.scalars
        // Top-k experts per token, best first.
        var top = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            let row = Array(sv[(i * e)..<((i + 1) * e)])
            top[i] = Array((0..<e).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k))
        }
        var gate = scores.reshaped([n * e]).indexSelect(dim: 0, (0..<n).flatMap { i in top[i].map { i * e + $0 } }).reshaped([n, k])
        if k > 1 { gate = gate / gate.sum(dim: 1, keepDims: true).clamped(min: Float.ulpOfOne, max: .greatestFiniteMagnitude) }
        // Capacity slots: choice by choice, tokens by descending top score (batch-prioritised routing).
        let order = (0..<n).sorted { (sv[($0 * e)..<(($0 + 1) * e)].max()!, $1) > (sv[($1 * e)..<(($1 + 1) * e)].max()!, $0) }
        let capacity = k * Int(capacityFactor * Double((n + e - 1) / e))
        var filled = [Int](repeating: 0, count: e)
        var kept = [[Bool]](repeating: [Bool](repeating: false, count: k), count: n)
        for c in 0..<k { for i in order { let ex = top[i][c]; kept[i][c] = filled[ex] < capacity; filled[ex] += 1 } }
        // Each expert on its kept tokens; every (token, choice) reads its row (dropped ones a zero row).
        var outputs: [Tensor] = [], rowOf = [Int](repeating: -1, count: n * k), next = 0
        for ex in 0..<e {
            var tokens: [Int] = []
            for i in 0..<n { for c in 0..<k where top[i][c] == ex && kept[i][c] { rowOf[i * k + c] = next; next += 1; tokens.append(i) } }
            if !tokens.isEmpty { outputs.append(expert(ex, x.indexSelect(dim: 0, tokens))) }
        }
        _dropped = rowOf.filter { $0 < 0 }.count
        outputs.append(Tensor.zeros([1, l]))
        let picked = Tensor.concat(outputs, dim: 0).indexSelect(dim: 0, rowOf.map { $0 < 0 ? next : $0 })  // [N k, L]
        let out = (picked * gate.reshaped([n * k, 1])).reshaped([n, k, l]).sum(dim: 1)

        // Load-balancing loss: importance (summed clean scores) and load (normal CDF of the clean scores
        // above each token's k-th noisy logit), each var / mean^2 over the experts, averaged.
        let clean = logits.softmax()
        func cv2(_ v: Tensor) -> Tensor {                                                  // [E] -> scalar
            let m = v.mean()
            let c = v - m
            return ((c * c).sum() / Float(e - 1)) / (m * m + 1e-10)
        }
        let threshold = noisy.reshaped([n * e]).indexSelect(dim: 0, (0..<n).map { $0 * e + top[$0][k - 1] }).reshaped([n, 1])
        let sigma = gateNoise / Float(e)
        let prob = (((clean - threshold) / (sigma * Float(2).squareRoot())).erf() + 1) * 0.5
        _auxLoss = (cv2(clean.sum(dim: 0)) + cv2(prob.sum(dim: 0))) * 0.5
        return out
    }

    /// `x [B, T, H, L] -> [B, T, H, out]`
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var x = x
        let (b, t, h, l) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if let embedding {
            precondition(t <= embedding.shape[1], "MOE: \(t) frames exceed max_seq_len \(embedding.shape[1])")
            x = x + embedding.slice(dim: 1, 0, t)
        }
        return proj(routed(x.reshaped([b * t * h, l])).gelu()).reshaped([b, t, h, -1])
    }
}

/// One condition source as ArtAttention sees it: per-token features already through its encoder
/// (`<name>_word_out [B, M, D]`) and which samples have it (`cond [B]`, 1 or 0).
public struct ConditionTokens {
    /// `[B, M, D]`
    public var words: Tensor
    /// `[B]`: 1 where the sample has this condition, 0 where it is absent (masked: key -1e6, value 0).
    public var present: [Float]

    public init(words: Tensor, present: [Float]) {
        self.words = words
        self.present = present
    }
}

/// What every ArtAttention layer of one forward pass shares.
public struct ArtAttentionContext {
    /// `[B, T, H, 1]`: 1 on frames inside the motion length, 0 on padding.
    public var sourceMask: Tensor
    /// Frames of each sample (`motion_length`), as the anchor times scale with it.
    public var lengths: [Float]
    /// Seconds a frame (1 / fps) per sample: times are in seconds, so any frame rate shares one model.
    public var duration: [Float]
    /// Per sample, the index of its dataset's learnable tokens and of its rotation type.
    public var datasetIndex: [Int]
    public var rotationIndex: [Int]
    /// Condition tokens by name (`text`, `music`); absent names take no part.
    public var conditions: [String: ConditionTokens]

    public init(sourceMask: Tensor, lengths: [Float], duration: [Float], datasetIndex: [Int], rotationIndex: [Int],
                conditions: [String: ConditionTokens] = [:]) {
        self.sourceMask = sourceMask
        self.lengths = lengths
        self.duration = duration
        self.datasetIndex = datasetIndex
        self.rotationIndex = rotationIndex
        self.conditions = conditions
    }
}

/// ArtAttention (official `ArtAttention`, one head per body part).
///
/// - Spatial: within each frame, linear ("efficient") attention across the 10 part tokens: keys softmaxed
///   over parts (padded frames' keys at -1e6), queries softmaxed over features.
/// - Temporal: per part, keys and values from the frame tokens (key / `key_motion_scale`), 48 learnable
///   dataset tokens (/ `key_dataset_scale`), 16 rotation-type tokens (/ `key_rotation_scale`) and each
///   condition's tokens (own LayerNorm `norm_<name>`, shared `cond_moe`, / `key_<name>_scale`, absent samples'
///   keys -1e6 and values 0); keys softmaxed over all tokens give one L x L template per part.
/// - Real-time positions: each template row gets an anchor time (sigmoid(template_t / t_sigma) times the
///   motion's duration in seconds); a frame at time t (index / fps) mixes the rows by softmax(-(t - anchor)^2)
///   and reads a cubic polynomial in t whose coefficients come from the state/velocity/acceleration/jerk
///   templates (`template_s/v/a/j`) re-centred at the anchors.
/// - Output: x + proj_out(spatial + temporal, emb).
/// One motion interval (`num_intervals` 1) is implemented.
public final class ArtAttention: Module {
    public let latentDim: Int, heads: Int
    public let norm: LayerNorm
    public let motionMoe: MixtureOfExperts
    public let motionMoeDropout: Dropout
    public let keyMotionScale: Tensor
    public let keyDataset: Tensor, keyDatasetScale: Tensor, valueDataset: Tensor
    public let keyRotation: Tensor, valueRotation: Tensor, keyRotationScale: Tensor
    public let condMoe: MixtureOfExperts?
    public let normText: LayerNorm?, keyTextScale: Tensor?
    public let normMusic: LayerNorm?, keyMusicScale: Tensor?
    public let sigma: Tensor
    public let templateS: GELUMLP, templateV: GELUMLP, templateA: GELUMLP, templateJ: GELUMLP, templateT: GELUMLP
    public let tSigma: Tensor
    public let projOut: StylizationBlock
    /// The template KL loss of the last forward pass in training mode (nil in inference mode).
    public private(set) var _templateKL: Tensor?
    /// The experts' load-balancing loss of the last forward pass (motion MoE plus the condition MoE when it
    /// ran; nil with one expert).
    public private(set) var _routingLoss: Tensor?

    override public var keyOverrides: [String: String] {
        ["motionMoe": "motion_moe", "keyMotionScale": "key_motion_scale",
         "keyDataset": "key_dataset", "keyDatasetScale": "key_dataset_scale", "valueDataset": "value_dataset",
         "keyRotation": "key_rotation", "valueRotation": "value_rotation", "keyRotationScale": "key_rotation_scale",
         "condMoe": "cond_moe", "normText": "norm_text", "keyTextScale": "key_text_scale",
         "normMusic": "norm_music", "keyMusicScale": "key_music_scale",
         "templateS": "template_s", "templateV": "template_v", "templateA": "template_a", "templateJ": "template_j",
         "templateT": "template_t", "tSigma": "t_sigma", "projOut": "proj_out"] 
    }

    public init(latentDim l: Int, heads h: Int, ffnDim: Int, timeEmbedDim: Int, maxSeqLen: Int, numDatasets: Int,
                hasText: Bool, hasMusic: Bool, dropout: Float, experts: Int = 1, topk: Int = 1, gateType: String = "top",
                gateNoise: Float = 0, seed: UInt64 = 0, rng: inout SeededRNG) {
        latentDim = l; heads = h
        norm = LayerNorm(l * h)
        motionMoe = MixtureOfExperts(inputDim: l, ffnDim: 4 * l, outputDim: 5 * l, heads: h, maxSeqLen: maxSeqLen, embedding: true,
                                     experts: experts, topk: topk, gateType: gateType, gateNoise: gateNoise, seed: seed, rng: &rng)
        motionMoeDropout = Dropout(dropout)
        keyMotionScale = .ones([1], requiresGrad: true)
        keyDataset = .randn([numDatasets, 48, h, l], rng: &rng, requiresGrad: true)
        keyDatasetScale = .ones([1], requiresGrad: true)
        valueDataset = .randn([numDatasets, 48, h, l], rng: &rng, requiresGrad: true)
        keyRotation = .randn([3, 16, h, l], rng: &rng, requiresGrad: true)
        valueRotation = .randn([3, 16, h, l], rng: &rng, requiresGrad: true)
        keyRotationScale = .ones([1], requiresGrad: true)
        condMoe = hasText || hasMusic
            ? MixtureOfExperts(inputDim: l, ffnDim: 4 * l, outputDim: 2 * l, heads: h, maxSeqLen: maxSeqLen, embedding: false,
                               experts: experts, topk: topk, gateType: gateType, gateNoise: gateNoise, seed: seed &+ 1, rng: &rng) : nil
        normText = hasText ? LayerNorm(l * h) : nil
        keyTextScale = hasText ? .ones([1], requiresGrad: true) : nil
        normMusic = hasMusic ? LayerNorm(l * h) : nil
        keyMusicScale = hasMusic ? .ones([1], requiresGrad: true) : nil
        // Unused by the forward pass (as in the official code) but part of its state.
        sigma = Tensor([100], shape: [1], requiresGrad: true)
        templateS = GELUMLP(l, ffnDim, l, rng: &rng)
        templateV = GELUMLP(l, ffnDim, l, rng: &rng)
        templateA = GELUMLP(l, ffnDim, l, rng: &rng)
        templateJ = GELUMLP(l, ffnDim, l, rng: &rng)
        templateT = GELUMLP(l, ffnDim, 1, rng: &rng)
        tSigma = .ones([1], requiresGrad: true)
        projOut = StylizationBlock(latentDim: l * h, timeEmbedDim: timeEmbedDim, dropout: dropout, rng: &rng)
    }

    /// The normalisation and key scale of a condition by name.
    func conditionModules(_ name: String) -> (LayerNorm, Tensor)? {
        switch name {
        case "text": if let n = normText, let s = keyTextScale { return (n, s) }
        case "music": if let n = normMusic, let s = keyMusicScale { return (n, s) }
        default: break
        }
        return nil
    }

    /// `x [B, T, D]`, `emb [B, E]` -> `[B, T, D]`
    public func callAsFunction(_ x: Tensor, emb: Tensor, context c: ArtAttentionContext) -> Tensor {
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        let (h, l) = (heads, latentDim)
        precondition(d == h * l, "ArtAttention: width \(d) is not \(h) x \(l)")
        let feat = motionMoeDropout(motionMoe(norm(x).reshaped([b, t, h, l])))   // [B, T, H, 5L]
        _routingLoss = motionMoe._auxLoss
        let src = c.sourceMask                                                     // [B, T, H, 1]
        let keyOff = (1 - src) * -1_000_000                                        // -1e6 on padded frames

        // Spatial attention across parts (per frame).
        let bodyValue = feat.slice(dim: 3, 0, l) * src
        let bodyKey = softmax(feat.slice(dim: 3, l, 2 * l) + keyOff, dim: 2)
        let bodyQuery = feat.slice(dim: 3, 2 * l, 3 * l).softmax()
        let att = bodyKey.reshaped([b * t, h, l]).matmul(bodyValue.reshaped([b * t, h, l]), transposeA: true)  // [BT, L, L]
        let bodyFeat = bodyQuery.reshaped([b * t, h, l]).matmul(att).reshaped([b, t, d])

        // Temporal keys/values: frames, dataset tokens, rotation tokens, conditions. [B, N, H, L]
        var keys = [(feat.slice(dim: 3, 3 * l, 4 * l) + keyOff) / keyMotionScale]
        var values = [feat.slice(dim: 3, 4 * l, 5 * l) * src]
        keys.append(keyDataset.indexSelect(dim: 0, c.datasetIndex) / keyDatasetScale)
        values.append(valueDataset.indexSelect(dim: 0, c.datasetIndex))
        keys.append(keyRotation.indexSelect(dim: 0, c.rotationIndex) / keyRotationScale)
        values.append(valueRotation.indexSelect(dim: 0, c.rotationIndex))
        for name in c.conditions.keys.sorted() {
            guard let cond = c.conditions[name], let modules = conditionModules(name), let condMoe else { continue }
            let (condNorm, scale) = modules
            // A batch where no sample has the condition skips it, as the official code does (its masked
            // keys would get exactly zero weight anyway).
            guard cond.present.contains(where: { $0 > 0 }) else { continue }
            let m = cond.words.shape[1]
            let present = Tensor(cond.present, shape: [b, 1, 1, 1])
            let f = condMoe(condNorm(cond.words).reshaped([b, m, h, l]))                       // [B, M, H, 2L]
            if let a = condMoe._auxLoss { _routingLoss = _routingLoss.map { $0 + a } ?? a }
            keys.append((f.slice(dim: 3, 0, l) + (1 - present) * -1_000_000) / scale)
            values.append(f.slice(dim: 3, l, 2 * l) * present)
        }
        let key = softmax(Tensor.concat(keys, dim: 1), dim: 1).permuted([0, 2, 1, 3])        // [B, H, N, L]
        let value = Tensor.concat(values, dim: 1).permuted([0, 2, 1, 3])                    // [B, H, N, L]
        let template = key.matmul(value, transposeA: true)                                  // [B, H, L(d), L(l)]

        // Anchor times (seconds) of the template rows.
        let lengthSeconds = Tensor(zip(c.lengths, c.duration).map { $0 * $1 }, shape: [b, 1, 1, 1])
        let tFeat = templateT(template)                                                       // [B, H, L, 1]
        _templateKL = isTraining ? Self.templateKL(tFeat.reshaped([b, h, l])) : nil
        let anchor = (tFeat / tSigma).sigmoid() * lengthSeconds                               // [B, H, L, 1]
        let anchorRow = anchor.reshaped([b, 1, h, l])
        var times = [Float](repeating: 0, count: b * t)
        for i in 0..<b { for f in 0..<t { times[i * t + f] = Float(f) * c.duration[i] } }
        let time = Tensor(times, shape: [b, t, 1, 1])                                        // frame times, seconds
        let delta = time - anchorRow                                                          // [B, T, H, L]
        let coef = (-(delta * delta)).softmax().permuted([0, 2, 1, 3])                       // [B, H, T, L(d)]

        let s = template + templateS(template), v = template + templateV(template)
        let a = template + templateA(template), j = template + templateJ(template)
        let t1 = anchor, t2 = anchor * anchor, t3 = anchor * anchor * anchor                 // [B, H, L, 1]
        let a0 = s - v * t1 + a * t2 - j * t3
        let a1 = v - 2 * a * t1 + 3 * j * t2
        let a2 = a - 3 * j * t1
        func read(_ poly: Tensor) -> Tensor { coef.matmul(poly).permuted([0, 2, 1, 3]).reshaped([b, t, d]) }
        let tt = time.reshaped([b, t, 1])
        let yT = read(a0) + read(a1) * tt + read(a2) * (tt * tt) + read(j) * (tt * tt * tt)
        return x + projOut(bodyFeat + yT, emb: emb)
    }
}

extension ArtAttention {
    /// The official template KL loss: the anchor-time logits of each part's L template rows pushed towards
    /// N(0, 1) as a Gaussian KL with mean = their mean and log-variance = log of their (unbiased) standard
    /// deviation, summed over samples and parts. Rows with zero spread count 0 (the official code zeroes
    /// infinite log-variances). `logits [B, H, L]` -> scalar.
    static func templateKL(_ logits: Tensor) -> Tensor {
        let l = logits.shape[2]
        let mu = logits.mean(dim: 2)                                   // [B, H]
        let centred = logits - logits.mean(dim: 2, keepDims: true)
        var std = ((centred * centred).sum(dim: 2) / Float(max(l - 1, 1))).sqrt()
        let valid = Tensor(std.scalars.map { $0 > 0 && $0.isFinite ? 1 : 0 }, shape: std.shape)
        std = std * valid + (1 - valid)                                // log 1 = 0 where the spread is 0
        let logvar = std.log()
        return (1 + logvar - mu * mu - logvar.exp()).sum() * -0.5
    }
}

/// The FFN after each ArtAttention (official `SFFN`): one linear pair over the whole frame row
/// (`10 L -> 10 ffn -> 10 L`, GELU), then the stylisation block, residual.
public final class SFFN: Module {
    public let linear1: Linear, linear2: Linear
    public let dropout: Dropout
    public let projOut: StylizationBlock
    override public var keyOverrides: [String: String] { ["projOut": "proj_out"] }

    public init(latentDim l: Int, ffnDim: Int, timeEmbedDim: Int, dropout p: Float, rng: inout SeededRNG) {
        linear1 = Linear(l * 10, ffnDim * 10, rng: &rng)
        linear2 = Linear(ffnDim * 10, l * 10, rng: &rng)
        dropout = Dropout(p)
        projOut = StylizationBlock(latentDim: l * 10, timeEmbedDim: timeEmbedDim, dropout: p, rng: &rng)
    }

    /// `[B, T, D] -> [B, T, D]`
    public func callAsFunction(_ x: Tensor, emb: Tensor) -> Tensor {
        x + projOut(linear2(dropout(linear1(x).gelu())), emb: emb)
    }
}

/// One denoiser layer (`DecoderLayer`): ArtAttention (`ca_block`) then the FFN (`ffn`).
public final class LMMLayer: Module {
    public let caBlock: ArtAttention
    public let ffn: SFFN
    override public var keyOverrides: [String: String] { ["caBlock": "ca_block"] }

    public init(_ c: LMMConfig, seed: UInt64 = 0, rng: inout SeededRNG) {
        caBlock = ArtAttention(latentDim: c.latentPartDim, heads: c.numParts, ffnDim: 4 * c.latentPartDim,
                               timeEmbedDim: c.timeEmbedDim, maxSeqLen: c.maxSeqLen, numDatasets: c.datasetNames.count,
                               hasText: c.textInputDim != nil, hasMusic: c.musicInputDim != nil, dropout: c.dropout,
                               experts: c.numExperts, topk: c.topk, gateType: c.gateType, gateNoise: c.gateNoise, seed: seed, rng: &rng)
        ffn = SFFN(latentDim: c.latentPartDim, ffnDim: 4 * c.latentPartDim, timeEmbedDim: c.timeEmbedDim, dropout: c.dropout, rng: &rng)
    }

    /// `[B, T, D] -> [B, T, D]`
    public func callAsFunction(_ x: Tensor, emb: Tensor, context: ArtAttentionContext) -> Tensor {
        ffn(caBlock(x, emb: emb, context: context), emb: emb)
    }
}
