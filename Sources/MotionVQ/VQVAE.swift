import Foundation
import NeuralNetwork
import TensorEngine

/// Configuration of the motion VQ-VAE, read from `motion_tokenizer/config.json`.
///
/// Field names follow MotionGPT's `configs/vq/default.yaml` (snake_case in JSON). The defaults are
/// MotionGPT's HumanML3D tokenizer: 512 codes of width 512, two stride-2 downsamplings (4 frames
/// per code), width 512, three residual blocks per level with dilations 9, 3, 1.
public struct VQVAEConfig: Codable, Equatable, Sendable {
    public var modelType: String = "motion_vqvae"
    /// Feature width: 263 for HumanML3D, 251 for KIT-ML.
    public var nfeats: Int = 263
    /// `ema_reset` (MotionGPT's choice: EMA codebook updates with dead-code reset) or `ema` (no reset).
    public var quantizer: String = "ema_reset"
    public var codeNum: Int = 512
    public var codeDim: Int = 512
    public var outputEmbWidth: Int = 512
    public var downT: Int = 2
    public var strideT: Int = 2
    public var width: Int = 512
    public var depth: Int = 3
    public var dilationGrowthRate: Int = 3
    /// `relu` (MotionGPT), `silu` or `gelu`, inside the residual blocks.
    public var activation: String = "relu"
    /// EMA decay of the codebook statistics.
    public var mu: Float = 0.99
    /// Loss weights of MotionGPT's stage 1 (`LAMBDA_FEATURE`, `LAMBDA_VELOCITY`, `LAMBDA_COMMIT`).
    public var lambdaFeature: Float = 1.0
    public var lambdaVelocity: Float = 0.5
    public var lambdaCommit: Float = 0.02

    public init() {}

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", nfeats, quantizer, codeNum = "code_num", codeDim = "code_dim"
        case outputEmbWidth = "output_emb_width", downT = "down_t", strideT = "stride_t", width, depth
        case dilationGrowthRate = "dilation_growth_rate", activation, mu
        case lambdaFeature = "lambda_feature", lambdaVelocity = "lambda_velocity", lambdaCommit = "lambda_commit"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VQVAEConfig()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType
        nfeats = try c.decodeIfPresent(Int.self, forKey: .nfeats) ?? d.nfeats
        quantizer = try c.decodeIfPresent(String.self, forKey: .quantizer) ?? d.quantizer
        codeNum = try c.decodeIfPresent(Int.self, forKey: .codeNum) ?? d.codeNum
        codeDim = try c.decodeIfPresent(Int.self, forKey: .codeDim) ?? d.codeDim
        outputEmbWidth = try c.decodeIfPresent(Int.self, forKey: .outputEmbWidth) ?? d.outputEmbWidth
        downT = try c.decodeIfPresent(Int.self, forKey: .downT) ?? d.downT
        strideT = try c.decodeIfPresent(Int.self, forKey: .strideT) ?? d.strideT
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
        dilationGrowthRate = try c.decodeIfPresent(Int.self, forKey: .dilationGrowthRate) ?? d.dilationGrowthRate
        activation = try c.decodeIfPresent(String.self, forKey: .activation) ?? d.activation
        mu = try c.decodeIfPresent(Float.self, forKey: .mu) ?? d.mu
        lambdaFeature = try c.decodeIfPresent(Float.self, forKey: .lambdaFeature) ?? d.lambdaFeature
        lambdaVelocity = try c.decodeIfPresent(Float.self, forKey: .lambdaVelocity) ?? d.lambdaVelocity
        lambdaCommit = try c.decodeIfPresent(Float.self, forKey: .lambdaCommit) ?? d.lambdaCommit
    }

    /// Frames per code: `stride_t ^ down_t` (4 for MotionGPT).
    public var framesPerCode: Int { Int(pow(Double(strideT), Double(downT)).rounded()) }

    /// Joints implied by the feature width (263 -> 22, 251 -> 21), for the velocity term.
    public var jointCount: Int { (nfeats + 1) / 12 }

    /// A small configuration for tests and quick experiments (same structure, narrow layers).
    public static func tiny(nfeats: Int = 263, codes: Int = 32, width: Int = 32) -> VQVAEConfig {
        var c = VQVAEConfig()
        c.nfeats = nfeats; c.codeNum = codes; c.codeDim = width; c.outputEmbWidth = width; c.width = width
        c.depth = 2
        return c
    }

    /// Checks the combinations the architecture supports; the message names the field.
    public func validate() throws {
        func bad(_ s: String) -> VQVAEError { .badConfig(s) }
        guard nfeats > 0 else { throw bad("nfeats must be positive, got \(nfeats)") }
        guard codeNum >= 2 else { throw bad("code_num must be at least 2, got \(codeNum)") }
        guard codeDim == outputEmbWidth else {
            throw bad("code_dim (\(codeDim)) must equal output_emb_width (\(outputEmbWidth)): the quantizer works on the encoder output")
        }
        guard width > 0, depth >= 1, downT >= 0, dilationGrowthRate >= 1 else {
            throw bad("width, depth, down_t and dilation_growth_rate must be positive")
        }
        // Bounds so a mistyped or hostile config.json fails here rather than in a huge allocation.
        guard nfeats <= 100_000, codeNum <= 1_000_000, codeDim <= 65_536, width <= 65_536, depth <= 64, downT <= 16,
              dilationGrowthRate <= 64, Double(codeNum) * Double(codeDim) <= 1e9, Double(width) * Double(width) * Double(depth) <= 1e10 else {
            throw bad("sizes are beyond any motion tokenizer (nfeats \(nfeats), code_num \(codeNum), code_dim \(codeDim), width \(width), depth \(depth), down_t \(downT))")
        }
        guard strideT == 2 else { throw bad("stride_t must be 2 (the decoder upsamples by 2 per level), got \(strideT)") }
        guard ["relu", "silu", "gelu"].contains(activation) else { throw bad("activation must be relu, silu or gelu, got \(activation)") }
        guard ["ema_reset", "ema"].contains(quantizer) else { throw bad("quantizer must be ema_reset or ema, got \(quantizer)") }
        guard mu > 0, mu < 1 else { throw bad("mu must be in (0, 1), got \(mu)") }
    }
}

/// Errors of the motion tokenizer; each names the input or field at fault.
public enum VQVAEError: Error, CustomStringConvertible, Equatable {
    case badConfig(String)
    case badInput(String)
    case badCode(String)

    public var description: String {
        switch self {
        case .badConfig(let s): return "motion tokenizer config: \(s)"
        case .badInput(let s): return s
        case .badCode(let s): return s
        }
    }
}

/// Nearest-neighbour upsampling as a layer, so it holds an index in a `Sequential` as `nn.Upsample` does.
private final class Upsample1d: Module, UnaryLayer {
    let scale: Int
    init(scale: Int) { self.scale = scale }
    func callAsFunction(_ x: Tensor) -> Tensor { x.upsampleNearest1d(scale: scale) }
}

/// Pre-activation residual block: x + conv1x1(act(conv3_dilated(act(x)))). Keys `conv1.*`, `conv2.*`.
private final class ResConv1DBlock: Module, UnaryLayer {
    let activation1: Activation
    let conv1: Conv1d
    let activation2: Activation
    let conv2: Conv1d

    init(width: Int, dilation: Int, activation: Activation.Kind, rng: inout SeededRNG) {
        activation1 = Activation(activation)
        conv1 = Conv1d(width, width, kernelSize: 3, stride: 1, padding: dilation, dilation: dilation, rng: &rng)
        activation2 = Activation(activation)
        conv2 = Conv1d(width, width, kernelSize: 1, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x + conv2(activation2(conv1(activation1(x))))   // [B, W, T]
    }
}

/// Residual blocks with dilations growth^(depth-1) ... growth^0: MotionGPT builds them in rising
/// order and reverses the list (its `reverse_dilation` defaults to true in both encoder and decoder).
private final class Resnet1D: Module, UnaryLayer {
    let model: Sequential

    init(width: Int, depth: Int, growth: Int, activation: Activation.Kind, rng: inout SeededRNG) {
        var blocks: [ResConv1DBlock] = []
        for d in 0..<depth {
            blocks.append(ResConv1DBlock(width: width, dilation: Int(pow(Double(growth), Double(d)).rounded()), activation: activation, rng: &rng))
        }
        model = Sequential(blocks.reversed())
    }

    func callAsFunction(_ x: Tensor) -> Tensor { model(x) }
}

/// `[B, nfeats, T] -> [B, code_dim, T/4]`; keys `model.N.*` as MotionGPT's `Encoder`.
private final class VQEncoder: Module {
    let model: Sequential

    init(_ c: VQVAEConfig, activation: Activation.Kind, rng: inout SeededRNG) {
        var layers: [Module] = [Conv1d(c.nfeats, c.width, kernelSize: 3, padding: 1, rng: &rng), Activation(.relu)]
        for _ in 0..<c.downT {
            let down = Conv1d(c.width, c.width, kernelSize: c.strideT * 2, stride: c.strideT, padding: c.strideT / 2, rng: &rng)
            let res = Resnet1D(width: c.width, depth: c.depth, growth: c.dilationGrowthRate, activation: activation, rng: &rng)
            layers.append(Sequential([down, res]))
        }
        layers.append(Conv1d(c.width, c.outputEmbWidth, kernelSize: 3, padding: 1, rng: &rng))
        model = Sequential(layers)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { model(x) }
}

/// `[B, code_dim, N] -> [B, nfeats, 4N]`; keys `model.N.*` as MotionGPT's `Decoder`.
private final class VQDecoder: Module {
    let model: Sequential

    init(_ c: VQVAEConfig, activation: Activation.Kind, rng: inout SeededRNG) {
        var layers: [Module] = [Conv1d(c.outputEmbWidth, c.width, kernelSize: 3, padding: 1, rng: &rng), Activation(.relu)]
        for _ in 0..<c.downT {
            let res = Resnet1D(width: c.width, depth: c.depth, growth: c.dilationGrowthRate, activation: activation, rng: &rng)
            let conv = Conv1d(c.width, c.width, kernelSize: 3, padding: 1, rng: &rng)
            layers.append(Sequential([res, Upsample1d(scale: c.strideT), conv]))
        }
        layers += [Conv1d(c.width, c.width, kernelSize: 3, padding: 1, rng: &rng), Activation(.relu),
                   Conv1d(c.width, c.nfeats, kernelSize: 3, padding: 1, rng: &rng)]
        model = Sequential(layers)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { model(x) }
}

/// The codebook with EMA updates (MotionGPT's `QuantizeEMAReset` / `QuantizeEMA`).
///
/// `codebook` is a buffer (no gradient): the encoder learns through the straight-through estimator
/// and the commitment loss, the codebook through exponential moving averages of the vectors
/// assigned to each code. With reset, a code whose EMA count falls below 1 is replaced by an
/// encoder output of the current batch.
public final class EMAQuantizer: Module {
    /// `[K, D]`
    public let codebook: Tensor
    /// EMA state, not part of the published weights (MotionGPT keeps them as plain attributes);
    /// training checkpoints store them through `trainingState`.
    private var _codeSum: [Float]
    private var _codeCount: [Float]
    private var _initialized = false
    let codeNum: Int, codeDim: Int, mu: Float, reset: Bool

    init(codeNum: Int, codeDim: Int, mu: Float, reset: Bool) {
        self.codeNum = codeNum; self.codeDim = codeDim; self.mu = mu; self.reset = reset
        codebook = .zeros([codeNum, codeDim])
        _codeSum = []; _codeCount = []
    }

    /// Fraction of codes whose EMA count is at least 1 (alive by the reset criterion); 0 before initialisation.
    public var activeFraction: Float {
        guard _initialized else { return 0 }
        return Float(_codeCount.filter { $0 >= 1 }.count) / Float(codeNum)
    }

    /// Whether the codebook has been initialised from data (or loaded).
    public var isInitialized: Bool { _initialized }

    /// Marks a loaded codebook as ready, so training does not re-initialise it from the first batch.
    /// The EMA sums start from the codebook with counts of one, as after MotionGPT's initialisation.
    func adoptLoadedCodebook() {
        _codeSum = codebook.scalars
        _codeCount = [Float](repeating: 1, count: codeNum)
        _initialized = true
    }

    /// EMA sums `[K, D]` and counts `[K]` for training checkpoints.
    func trainingState() -> [String: Tensor] {
        guard _initialized else { return [:] }
        return ["quantizer.code_sum": Tensor(_codeSum, shape: [codeNum, codeDim]),
                "quantizer.code_count": Tensor(_codeCount, shape: [codeNum])]
    }

    func restoreTrainingState(_ s: [String: Tensor]) throws {
        guard let sum = s["quantizer.code_sum"], let count = s["quantizer.code_count"] else { adoptLoadedCodebook(); return }
        guard sum.shape == [codeNum, codeDim], count.shape == [codeNum] else {
            throw VQVAEError.badConfig("quantizer state has shapes \(sum.shape), \(count.shape); expected [\(codeNum), \(codeDim)], [\(codeNum)]")
        }
        _codeSum = sum.scalars; _codeCount = count.scalars; _initialized = true
    }

    /// MotionGPT's `_tile`: the batch vectors repeated up to at least K rows, with small noise when
    /// repeated. Returns K rows. `[N, D] -> [K, D]`
    private func tiled(_ x: [Float], rows n: Int, rng: inout SeededRNG) -> [Float] {
        let k = codeNum, d = codeDim
        if n >= k { return Array(x[0..<(k * d)]) }
        let std = 0.01 / Float(d).squareRoot()
        var out = [Float](repeating: 0, count: k * d)
        for r in 0..<k {
            let src = r % n
            for j in 0..<d { out[r * d + j] = x[src * d + j] + rng.nextNormal() * std }
        }
        return out
    }

    /// Nearest code of each row, by ||x||^2 - 2 x.c + ||c||^2 as MotionGPT computes it (ties: lowest index).
    /// `x: [N, D] -> [N]`
    public func nearestCodes(_ x: Tensor) -> [Int] {
        let n = x.shape[0], k = codeNum
        let cross = Tensor.withNoGrad { x.matmul(codebook, transposeB: true) }   // [N, K]
        let xs = x.storage.pointer, cs = codebook.storage.pointer, dots = cross.storage.pointer
        var cnorm = [Float](repeating: 0, count: k)
        for c in 0..<k { var s: Float = 0; for j in 0..<codeDim { s += cs[c * codeDim + j] * cs[c * codeDim + j] }; cnorm[c] = s }
        var result = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var xn: Float = 0
            for j in 0..<codeDim { xn += xs[i * codeDim + j] * xs[i * codeDim + j] }
            var best = 0, bestD = Float.infinity
            for c in 0..<k {
                let dist = xn - 2 * dots[i * k + c] + cnorm[c]
                if dist < bestD { bestD = dist; best = c }
            }
            result[i] = best
        }
        return result
    }

    /// Codebook rows for `codes`: `[N] -> [N, D]`.
    public func vectors(_ codes: [Int]) -> Tensor {
        Tensor.embedding(codebook, ids: codes, shape: [codes.count])
    }

    /// Perplexity exp(-sum p log(p + 1e-7)) of the code histogram, as MotionGPT reports it.
    static func perplexity(_ codes: [Int], codeNum: Int) -> Float {
        var counts = [Float](repeating: 0, count: codeNum)
        for c in codes { counts[c] += 1 }
        let total = Float(codes.count)
        var h: Float = 0
        for c in counts { let p = c / total; h += p * Foundation.log(p + 1e-7) }
        return Foundation.exp(-h)
    }

    /// Training-time codebook update from the batch vectors `x: [N, D]` and their codes.
    func update(_ x: Tensor, codes: [Int], rng: inout SeededRNG) {
        let n = x.shape[0], k = codeNum, d = codeDim
        let xs = x.scalars
        var sum = [Float](repeating: 0, count: k * d)
        var count = [Float](repeating: 0, count: k)
        for i in 0..<n {
            let c = codes[i]
            count[c] += 1
            for j in 0..<d { sum[c * d + j] += xs[i * d + j] }
        }
        // With reset, MotionGPT draws replacement vectors on every update; without reset nothing random is needed.
        let random = reset ? tiled(xs, rows: n, rng: &rng) : []
        let cb = codebook.storage.pointer
        for c in 0..<k {
            _codeCount[c] = mu * _codeCount[c] + (1 - mu) * count[c]
            for j in 0..<d { _codeSum[c * d + j] = mu * _codeSum[c * d + j] + (1 - mu) * sum[c * d + j] }
            let used = !reset || _codeCount[c] >= 1
            for j in 0..<d { cb[c * d + j] = used ? _codeSum[c * d + j] / _codeCount[c] : random[c * d + j] }
        }
    }

    /// First training batch: the codebook becomes (tiled) batch vectors.
    func initialize(from x: Tensor, rng: inout SeededRNG) {
        let rows = tiled(x.scalars, rows: x.shape[0], rng: &rng)
        codebook.storage.pointer.update(from: rows, count: rows.count)
        _codeSum = rows
        _codeCount = [Float](repeating: 1, count: codeNum)
        _initialized = true
    }
}

/// What one forward pass in training returns.
public struct VQVAEOutput {
    /// Reconstruction `[B, T, nfeats]`.
    public let reconstruction: Tensor
    /// Weighted total of the three terms below (the training objective).
    public let loss: Tensor
    public let featureLoss: Float
    public let velocityLoss: Float
    public let commitLoss: Float
    /// Perplexity of the batch's codes.
    public let perplexity: Float
    /// Codes `[B * T/4]`, batch-major.
    public let codes: [Int]
}

/// The VQ-VAE motion tokenizer of MotionGPT (after T2M-GPT): a 1-D convolutional encoder with
/// dilated residual blocks and 4x temporal downsampling, an EMA codebook, and a mirrored decoder.
///
/// Keys match MotionGPT's `VQVae` state dict without the `vae.` prefix (`encoder.model.0.weight`,
/// `quantizer.codebook`, `decoder.model.5.weight`, ...), so its released weights load directly.
/// Inputs are normalised features `[B, T, nfeats]`.
public final class VQVAE: Module {
    public let config: VQVAEConfig
    private let encoder: VQEncoder
    /// The codebook and its EMA statistics.
    public let quantizer: EMAQuantizer
    private let decoder: VQDecoder

    /// Random weights (PyTorch's default initialisation) from `seed`; the codebook is zero until the
    /// first training batch initialises it, as in MotionGPT.
    public init(config: VQVAEConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = SeededRNG(seed: seed)
        let act = Activation.Kind(rawValue: config.activation)!
        encoder = VQEncoder(config, activation: act, rng: &rng)
        quantizer = EMAQuantizer(codeNum: config.codeNum, codeDim: config.codeDim, mu: config.mu, reset: config.quantizer == "ema_reset")
        decoder = VQDecoder(config, activation: act, rng: &rng)
    }

    /// Encoder output before quantisation: `[B, T, nfeats] -> [B, T/4, code_dim]`.
    public func encodeContinuous(_ x: Tensor) -> Tensor {
        let h = encoder(x.permuted([0, 2, 1]))      // [B, D, T']
        return h.permuted([0, 2, 1])                 // [B, T', D]
    }

    /// Decoder on code vectors: `[B, N, code_dim] -> [B, 4N, nfeats]`.
    public func decodeVectors(_ z: Tensor) -> Tensor {
        decoder(z.permuted([0, 2, 1])).permuted([0, 2, 1])
    }

    /// Number of codes the encoder produces for `frames` frames (0 when too short).
    public func codeCount(frames: Int) -> Int {
        var l = frames
        for _ in 0..<config.downT {
            l = conv1dOutputLength(l, kernel: config.strideT * 2, stride: config.strideT, padding: config.strideT / 2, dilation: 1)
            if l <= 0 { return 0 }
        }
        return l
    }

    /// One training forward pass with MotionGPT's losses on a batch of normalised windows `[B, T, nfeats]`.
    /// Updates the codebook (EMA, dead-code reset) when in training mode; `rng` drives the
    /// initialisation and reset noise.
    public func trainingStep(_ x: Tensor, rng: inout SeededRNG) -> VQVAEOutput {
        let b = x.shape[0]
        let enc = encodeContinuous(x)                             // [B, T', D]
        let tp = enc.shape[1], d = config.codeDim
        let flat = enc.reshaped([b * tp, d])                      // [B T', D]
        if isTraining && !quantizer.isInitialized { Tensor.withNoGrad { quantizer.initialize(from: flat, rng: &rng) } }
        let codes = quantizer.nearestCodes(flat)
        let q = Tensor.withNoGrad { quantizer.vectors(codes) }   // [B T', D], from the codebook before the update
        let perplexity = EMAQuantizer.perplexity(codes, codeNum: config.codeNum)
        if isTraining { Tensor.withNoGrad { quantizer.update(flat, codes: codes, rng: &rng) } }
        let commit = flat.mseLoss(q)
        // Straight-through: the decoder sees the code vectors, the encoder gets the decoder's gradient.
        let st = flat + (q - flat.detached())
        let rec = decodeVectors(st.reshaped([b, tp, d]))          // [B, T, nfeats]
        let featureLoss = rec.smoothL1Loss(x)
        // MotionGPT's "velocity" term covers features 4 ..< 4 + (J-1)*3: the root-relative joint positions.
        let lo = 4, hi = 4 + (config.jointCount - 1) * 3
        let velocityLoss = rec.slice(dim: 2, lo, hi).smoothL1Loss(x.slice(dim: 2, lo, hi))
        let loss = featureLoss * config.lambdaFeature + velocityLoss * config.lambdaVelocity + commit * config.lambdaCommit
        return VQVAEOutput(reconstruction: rec, loss: loss, featureLoss: featureLoss.item, velocityLoss: velocityLoss.item,
                           commitLoss: commit.item, perplexity: perplexity, codes: codes)
    }

    /// Codes of one normalised motion `[T, nfeats]`. Frames beyond the last multiple of 4 are not
    /// covered (as MotionGPT crops lengths to multiples of 4); motions shorter than 4 frames are refused.
    public func encode(_ features: Tensor) throws -> [Int] {
        guard features.rank == 2, features.shape[1] == config.nfeats else {
            throw VQVAEError.badInput("motion features must be [frames, \(config.nfeats)], got \(features.shape)")
        }
        let t = features.shape[0], unit = config.framesPerCode
        guard t >= unit else {
            throw VQVAEError.badInput("a motion of \(t) frame\(t == 1 ? "" : "s") is too short to tokenize: one code covers \(unit) frames")
        }
        let usable = t / unit * unit
        return try Tensor.withNoGrad {
            let x = (usable == t ? features : features.slice(dim: 0, 0, usable)).reshaped([1, usable, config.nfeats])
            let enc = encodeContinuous(x).reshaped([usable / unit, config.codeDim])
            guard enc.scalars.allSatisfy({ $0.isFinite }) else { throw VQVAEError.badInput("motion features contain NaN or infinity") }
            return quantizer.nearestCodes(enc)
        }
    }

    /// Normalised features `[4N, nfeats]` of `N` codes.
    public func decode(_ codes: [Int]) throws -> Tensor {
        guard !codes.isEmpty else { throw VQVAEError.badCode("no motion codes to decode") }
        if let bad = codes.first(where: { $0 < 0 || $0 >= config.codeNum }) {
            throw VQVAEError.badCode("motion code \(bad) is outside the codebook (0..<\(config.codeNum))")
        }
        return Tensor.withNoGrad {
            let z = quantizer.vectors(codes).reshaped([1, codes.count, config.codeDim])
            return decodeVectors(z).reshaped([codes.count * config.framesPerCode, config.nfeats])
        }
    }

    /// Training state beyond the weights (EMA statistics), for checkpoints that resume.
    public func trainingState() -> [String: Tensor] { quantizer.trainingState() }

    /// Restores what `trainingState()` saved (after the weights are loaded).
    public func restoreTrainingState(_ state: [String: Tensor]) throws { try quantizer.restoreTrainingState(state) }

    /// Loads weights (MotionGPT key names, `vae.` prefix already removed) and marks the codebook ready.
    public func loadWeights(_ state: [String: Tensor]) throws {
        try load(state: state, strict: true)
    }

    /// Loaded weights bring a codebook: mark it ready (see `EMAQuantizer.adoptLoadedCodebook`).
    override public func stateDidLoad() { quantizer.adoptLoadedCodebook() }
}

extension VQVAEError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .badConfig: return .modelFault
        case .badInput, .badCode: return .badInput
        }
    }
}

extension VQVAEConfig {
    /// Named architectures: `default` is MotionGPT's (width 512, 512 codes of 512); `small` (width 128,
    /// codes of 128, depth 3) trains on a 2-core CPU in minutes and is what the bundled model uses.
    public static func preset(_ name: String) -> VQVAEConfig? {
        switch name {
        case "default": return VQVAEConfig()
        case "small":
            var c = VQVAEConfig(); c.width = 128; c.codeDim = 128; c.outputEmbWidth = 128; c.depth = 3
            return c
        default: return nil
        }
    }

    /// The names `preset(_:)` knows.
    public static let presetNames = ["default", "small"]
}
