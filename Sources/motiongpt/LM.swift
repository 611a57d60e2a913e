import ArgumentParser
import Foundation
import Generation

/// `motiongpt lm`: run any Hugging Face T5 folder on a prompt and print only the generated text.
struct LM: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a T5 / Flan-T5 model folder (config.json, model.safetensors, spiece.model).")

    @Option(name: .long, help: "Model folder.")
    var model: String

    @Option(name: .long, help: "Input text.")
    var prompt: String

    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens: Int = 64

    @Option(name: .long, help: "Sampling temperature (turns sampling on).")
    var temperature: Float?

    @Option(name: .long, help: "Sample from the k most likely tokens (turns sampling on).")
    var topK: Int?

    @Option(name: .long, help: "Sample from the smallest set of tokens with this much probability (turns sampling on).")
    var topP: Float?

    @Option(name: .long, help: "Penalty for tokens already generated (1 is none).")
    var repetitionPenalty: Float = 1

    @Option(name: .long, help: "Beam search with this many beams.")
    var beams: Int = 1

    @Option(name: .long, help: "Seed for sampling.")
    var seed: UInt64 = 0

    func run() throws {
        var options = GenerationOptions()
        options.maxNewTokens = maxTokens
        options.doSample = temperature != nil || topK != nil || topP != nil
        options.temperature = temperature ?? 1
        options.topK = topK ?? 0
        options.topP = topP ?? 1
        options.repetitionPenalty = repetitionPenalty
        options.numBeams = beams
        options.seed = seed
        try options.validate()   // before loading weights: bad options fail at once
        let pipeline = try T5TextPipeline(directory: URL(fileURLWithPath: model))
        print(try pipeline.generate(prompt, options: options))
    }
}
