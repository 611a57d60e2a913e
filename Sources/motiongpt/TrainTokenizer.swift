import ArgumentParser
import Foundation
import MotionData
import MotionVQ
import NeuralNetwork
import TensorEngine
import Training

/// `motiongpt train`: the training stages.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the motion tokenizer (stage 1) or the language model (stages 2 and 3).",
        subcommands: [TrainTokenizer.self, TrainPretrain.self, TrainInstruct.self])
}

/// The newest readable checkpoint of `store` for `--resume`, saying which damaged files were passed over.
func latestCheckpoint(_ store: CheckpointStore) throws -> TrainingState {
    guard let state = store.latestValid() else { throw UserError("--resume: no readable checkpoint in \(store.directory.path)") }
    for (url, reason) in store.skipped { print("skipped \(url.lastPathComponent): \(reason)") }
    return state
}

/// Refuses to replace a finished output (`file` inside `dir`) unless resuming or forced.
func checkTrainingOutput(_ dir: URL, file: String, resume: Bool, force: Bool) throws {
    if !resume && !force && FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path) {
        throw UserError("\(dir.path) already holds a \(file == "config.json" ? "model" : "tokenizer") (use --force to overwrite or --resume to continue)")
    }
}

/// `motiongpt train tokenizer`: MotionGPT's stage 1 on random windows of HumanML3D-feature motions.
struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train the VQ-VAE motion tokenizer on random windows of motion features.",
        discussion: """
        --data takes a HumanML3D-layout folder (new_joint_vecs/, train.txt/val.txt, Mean.npy/Std.npy) or \
        feature files [T, 263] (.npy). Mean/Std come from the folder (or beside the file), else from the data. \
        Writes the tokenizer to --out (config.json, model.safetensors, mean.npy, std.npy) and checkpoints to \
        --out/checkpoints; --resume continues from the last one.
        """)

    @Option(name: .long, help: "HumanML3D-layout folder or .npy feature file (repeatable).")
    var data: [String]

    @Option(name: .long, help: "Held-out data for the final reconstruction error (default: the folder's val split; with files, the training clips).")
    var val: [String] = []

    @Option(name: .long, help: "Split file of a data folder used as held-out data (val, test).")
    var valSplit: String = "val"

    @Option(name: .long, help: "Output tokenizer folder.")
    var out: String

    @Option(name: .long, help: "Architecture: default (MotionGPT's), small (width 128) or a config.json path.")
    var config: String = "default"

    @Option(name: .long, help: "Codebook size (overrides the config).")
    var codes: Int?

    @Option(name: .long) var steps: Int = 2000
    @Option(name: .long) var batchSize: Int = 32
    @Option(name: .long, help: "Window length in frames (multiple of 4).") var window: Int = 64
    @Option(name: .long) var lr: Float = 2e-4
    @Option(name: .long) var warmup: Int = 0
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Print a progress line every N steps.") var logEvery: Int = 10
    @Option(name: .long, help: "Write a checkpoint every N steps.") var checkpointEvery: Int = 200

    @Flag(name: .long, help: "Add each clip's left-right mirror (HumanML3D's augmentation).")
    var mirror = false

    @Flag(name: .long, help: "Turn off dead-code reset (plain EMA codebook), for comparison.")
    var noReset = false

    @Flag(name: .long, help: "Continue from the last checkpoint in --out/checkpoints.")
    var resume = false

    @Flag(name: .long, help: "Overwrite an existing tokenizer in --out.")
    var force = false

    func run() throws {
        let outDir = URL(fileURLWithPath: out)
        let ckptDir = outDir.appendingPathComponent("checkpoints")
        try checkTrainingOutput(outDir, file: "model.safetensors", resume: resume, force: force)
        guard steps > 0, batchSize > 0, logEvery > 0, checkpointEvery > 0 else { throw UserError("--steps, --batch-size, --log-every and --checkpoint-every must be positive") }
        // Validate everything before the long work.
        var vq = try loadConfig()
        if let codes { vq.codeNum = codes }
        if noReset { vq.quantizer = "ema" }
        do { try vq.validate() } catch { throw UserError("\(error)") }
        guard window >= vq.framesPerCode, window % vq.framesPerCode == 0 else {
            throw UserError("--window must be a positive multiple of \(vq.framesPerCode) frames, got \(window)")
        }
        var train = try MotionSources.load(data, split: "train", nfeats: vq.nfeats)
        let valClips = val.isEmpty ? (try? MotionSources.load(data, split: valSplit, nfeats: vq.nfeats, requireSplit: true)) ?? train
                                   : try MotionSources.load(val, split: valSplit, nfeats: vq.nfeats)
        let normalizer = try MotionSources.normalizer(for: data, clips: train)
        if mirror {
            let m = try train.features.map { try MotionFeatures.mirrored($0) }
            train = MotionClips(names: train.names + train.names.map { "M" + $0 }, features: train.features + m)
        }

        var options = TokenizerTrainingOptions()
        options.steps = steps; options.batchSize = batchSize; options.window = window; options.learningRate = lr
        options.warmupSteps = warmup; options.seed = seed; options.logEvery = logEvery; options.checkpointEvery = checkpointEvery
        let model = try VQVAE(config: vq, seed: seed)
        let tokenizer = try MotionTokenizer(model: model, normalizer: normalizer)
        let trainer = try TokenizerTrainer(tokenizer: tokenizer, clips: train, options: options)
        let store = CheckpointStore(directory: ckptDir, keep: 3)
        if resume {
            let state = try latestCheckpoint(store)
            try trainer.resume(from: state)
            print("resumed from \(state.url?.lastPathComponent ?? "checkpoint") at step \(trainer.step)")
        }
        print("training tokenizer: \(train.count) clips, \(train.frames) frames\(mirror ? " (with mirrors)" : ""); " +
              "\(vq.codeNum) codes of width \(vq.codeDim), \(model.parameterCount) weights; \(steps) steps of \(batchSize) x \(window) frames")
        if trainer.step == 0 {
            let r0 = try TokenizerTrainer.evaluate(tokenizer, clips: valClips)
            print(String(format: "before training: held-out pose error %.1f mm, MPJPE %.1f mm (root-aligned; %.1f mm global), feature error %.4f", r0.poseError, r0.mpjpe, r0.globalError, r0.featureError))
        }
        InterruptFlag.install()
        while trainer.step < steps {
            let p = trainer.trainStep()
            if p.step % logEvery == 0 || p.step == steps { print(p.line); fflush(stdout) }
            if p.step % checkpointEvery == 0 || p.step == steps || InterruptFlag.requested {
                let url = try trainer.save(to: store)
                if InterruptFlag.requested {
                    print("interrupted at step \(p.step): saved \(url.path); continue with --resume")
                    throw ExitCode(130)
                }
            }
        }
        let r = try TokenizerTrainer.evaluate(tokenizer, clips: valClips)
        print(String(format: "held-out reconstruction: pose error %.1f mm, MPJPE %.1f mm (root-aligned; %.1f mm global), feature error %.4f, %d distinct codes over %d clips (%d frames)",
                     r.poseError, r.mpjpe, r.globalError, r.featureError, r.distinctCodes, r.clips, r.frames))
        try tokenizer.save(directory: outDir, force: true)
        print("saved tokenizer to \(outDir.path)")
    }

    func loadConfig() throws -> VQVAEConfig {
        switch config {
        case "default": return VQVAEConfig()
        case "small":
            var c = VQVAEConfig(); c.width = 128; c.codeDim = 128; c.outputEmbWidth = 128; c.depth = 3
            return c
        default:
            let url = URL(fileURLWithPath: config)
            guard let data = try? Data(contentsOf: url) else { throw UserError("--config: cannot read \(url.path) (or use default / small)") }
            do { return try JSONDecoder().decode(VQVAEConfig.self, from: data) } catch { throw UserError("--config \(url.path): \(error)") }
        }
    }
}
