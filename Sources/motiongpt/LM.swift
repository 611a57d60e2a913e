import ArgumentParser
import Foundation
import Generation
import ModelHub

/// `motiongpt lm`: run any Hugging Face T5 folder on a prompt and print only the generated text.
struct LM: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a T5 / Flan-T5 model folder (config.json, model.safetensors, spiece.model).",
        discussion: """
        Greedy unless a sampling option is given; prints only the generated text.

        Example: motiongpt lm --model flan-t5-small --prompt "translate English to German: hello" --beams 4
        """)

    @Option(name: .long, help: "Model folder.") var model: String
    @Option(name: .long, help: "Input text.") var prompt: String
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let options = try sampling.generation(sampleByDefault: false, maxTokens: 64)   // before loading weights: bad options fail at once
        let pipeline = try T5TextPipeline(directory: URL(fileURLWithPath: model))
        print(try pipeline.generate(prompt, options: options))
    }
}
