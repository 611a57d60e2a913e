import ArgumentParser
import Evaluation
import Foundation
import ModelHub
import TensorEngine
import Training

/// `motiongpt train evaluator`: our text-motion evaluator, a motion encoder trained contrastively
/// against the frozen sentence encoder.
struct TrainEvaluator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluator",
        abstract: "Train our text-motion evaluator (a motion encoder against the frozen sentence encoder, InfoNCE).",
        discussion: """
        Random crops of the train split's clips (distinct clips per batch), each with one of its \
        whole-clip captions; symmetric InfoNCE with a temperature, negatives whose captions are near \
        duplicates (sentence-vector cosine above --negative-threshold) left out, as TMR does. The \
        sentence vectors of the captions are computed once (the text encoder is frozen). Writes --out \
        (config.json naming the text encoder relative to it, model.safetensors, mean.npy, std.npy) with \
        the weights of the lowest validation loss on --val-split; the test split is never read.

        Example: motiongpt train evaluator --data Data/cmu-mocap-h3d --out runs/evaluator --mirror
        """)

    @Option(name: .long, help: "HumanML3D-layout folder (new_joint_vecs/, texts/, train.txt, val.txt, Mean.npy/Std.npy).") var data: String
    @Option(name: .long, help: "Output evaluator folder.") var out: String
    @Option(name: .long, help: ArgumentHelp("Sentence-encoder folder (default: the bundled Models/text-encoder).", valueName: "dir")) var textEncoder: String?
    @Option(name: .long) var steps: Int = 800
    @Option(name: .long, help: "Distinct clips per batch.") var batchSize: Int = 32
    @Option(name: .long) var lr: Float = 3e-4
    @Option(name: .long) var warmup: Int = 100
    @Option(name: .long, help: "Cosine decay of the learning rate to this value.") var cosineFloor: Float = 1e-5
    @Option(name: .long) var weightDecay: Float = 0.05
    @Option(name: .long, help: "Shortest random crop in frames (whole clip when shorter).") var minWindow: Int = 40
    @Option(name: .long, help: "Longest random crop in frames.") var maxWindow: Int = 196
    @Option(name: .long, help: "InfoNCE temperature.") var temperature: Float = 0.1
    @Option(name: .long, help: "Leave out negatives whose captions' sentence vectors have a cosine above this.") var negativeThreshold: Float = 0.8
    @Option(name: .long, help: "Width of the motion transformer.") var width: Int = 128
    @Option(name: .long, help: "Transformer blocks of the motion encoder.") var layers: Int = 2
    @Option(name: .long, help: "Width of the joint embedding space.") var dimension: Int = 256
    @Option(name: .long) var dropout: Float = 0.2
    @Option(name: .long) var seed: UInt64 = 0
    @Option(name: .long, help: "Held-out split for validation.") var valSplit: String = "val"
    @Flag(name: .long, help: "Draw each clip's left-right mirror half the time (captions with left/right swapped).") var mirror = false
    @Flag(name: .long, help: "Write the weights in F16 (bundled models).") var f16 = false
    @OptionGroup var loopOptions: LoopOptions

    func run() throws {
        guard batchSize >= 2 else { throw UserError("--batch-size must be at least 2") }
        guard lr > 0, lr.isFinite else { throw UserError("--lr must be positive") }
        guard temperature > 0, temperature.isFinite else { throw UserError("--temperature must be positive") }
        guard minWindow >= 4, maxWindow >= minWindow else { throw UserError("--min-window must be at least 4 and --max-window at least --min-window") }
        guard width > 0, layers >= 0, dimension > 0, width % 4 == 0 else { throw UserError("--width (a multiple of 4 heads), --layers and --dimension must be positive") }
        guard dropout >= 0, dropout < 1 else { throw UserError("--dropout must be in [0, 1)") }
        let text = try textEncoderFolder(textEncoder)
        var p = EvaluatorTrainingParameters(data: URL(fileURLWithPath: data), output: URL(fileURLWithPath: out), textEncoder: text, steps: steps)
        p.loop = try loopOptions.loop(steps: steps)
        if loopOptions.validateEvery == nil { p.loop.validateEvery = 25 }
        p.valSplit = valSplit; p.mirror = mirror; p.dtype = f16 ? .float16 : .float32
        p.config.temperature = temperature; p.config.hiddenSize = width; p.config.numLayers = layers
        p.config.intermediateSize = 2 * width; p.config.embeddingDimension = dimension; p.config.dropout = dropout
        p.options.batchSize = batchSize; p.options.learningRate = lr; p.options.warmupSteps = warmup
        p.options.cosineFloor = cosineFloor; p.options.weightDecay = weightDecay; p.options.minWindow = minWindow
        p.options.maxWindow = maxWindow; p.options.negativeThreshold = negativeThreshold; p.options.seed = seed
        try runTraining { try trainEvaluator(p, progress: $0) }
    }
}
