import ArgumentParser
import Foundation

/// The `motiongpt` command line. Subcommands are thin: parse, call a library, print.
@main
struct MotionGPTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motiongpt",
        abstract: "Generate and understand human motion with language models (MotionGPT, Large Motion Model).",
        version: MotionGPTVersion.string,
        subcommands: [Bench.self, LM.self, Train.self, Tokenize.self, Detokenize.self, ConvertCheckpoint.self, Generate.self, Caption.self, Predict.self, Inbetween.self, Chat.self, Convert.self, Render.self, Fuzz.self]
    )
}

enum MotionGPTVersion {
    static let string = "0.1.0"
}

/// A user error: printed as one line on standard error, exit status 1.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
