import ArgumentParser
import Evaluation
import Foundation
import ModelHub
import TensorEngine

/// The `motiongpt` command line. Subcommands are thin: parse, call a library, print.
@main
struct MotionGPTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motiongpt",
        abstract: "Generate and understand human motion with language models (MotionGPT, Large Motion Model).",
        discussion: """
        Every command works with the bundled model (Models/default) or any model folder given with --model.

        Example: motiongpt generate "a person walks forward" -o walk.bvh && motiongpt render walk.bvh -o walk.gif
        """,
        version: MotionGPTVersion.string,
        subcommands: [Generate.self, Caption.self, Predict.self, Inbetween.self, Edit.self, Chat.self, Convert.self, Render.self,
                      Tokenize.self, Detokenize.self, LM.self, Embed.self, Train.self, Evaluate.self, Metric.self, ConvertCheckpoint.self, Export.self, Bench.self, Fuzz.self]
    )

    /// Runs the command; library errors become one line with the flag words the library leaves out.
    /// (ModelHub's families, `ModelRegistry.builtInFamilies`, are in the shared registry from the start;
    /// families of targets above it are registered here first, so any command's `ModelHub.load` knows them.)
    static func main() {
        ModelRegistry.shared.register(MotionTextEvaluator.family)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as UserError {
            exit(withError: e)
        } catch let e as ClassifiedError {
            exit(withError: UserError(cliMessage(e)))
        } catch {
            exit(withError: error)
        }
    }
}

/// A library error as the CLI says it: outputs that exist get the flag that replaces them.
func cliMessage(_ error: Error) -> String {
    let text = "\(error)"
    if text.hasSuffix("already exists") { return text + " (use --force to overwrite)" }
    return text
}

enum MotionGPTVersion {
    static let string = "0.2.0"
}

/// A user error: printed as one line on standard error, exit status 1.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
