import Foundation
import ModelHub
import MotionData
import MotionT5
import MotionVQ
import NeuralNetwork
import TensorEngine
import TextTokenizer

/// What a training run reports while it works. The CLI prints these; a server or a test can watch them.
public enum TrainingEvent {
    /// A line about the set-up or a held-out evaluation (data sizes, the model, errors before training).
    case message(String)
    /// The run continues from a checkpoint; `skipped` lists damaged checkpoints passed over.
    case resumed(step: Int, checkpoint: URL?, skipped: [(url: URL, reason: String)])
    /// A progress line every `logEvery` steps.
    case step(step: Int, line: String)
    /// A validation value (lower is better) and whether it is the best so far (those weights are kept).
    case validation(step: Int, metric: String, value: Float, best: Bool)
    /// A resumable checkpoint was written.
    case checkpoint(step: Int, url: URL)
}

/// How a training run ended.
public enum TrainingOutcome: Equatable {
    /// All steps ran; the output (the weights of the best validation value) is written.
    case finished(output: URL)
    /// The progress callback (or Ctrl-C) stopped the run; `checkpoint` resumes it.
    case stopped(step: Int, checkpoint: URL)
}

/// Loop settings every trainer shares.
public struct TrainingLoop: Sendable {
    public var steps: Int
    public var logEvery = 10
    public var checkpointEvery = 200
    /// Validation every this many steps (and at the last step); the best weights are what the run outputs.
    public var validateEvery = 100
    /// Continue from the newest readable checkpoint.
    public var resume = false
    /// Replace an existing output.
    public var force = false
    /// Resumable checkpoints to keep.
    public var keepCheckpoints = 3

    public init(steps: Int) { self.steps = steps }

    /// Refuses to start over an existing output (`output/marker` present) unless resuming or forced.
    func refuseExistingOutput(_ output: URL, marker: String, what: String) throws {
        if !resume && !force && FileManager.default.fileExists(atPath: output.appendingPathComponent(marker).path) {
            throw TrainingError.outputExists("\(output.path) (\(what))")
        }
    }

    func validate() throws {
        guard steps > 0, logEvery > 0, checkpointEvery > 0, validateEvery > 0 else {
            throw TrainingError.badParameters("steps, log, checkpoint and validation intervals must be positive")
        }
    }
}

/// Errors of the training runs; each names the folder or value.
public enum TrainingError: ClassifiedError, Equatable {
    case badParameters(String)
    case outputExists(String)
    case noCheckpoint(String)

    public var kind: ErrorKind {
        switch self {
        case .badParameters, .outputExists: return .badInput
        case .noCheckpoint: return .notFound
        }
    }

    public var description: String {
        switch self {
        case .badParameters(let s), .noCheckpoint(let s): return s
        case .outputExists(let s): return "\(s) already exists"
        }
    }
}

/// The weights with the best validation value so far, kept as `best.safetensors` beside the
/// checkpoints (atomic, checksummed) so an interrupted run still outputs the best of all its steps.
struct BestWeights {
    let url: URL
    var value: Float = .infinity
    var step = 0

    init(directory: URL) { url = directory.appendingPathComponent("best.safetensors") }

    var metadata: [String: String] {
        value.isFinite ? ["best_value": String(value.bitPattern, radix: 16), "best_step": String(step)] : [:]
    }

    /// The best value and step recorded in a checkpoint's metadata.
    mutating func restore(from state: TrainingState) {
        if let v = state.metadata["best_value"].flatMap({ UInt32($0, radix: 16) }), let s = state.metadata["best_step"].flatMap(Int.init) {
            value = Float(bitPattern: v); step = s
        }
    }

    mutating func offer(_ v: Float, step: Int, module: Module) throws -> Bool {
        guard v < value else { return false }
        value = v; self.step = step
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try module.save(to: url, metadata: ["step": String(step)])
        return true
    }

    /// Loads the best weights into `module` (no-op when nothing was validated).
    func load(into module: Module) throws {
        guard value.isFinite, FileManager.default.fileExists(atPath: url.path) else { return }
        try module.load(from: url)
    }
}

/// The loop both trainers share: resume, steps with progress, validation with the best weights kept,
/// checkpoints, stopping (callback or Ctrl-C) with a checkpoint that resumes bit for bit.
func runLoop(_ loop: TrainingLoop, store: CheckpointStore, best: inout BestWeights, module: Module,
             currentStep: () -> Int, trainStep: () throws -> (step: Int, line: String),
             save: ([String: String]) throws -> URL, restore: (TrainingState) throws -> Void,
             validate: (() throws -> (metric: String, value: Float))?,
             progress: (TrainingEvent) -> IterationControl) throws -> TrainingOutcome? {
    if loop.resume {
        guard let state = store.latestValid() else { throw TrainingError.noCheckpoint("no readable checkpoint in \(store.directory.path)") }
        try restore(state)
        best.restore(from: state)
        _ = progress(.resumed(step: currentStep(), checkpoint: state.url, skipped: store.skipped))
    }
    InterruptFlag.install()
    while currentStep() < loop.steps {
        let (step, line) = try trainStep()
        var stop = false
        if step % loop.logEvery == 0 || step == loop.steps { stop = progress(.step(step: step, line: line)) == .stop }
        if let validate, step % loop.validateEvery == 0 || step == loop.steps {
            let (metric, value) = try validate()
            let improved = try best.offer(value, step: step, module: module)
            stop = progress(.validation(step: step, metric: metric, value: value, best: improved)) == .stop || stop
        }
        stop = stop || InterruptFlag.requested
        if step % loop.checkpointEvery == 0 || step == loop.steps || stop {
            let url = try save(best.metadata)
            if progress(.checkpoint(step: step, url: url)) == .stop { stop = true }
            if stop && step < loop.steps { return .stopped(step: step, checkpoint: url) }
        }
    }
    return nil
}

// MARK: - Stage 1: the motion tokenizer

/// Everything a tokenizer training run needs.
public struct TokenizerTrainingParameters {
    /// HumanML3D-layout folders or `.npy` feature files.
    public var data: [String]
    /// Held-out data; empty: the folders' `valSplit` split (with files only, the training clips).
    public var validation: [String] = []
    public var valSplit = "val"
    /// Output tokenizer folder; checkpoints go to `output/checkpoints`.
    public var output: URL
    public var config = VQVAEConfig()
    public var options = TokenizerTrainingOptions()
    public var loop: TrainingLoop
    /// Add each clip's left-right mirror.
    public var mirror = false

    public init(data: [String], output: URL, steps: Int) {
        self.data = data
        self.output = output
        self.loop = TrainingLoop(steps: steps)
    }
}

/// Trains a motion tokenizer (MotionGPT's stage 1) and writes it to `parameters.output` with the
/// weights of the best held-out MPJPE among the validations. The loop's steps and intervals override
/// those of `options`.
public func trainTokenizer(_ p: TokenizerTrainingParameters, progress: (TrainingEvent) -> IterationControl) throws -> TrainingOutcome {
    try p.loop.validate()
    try p.loop.refuseExistingOutput(p.output, marker: "model.safetensors", what: "a tokenizer")
    var options = p.options
    options.steps = p.loop.steps; options.logEvery = p.loop.logEvery; options.checkpointEvery = p.loop.checkpointEvery
    let vq = p.config
    try vq.validate()
    guard options.window >= vq.framesPerCode, options.window % vq.framesPerCode == 0 else {
        throw TrainingError.badParameters("the window must be a positive multiple of \(vq.framesPerCode) frames, got \(options.window)")
    }
    var train = try MotionSources.load(p.data, split: "train", nfeats: vq.nfeats)
    let valClips = p.validation.isEmpty ? (try? MotionSources.load(p.data, split: p.valSplit, nfeats: vq.nfeats, requireSplit: true)) ?? train
                                        : try MotionSources.load(p.validation, split: p.valSplit, nfeats: vq.nfeats)
    let normalizer = try MotionSources.normalizer(for: p.data, clips: train)
    if p.mirror {
        let m = try train.features.map { try MotionFeatures.mirrored($0) }
        train = MotionClips(names: train.names + train.names.map { "M" + $0 }, features: train.features + m)
    }
    let model = try VQVAE(config: vq, seed: options.seed)
    let tokenizer = try MotionTokenizer(model: model, normalizer: normalizer)
    let trainer = try TokenizerTrainer(tokenizer: tokenizer, clips: train, options: options)
    let store = CheckpointStore(directory: p.output.appendingPathComponent("checkpoints"), keep: p.loop.keepCheckpoints)
    var best = BestWeights(directory: store.directory)
    _ = progress(.message("training tokenizer: \(train.count) clips, \(train.frames) frames\(p.mirror ? " (with mirrors)" : ""); " +
                          "\(vq.codeNum) codes of width \(vq.codeDim), \(model.parameterCount) weights; \(options.steps) steps of \(options.batchSize) x \(options.window) frames"))
    func report(_ r: ReconstructionReport) -> String {
        String(format: "pose error %.1f mm, MPJPE %.1f mm (root-aligned; %.1f mm global), feature error %.4f", r.poseError, r.mpjpe, r.globalError, r.featureError)
    }
    if !p.loop.resume {
        _ = progress(.message("before training: held-out " + report(try TokenizerTrainer.evaluate(tokenizer, clips: valClips))))
    }
    let outcome = try runLoop(p.loop, store: store, best: &best, module: model,
                              currentStep: { trainer.step },
                              trainStep: { let r = trainer.trainStep(); return (r.step, r.line) },
                              save: { try trainer.save(to: store, metadata: $0) },
                              restore: { try trainer.resume(from: $0) },
                              validate: { ("held-out MPJPE (mm)", try TokenizerTrainer.evaluate(tokenizer, clips: valClips).mpjpe) },
                              progress: progress)
    if let outcome { return outcome }
    try best.load(into: model)
    let r = try TokenizerTrainer.evaluate(tokenizer, clips: valClips)
    _ = progress(.message(String(format: "held-out reconstruction (weights of step %d): %@, %d distinct codes over %d clips (%d frames)",
                                 best.step, report(r), r.distinctCodes, r.clips, r.frames)))
    try tokenizer.save(directory: p.output, force: true)
    return .finished(output: p.output)
}

// MARK: - Stages 2 and 3: the language model

/// The language-model stages.
public enum LMStage: String, Sendable, CaseIterable {
    /// Stage 2: motion-language pretraining (translation pairs, prediction, span corruption).
    case pretrain
    /// Stage 3: instruction tuning over the task templates.
    case instruct
}

/// Where stage 2 starts its language model from.
public enum LMStart {
    /// A Hugging Face T5 / Flan-T5 folder (config.json, model.safetensors, spiece.model).
    case folder(URL)
    /// Random weights of a T5 configuration, with the `spiece.model` of its text vocabulary.
    case fresh(config: T5Config, spiece: URL)
}

/// Everything a language-model stage needs.
public struct LMTrainingParameters {
    public var stage: LMStage
    /// HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt).
    public var data: URL
    public var valSplit = "val"
    /// Output model directory; checkpoints go to `output/checkpoints-<stage>`.
    public var output: URL
    /// Stage 3: the model to start from (from stage 2 or a converted checkpoint).
    public var model: URL?
    /// Stage 2: the trained motion tokenizer and where the T5 comes from.
    public var motionTokenizer: URL?
    public var start: LMStart?
    /// Stage 3: templates in MotionGPT's format (nil: the bundled set).
    public var templates: URL?
    public var options = LMTrainingOptions()
    public var loop: TrainingLoop
    /// Add left-right mirrored motions (captions with left/right swapped).
    public var mirror = false

    public init(stage: LMStage, data: URL, output: URL, steps: Int) {
        self.stage = stage
        self.data = data
        self.output = output
        self.loop = TrainingLoop(steps: steps)
    }
}

/// Builds the model stage 2 starts from: the T5 (resized to text + motion tokens, as MotionGPT's
/// `resize_token_embeddings` after `add_tokens`) with the motion tokenizer.
public func makePretrainingModel(start: LMStart, motionTokenizer: URL, seed: UInt64) throws -> MotionGPTModel {
    let motion = try MotionTokenizer.load(directory: motionTokenizer)
    let t5: T5Model, spieceData: Data
    switch start {
    case .folder(let dir):
        t5 = try T5Model.load(directory: dir)
        let spiece = dir.appendingPathComponent("spiece.model")
        guard let d = try? Data(contentsOf: spiece) else { throw ModelHubError.notFound("\(spiece.path): no such file") }
        spieceData = d
    case .fresh(let cfg, let spiece):
        t5 = try T5Model(config: cfg, seed: seed)
        guard let d = try? Data(contentsOf: spiece) else { throw ModelHubError.notFound("\(spiece.path): no such file") }
        spieceData = d
    }
    let probe = try SentencePieceTokenizer(data: spieceData)
    let needed = probe.vocabularySize + motion.config.codeNum + 3
    if t5.config.vocabSize != needed { try t5.resizeTokenEmbeddings(needed, seed: seed) }
    return try MotionGPTModel(lm: t5, spieceData: spieceData, motionTokenizer: motion)
}

/// Trains a MotionGPT language-model stage and writes the model directory with the weights of the
/// best validation loss (on the val split) among the validations.
public func trainLanguageModel(_ p: LMTrainingParameters, progress: (TrainingEvent) -> IterationControl) throws -> TrainingOutcome {
    try p.loop.validate()
    guard p.options.batchSize > 0 else { throw TrainingError.badParameters("the batch size must be positive") }
    guard p.options.learningRate > 0, p.options.learningRate.isFinite else { throw TrainingError.badParameters("the learning rate must be positive") }
    try p.loop.refuseExistingOutput(p.output, marker: "config.json", what: "a model")
    var options = p.options
    options.steps = p.loop.steps; options.logEvery = p.loop.logEvery; options.checkpointEvery = p.loop.checkpointEvery; options.validateEvery = p.loop.validateEvery
    let model: MotionGPTModel, templates: TaskTemplates
    switch p.stage {
    case .pretrain:
        guard let start = p.start, let vq = p.motionTokenizer else { throw TrainingError.badParameters("pretraining needs a motion tokenizer and a T5 to start from") }
        model = try makePretrainingModel(start: start, motionTokenizer: vq, seed: options.seed)
        templates = MotionLanguageTasks.pretrainTemplates
    case .instruct:
        guard let dir = p.model else { throw TrainingError.badParameters("instruction tuning needs a model to start from") }
        model = try MotionGPTModel.load(directory: dir)
        templates = try p.templates.map { try TaskTemplates.load($0) } ?? TaskTemplates.bundled()
    }
    let pair: (MotionLanguageTasks, MotionTextExample, inout SeededRNG) throws -> LMExample = p.stage == .pretrain
        ? { try $0.pretrainPair($1, rng: &$2) } : { try $0.instructPair($1, rng: &$2) }
    var opts = MotionTextDataset.Options(); opts.mirror = p.mirror
    let train = try MotionTextDataset.load(p.data, tokenizer: model.motionTokenizer, options: opts)
    var vopts = MotionTextDataset.Options(); vopts.split = p.valSplit
    let val = try? MotionTextDataset.load(p.data, tokenizer: model.motionTokenizer, options: vopts)
    let tasks = MotionLanguageTasks(model: model, templates: templates)
    // Validation pairs are fixed (seeded once) so the numbers compare across steps and runs.
    var vrng = SeededRNG(seed: 12345)
    let valPairs = try (val ?? []).map { try pair(tasks, $0, &vrng) }
    let trainer = try LMTrainer(model: model, options: options) { rng, count in
        try (0..<count).map { _ in try pair(tasks, train[rng.nextInt(train.count)], &rng) }
    }
    // The caption words the model learns from: `generate` warns about prompt words outside them.
    var words = Set(train.flatMap { MotionGPTModel.words($0.caption) })
    if let known = model.trainingVocabulary, p.stage == .instruct { words.formUnion(known) }
    model.trainingVocabulary = words
    let store = CheckpointStore(directory: p.output.appendingPathComponent("checkpoints-\(p.stage.rawValue)"), keep: p.loop.keepCheckpoints)
    var best = BestWeights(directory: store.directory)
    _ = progress(.message("\(p.stage.rawValue): \(train.count) training pairs of motion and caption\(p.mirror ? " (with mirrors)" : ""), \(valPairs.count) validation pairs; " +
                          "T5 d_model \(model.lm.config.dModel), \(model.lm.config.numLayers) layers, vocabulary \(model.lm.config.vocabSize); \(options.steps) steps of \(options.batchSize)"))
    if !valPairs.isEmpty && !p.loop.resume { _ = progress(.message(String(format: "validation loss %.4f (before training)", trainer.loss(on: valPairs)))) }
    let outcome = try runLoop(p.loop, store: store, best: &best, module: model.lm,
                              currentStep: { trainer.step },
                              trainStep: { let r = try trainer.trainStep(); return (r.step, r.line) },
                              save: { try trainer.save(to: store, stage: p.stage.rawValue, metadata: $0) },
                              restore: { try trainer.resume(from: $0) },
                              validate: valPairs.isEmpty ? nil : { ("validation loss", trainer.loss(on: valPairs)) },
                              progress: progress)
    if let outcome { return outcome }
    try best.load(into: model.lm)
    if best.value.isFinite { _ = progress(.message(String(format: "kept the weights of step %d (validation loss %.4f)", best.step, best.value))) }
    try model.save(directory: p.output, force: true)
    return .finished(output: p.output)
}
