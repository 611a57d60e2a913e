import Foundation
import NeuralNetwork
import TensorEngine
import TextEncoder
import TextTokenizer

/// The `bert` family: Hugging Face BERT folders (`config.json`, `model.safetensors`, shards or
/// `pytorch_model.bin`, `tokenizer.json` or `vocab.txt`), with sentence-transformers' files
/// (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`) when the folder has them.
/// Loads as a `SentenceEncoder`.
public enum BertFamily {
    public static let modelType = "bert"

    public static let family = ModelFamily(modelType: modelType, summary: "BERT sentence encoder (Hugging Face / sentence-transformers folder)") { folder in
        try load(folder)
    }

    /// Checkpoint keys to module keys. `BertModel.save_pretrained` writes our names; checkpoints of a
    /// task model (`BertForMaskedLM`, ...) put them under `bert.`. Dropped: the position-id buffer
    /// (`embeddings.position_ids`, in older checkpoints), the token-type-id buffer, the pooler and
    /// task heads, which a sentence encoder does not use.
    public static func sanitize(_ state: [String: Tensor]) -> [String: Tensor] {
        let prefixed = state.keys.contains { $0.hasPrefix("bert.") }
        var out: [String: Tensor] = [:]
        for (key, value) in state {
            var k = key
            if prefixed {
                guard k.hasPrefix("bert.") else { continue }           // cls.*, heads of a task model
                k = String(k.dropFirst(5))
            }
            if k == "embeddings.position_ids" || k == "embeddings.token_type_ids" || k.hasPrefix("pooler.") { continue }
            out[k] = value
        }
        return out
    }

    /// The BERT module of `folder`, weights loaded strictly.
    public static func loadModel(_ folder: ModelFolder) throws -> BertModel {
        let config = try folder.decodeConfig(BertConfig.self, what: "BERT")
        let model: BertModel
        do { model = try BertModel(config: config) }
        catch { throw ModelHubError.badModel("\(folder.configURL.path): \(error)") }
        try loadWeights(try folder.readWeights(), into: model, sanitize: sanitize, source: folder.url.path)
        model.train(false)
        return model
    }

    /// The sentence encoder of `folder`: model, WordPiece tokenizer and pooling pipeline.
    public static func load(_ folder: ModelFolder) throws -> SentenceEncoder {
        let tokenizer = try WordPieceTokenizer.load(folder: folder.url)
        let pipeline = try SentencePipeline.read(folder: folder.url, modelMaxLength: tokenizer.modelMaxLength)
        let model = try loadModel(folder)
        do { return try SentenceEncoder(model: model, tokenizer: tokenizer, pipeline: pipeline) }
        catch { throw ModelHubError.badModel("\(folder.url.path): \(error)") }
    }
}

extension SentenceEncoder {
    /// Loads a BERT / sentence-transformers folder through the model-folder layer.
    public static func load(directory: URL, registry: ModelRegistry = .shared) throws -> SentenceEncoder {
        try ModelHub.load(directory, as: SentenceEncoder.self, expected: BertFamily.modelType, registry: registry)
    }
}
