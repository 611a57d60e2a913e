import ArgumentParser
import Foundation
import ModelHub
import TensorEngine

/// `motiongpt export MODEL -o OUT`: copy a MotionGPT model folder, with F16 weights for bundling.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a MotionGPT model folder again, with F16 weights (--f16) for bundling, and its caption vocabulary.",
        discussion: """
        The folder is loaded and saved through the model-folder layer, so the copy is checked as it is written. \
        --vocabulary gives the training caption words (one a line) that generate's unknown-word note uses, when \
        the folder has none yet.

        Example: motiongpt export runs/default/motiongpt -o Models/default --f16
        """)

    @Argument(help: "MotionGPT model folder.") var input: String
    @Option(name: .shortAndLong, help: "Output folder.") var output: String
    @Flag(name: .long, help: "Store the weights as F16 (half the size; loading widens them to F32).") var f16 = false
    @Option(name: .long, help: "File of training caption words, one a line (vocabulary.txt).") var vocabulary: String?
    @Flag(name: .long, help: "Overwrite an existing model in the output folder.") var force = false

    func run() throws {
        let model = try MotionGPTModel.load(directory: URL(fileURLWithPath: input))
        if let vocabulary { model.trainingVocabulary = try MotionGPTModel.readVocabulary(URL(fileURLWithPath: vocabulary)) }
        let out = URL(fileURLWithPath: output)
        try model.save(directory: out, force: force, dtype: f16 ? .float16 : .float32)
        // Check what was written: it must load back through the same path users take.
        let back = try MotionGPTModel.load(directory: out)
        print("wrote \(out.path): T5 d_model \(back.lm.config.dModel), \(back.lm.parameterCount) LM weights, \(back.motionTokenizer.model.parameterCount) tokenizer weights, \(f16 ? "F16" : "F32")\(back.trainingVocabulary.map { ", \($0.count) caption words" } ?? "")")
    }
}
