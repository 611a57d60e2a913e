import Foundation
import MotionData
import MotionVQ
import NeuralNetwork
import TensorEngine

/// Settings of a tokenizer training run (MotionGPT's stage 1). Defaults follow MotionGPT's
/// `config_h3d_stage1.yaml`: AdamW lr 2e-4, betas (0.9, 0.99), no weight decay, 64-frame windows.
public struct TokenizerTrainingOptions: Codable, Equatable, Sendable {
    public var steps = 2000
    public var batchSize = 32
    public var window = 64
    public var learningRate: Float = 2e-4
    public var warmupSteps = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.99
    public var weightDecay: Float = 0
    public var seed: UInt64 = 0
    public var logEvery = 10
    public var checkpointEvery = 200
    /// Cosine decay to this learning rate over the run (after the warm-up); nil keeps the rate constant.
    public var cosineFloor: Float? = nil
    public init() {}
}

/// One progress line's numbers.
public struct TokenizerProgress: Sendable {
    public var step: Int, steps: Int
    public var loss: Float, featureLoss: Float, commitLoss: Float
    public var perplexity: Float
    /// Codes whose EMA count is at least 1 (the reset criterion), as a fraction of the codebook.
    public var activeCodes: Float
    public var learningRate: Float
    public var secondsPerStep: Double

    public var line: String {
        String(format: "step %d/%d  loss %.4f  rec %.4f  commit %.4f  perplexity %.1f  codes used %.0f%%  lr %.2e  %.2fs/step",
               step, steps, loss, featureLoss, commitLoss, perplexity, activeCodes * 100, learningRate, secondsPerStep)
    }
}

/// Held-out reconstruction quality.
public struct ReconstructionReport: Sendable {
    /// Mean per-joint position error of the recovered joints after aligning the root joint of each
    /// frame (MotionGPT's MRMetrics MPJPE), millimetres.
    public var mpjpe: Float
    /// Mean per-joint error of the root-relative joint positions in the body's facing frame (the
    /// features' `ric` part), millimetres: the pose error without the integrated root trajectory.
    public var poseError: Float
    /// The same without root alignment (includes the drift of the integrated root trajectory), millimetres.
    public var globalError: Float
    /// Mean absolute error of the normalised features.
    public var featureError: Float
    /// Distinct codes used over the evaluated clips.
    public var distinctCodes: Int
    public var clips: Int
    public var frames: Int
}

/// Motion clips (raw HumanML3D features) to train a tokenizer on.
public struct MotionClips {
    public var names: [String]
    /// Raw features, each `[T, nfeats]`.
    public var features: [Tensor]

    public init(names: [String], features: [Tensor]) {
        self.names = names
        self.features = features
    }

    public var count: Int { features.count }
    public var frames: Int { features.reduce(0) { $0 + $1.shape[0] } }

    /// Clips long enough for `window`-frame training windows.
    public func longerThan(_ window: Int) -> MotionClips {
        let keep = features.indices.filter { features[$0].shape[0] >= window }
        return MotionClips(names: keep.map { names[$0] }, features: keep.map { features[$0] })
    }
}

/// Trains the VQ-VAE on random windows, with progress, checkpoints that resume bit-exactly, and a
/// held-out reconstruction error.
///
/// Determinism: the windows and the quantizer's reset noise of step `s` come from a generator seeded
/// by `(seed, s)`, so a run resumed from a checkpoint at step `s` continues exactly as the
/// uninterrupted run would.
public final class TokenizerTrainer {
    public let tokenizer: MotionTokenizer
    public let options: TokenizerTrainingOptions
    public let optimizer: AdamW
    public private(set) var step = 0
    private let params: [(String, Tensor)]
    private let normalized: [Tensor]

    public init(tokenizer: MotionTokenizer, clips: MotionClips, options: TokenizerTrainingOptions) throws {
        guard options.steps > 0, options.batchSize > 0 else { throw VQVAEError.badInput("steps and batch size must be positive") }
        let unit = tokenizer.framesPerCode
        guard options.window >= unit, options.window % unit == 0 else {
            throw VQVAEError.badInput("window must be a positive multiple of \(unit) frames, got \(options.window)")
        }
        let usable = clips.longerThan(options.window)
        guard usable.count > 0 else {
            throw VQVAEError.badInput("no motion of at least \(options.window) frames to train on (\(clips.count) clips given)")
        }
        self.tokenizer = tokenizer
        self.options = options
        normalized = try usable.features.map { try tokenizer.normalizer.normalize($0) }
        params = tokenizer.model.namedParameters()
        optimizer = AdamW(parameters: params.map { $0.1 }, learningRate: options.learningRate, beta1: options.beta1,
                          beta2: options.beta2, eps: 1e-8, weightDecay: options.weightDecay)
    }

    static func stepRNG(seed: UInt64, step: Int) -> SeededRNG {
        stepGenerator(seed: seed, step: step, mix: (0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 1))
    }

    /// A batch of random windows `[B, window, nfeats]` (normalised): a clip uniformly, then a start uniformly.
    func batch(rng: inout SeededRNG) -> Tensor {
        let w = options.window, d = tokenizer.config.nfeats
        var values = [Float](); values.reserveCapacity(options.batchSize * w * d)
        for _ in 0..<options.batchSize {
            let clip = normalized[rng.nextInt(normalized.count)]
            let start = rng.nextInt(clip.shape[0] - w + 1)
            let p = clip.storage.pointer + start * d
            values.append(contentsOf: UnsafeBufferPointer(start: p, count: w * d))
        }
        return Tensor(values, shape: [options.batchSize, w, d])
    }

    func learningRate(at step: Int) -> Float {
        scheduledLearningRate(peak: options.learningRate, warmup: options.warmupSteps, step: step, total: options.steps, cosineFloor: options.cosineFloor)
    }

    /// Runs one optimisation step and returns its numbers.
    @discardableResult
    public func trainStep() -> TokenizerProgress {
        let start = Date()
        var rng = Self.stepRNG(seed: options.seed, step: step)
        let model = tokenizer.model
        model.train(true)
        let x = batch(rng: &rng)
        let out = model.trainingStep(x, rng: &rng)
        optimizer.zeroGrad()
        out.loss.backward()
        optimizer.learningRate = learningRate(at: step)
        optimizer.update()
        step += 1
        model.train(false)
        return TokenizerProgress(step: step, steps: options.steps, loss: out.loss.item, featureLoss: out.featureLoss,
                                 commitLoss: out.commitLoss, perplexity: out.perplexity,
                                 activeCodes: model.quantizer.activeFraction, learningRate: optimizer.learningRate,
                                 secondsPerStep: Date().timeIntervalSince(start))
    }

    /// Encodes and decodes whole clips and measures the error against the originals.
    public static func evaluate(_ tokenizer: MotionTokenizer, clips: MotionClips) throws -> ReconstructionReport {
        var jointError: Double = 0, globalError: Double = 0, poseError: Double = 0, poseCount = 0, jointCount = 0, featError: Double = 0, featCount = 0, frames = 0
        var used = Set<Int>()
        for raw in clips.features where raw.shape[0] >= tokenizer.framesPerCode {
            let codes = try tokenizer.encode(features: raw)
            used.formUnion(codes)
            let rec = try tokenizer.decode(codes)                       // [T', nfeats], T' = covered frames
            let t = rec.shape[0]
            let orig = raw.slice(dim: 0, 0, t)
            let a = try tokenizer.normalizer.normalize(rec).scalars, b = try tokenizer.normalizer.normalize(orig).scalars
            for i in a.indices { featError += Double(Swift.abs(a[i] - b[i])) }
            featCount += a.count
            let d = tokenizer.config.nfeats, ric = (tokenizer.config.jointCount - 1)
            let ra = rec.scalars, rb = orig.scalars
            for f in 0..<t {
                for j in 0..<ric {
                    let o = f * d + 4 + j * 3
                    let dx = ra[o] - rb[o], dy = ra[o + 1] - rb[o + 1], dz = ra[o + 2] - rb[o + 2]
                    poseError += Double((dx * dx + dy * dy + dz * dz).squareRoot()); poseCount += 1
                }
            }
            let ja = try Motion(features: rec).positions, jb = try Motion(features: orig).positions
            for f in 0..<t {
                for j in ja[f].indices {
                    jointError += Double(simd_length((ja[f][j] - ja[f][0]) - (jb[f][j] - jb[f][0])))
                    globalError += Double(simd_length(ja[f][j] - jb[f][j]))
                    jointCount += 1
                }
            }
            frames += t
        }
        guard jointCount > 0 else { throw VQVAEError.badInput("no clip long enough to evaluate") }
        return ReconstructionReport(mpjpe: Float(jointError / Double(jointCount) * 1000), poseError: Float(poseError / Double(poseCount) * 1000),
                                    globalError: Float(globalError / Double(jointCount) * 1000), featureError: Float(featError / Double(featCount)),
                                    distinctCodes: used.count, clips: clips.count, frames: frames)
    }

    // MARK: checkpoints

    /// Writes a resumable checkpoint (weights, Adam moments, EMA codebook statistics, step) to `store`.
    @discardableResult
    public func save(to store: CheckpointStore, metadata extraMetadata: [String: String] = [:]) throws -> URL {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        return try store.save(step: step, model: tokenizer.model, optimizer: optimizer, extra: tokenizer.model.trainingState().sorted { $0.key < $1.key },
                              metadata: extraMetadata.merging(["stage": "tokenizer", "options": String(decoding: try enc.encode(options), as: UTF8.self),
                                         "config": String(decoding: try enc.encode(tokenizer.config), as: UTF8.self)]) { $1 })
    }

    /// Continues from a checkpoint written by `save(to:)` with the same configuration.
    public func resume(from state: TrainingState) throws {
        if let c = state.metadata["config"], let cfg = try? JSONDecoder().decode(VQVAEConfig.self, from: Data(c.utf8)), cfg != tokenizer.config {
            throw VQVAEError.badInput("\(state.url?.path ?? "checkpoint") was trained with a different tokenizer configuration")
        }
        try state.restore(model: tokenizer.model, optimizer: optimizer)
        try tokenizer.model.restoreTrainingState(state.extra)
        step = state.step
    }
}

@inline(__always) private func simd_length(_ v: SIMD3<Float>) -> Float { (v * v).sum().squareRoot() }
