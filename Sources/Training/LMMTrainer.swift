import Foundation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import TextEncoder

/// The Large Motion Model's two training stages (LMM's recipe): unconditional pretraining on motion with
/// random frame-rate downsampling, random part masking and random crops, then fine-tuning with the text
/// condition (classifier-free dropout), starting from the pretrained weights.
public enum LMMStage: String, Sendable, CaseIterable, Codable {
    case pretrain, finetune
}

/// Settings of an LMM training run. Defaults are a CPU-sized version of `configs/lmm/`: AdamW, a short
/// warm-up, cosine decay, crops of up to 6 s.
public struct LMMTrainerOptions: Codable, Equatable, Sendable {
    public var batchSize = 16
    /// Shortest and longest crop, in frames at the clip's (downsampled) rate.
    public var minFrames = 24
    public var maxFrames = 120
    /// Frame-rate downsampling: each sample keeps every k-th frame for a k drawn from this list (k = 1:
    /// the data's rate), its velocities recomputed for the new rate. Pretraining uses `[1, 2, 3]` by default,
    /// fine-tuning `[1]` (captions describe motion at its own speed either way).
    public var downsampleFactors = [1]
    public var learningRate: Float = 2e-4
    public var warmupSteps = 100
    /// Cosine decay of the learning rate to this value over the run (nil: constant after the warm-up).
    public var cosineFloor: Float? = 1e-5
    public var weightDecay: Float = 0
    /// Gradient-norm clip (0: none).
    public var clipNorm: Float = 1
    /// The official training randomness (part masking, condition dropout, the shared set).
    public var randomMasking = true
    public var conditionDropRate: Float = 0.1
    public var sharedSetRate: Float = 0.1
    public var seed: UInt64 = 0
    public init() {}
}

/// One progress line's numbers.
public struct LMMProgress: Sendable {
    public var step: Int, steps: Int
    public var loss: Float, reconstruction: Float, templateKL: Float
    public var gradientNorm: Float, learningRate: Float
    public var secondsPerStep: Double

    public var line: String {
        String(format: "step %d/%d  loss %.4f  x0 mse %.4f  kl %.3f  |g| %.2f  lr %.2e  %.2fs/step",
               step, steps, loss, reconstruction, templateKL, gradientNorm, learningRate, secondsPerStep)
    }
}

/// A training clip in the unified layout at one frame rate.
public struct LMMClip {
    public var name: String
    /// Normalised unified features `[T, 669]`.
    public var features: Tensor
    public var fps: Float
    /// Rows of the caption table (empty: no caption).
    public var captionRows: [Int]
}

/// Trains an `LMMModel`'s denoiser on clips in the unified layout.
///
/// Determinism: the batch, timesteps, noise and masks of step `s` come from a generator seeded by
/// `(seed, s)`, so a run resumed at step `s` continues exactly as the uninterrupted run.
public final class LMMTrainer {
    public let model: LMMModel
    public let stage: LMMStage
    public let options: LMMTrainerOptions
    public let steps: Int
    public let optimizer: AdamW
    public private(set) var step = 0
    /// Clips per downsampling factor (index into `options.downsampleFactors`).
    public let clips: [[LMMClip]]
    /// Text condition of every caption row, `[C, M, D]` (nil in pretraining).
    public let captionFeatures: Tensor?
    /// The dataset index training samples use (1: the data's own set; 0 is the shared `all` set).
    public let datasetIndex: Int

    public init(model: LMMModel, stage: LMMStage, clips: [[LMMClip]], captionFeatures: Tensor?, options: LMMTrainerOptions, steps: Int) throws {
        guard steps > 0, options.batchSize >= 1 else { throw TrainingError.badParameters("steps and batch size must be positive") }
        guard options.minFrames >= 2, options.maxFrames >= options.minFrames, options.maxFrames <= model.config.maxSeqLen else {
            throw TrainingError.badParameters("crops must be 2 ... max_seq_len (\(model.config.maxSeqLen)) frames with max >= min (got \(options.minFrames)...\(options.maxFrames))")
        }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw TrainingError.badParameters("the learning rate must be positive") }
        guard clips.count == options.downsampleFactors.count, clips.allSatisfy({ !$0.isEmpty }) else {
            throw TrainingError.badParameters("no clip of at least \(options.minFrames) frames at some downsampling factor \(options.downsampleFactors)")
        }
        if stage == .finetune {
            guard model.config.textInputDim != nil, let f = captionFeatures, f.rank == 3 else {
                throw TrainingError.badParameters("fine-tuning needs a model with a text condition and caption features")
            }
            guard clips.allSatisfy({ $0.allSatisfy { !$0.captionRows.isEmpty } }) else { throw TrainingError.badParameters("fine-tuning clips need captions") }
        }
        self.model = model
        self.stage = stage
        self.clips = clips
        self.captionFeatures = captionFeatures
        self.options = options
        self.steps = steps
        datasetIndex = model.config.dataDatasetIndex
        optimizer = AdamW(parameters: model.denoiser.parameters(), learningRate: options.learningRate, beta1: 0.9, beta2: 0.999,
                          eps: 1e-8, weightDecay: options.weightDecay)
    }

    static func stepRNG(seed: UInt64, step: Int) -> SeededRNG {
        stepGenerator(seed: seed, step: step, mix: (0x94D0_49BB_1331_11EB, 0xBF58_476D_1CE4_E5B9, 17))
    }

    /// A padded batch of crops: features `[B, T, 669]` and the denoiser's inputs (present parts: HumanML3D's
    /// seven; hands and face absent).
    struct Batch { var x0: Tensor; var inputs: LMMInputs }

    static func makeBatch(_ crops: [(clip: LMMClip, start: Int, length: Int, caption: Int?)], captionFeatures: Tensor?, datasetIndex: Int) -> Batch {
        let b = crops.count, t = crops.map(\.length).max() ?? 1, d = UnifiedMotion.dimension
        var values = [Float](repeating: 0, count: b * t * d)
        for (i, c) in crops.enumerated() {
            let p = c.clip.features.storage.pointer + c.start * d
            for k in 0..<(c.length * d) { values[i * t * d + k] = p[k] }
        }
        let mask = Tensor((0..<(b * t)).flatMap { _ in UnifiedMotion.humanML3DPresence }, shape: [b, t, 10])
        var conditions: [String: ConditionTokens] = [:]
        if let f = captionFeatures, crops.allSatisfy({ $0.caption != nil }) {
            conditions["text"] = ConditionTokens(words: f.indexSelect(dim: 0, crops.map { $0.caption! }), present: [Float](repeating: 1, count: b))
        }
        let inputs = LMMInputs(timesteps: [Float](repeating: 0, count: b), partMask: mask, lengths: crops.map(\.length),
                               fps: crops.map(\.clip.fps), datasetIndex: [Int](repeating: datasetIndex, count: b), conditions: conditions)
        return Batch(x0: Tensor(values, shape: [b, t, d]), inputs: inputs)
    }

    /// Random crops: a factor, a clip, a length, a start, a caption.
    func batch(rng: inout SeededRNG) -> Batch {
        var crops: [(clip: LMMClip, start: Int, length: Int, caption: Int?)] = []
        for _ in 0..<options.batchSize {
            let set = clips[rng.nextInt(clips.count)]
            let clip = set[rng.nextInt(set.count)]
            let n = clip.features.shape[0]
            let lo = min(n, options.minFrames), hi = min(n, options.maxFrames)
            let length = lo + rng.nextInt(hi - lo + 1)
            let start = rng.nextInt(n - length + 1)
            let caption = stage == .finetune ? clip.captionRows[rng.nextInt(clip.captionRows.count)] : nil
            crops.append((clip, start, length, caption))
        }
        return Self.makeBatch(crops, captionFeatures: captionFeatures, datasetIndex: datasetIndex)
    }

    var trainingOptions: LMMTrainingOptions {
        var o = LMMTrainingOptions()
        o.randomMasking = options.randomMasking
        o.conditionDropRate = options.conditionDropRate
        // Swapping the shared set in only means something when the data has a set of its own.
        o.sharedSetRate = datasetIndex == 0 ? 0 : options.sharedSetRate
        return o
    }

    func learningRate(at step: Int) -> Float {
        scheduledLearningRate(peak: options.learningRate, warmup: options.warmupSteps, step: step, total: steps, cosineFloor: options.cosineFloor)
    }

    /// One optimisation step.
    @discardableResult
    public func trainStep() throws -> LMMProgress {
        let start = Date()
        var rng = Self.stepRNG(seed: options.seed, step: step)
        let denoiser = model.denoiser
        denoiser.train(true)
        defer { denoiser.train(false) }
        let b = batch(rng: &rng)
        let r = try denoiser.trainingLoss(b.x0, b.inputs, options: trainingOptions, rng: &rng)
        optimizer.zeroGrad()
        r.loss.backward()
        let norm = options.clipNorm > 0 ? clipGradientNorm(optimizer.parameters, maxNorm: options.clipNorm) : 0
        optimizer.learningRate = learningRate(at: step)
        optimizer.update()
        step += 1
        return LMMProgress(step: step, steps: steps, loss: r.loss.item, reconstruction: r.reconstruction, templateKL: r.templateKL,
                           gradientNorm: norm, learningRate: optimizer.learningRate, secondsPerStep: Date().timeIntervalSince(start))
    }

    /// The validation value: x0 MSE on the present cells of `clips` (each cut to its first `maxFrames`
    /// frames, its first caption in fine-tuning) at the timesteps 50, 250, ..., 950 with fixed noise, no
    /// masking, no dropout: lower is better, the same draws at every validation.
    public func validationLoss(on clips: [LMMClip]) throws -> Float {
        let denoiser = model.denoiser
        let wasTraining = denoiser.isTraining
        denoiser.train(false)
        defer { denoiser.train(wasTraining) }
        let schedule = NoiseSchedule()
        let timesteps = [50, 250, 450, 650, 850, 950]
        var total: Double = 0, count = 0
        var rng = SeededRNG(seed: 0x5EED_0F_7A1)
        try Tensor.withNoGrad {
            var start = 0
            while start < clips.count {
                let chunk = Array(clips[start..<min(start + options.batchSize, clips.count)])
                start += chunk.count
                let crops = chunk.map { c in (clip: c, start: 0, length: min(c.features.shape[0], options.maxFrames),
                                              caption: stage == .finetune ? c.captionRows.first : nil) }
                let batch = Self.makeBatch(crops, captionFeatures: captionFeatures, datasetIndex: datasetIndex)
                for t in timesteps {
                    let noise = Tensor.randn(batch.x0.shape, rng: &rng)
                    let ts = [Int](repeating: t, count: chunk.count)
                    var inp = batch.inputs
                    inp.timesteps = ts.map(Float.init)
                    let prediction = try denoiser(schedule.addNoise(batch.x0, noise: noise, timesteps: ts), inp)
                    let cells = batch.inputs.partMask * UnifiedMotion.lengthCells(batch.inputs.lengths, frames: batch.x0.shape[1])
                    total += Double(maskedPartMSE(prediction, batch.x0, mask: cells).item)
                    count += 1
                }
            }
        }
        return Float(total / Double(max(count, 1)))
    }

    // MARK: checkpoints

    /// Writes a resumable checkpoint (weights, Adam moments, step).
    @discardableResult
    public func save(to store: CheckpointStore, metadata extra: [String: String] = [:]) throws -> URL {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        return try store.save(step: step, model: model.denoiser, optimizer: optimizer,
                              metadata: extra.merging(["stage": "lmm-\(stage.rawValue)", "options": String(decoding: try enc.encode(options), as: UTF8.self),
                                                       "config": String(decoding: try enc.encode(model.config), as: UTF8.self)]) { $1 })
    }

    /// Continues from a checkpoint written by `save(to:)` with the same configuration and stage.
    public func resume(from state: TrainingState) throws {
        if let c = state.metadata["config"], let cfg = try? JSONDecoder().decode(LMMConfig.self, from: Data(c.utf8)), cfg != model.config {
            throw TrainingError.badParameters("\(state.url?.path ?? "checkpoint") was trained with a different LMM configuration")
        }
        if let s = state.metadata["stage"], s != "lmm-\(stage.rawValue)" {
            throw TrainingError.badParameters("\(state.url?.path ?? "checkpoint") is a \(s) checkpoint, not lmm-\(stage.rawValue)")
        }
        try state.restore(model: model.denoiser, optimizer: optimizer)
        step = state.step
    }
}

/// Everything an LMM training run needs.
public struct LMMTrainingParameters {
    public var stage: LMMStage
    /// HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt, Mean.npy/Std.npy).
    public var data: URL
    /// Output LMM folder; checkpoints go to `output/checkpoints`.
    public var output: URL
    /// Fine-tuning starts from this LMM folder (the pretraining output); pretraining builds `config`.
    public var initial: URL?
    /// The sentence encoder whose token features are the text condition (the output names it relative to itself).
    public var textEncoder: URL
    public var valSplit = "val"
    /// The denoiser's configuration in pretraining (`text_input_dim`, `text_encoder` and `text_max_tokens`
    /// are set from the text encoder and the captions).
    public var config = LMMConfig()
    public var options = LMMTrainerOptions()
    public var loop: TrainingLoop
    /// Each clip's left-right mirror (captions with left and right swapped) is trained on too.
    public var mirror = false
    /// Weights of the output folder (F16 for bundled models).
    public var dtype: DType = .float32
    /// The text encoder when the caller has it loaded already.
    public var sentenceEncoder: SentenceEncoder?

    public init(stage: LMMStage, data: URL, output: URL, textEncoder: URL, steps: Int) {
        self.stage = stage
        self.data = data
        self.output = output
        self.textEncoder = textEncoder
        loop = TrainingLoop(steps: steps)
    }
}

extension LMMTrainer {
    /// The clips of a split in the unified layout, normalised with `normalizer`: every dataset item
    /// (whole clips and captioned segments, mirrors when `mirror`), and for each downsampling factor k > 1
    /// every k-th frame of the recovered joints with the features (velocities included) extracted again
    /// at the new rate. Captions get rows of `table`; `captions` keeps only the captioned items.
    public static func loadClips(_ root: URL, split: String, normalizer: FeatureNormalizer, factors: [Int], mirror: Bool,
                                 captions: Bool, minFrames: Int, table: inout [String]) throws -> [[LMMClip]] {
        var o = MotionDataset.Options(); o.split = split; o.mirror = mirror; o.requireCaptions = captions
        let ds = try MotionDataset(root: root, options: o)
        var rows = CaptionRows(table)
        defer { table = rows.texts }
        var out: [[LMMClip]] = []
        for k in factors {
            guard k >= 1 else { throw TrainingError.badParameters("downsampling factors must be at least 1, got \(k)") }
            var set: [LMMClip] = []
            for item in ds.items {
                var h = item.features
                if k > 1 {
                    let positions = try Motion(features: item.features).positions
                    let kept = stride(from: 0, to: positions.count, by: k).map { positions[$0] }
                    guard kept.count > minFrames else { continue }
                    h = try Motion(skeleton: .humanML3D, positions: kept, fps: 20 / Float(k)).features(config: .humanML3D)
                }
                guard h.shape[0] >= minFrames else { continue }
                let u = try UnifiedMotion(humanML3D: h, fps: 20 / Float(k))
                set.append(LMMClip(name: item.name, features: try normalizer.normalize(u.features), fps: u.fps,
                                   captionRows: rows.rows(item.captions.map(\.text))))
            }
            out.append(set)
        }
        return out
    }
}

/// Trains one LMM stage on `data`'s train split, keeps the weights of the lowest validation x0 error (the
/// val split; the test split is never read), and writes the LMM folder to `output`.
public func trainLMM(_ p: LMMTrainingParameters, progress: (TrainingEvent) -> IterationControl) throws -> TrainingOutcome {
    try p.loop.validate()
    try p.loop.refuseExistingOutput(p.output, marker: "config.json", what: "a model")
    let encoder = try p.sentenceEncoder ?? BertFamily.load(try ModelFolder(p.textEncoder))
    let humanML3D = try FeatureNormalizer(directory: p.data)
    let normalizer = try LMMModel.unifiedNormalizer(humanML3D: humanML3D)
    let captions = p.stage == .finetune
    var table: [String] = []
    let train = try LMMTrainer.loadClips(p.data, split: "train", normalizer: normalizer, factors: p.options.downsampleFactors, mirror: p.mirror,
                                         captions: captions, minFrames: p.options.minFrames, table: &table)
    let val = try LMMTrainer.loadClips(p.data, split: p.valSplit, normalizer: normalizer, factors: [1], mirror: false,
                                       captions: captions, minFrames: p.options.minFrames, table: &table)[0]
    guard !val.isEmpty else { throw TrainingError.badParameters("\(p.data.path): no \(p.valSplit) clip of at least \(p.options.minFrames) frames") }

    let denoiser: LargeMotionModel
    var start = ""
    if let initial = p.initial {
        let m = try LMMModel.load(directory: initial)
        guard m.config.textInputDim == encoder.dimension else {
            throw TrainingError.badParameters("\(initial.path) reads \(m.config.textInputDim.map(String.init) ?? "no") text features; the text encoder gives \(encoder.dimension)")
        }
        denoiser = m.denoiser
        start = ", starting from \(initial.path)"
    } else {
        guard p.stage == .pretrain else { throw TrainingError.badParameters("fine-tuning starts from a pretrained LMM folder (--init DIR)") }
        var c = p.config
        c.textInputDim = encoder.dimension
        // The condition must hold the longest caption of the data fine-tuning will read (the clips loaded
        // above carry their captions in pretraining too).
        c.textMaxTokens = max(c.textMaxTokens, table.map { encoder.tokenize($0).ids.count }.max() ?? 0)
        c.textEncoder = ModelFolder.relativePath(of: URL(fileURLWithPath: p.textEncoder.path), from: URL(fileURLWithPath: p.output.path))
        denoiser = try LargeMotionModel(config: c, seed: p.options.seed)
    }
    denoiser.train(false)
    let model = try LMMModel(denoiser: denoiser, normalizer: normalizer, textEncoder: encoder)
    var captionFeatures: Tensor?
    if captions {
        let longest = try table.map { encoder.tokenize($0).ids.count }.max() ?? 0
        guard longest <= model.config.textMaxTokens else {
            throw TrainingError.badParameters("a caption has \(longest) tokens; the model reads at most \(model.config.textMaxTokens) (text_max_tokens, set in pretraining)")
        }
        captionFeatures = try model.textCondition(table).words
    }
    let trainer = try LMMTrainer(model: model, stage: p.stage, clips: train, captionFeatures: captionFeatures, options: p.options, steps: p.loop.steps)
    let store = CheckpointStore(directory: p.output.appendingPathComponent("checkpoints"), keep: p.loop.keepCheckpoints)
    var best = BestWeights(directory: store.directory)
    let c = model.config, o = p.options
    let counts = zip(o.downsampleFactors, train).map { "\($0.1.count) at \(String(format: "%g", 20 / Float($0.0))) fps" }.joined(separator: ", ")
    _ = progress(.message("training LMM (\(p.stage.rawValue)): train clips \(counts)\(p.mirror ? " (mirrors included)" : ""), \(val.count) \(p.valSplit) clips" +
                          (captions ? ", \(table.count) distinct captions" : "") + "; \(c.numLayers) layers, \(c.numParts) parts x \(c.latentPartDim), " +
                          "\(denoiser.parameterCount) weights; \(p.loop.steps) steps of \(o.batchSize) crops of \(o.minFrames)...\(o.maxFrames) frames; " +
                          "random masking \(o.randomMasking ? "on" : "off")\(start)"))
    if !p.loop.resume { _ = progress(.message(String(format: "before training: %@ x0 mse %.4f", p.valSplit, try trainer.validationLoss(on: val)))) }
    let outcome = try runLoop(p.loop, store: store, best: &best, module: denoiser,
                              currentStep: { trainer.step },
                              trainStep: { let r = try trainer.trainStep(); return (r.step, r.line) },
                              save: { try trainer.save(to: store, metadata: $0) },
                              restore: { try trainer.resume(from: $0) },
                              validate: { ("\(p.valSplit) x0 mse", try trainer.validationLoss(on: val)) },
                              progress: progress)
    if let outcome { return outcome }
    try best.load(into: denoiser)
    _ = progress(.message(String(format: "kept the weights of step %d (%@ x0 mse %.4f)", best.step, p.valSplit, best.value)))
    try model.save(directory: p.output, force: true, dtype: p.dtype)
    return .finished(output: p.output)
}
