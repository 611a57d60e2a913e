import ArgumentParser
import Foundation
import Generation
import ModelHub

/// `motiongpt convert-checkpoint`: MotionGPT's released PyTorch checkpoints to a model directory.
struct ConvertCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-checkpoint",
        abstract: "Convert a MotionGPT checkpoint (.tar/.ckpt: tokenizer under vae., T5 under lm.language_model.) to a model directory.",
        discussion: """
        A full checkpoint needs the Flan-T5 folder it was trained with (--tokenizer DIR with spiece.model and \
        config.json) and the dataset statistics (--stats DIR with Mean.npy and Std.npy). A tokenizer-only \
        checkpoint becomes DIR/motion_tokenizer/. Evaluator weights (t2m_*) are skipped and reported.

        Example: motiongpt convert-checkpoint motiongpt_s3_h3d.tar -o models/motiongpt --tokenizer flan-t5-base/ --stats HumanML3D/
        """)

    @Argument(help: "MotionGPT checkpoint file.") var input: String
    @Option(name: .shortAndLong, help: "Output model directory.") var output: String
    @Option(name: .long, help: "Flan-T5 folder (spiece.model, config.json).") var tokenizer: String?
    @Option(name: .long, help: "Folder with Mean.npy and Std.npy of the training data.") var stats: String
    @Flag(name: .long, help: "Overwrite an existing model directory.") var force = false

    func run() throws {
        let input = URL(fileURLWithPath: self.input)
        guard FileManager.default.fileExists(atPath: input.path) else { throw UserError("\(input.path): no such file") }
        let report = try MotionGPTCheckpoint.convert(checkpoint: input, tokenizerFolder: tokenizer.map { URL(fileURLWithPath: $0) },
                                                     statistics: URL(fileURLWithPath: stats), to: URL(fileURLWithPath: output), force: force)
        let vq = report.tokenizerConfig
        var line = "converted \(report.kind == "full" ? "MotionGPT model" : "motion tokenizer") to \(output): tokenizer \(vq.codeNum) codes x \(vq.codeDim), width \(vq.width), depth \(vq.depth)"
        if let lm = report.lmConfig { line += "; T5 d_model \(lm.dModel), \(lm.numLayers) layers, vocabulary \(lm.vocabSize)" }
        if !report.skipped.isEmpty { line += "; skipped " + report.skipped.sorted { $0.key < $1.key }.map { "\($0.value) under \($0.key)." }.joined(separator: ", ") }
        print(line)
    }
}
