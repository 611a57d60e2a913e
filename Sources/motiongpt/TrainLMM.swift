import ArgumentParser
import Foundation
import ModelHub
import MotionDiffusion
import TensorEngine
import Training

/// `motiongpt train lmm`: the Large Motion Model's two stages.
struct TrainLMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lmm",
        abstract: "Train the Large Motion Model: unconditional pretraining, then fine-tuning with text.",
        discussion: """
        --stage pretrain: random crops of the train split's clips at random frame rates (every k-th \
        frame for k in --downsample, velocities recomputed for the new rate), a ratio r ~ U(0, 1) of \
        each sample's (frame, part) cells replaced by the mask token (--no-random-masking turns it off), \
        x0-prediction MSE on every present cell. --stage finetune --init PRETRAINED: the same with the \
        text condition (the sentence encoder's per-token features, dropped with p 0.1 for classifier-free \
        guidance). Writes --out (config.json naming the text encoder relative to it, model.safetensors, \
        mean.npy, std.npy) with the weights of the lowest validation x0 error on --val-split; the test \
        split is never read. Tools/train-lmm.sh runs both stages for the bundled model.

        Example: motiongpt train lmm --stage pretrain --data Data/cmu-mocap-h3d --out runs/lmm-pre --mirror
        """)

    @Option(name: .long, help: "pretrain or finetune.") var stage: LMMStage
    @Option(name: .long, help: "HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt, Mean.npy/Std.npy).") var data: String
    @Option(name: .long, help: "Output LMM folder.") var out: String
    @Option(name: .long, help: ArgumentHelp("Fine-tuning: the pretrained LMM folder to start from.", valueName: "dir")) var `init`: String?
    @Option(name: .long, help: ArgumentHelp("Sentence-encoder folder (default: the bundled Models/text-encoder).", valueName: "dir")) var textEncoder: String?
    @Option(name: .long) var steps: Int = 2000
    @Option(name: .long) var batchSize: Int = 16
    @Option(name: .long) var lr: Float = 2e-4
    @Option(name: .long) var warmup: Int = 100
    @Option(name: .long, help: "Cosine decay of the learning rate to this value.") var cosineFloor: Float = 1e-5
    @Option(name: .long) var weightDecay: Float = 0
    @Option(name: .long, help: "Shortest random crop in frames.") var minFrames: Int = 24
    @Option(name: .long, help: "Longest random crop in frames (at most the model's max_seq_len).") var maxFrames: Int = 120
    @Option(name: .long, help: ArgumentHelp("Frame-rate downsampling factors, comma-separated (default: 1,2,3 in pretraining, 1 in fine-tuning).", valueName: "k,...")) var downsample: String?
    @Flag(name: .long, help: "Train without random part masking (the paper's ablation).") var noRandomMasking = false
    @Option(name: .long, help: "Probability of dropping the text condition (classifier-free guidance).") var condDrop: Float = 0.1
    @Option(name: .long, help: "Pretraining: width of one part token (10 parts a frame).") var partDim: Int = 32
    @Option(name: .long, help: "Pretraining: ArtAttention layers.") var layers: Int = 4
    @Option(name: .long, help: "Pretraining: width of the timestep embedding.") var timeDim: Int = 512
    @Option(name: .long, help: "Pretraining: text tokens the condition holds.") var textTokens: Int = 32
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Held-out split for validation.") var valSplit: String = "val"
    @Flag(name: .long, help: "Train on each clip's left-right mirror too (captions with left/right swapped).") var mirror = false
    @Flag(name: .long, help: "Write the weights in F16 (bundled models).") var f16 = false
    @OptionGroup var loopOptions: LoopOptions

    func run() throws {
        guard batchSize >= 1 else { throw UserError("--batch-size must be positive") }
        guard lr > 0, lr.isFinite else { throw UserError("--lr must be positive") }
        guard minFrames >= 2, maxFrames >= minFrames else { throw UserError("--min-frames must be at least 2 and --max-frames at least --min-frames") }
        guard condDrop >= 0, condDrop < 1 else { throw UserError("--cond-drop must be in [0, 1)") }
        if stage == .finetune && `init` == nil { throw UserError("--stage finetune needs --init PRETRAINED_DIR") }
        let factors: [Int]
        if let downsample {
            let parts = downsample.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw UserError("--downsample must be positive integers separated by commas, got \"\(downsample)\"") }
            factors = parts.map { $0! }
        } else { factors = stage == .pretrain ? [1, 2, 3] : [1] }
        let text = try textEncoderFolder(textEncoder)
        var p = LMMTrainingParameters(stage: stage, data: URL(fileURLWithPath: data), output: URL(fileURLWithPath: out), textEncoder: text, steps: steps)
        p.initial = `init`.map { URL(fileURLWithPath: $0) }
        p.loop = try loopOptions.loop(steps: steps)
        if loopOptions.validateEvery == nil { p.loop.validateEvery = 100 }
        p.valSplit = valSplit; p.mirror = mirror; p.dtype = f16 ? .float16 : .float32
        p.config.latentPartDim = partDim; p.config.numLayers = layers; p.config.timeEmbedDim = timeDim; p.config.textMaxTokens = textTokens
        p.config.datasetNames = ["all", "humanml3d"]; p.config.condDropRate = condDrop
        p.options.batchSize = batchSize; p.options.learningRate = lr; p.options.warmupSteps = warmup
        p.options.cosineFloor = cosineFloor; p.options.weightDecay = weightDecay; p.options.minFrames = minFrames
        p.options.maxFrames = maxFrames; p.options.downsampleFactors = factors; p.options.randomMasking = !noRandomMasking
        p.options.conditionDropRate = condDrop; p.options.seed = seed
        try runTraining { try trainLMM(p, progress: $0) }
    }
}

extension LMMStage: ExpressibleByArgument {}
