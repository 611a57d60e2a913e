import Foundation
import Generation
import ModelHub
import MotionT5
import NeuralNetwork
import TensorEngine

/// Settings of a language-model training stage (MotionGPT's stages 2 and 3). Defaults follow
/// MotionGPT's `config_h3d_stage2.yaml`: AdamW lr 2e-4, betas (0.9, 0.99), no weight decay, batch 16.
public struct LMTrainingOptions: Codable, Equatable, Sendable {
    public var steps = 1000
    public var batchSize = 16
    public var learningRate: Float = 2e-4
    public var warmupSteps = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.99
    public var weightDecay: Float = 0
    /// Gradient-norm clip (0 turns it off).
    public var clipNorm: Float = 1
    public var seed: UInt64 = 0
    public var logEvery = 10
    public var checkpointEvery = 200
    public var validateEvery = 100
    /// Cosine decay to this learning rate over the run (after the warm-up); nil keeps the rate constant.
    public var cosineFloor: Float? = nil
    public init() {}
}

/// One tokenised training pair: encoder input ids and decoder labels (both ending in EOS).
public struct LMExample: Equatable, Sendable {
    public var inputIDs: [Int]
    public var labels: [Int]
    public init(inputIDs: [Int], labels: [Int]) {
        self.inputIDs = inputIDs
        self.labels = labels
    }
}

/// A progress line's numbers.
public struct LMProgress: Sendable {
    public var step: Int, steps: Int
    public var loss: Float
    public var gradientNorm: Float
    public var learningRate: Float
    public var tokens: Int
    public var secondsPerStep: Double

    public var line: String {
        String(format: "step %d/%d  loss %.4f  grad-norm %.2f  lr %.2e  %d tokens  %.2fs/step",
               step, steps, loss, gradientNorm, learningRate, tokens, secondsPerStep)
    }
}

/// Trains the T5 of a MotionGPT model on batches a stage supplies (span corruption and translation
/// pairs for pretraining, rendered task templates for instruction tuning).
///
/// Determinism: batch `s` is drawn from a generator seeded by `(seed, s)`, so a run resumed at step `s`
/// from a checkpoint continues exactly as the uninterrupted run.
public final class LMTrainer {
    public let model: MotionGPTModel
    public let options: LMTrainingOptions
    public let optimizer: AdamW
    public private(set) var step = 0
    private let params: [(String, Tensor)]
    private let sample: (inout SeededRNG, Int) throws -> [LMExample]

    /// `sample(rng, count)` returns `count` examples for one batch.
    public init(model: MotionGPTModel, options: LMTrainingOptions, sample: @escaping (inout SeededRNG, Int) throws -> [LMExample]) throws {
        guard options.steps > 0, options.batchSize > 0 else { throw MotionGPTError.badInput("steps and batch size must be positive") }
        self.model = model
        self.options = options
        self.sample = sample
        params = model.lm.namedParameters()
        optimizer = AdamW(parameters: params.map { $0.1 }, learningRate: options.learningRate, beta1: options.beta1,
                          beta2: options.beta2, eps: 1e-8, weightDecay: options.weightDecay)
    }

    static func stepRNG(seed: UInt64, step: Int) -> SeededRNG {
        stepGenerator(seed: seed, step: step, mix: (0xA24B_AED4_963E_E407, 0x9FB2_1C65_1E98_DF25, 7))
    }

    /// Pads a batch: inputs with the pad id and a mask, labels with -100 (ignored by the loss).
    public static func collate(_ batch: [LMExample], pad: Int) -> (ids: [[Int]], mask: [[Int]], labels: [[Int]]) {
        let ti = batch.map(\.inputIDs.count).max() ?? 0, tl = batch.map(\.labels.count).max() ?? 0
        return (batch.map { $0.inputIDs + Array(repeating: pad, count: ti - $0.inputIDs.count) },
                batch.map { Array(repeating: 1, count: $0.inputIDs.count) + Array(repeating: 0, count: ti - $0.inputIDs.count) },
                batch.map { $0.labels + Array(repeating: -100, count: tl - $0.labels.count) })
    }

    func learningRate(at step: Int) -> Float {
        scheduledLearningRate(peak: options.learningRate, warmup: options.warmupSteps, step: step, total: options.steps, cosineFloor: options.cosineFloor)
    }

    /// One optimisation step.
    @discardableResult
    public func trainStep() throws -> LMProgress {
        let start = Date()
        var rng = Self.stepRNG(seed: options.seed, step: step)
        let batch = try sample(&rng, options.batchSize)
        let (ids, mask, labels) = Self.collate(batch, pad: model.lm.config.padTokenId)
        // Dropout masks from (seed, step) too, so a resumed run draws the same masks as an uninterrupted one.
        for (i, (_, m)) in model.lm.namedModules().enumerated() {
            if let d = m as? Dropout { d.reseed(options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(step) &* 1_000_003 &+ UInt64(i)) }
        }
        model.lm.train(true)
        let (loss, _) = model.lm.loss(inputIds: ids, attentionMask: mask, labels: labels)
        optimizer.zeroGrad()
        loss.backward()
        let norm = options.clipNorm > 0 ? clipGradientNorm(optimizer.parameters, maxNorm: options.clipNorm) : 0
        optimizer.learningRate = learningRate(at: step)
        optimizer.update()
        model.lm.train(false)
        step += 1
        return LMProgress(step: step, steps: options.steps, loss: loss.item, gradientNorm: norm, learningRate: optimizer.learningRate,
                          tokens: batch.reduce(0) { $0 + $1.inputIDs.count + $1.labels.count }, secondsPerStep: Date().timeIntervalSince(start))
    }

    /// Mean loss over `examples` (token-weighted), without gradients.
    public func loss(on examples: [LMExample]) -> Float {
        var total: Double = 0, tokens = 0
        let bs = options.batchSize
        Tensor.withNoGrad {
            for lo in stride(from: 0, to: examples.count, by: bs) {
                let chunk = Array(examples[lo..<min(lo + bs, examples.count)])
                let (ids, mask, labels) = Self.collate(chunk, pad: model.lm.config.padTokenId)
                let n = chunk.reduce(0) { $0 + $1.labels.count }
                total += Double(model.lm.loss(inputIds: ids, attentionMask: mask, labels: labels).loss.item) * Double(n)
                tokens += n
            }
        }
        return tokens > 0 ? Float(total / Double(tokens)) : .nan
    }

    // MARK: checkpoints

    /// Writes a resumable checkpoint (weights, Adam moments, step) to `store`.
    @discardableResult
    public func save(to store: CheckpointStore, stage: String, metadata extraMetadata: [String: String] = [:]) throws -> URL {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        return try store.save(step: step, model: model.lm, optimizer: optimizer,
                              metadata: extraMetadata.merging(["stage": stage, "options": String(decoding: try enc.encode(options), as: UTF8.self)]) { $1 })
    }

    /// Continues from a checkpoint written by `save(to:stage:)`.
    public func resume(from state: TrainingState) throws {
        try state.restore(model: model.lm, optimizer: optimizer)
        step = state.step
    }
}
