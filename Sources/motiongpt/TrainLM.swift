import ArgumentParser
import Foundation
import Generation
import MotionT5
import MotionVQ
import NeuralNetwork
import TensorEngine
import TextTokenizer
import Training

/// Options of the language-model stages.
struct LMStageOptions: ParsableArguments {
    @Option(name: .long, help: "HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt).") var data: String
    @Option(name: .long) var steps: Int = 1000
    @Option(name: .long) var batchSize: Int = 16
    @Option(name: .long) var lr: Float = 2e-4
    @Option(name: .long) var warmup: Int = 0
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Print a progress line every N steps.") var logEvery: Int = 10
    @Option(name: .long, help: "Write a checkpoint every N steps.") var checkpointEvery: Int = 200
    @Option(name: .long, help: "Validation loss every N steps (on the val split).") var validateEvery: Int = 100
    @Option(name: .long, help: "Held-out split for the validation loss.") var valSplit: String = "val"
    @Flag(name: .long, help: "Add left-right mirrored motions (captions with left/right swapped).") var mirror = false
    @Flag(name: .long, help: "Continue from the last checkpoint of this stage.") var resume = false
    @Flag(name: .long, help: "Overwrite an existing output model.") var force = false

    func trainingOptions() throws -> LMTrainingOptions {
        guard steps > 0, batchSize > 0, logEvery > 0, checkpointEvery > 0, validateEvery > 0 else {
            throw UserError("--steps, --batch-size, --log-every, --checkpoint-every and --validate-every must be positive")
        }
        guard lr > 0, lr.isFinite else { throw UserError("--lr must be positive") }
        var o = LMTrainingOptions()
        o.steps = steps; o.batchSize = batchSize; o.learningRate = lr; o.warmupSteps = warmup; o.seed = seed
        o.logEvery = logEvery; o.checkpointEvery = checkpointEvery; o.validateEvery = validateEvery
        return o
    }

    /// Runs a stage: examples from the data folder, pairs from `pair`, progress, validation, checkpoints, save.
    func run(stage: String, model: MotionGPTModel, out: URL, templates: TaskTemplates,
             pair: @escaping (MotionLanguageTasks, MotionTextExample, inout SeededRNG) throws -> LMExample) throws {
        let dataURL = URL(fileURLWithPath: data)
        var opts = MotionTextDataset.Options(); opts.mirror = mirror
        let train = try MotionTextDataset.load(dataURL, tokenizer: model.motionTokenizer, options: opts)
        var vopts = MotionTextDataset.Options(); vopts.split = valSplit
        let val = try? MotionTextDataset.load(dataURL, tokenizer: model.motionTokenizer, options: vopts)
        let tasks = MotionLanguageTasks(model: model, templates: templates)
        // Validation pairs are fixed (seeded once) so the numbers compare across steps and runs.
        var vrng = SeededRNG(seed: 12345)
        let valPairs = try (val ?? []).map { try pair(tasks, $0, &vrng) }
        let trainer = try LMTrainer(model: model, options: try trainingOptions()) { rng, count in
            try (0..<count).map { _ in try pair(tasks, train[rng.nextInt(train.count)], &rng) }
        }
        let store = CheckpointStore(directory: out.appendingPathComponent("checkpoints-\(stage)"), keep: 3)
        if resume {
            let state = try latestCheckpoint(store)
            try trainer.resume(from: state)
            print("resumed from \(state.url?.lastPathComponent ?? "checkpoint") at step \(trainer.step)")
        }
        print("\(stage): \(train.count) training pairs of motion and caption\(mirror ? " (with mirrors)" : ""), \(valPairs.count) validation pairs; " +
              "T5 d_model \(model.lm.config.dModel), \(model.lm.config.numLayers) layers, vocabulary \(model.lm.config.vocabSize); \(steps) steps of \(batchSize)")
        if !valPairs.isEmpty && trainer.step == 0 { print(String(format: "validation loss %.4f (before training)", trainer.loss(on: valPairs))) }
        InterruptFlag.install()
        while trainer.step < steps {
            let p = try trainer.trainStep()
            if p.step % logEvery == 0 || p.step == steps { print(p.line); fflush(stdout) }
            if !valPairs.isEmpty && (p.step % validateEvery == 0 || p.step == steps) {
                print(String(format: "validation loss %.4f at step %d", trainer.loss(on: valPairs), p.step)); fflush(stdout)
            }
            if p.step % checkpointEvery == 0 || p.step == steps || InterruptFlag.requested {
                let url = try trainer.save(to: store, stage: stage)
                if InterruptFlag.requested {
                    print("interrupted at step \(p.step): saved \(url.path); continue with --resume")
                    throw ExitCode(130)
                }
            }
        }
        try model.save(directory: out, force: true)
        print("saved model to \(out.path)")
    }
}

func loadTemplates(_ path: String?) throws -> TaskTemplates {
    if let path { return try TaskTemplates.load(URL(fileURLWithPath: path)) }
    return try TaskTemplates.bundled()
}

/// `motiongpt train pretrain`: stage 2, from a T5 (pretrained folder or a fresh configuration) and a
/// trained motion tokenizer.
struct TrainPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Stage 2: motion-language pretraining (text<->motion pairs, prediction, span corruption).")

    @OptionGroup var stage: LMStageOptions
    @Option(name: .long, help: "Output model directory.") var model: String
    @Option(name: .long, help: "Trained motion tokenizer folder (from train tokenizer).") var motionTokenizer: String
    @Option(name: .long, help: "Hugging Face T5 / Flan-T5 folder to start from (config.json, model.safetensors, spiece.model).") var lm: String?
    @Option(name: .long, help: "Instead of --lm: a T5 config.json to start from random weights ...") var lmConfig: String?
    @Option(name: .long, help: "... and the spiece.model of its text vocabulary.") var spiece: String?

    func run() throws {
        let out = URL(fileURLWithPath: model)
        try checkTrainingOutput(out, file: "config.json", resume: stage.resume, force: stage.force)
        _ = try stage.trainingOptions()
        let motion = try MotionTokenizer.load(directory: URL(fileURLWithPath: motionTokenizer))
        let t5: T5Model, spieceData: Data
        if let lm {
            let dir = URL(fileURLWithPath: lm)
            t5 = try T5Model.load(directory: dir)
            guard let d = try? Data(contentsOf: dir.appendingPathComponent("spiece.model")) else { throw UserError("\(dir.path)/spiece.model: no such file") }
            spieceData = d
        } else if let lmConfig, let spiece {
            let cfg: T5Config
            do { cfg = try JSONDecoder().decode(T5Config.self, from: Data(contentsOf: URL(fileURLWithPath: lmConfig))) }
            catch { throw UserError("--lm-config \(lmConfig): \(error)") }
            t5 = try T5Model(config: cfg, seed: stage.seed)
            guard let d = try? Data(contentsOf: URL(fileURLWithPath: spiece)) else { throw UserError("\(spiece): no such file") }
            spieceData = d
        } else {
            throw UserError("give --lm T5_FOLDER, or --lm-config config.json with --spiece spiece.model")
        }
        // Text + motion vocabulary, as MotionGPT's resize_token_embeddings after add_tokens.
        let probe = try SentencePieceTokenizer(data: spieceData)
        let needed = probe.vocabularySize + motion.config.codeNum + 3
        if t5.config.vocabSize != needed { try t5.resizeTokenEmbeddings(needed, seed: stage.seed) }
        let full = try MotionGPTModel(lm: t5, spieceData: spieceData, motionTokenizer: motion)
        try stage.run(stage: "pretrain", model: full, out: out, templates: MotionLanguageTasks.pretrainTemplates) { tasks, e, rng in
            try tasks.pretrainPair(e, rng: &rng)
        }
    }
}

/// `motiongpt train instruct`: stage 3, instruction tuning over the task templates.
struct TrainInstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Stage 3: instruction tuning over the task templates (the bundled set or --templates FILE).")

    @OptionGroup var stage: LMStageOptions
    @Option(name: .long, help: "Model directory to start from (from train pretrain or convert-checkpoint).") var model: String
    @Option(name: .long, help: "Output model directory.") var out: String
    @Option(name: .long, help: "Template file in MotionGPT's format (default: the bundled set).") var templates: String?

    func run() throws {
        let outURL = URL(fileURLWithPath: out)
        try checkTrainingOutput(outURL, file: "config.json", resume: stage.resume, force: stage.force)
        _ = try stage.trainingOptions()
        let t = try loadTemplates(templates)
        let full = try MotionGPTModel.load(directory: URL(fileURLWithPath: model))
        try stage.run(stage: "instruct", model: full, out: outURL, templates: t) { tasks, e, rng in
            try tasks.instructPair(e, rng: &rng)
        }
    }
}
