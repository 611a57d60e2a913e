import ArgumentParser
import Foundation
import MotionT5
import NeuralNetwork
import Training

/// Options of the language-model stages.
struct LMStageOptions: ParsableArguments {
    @Option(name: .long, help: "HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt).") var data: String
    @Option(name: .long) var steps: Int = 1000
    @Option(name: .long) var batchSize: Int = 16
    @Option(name: .long) var lr: Float = 2e-4
    @Option(name: .long) var warmup: Int = 0
    @Option(name: .long, help: "Cosine decay of the learning rate to this value (default: constant).") var cosineFloor: Float?
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Held-out split for the validation loss.") var valSplit: String = "val"
    @Flag(name: .long, help: "Add left-right mirrored motions (captions with left/right swapped).") var mirror = false
    @OptionGroup var loopOptions: LoopOptions

    func parameters(_ stage: LMStage, output: String) throws -> LMTrainingParameters {
        guard batchSize > 0 else { throw UserError("--batch-size must be positive") }
        guard lr > 0, lr.isFinite else { throw UserError("--lr must be positive") }
        var p = LMTrainingParameters(stage: stage, data: URL(fileURLWithPath: data), output: URL(fileURLWithPath: output), steps: steps)
        p.loop = try loopOptions.loop(steps: steps)
        if loopOptions.validateEvery == nil { p.loop.validateEvery = 100 }
        p.valSplit = valSplit; p.mirror = mirror
        p.options.batchSize = batchSize; p.options.learningRate = lr; p.options.warmupSteps = warmup
        p.options.seed = seed; p.options.cosineFloor = cosineFloor
        return p
    }
}

/// `motiongpt train pretrain`: stage 2, from a T5 (pretrained folder or a fresh configuration) and a
/// trained motion tokenizer.
struct TrainPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Stage 2: motion-language pretraining (text<->motion pairs, prediction, span corruption).",
        discussion: """
        Starts from a Hugging Face T5 folder (--lm) or random weights of a T5 config.json (--lm-config with \
        --spiece); the vocabulary grows by the motion tokens. Writes --model with the weights of the best \
        validation loss.

        Example: motiongpt train pretrain --data Data/cmu-mocap-h3d --model runs/pre --motion-tokenizer runs/vq --lm-config t5.json --spiece spiece.model
        """)

    @OptionGroup var stage: LMStageOptions
    @Option(name: .long, help: "Output model directory.") var model: String
    @Option(name: .long, help: "Trained motion tokenizer folder (from train tokenizer).") var motionTokenizer: String
    @Option(name: .long, help: "Hugging Face T5 / Flan-T5 folder to start from (config.json, model.safetensors, spiece.model).") var lm: String?
    @Option(name: .long, help: "Instead of --lm: a T5 config.json to start from random weights ...") var lmConfig: String?
    @Option(name: .long, help: "... and the spiece.model of its text vocabulary.") var spiece: String?

    func run() throws {
        var p = try stage.parameters(.pretrain, output: model)
        p.motionTokenizer = URL(fileURLWithPath: motionTokenizer)
        if let lm {
            p.start = .folder(URL(fileURLWithPath: lm))
        } else if let lmConfig, let spiece {
            let cfg: T5Config
            do { cfg = try JSONDecoder().decode(T5Config.self, from: Data(contentsOf: URL(fileURLWithPath: lmConfig))) }
            catch { throw UserError("--lm-config \(lmConfig): \(error)") }
            p.start = .fresh(config: cfg, spiece: URL(fileURLWithPath: spiece))
        } else {
            throw UserError("give --lm T5_FOLDER, or --lm-config config.json with --spiece spiece.model")
        }
        try runTraining { try trainLanguageModel(p, progress: $0) }
    }
}

/// `motiongpt train instruct`: stage 3, instruction tuning over the task templates.
struct TrainInstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Stage 3: instruction tuning over the task templates (the bundled set or --templates FILE).",
        discussion: """
        Example: motiongpt train instruct --data Data/cmu-mocap-h3d --model runs/pre --out runs/motiongpt --steps 500
        """)

    @OptionGroup var stage: LMStageOptions
    @Option(name: .long, help: "Model directory to start from (from train pretrain or convert-checkpoint).") var model: String
    @Option(name: .long, help: "Output model directory.") var out: String
    @Option(name: .long, help: "Template file in MotionGPT's format (default: the bundled set).") var templates: String?

    func run() throws {
        var p = try stage.parameters(.instruct, output: out)
        p.model = URL(fileURLWithPath: model)
        p.templates = templates.map { URL(fileURLWithPath: $0) }
        try runTraining { try trainLanguageModel(p, progress: $0) }
    }
}
