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

    public init(directory: URL) throws {
        let text = try T5Family.loadText(try ModelFolder(directory))
        model = text.model
        tokenizer = text.tokenizer
    }

    public init(_ text: T5TextModel) {
        model = text.model
        tokenizer = text.tokenizer
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
