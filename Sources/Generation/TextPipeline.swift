import Foundation
import MotionT5
import TensorEngine
import TextTokenizer

/// A Hugging Face T5 folder ready to answer prompts: `config.json`, `model.safetensors` and
/// `spiece.model`, plus added tokens (`added_tokens.json`, as `save_pretrained` writes them for
/// `<motion_id_N>` and the like) when present.
public final class T5TextPipeline {
    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer

    public init(directory: URL) throws {
        let spiece = directory.appendingPathComponent("spiece.model")
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path) else {
            throw GenerationError.invalidInput("\(directory.path): not a model folder (no config.json)")
        }
        guard FileManager.default.fileExists(atPath: spiece.path) else {
            throw GenerationError.invalidInput("\(spiece.path): no such file (the folder needs its SentencePiece model)")
        }
        tokenizer = try SentencePieceTokenizer(modelURL: spiece)
        try Self.addSavedTokens(to: tokenizer, directory: directory)
        model = try T5Model.load(directory: directory)
        model.train(false)
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw GenerationError.invalidInput("\(directory.path): the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.config.vocabSize)")
        }
    }

    /// Reads `added_tokens.json` (`{"token": id}`) and adds the tokens in id order, checking each lands
    /// on the id the file gives, so ids never silently shift.
    static func addSavedTokens(to tokenizer: SentencePieceTokenizer, directory: URL) throws {
        let url = directory.appendingPathComponent("added_tokens.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        guard let map = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Int] else {
            throw GenerationError.invalidInput("\(url.path): expected an object of token -> id")
        }
        for (token, id) in map.sorted(by: { $0.value < $1.value }) {
            if let known = tokenizer.id(of: token) {
                guard known == id else { throw GenerationError.invalidInput("\(url.path): \(token) has id \(known) in the tokenizer, \(id) in the file") }
                continue
            }
            guard id == tokenizer.vocabularySize else {
                throw GenerationError.invalidInput("\(url.path): \(token) wants id \(id) but the next free id is \(tokenizer.vocabularySize)")
            }
            tokenizer.addTokens([token])
        }
    }

    /// The model's answer to `prompt`, decoded without special tokens.
    public func generate(_ prompt: String, options: GenerationOptions) throws -> String {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw GenerationError.invalidInput("the prompt is empty")
        }
        let ids = tokenizer.encode(prompt)
        let out = try Generator(model: model).generate([ids], options: options)[0]
        return tokenizer.decode(out, skipSpecialTokens: true)
    }
}
