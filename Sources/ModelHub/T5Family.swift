import Foundation
import MotionT5
import NeuralNetwork
import TensorEngine
import TextTokenizer

/// A Hugging Face T5 folder ready to answer prompts: the model and its SentencePiece tokenizer
/// (`spiece.model`), with the tokens `save_pretrained` lists in `added_tokens.json` (`<motion_id_N>`
/// and the like) added at the ids the file gives.
public final class T5TextModel {
    public let model: T5Model
    public let tokenizer: SentencePieceTokenizer
    /// The folder's `generation_config.json`, when it has one: the defaults `generate()` starts from.
    public let generationConfig: GenerationConfig?

    public init(model: T5Model, tokenizer: SentencePieceTokenizer, generationConfig: GenerationConfig? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.generationConfig = generationConfig
    }
}

/// The fields of a Hugging Face `generation_config.json` that decoding uses (snake_case keys); absent
/// fields are nil and take transformers' `GenerationConfig` defaults where they are applied.
public struct GenerationConfig: Codable, Equatable, Sendable {
    public var maxNewTokens: Int?
    /// Total decoder length, start token included (transformers' default 20 when neither is given).
    public var maxLength: Int?
    public var minNewTokens: Int?
    public var doSample: Bool?
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    public var repetitionPenalty: Float?
    public var numBeams: Int?
    public var lengthPenalty: Float?
    public var earlyStopping: Bool?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case maxNewTokens = "max_new_tokens", maxLength = "max_length", minNewTokens = "min_new_tokens"
        case doSample = "do_sample", temperature, topK = "top_k", topP = "top_p"
        case repetitionPenalty = "repetition_penalty", numBeams = "num_beams", lengthPenalty = "length_penalty"
        case earlyStopping = "early_stopping"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxNewTokens = try c.decodeIfPresent(Int.self, forKey: .maxNewTokens)
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength)
        minNewTokens = try c.decodeIfPresent(Int.self, forKey: .minNewTokens)
        doSample = try c.decodeIfPresent(Bool.self, forKey: .doSample)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature)
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        topP = try c.decodeIfPresent(Float.self, forKey: .topP)
        repetitionPenalty = try c.decodeIfPresent(Float.self, forKey: .repetitionPenalty)
        numBeams = try c.decodeIfPresent(Int.self, forKey: .numBeams)
        lengthPenalty = try c.decodeIfPresent(Float.self, forKey: .lengthPenalty)
        // early_stopping may also be the string "never" (same as false for our beam search).
        earlyStopping = (try? c.decodeIfPresent(Bool.self, forKey: .earlyStopping)) ?? nil
    }

    /// Reads `generation_config.json` of `folder`; nil when there is none.
    public static func read(_ folder: ModelFolder) throws -> GenerationConfig? {
        guard folder.has("generation_config.json") else { return nil }
        let url = folder.file("generation_config.json")
        do { return try JSONDecoder().decode(GenerationConfig.self, from: Data(contentsOf: url)) }
        catch let e as DecodingError { throw ModelHubError.badModel("\(url.path): not a generation configuration (\(e.shortDescription))") }
        catch { throw ModelHubError.badModel("\(url.path): \(error)") }
    }
}

/// The `t5` family: Hugging Face T5 / Flan-T5 folders (`config.json`, `model.safetensors` or shards,
/// `spiece.model`).
public enum T5Family {
    public static let modelType = "t5"

    public static let family = ModelFamily(modelType: modelType, summary: "T5 / Flan-T5 encoder-decoder (Hugging Face folder)") { folder in
        try loadText(folder)
    }

    /// Keys a Hugging Face T5 checkpoint holds that are copies of `shared.weight` or unused
    /// (transformers ignores the decoder's cross-attention bias table too), and `lm_head.weight`
    /// when the embeddings are tied.
    public static func redundantKeys(tied: Bool) -> Set<String> {
        var keys: Set<String> = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                 "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"]
        if tied { keys.insert("lm_head.weight") }
        return keys
    }

    /// Checkpoint keys to module keys: Hugging Face's names are ours, so only the redundant copies go.
    public static func sanitize(_ state: [String: Tensor], config: T5Config) -> [String: Tensor] {
        let skip = redundantKeys(tied: config.tieWordEmbeddings)
        return state.filter { !skip.contains($0.key) }
    }

    /// The language model of any folder with T5 fields in its `config.json` (a `t5` folder, or the
    /// LM of a `motiongpt` folder).
    public static func loadLM(_ folder: ModelFolder) throws -> T5Model {
        let config = try folder.decodeConfig(T5Config.self, what: "T5")
        let model = try T5Model(config: config)
        try loadWeights(try folder.readWeights(), into: model, sanitize: { sanitize($0, config: config) }, source: folder.url.path)
        model.train(false)
        return model
    }

    /// The model with its tokenizer: `spiece.model`, else `tokenizer.json` (transformers 5 saves only
    /// that), with `tokenizer_config.json`'s `extra_ids` (100 when absent, as `T5Tokenizer`) and
    /// `additional_special_tokens`, plus `added_tokens.json`.
    public static func loadText(_ folder: ModelFolder) throws -> T5TextModel {
        let settings = try tokenizerSettings(folder)
        let tokenizer: SentencePieceTokenizer
        if folder.has("spiece.model") {
            tokenizer = try SentencePieceTokenizer(modelURL: folder.file("spiece.model"), extraIDs: settings.extraIDs)
        } else if folder.has("tokenizer.json") {
            tokenizer = try SentencePieceTokenizer.load(tokenizerJSON: folder.file("tokenizer.json"), padToken: settings.pad, eosToken: settings.eos)
            if let stated = settings.statedExtraIDs, stated != tokenizer.extraIDs {
                throw ModelHubError.badModel("\(folder.file("tokenizer.json").path): holds \(tokenizer.extraIDs) <extra_id_N> tokens but tokenizer_config.json says extra_ids \(stated)")
            }
        } else {
            throw ModelHubError.notFound("\(folder.file("spiece.model").path): no such file, nor tokenizer.json (the folder needs its tokenizer)")
        }
        // Special tokens the config lists that the vocabulary lacks are added, as transformers adds them.
        for token in settings.additionalSpecial where tokenizer.id(of: token) == nil { tokenizer.addTokens([token], special: true) }
        try addSavedTokens(to: tokenizer, folder: folder)
        let model = try loadLM(folder)
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw ModelHubError.badModel("\(folder.url.path): the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.config.vocabSize)")
        }
        return T5TextModel(model: model, tokenizer: tokenizer, generationConfig: try GenerationConfig.read(folder))
    }

    /// What `tokenizer_config.json` (and `special_tokens_map.json`) say about a T5 tokenizer.
    struct TokenizerSettings {
        var extraIDs = 100
        var statedExtraIDs: Int?
        var pad = "<pad>", eos = "</s>"
        var additionalSpecial: [String] = []
    }

    static func tokenizerSettings(_ folder: ModelFolder) throws -> TokenizerSettings {
        var s = TokenizerSettings()
        func read(_ name: String) throws -> [String: Any] {
            guard folder.has(name) else { return [:] }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(contentsOf: folder.file(name)))) as? [String: Any] else {
                throw ModelHubError.badModel("\(folder.file(name).path): not a JSON object")
            }
            return obj
        }
        let config = try read("tokenizer_config.json"), map = try read("special_tokens_map.json")
        func token(_ v: Any?) -> String? { (v as? String) ?? ((v as? [String: Any])?["content"] as? String) }
        if let n = config["extra_ids"] {
            guard let k = n as? Int, k >= 0 else { throw ModelHubError.badModel("\(folder.file("tokenizer_config.json").path): extra_ids \(n) is not a count") }
            s.extraIDs = k
            s.statedExtraIDs = k
        }
        s.pad = token(config["pad_token"]) ?? token(map["pad_token"]) ?? s.pad
        s.eos = token(config["eos_token"]) ?? token(map["eos_token"]) ?? s.eos
        let listed = (config["additional_special_tokens"] ?? map["additional_special_tokens"]) as? [Any] ?? []
        s.additionalSpecial = listed.compactMap(token)
        return s
    }

    /// Reads `added_tokens.json` (`{"token": id}`) and adds the tokens in id order, checking each lands
    /// on the id the file gives, so ids never silently shift.
    static func addSavedTokens(to tokenizer: SentencePieceTokenizer, folder: ModelFolder) throws {
        let url = folder.file("added_tokens.json")
        guard folder.has("added_tokens.json") else { return }
        guard let map = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Int] else {
            throw ModelHubError.badModel("\(url.path): expected an object of token -> id")
        }
        for (token, id) in map.sorted(by: { $0.value < $1.value }) {
            if let known = tokenizer.id(of: token) {
                guard known == id else { throw ModelHubError.badModel("\(url.path): \(token) has id \(known) in the tokenizer, \(id) in the file") }
                continue
            }
            guard id == tokenizer.vocabularySize else {
                throw ModelHubError.badModel("\(url.path): \(token) wants id \(id) but the next free id is \(tokenizer.vocabularySize)")
            }
            tokenizer.addTokens([token])
        }
    }
}

extension T5Model {
    /// Loads a Hugging Face T5 folder through the model-folder layer (see `T5Family.loadLM`).
    public static func load(directory: URL) throws -> T5Model {
        try T5Family.loadLM(try ModelFolder(directory))
    }
}
