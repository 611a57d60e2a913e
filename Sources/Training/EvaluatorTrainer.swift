import Evaluation
import Foundation
import ModelHub
import MotionData
import NeuralNetwork
import TensorEngine
import TextEncoder

/// Settings of an evaluator training run (our `motion-text-evaluator`, TMR-style).
public struct EvaluatorTrainingOptions: Codable, Equatable, Sendable {
    /// Distinct clips per batch (capped at the number of training clips): each clip at most once, so
    /// a batch never holds a motion twice as its own negative.
    public var batchSize = 32
    /// Random crops of each clip: a length uniform in `min(T, minWindow) ... min(T, maxWindow)` frames
    /// at a uniform start. The captions describe whole clips; crops of at least 2 s keep most of
    /// what a caption says while no two steps see the same frames.
    public var minWindow = 40
    public var maxWindow = 196
    public var learningRate: Float = 3e-4
    public var warmupSteps = 100
    /// Cosine decay to this rate at the last step (nil: constant after the warm-up).
    public var cosineFloor: Float? = 1e-5
    public var weightDecay: Float = 0.05
    /// Gradient-norm clip (0 turns it off).
    public var clipNorm: Float = 1
    /// TMR's filtering: a negative pair whose captions' sentence vectors have a cosine above this is
    /// left out of the softmax (many clips share "walk"; treating them as negatives would teach the
    /// motion encoder to separate motions that the captions cannot tell apart).
    public var negativeThreshold: Float = 0.8
    public var seed: UInt64 = 0
    public init() {}
}

/// One progress line's numbers.
public struct EvaluatorProgress: Sendable {
    public var step: Int, steps: Int
    public var loss: Float
    /// Fraction of the batch's captions whose own motion has the highest logit (text -> motion).
    public var batchAccuracy: Float
    public var gradientNorm: Float
    public var learningRate: Float
    public var secondsPerStep: Double

    public var line: String {
        String(format: "step %d/%d  loss %.4f  batch top-1 %.2f  grad-norm %.2f  lr %.2e  %.2fs/step",
               step, steps, loss, batchAccuracy, gradientNorm, learningRate, secondsPerStep)
    }
}

/// A training or validation clip: normalised features, its mirror (when mirroring), and the rows of
/// its captions in the trainer's sentence-vector table.
public struct EvaluatorClip {
    public var name: String
    /// Normalised features `[T, nfeats]`.
    public var features: Tensor
    public var mirroredFeatures: Tensor?
    public var captionRows: [Int]
    public var mirroredCaptionRows: [Int]
}

/// Trains a `MotionTextEvaluator` with symmetric InfoNCE (text -> motion and motion -> text, mean of
/// the two cross-entropies over the batch's similarity matrix divided by the temperature), near-
/// duplicate captions filtered out as negatives. The sentence encoder is frozen, so every caption's
/// sentence vector is computed once, before training.
///
/// Determinism: the clips, crops, captions, mirrors and dropout masks of step `s` come from
/// generators seeded by `(seed, s)`, so a run resumed at `s` continues exactly as the uninterrupted run.
public final class EvaluatorTrainer {
    public let evaluator: MotionTextEvaluator
    public let options: EvaluatorTrainingOptions
    public let steps: Int
    public let optimizer: AdamW
    public private(set) var step = 0
    public let clips: [EvaluatorClip]
    /// Unit sentence vectors of every caption, `[U, text_dim]`.
    public let sentenceVectors: Tensor
    /// Cosine similarity of every two captions of the table.
    private let captionSimilarity: [[Float]]

    public init(evaluator: MotionTextEvaluator, clips: [EvaluatorClip], sentenceVectors: Tensor, options: EvaluatorTrainingOptions, steps: Int) throws {
        guard steps > 0, options.batchSize >= 2 else { throw TrainingError.badParameters("steps must be positive and the batch at least 2 clips") }
        guard options.minWindow >= evaluator.minimumFrames, options.maxWindow >= options.minWindow else {
            throw TrainingError.badParameters("windows must be at least \(evaluator.minimumFrames) frames and max >= min (got \(options.minWindow)...\(options.maxWindow))")
        }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw TrainingError.badParameters("the learning rate must be positive") }
        guard clips.count >= 2 else { throw TrainingError.badParameters("contrastive training needs at least 2 clips, got \(clips.count)") }
        guard sentenceVectors.rank == 2, sentenceVectors.shape[1] == evaluator.config.textDimension else {
            throw TrainingError.badParameters("sentence vectors \(sentenceVectors.shape) do not match text_dim \(evaluator.config.textDimension)")
        }
        self.evaluator = evaluator
        self.clips = clips
        self.sentenceVectors = sentenceVectors
        self.options = options
        self.steps = steps
        captionSimilarity = Self.cosines(sentenceVectors)
        optimizer = AdamW(parameters: evaluator.parameters(), learningRate: options.learningRate, beta1: 0.9, beta2: 0.999,
                          eps: 1e-8, weightDecay: options.weightDecay)
    }

    static func cosines(_ v: Tensor) -> [[Float]] {
        let n = v.shape[0], d = v.shape[1], x = v.scalars
        let norms = (0..<n).map { i in max((0..<d).reduce(Float(0)) { $0 + x[i * d + $1] * x[i * d + $1] }.squareRoot(), 1e-12) }
        return (0..<n).map { i in (0..<n).map { j in (0..<d).reduce(Float(0)) { $0 + x[i * d + $1] * x[j * d + $1] } / (norms[i] * norms[j]) } }
    }

    static func stepRNG(seed: UInt64, step: Int) -> SeededRNG {
        stepGenerator(seed: seed, step: step, mix: (0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 11))
    }

    /// Symmetric InfoNCE of unit `texts [B, D]` and `motions [B, D]` (row i with row i). Entry (i, j),
    /// i != j, of `excluded` drops that negative from both softmaxes.
    public static func contrastiveLoss(texts: Tensor, motions: Tensor, temperature: Float, excluded: [[Bool]]) -> (loss: Tensor, accuracy: Float) {
        let b = texts.shape[0]
        var bias = [Float](repeating: 0, count: b * b)
        for i in 0..<b { for j in 0..<b where i != j && excluded[i][j] { bias[i * b + j] = attentionMaskValue } }
        let logits = texts.matmul(motions, transposeB: true) * (1 / temperature) + Tensor(bias, shape: [b, b])   // [B, B]: text i, motion j
        let targets = Array(0..<b)
        let loss = (logits.crossEntropy(targets: targets) + logits.transposed().crossEntropy(targets: targets)) * 0.5
        let accuracy = Float(logits.argmax(dim: 1).enumerated().filter { $0.offset == $0.element }.count) / Float(b)
        return (loss, accuracy)
    }

    /// The negatives left out for a batch of (clip, caption row) pairs: the same clip (a mirror
    /// included) or captions more similar than the threshold.
    func excluded(_ pairs: [(clip: Int, row: Int)]) -> [[Bool]] {
        pairs.map { a in pairs.map { b in a.clip == b.clip || captionSimilarity[a.row][b.row] > options.negativeThreshold } }
    }

    func learningRate(at step: Int) -> Float {
        scheduledLearningRate(peak: options.learningRate, warmup: options.warmupSteps, step: step, total: steps, cosineFloor: options.cosineFloor)
    }

    /// One optimisation step.
    @discardableResult
    public func trainStep() throws -> EvaluatorProgress {
        let start = Date()
        var rng = Self.stepRNG(seed: options.seed, step: step)
        for (i, d) in evaluator.dropoutLayers.enumerated() { d.reseed(options.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(step) &* 1_000_003 &+ UInt64(i)) }
        // Distinct clips: the first b of a seeded partial shuffle.
        var order = Array(clips.indices)
        let b = min(options.batchSize, clips.count)
        for i in 0..<b { order.swapAt(i, i + rng.nextInt(order.count - i)) }
        var windows: [Tensor] = [], pairs: [(clip: Int, row: Int)] = []
        for c in order.prefix(b) {
            let clip = clips[c]
            let mirrored = clip.mirroredFeatures != nil && rng.nextInt(2) == 1
            let features = mirrored ? clip.mirroredFeatures! : clip.features
            let rows = mirrored ? clip.mirroredCaptionRows : clip.captionRows
            let t = features.shape[0]
            let lo = min(t, options.minWindow), hi = min(t, options.maxWindow)
            let length = lo + rng.nextInt(hi - lo + 1)
            let a = rng.nextInt(t - length + 1)
            windows.append(features.slice(dim: 0, a, a + length))
            pairs.append((c, rows[rng.nextInt(rows.count)]))
        }
        evaluator.train(true)
        defer { evaluator.train(false) }
        let (batch, lengths) = try evaluator.patchBatch(windows)
        let motions = evaluator.motionEmbeddings(batch, lengths: lengths)                                  // [B, D]
        let texts = evaluator.textEmbeddings(sentenceVectors: sentenceVectors.indexSelect(dim: 0, pairs.map(\.row)))   // [B, D]
        let (loss, accuracy) = Self.contrastiveLoss(texts: texts, motions: motions, temperature: evaluator.config.temperature, excluded: excluded(pairs))
        optimizer.zeroGrad()
        loss.backward()
        let norm = options.clipNorm > 0 ? clipGradientNorm(optimizer.parameters, maxNorm: options.clipNorm) : 0
        optimizer.learningRate = learningRate(at: step)
        optimizer.update()
        step += 1
        return EvaluatorProgress(step: step, steps: steps, loss: loss.item, batchAccuracy: accuracy, gradientNorm: norm,
                                 learningRate: optimizer.learningRate, secondsPerStep: Date().timeIntervalSince(start))
    }

    /// The InfoNCE loss of whole clips with every one of their captions, all in one batch, without
    /// dropout or gradients: the validation value (lower is better).
    public func loss(on clips: [EvaluatorClip]) throws -> Float {
        var pairs: [(clip: Int, row: Int)] = [], motionIndex: [Int] = []
        for (i, c) in clips.enumerated() { for r in c.captionRows { pairs.append((i, r)); motionIndex.append(i) } }
        guard pairs.count >= 2 else { throw TrainingError.badParameters("validation needs at least 2 caption-clip pairs") }
        let wasTraining = evaluator.isTraining
        evaluator.train(false)
        defer { evaluator.train(wasTraining) }
        return try Tensor.withNoGrad {
            let (batch, lengths) = try evaluator.patchBatch(clips.map(\.features))
            let motions = evaluator.motionEmbeddings(batch, lengths: lengths).indexSelect(dim: 0, motionIndex)      // [P, D]
            let texts = evaluator.textEmbeddings(sentenceVectors: sentenceVectors.indexSelect(dim: 0, pairs.map(\.row)))
            return Self.contrastiveLoss(texts: texts, motions: motions, temperature: evaluator.config.temperature, excluded: excluded(pairs)).loss.item
        }
    }

    // MARK: checkpoints

    /// Writes a resumable checkpoint (weights, Adam moments, step).
    @discardableResult
    public func save(to store: CheckpointStore, metadata extra: [String: String] = [:]) throws -> URL {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        return try store.save(step: step, model: evaluator, optimizer: optimizer,
                              metadata: extra.merging(["stage": "evaluator", "options": String(decoding: try enc.encode(options), as: UTF8.self),
                                                       "config": String(decoding: try enc.encode(evaluator.config), as: UTF8.self)]) { $1 })
    }

    /// Continues from a checkpoint written by `save(to:)` with the same configuration.
    public func resume(from state: TrainingState) throws {
        if let c = state.metadata["config"], let cfg = try? JSONDecoder().decode(MotionTextEvaluatorConfig.self, from: Data(c.utf8)), cfg != evaluator.config {
            throw TrainingError.badParameters("\(state.url?.path ?? "checkpoint") was trained with a different evaluator configuration")
        }
        try state.restore(model: evaluator, optimizer: optimizer)
        step = state.step
    }
}

/// Everything an evaluator training run needs.
public struct EvaluatorTrainingParameters {
    /// HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt, Mean.npy/Std.npy).
    public var data: URL
    /// Output evaluator folder; checkpoints go to `output/checkpoints`.
    public var output: URL
    /// The frozen sentence encoder's folder (a BERT / sentence-transformers folder); the output's
    /// `config.json` names it relative to the output.
    public var textEncoder: URL
    public var valSplit = "val"
    public var config = MotionTextEvaluatorConfig()
    public var options = EvaluatorTrainingOptions()
    public var loop: TrainingLoop
    /// Each clip's left-right mirror (captions with left and right swapped) is drawn half the time.
    public var mirror = false
    /// Weights of the output folder (F16 for bundled models).
    public var dtype: DType = .float32
    /// The sentence encoder of `textEncoder` when the caller has it loaded already (nil: loaded here).
    public var sentenceEncoder: SentenceEncoder?

    public init(data: URL, output: URL, textEncoder: URL, steps: Int) {
        self.data = data
        self.output = output
        self.textEncoder = textEncoder
        self.loop = TrainingLoop(steps: steps)
    }
}

extension EvaluatorTrainer {
    /// The whole clips of a split with their whole-clip captions (the dataset reader's rules: clips of
    /// 40 ..< 200 frames), normalised with `normalizer`, with mirrors when `mirror`; each caption gets a
    /// row of `table` (texts in order of first appearance, shared by every call that passes it).
    public static func loadClips(_ root: URL, split: String, normalizer: FeatureNormalizer, mirror: Bool, table: inout [String]) throws -> [EvaluatorClip] {
        try evaluatorClips(root, split: split, normalizer: normalizer, mirror: mirror, table: &table)
    }
}

func evaluatorClips(_ root: URL, split: String, normalizer: FeatureNormalizer, mirror: Bool, table: inout [String]) throws -> [EvaluatorClip] {
    var o = MotionDataset.Options(); o.split = split
    let ds = try MotionDataset(root: root, options: o)
    var rows = CaptionRows(table)
    defer { table = rows.texts }
    var out: [EvaluatorClip] = []
    for item in ds.items where item.name == item.clip && !item.mirrored {
        let captions = item.captions.filter(\.isWholeClip).map(\.text)
        guard !captions.isEmpty else { continue }
        let m = mirror ? try item.mirroredItem() : nil
        out.append(EvaluatorClip(name: item.name, features: try normalizer.normalize(item.features),
                                 mirroredFeatures: try m.map { try normalizer.normalize($0.features) },
                                 captionRows: rows.rows(captions), mirroredCaptionRows: m.map { rows.rows($0.captions.map(\.text)) } ?? []))
    }
    guard !out.isEmpty else { throw MotionSourceError.bad("\(root.path): no \(split) clip with a whole-clip caption") }
    return out
}

/// Trains our text-motion evaluator on `data`'s train split against the frozen sentence encoder of
/// `textEncoder`, keeps the weights of the lowest validation InfoNCE loss (the val split; the test
/// split is never read), and writes the evaluator folder to `output`.
public func trainEvaluator(_ p: EvaluatorTrainingParameters, progress: (TrainingEvent) -> IterationControl) throws -> TrainingOutcome {
    try p.loop.validate()
    try p.loop.refuseExistingOutput(p.output, marker: "config.json", what: "a model")
    let encoder = try p.sentenceEncoder ?? SentenceEncoder.load(directory: p.textEncoder)
    var config = p.config
    config.textDimension = encoder.dimension
    config.textEncoder = ModelFolder.relativePath(of: URL(fileURLWithPath: p.textEncoder.path), from: URL(fileURLWithPath: p.output.path))
    let trainFeatures = try MotionSources.load([p.data.path], split: "train", nfeats: config.nfeats, requireSplit: true)
    let normalizer = try MotionSources.normalizer(for: [p.data.path], clips: trainFeatures)
    var table: [String] = []
    // The dataset reader's rules (whole clips of 40 ..< 200 frames), as HeldOutEvaluation.clips reads them.
    let train = try evaluatorClips(p.data, split: "train", normalizer: normalizer, mirror: p.mirror, table: &table)
    let val = try evaluatorClips(p.data, split: p.valSplit, normalizer: normalizer, mirror: false, table: &table)
    // Sentence vectors once: the text encoder is frozen.
    let vectors = try encoder.embed(table).flatMap(\.vector)
    let sentenceVectors = Tensor(vectors, shape: [table.count, encoder.dimension])
    let evaluator = try MotionTextEvaluator(config: config, normalizer: normalizer, sentenceEncoder: encoder, seed: p.options.seed)
    let trainer = try EvaluatorTrainer(evaluator: evaluator, clips: train, sentenceVectors: sentenceVectors, options: p.options, steps: p.loop.steps)
    let store = CheckpointStore(directory: p.output.appendingPathComponent("checkpoints"), keep: p.loop.keepCheckpoints)
    var best = BestWeights(directory: store.directory)
    let o = p.options
    _ = progress(.message("training evaluator: \(train.count) train clips\(p.mirror ? " (and their mirrors)" : ""), \(val.count) \(p.valSplit) clips, " +
                          "\(table.count) distinct captions; motion encoder \(config.numLayers) x \(config.hiddenSize) wide, \(evaluator.parameterCount) weights, " +
                          "D = \(config.embeddingDimension), temperature \(config.temperature), negatives with caption cosine > \(o.negativeThreshold) left out; " +
                          "\(p.loop.steps) steps of \(min(o.batchSize, train.count)) clips"))
    func valRetrieval() throws -> String {
        let clips = try HeldOutEvaluation.clips(p.data, split: p.valSplit).filter { !$0.captions.isEmpty }
        let r = try EvaluatorCheck.heldOut(evaluator, clips: clips, captionDraws: 5, shuffles: 5)
        return String(format: "%@ R-precision top-1/2/3 %.3f/%.3f/%.3f (shuffled captions %.3f/%.3f/%.3f), MM-Dist %.3f, %d clips",
                      p.valSplit, r.matched.topK[0], r.matched.topK[1], r.matched.topK[2],
                      r.shuffled.topK[0], r.shuffled.topK[1], r.shuffled.topK[2], r.matched.mmDist, clips.count)
    }
    if !p.loop.resume { _ = progress(.message(String(format: "before training: %@ loss %.4f; ", p.valSplit, try trainer.loss(on: val)) + (try valRetrieval()))) }
    let outcome = try runLoop(p.loop, store: store, best: &best, module: evaluator,
                              currentStep: { trainer.step },
                              trainStep: { let r = try trainer.trainStep(); return (r.step, r.line) },
                              save: { try trainer.save(to: store, metadata: $0) },
                              restore: { try trainer.resume(from: $0) },
                              validate: { ("\(p.valSplit) InfoNCE loss", try trainer.loss(on: val)) },
                              progress: progress)
    if let outcome { return outcome }
    try best.load(into: evaluator)
    _ = progress(.message(String(format: "kept the weights of step %d (%@ loss %.4f); ", best.step, p.valSplit, best.value) + (try valRetrieval())))
    try evaluator.save(directory: p.output, force: true, dtype: p.dtype)
    return .finished(output: p.output)
}
