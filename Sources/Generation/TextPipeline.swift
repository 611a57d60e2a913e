import Foundation
import ModelHub
import MotionT5
import NeuralNetwork
import TensorEngine
import TextTokenizer

/// A Hugging Face T5 folder ready to answer prompts (loaded through `T5Family`): `config.json`,
/// `model.safetensors` and `spiece.model`, plus `added_tokens.json` when present. Any folder with T5
/// fields loads, a MotionGPT folder included (its LM answers as plain T5).
public final class T5TextPipeline {
    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer
    /// The folder's `generation_config.json`, if any.
    public let generationConfig: GenerationConfig?

    public init(directory: URL) throws {
        let text = try T5Family.loadText(try ModelFolder(directory))
        model = text.model
        tokenizer = text.tokenizer
        generationConfig = text.generationConfig
    }

    public init(_ text: T5TextModel) {
        model = text.model
        tokenizer = text.tokenizer
        generationConfig = text.generationConfig
    }

    /// What `model.generate(input_ids)` with no other arguments does for this folder: transformers'
    /// defaults (greedy, max_length 20, i.e. 19 new tokens) under the folder's `generation_config.json`.
    public var defaultOptions: GenerationOptions {
        var o = GenerationOptions()
        let g = generationConfig ?? GenerationConfig()
        o.maxNewTokens = g.maxNewTokens ?? max(1, (g.maxLength ?? 20) - 1)
        o.minNewTokens = g.minNewTokens ?? 0
        o.doSample = g.doSample ?? false
        o.temperature = g.temperature ?? 1
        // transformers' top_k defaults to 50, which only matters when sampling.
        o.topK = g.topK ?? (o.doSample ? 50 : 0)
        o.topP = g.topP ?? 1
        o.repetitionPenalty = g.repetitionPenalty ?? 1
        o.numBeams = g.numBeams ?? 1
        o.lengthPenalty = g.lengthPenalty ?? 1
        o.earlyStopping = g.earlyStopping ?? false
        return o
    }

    /// The model's answer to `prompt`, decoded without special tokens. `onToken` sees each generated
    /// token as it comes and may stop the generation.
    public func generate(_ prompt: String, options: GenerationOptions,
                         onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> String {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw GenerationError.invalidInput("the prompt is empty")
        }
        let ids = tokenizer.encode(prompt)
        let out = try Generator(model: model).generate([ids], options: options, onToken: onToken)[0]
        return tokenizer.decode(out, skipSpecialTokens: true)
    }
}
