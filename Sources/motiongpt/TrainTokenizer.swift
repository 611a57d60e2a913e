import ArgumentParser
import Foundation
import MotionVQ
import NeuralNetwork
import Training

/// `motiongpt train`: the training stages.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the motion tokenizer (stage 1), the language model (stages 2 and 3) or our evaluator.",
        discussion: """
        Each stage prints progress, writes checksummed checkpoints (the last 3 kept), continues with \
        --resume bit for bit, saves a checkpoint on Ctrl-C, and outputs the weights of its best \
        validation value. Tools/train-default.sh runs all three for the bundled model.

        Example: motiongpt train tokenizer --data Data/cmu-mocap-h3d --out runs/vq --config small --mirror
        """,
        subcommands: [TrainTokenizer.self, TrainPretrain.self, TrainInstruct.self, TrainEvaluator.self, TrainLMM.self])
}

/// Loop flags every training command shares.
struct LoopOptions: ParsableArguments {
    @Option(name: .long, help: "Print a progress line every N steps.") var logEvery: Int = 10
    @Option(name: .long, help: "Write a checkpoint every N steps.") var checkpointEvery: Int = 200
    @Option(name: .long, help: "Validate every N steps (default: at every checkpoint); the best weights are the output.") var validateEvery: Int?
    @Flag(name: .long, help: "Continue from the last checkpoint of this run.") var resume = false
    @Flag(name: .long, help: "Overwrite an existing output.") var force = false

    func loop(steps: Int) throws -> TrainingLoop {
        guard steps > 0, logEvery > 0, checkpointEvery > 0, (validateEvery ?? 1) > 0 else {
            throw UserError("--steps, --log-every, --checkpoint-every and --validate-every must be positive")
        }
        var l = TrainingLoop(steps: steps)
        l.logEvery = logEvery; l.checkpointEvery = checkpointEvery; l.validateEvery = validateEvery ?? checkpointEvery
        l.resume = resume; l.force = force
        return l
    }
}

/// Runs a library trainer, printing its events; a stopped run exits 130 with its checkpoint named.
func runTraining(_ body: ((TrainingEvent) -> IterationControl) throws -> TrainingOutcome) throws {
    let outcome: TrainingOutcome
    do {
        outcome = try body { event in
            switch event {
            case .message(let s): print(s)
            case .resumed(let step, let url, let skipped):
                for (u, reason) in skipped { print("skipped \(u.lastPathComponent): \(reason)") }
                print("resumed from \(url?.lastPathComponent ?? "checkpoint") at step \(step)")
            case .step(_, let line): print(line)
            case .validation(let step, let metric, let value, let best):
                print(String(format: "%@ %.4f at step %d%@", metric, value, step, best ? " (best so far: kept)" : ""))
            case .checkpoint: break
            }
            fflush(stdout)
            return .proceed
        }
    } catch let e as TrainingError {
        switch e {
        case .outputExists: throw UserError("\(e.description) (use --force to overwrite or --resume to continue)")
        case .noCheckpoint: throw UserError("--resume: \(e.description)")
        case .badParameters: throw UserError(e.description)
        }
    }
    switch outcome {
    case .finished(let url): print("saved to \(url.path)")
    case .stopped(let step, let url):
        print("interrupted at step \(step): saved \(url.path); continue with --resume")
        throw ExitCode(130)
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
        Writes the tokenizer to --out (config.json, model.safetensors, mean.npy, std.npy) with the weights of \
        the best held-out MPJPE, and checkpoints to --out/checkpoints; --resume continues from the last one.

        Example: motiongpt train tokenizer --data Data/cmu-mocap-h3d --out runs/vq --config small --mirror --steps 2000
        """)

    @Option(name: .long, help: "HumanML3D-layout folder or .npy feature file (repeatable).") var data: [String]
    @Option(name: .long, help: "Held-out data for validation (default: the folder's val split; with files, the training clips).") var val: [String] = []
    @Option(name: .long, help: "Split file of a data folder used as held-out data (val, test).") var valSplit: String = "val"
    @Option(name: .long, help: "Output tokenizer folder.") var out: String
    @Option(name: .long, help: "Architecture: \(VQVAEConfig.presetNames.joined(separator: ", ")) or a config.json path.") var config: String = "default"
    @Option(name: .long, help: "Codebook size (overrides the config).") var codes: Int?
    @Option(name: .long) var steps: Int = 2000
    @Option(name: .long) var batchSize: Int = 32
    @Option(name: .long, help: "Window length in frames (multiple of 4).") var window: Int = 64
    @Option(name: .long) var lr: Float = 2e-4
    @Option(name: .long) var warmup: Int = 0
    @Option(name: .long, help: "Cosine decay of the learning rate to this value (default: constant).") var cosineFloor: Float?
    @Option(name: .long) var seed: UInt64 = 0
    @OptionGroup var loopOptions: LoopOptions
    @Flag(name: .long, help: "Add each clip's left-right mirror (HumanML3D's augmentation).") var mirror = false
    @Flag(name: .long, help: "Turn off dead-code reset (plain EMA codebook), for comparison.") var noReset = false

    func run() throws {
        var vq = try loadConfig()
        if let codes { vq.codeNum = codes }
        if noReset { vq.quantizer = "ema" }
        do { try vq.validate() } catch { throw UserError("\(error)") }
        guard window >= vq.framesPerCode, window % vq.framesPerCode == 0 else {
            throw UserError("--window must be a positive multiple of \(vq.framesPerCode) frames, got \(window)")
        }
        guard batchSize > 0 else { throw UserError("--batch-size must be positive") }
        var p = TokenizerTrainingParameters(data: data, output: URL(fileURLWithPath: out), steps: steps)
        p.validation = val; p.valSplit = valSplit; p.config = vq; p.mirror = mirror
        p.loop = try loopOptions.loop(steps: steps)
        p.options.batchSize = batchSize; p.options.window = window; p.options.learningRate = lr
        p.options.warmupSteps = warmup; p.options.seed = seed; p.options.cosineFloor = cosineFloor
        try runTraining { try trainTokenizer(p, progress: $0) }
    }

    func loadConfig() throws -> VQVAEConfig {
        if let preset = VQVAEConfig.preset(config) { return preset }
        let url = URL(fileURLWithPath: config)
        guard let data = try? Data(contentsOf: url) else { throw UserError("--config: cannot read \(url.path) (or use \(VQVAEConfig.presetNames.joined(separator: " / ")))") }
        do { return try JSONDecoder().decode(VQVAEConfig.self, from: data) } catch { throw UserError("--config \(url.path): \(error)") }
    }
}
