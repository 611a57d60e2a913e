import Foundation
import NeuralNetwork
import TensorEngine
import TextTokenizer

/// Errors of the sentence-transformers files of a folder and of embedding calls; each names the file,
/// key or value.
public enum TextEncoderError: ClassifiedError, Equatable {
    /// A sentence-transformers file (`modules.json`, `1_Pooling/config.json`, ...) is broken or asks for
    /// something this encoder does not do.
    case badPipeline(path: String, reason: String)
    /// Nothing to embed.
    case emptyInput

    public var kind: ErrorKind {
        switch self {
        case .badPipeline: return .modelFault
        case .emptyInput: return .badInput
        }
    }

    public var description: String {
        switch self {
        case .badPipeline(let path, let reason): return "\(path): \(reason)"
        case .emptyInput: return "no text to embed"
        }
    }
}

/// sentence-transformers' `Pooling` module configuration (`1_Pooling/config.json`).
public struct PoolingConfig: Codable, Equatable, Sendable {
    public var wordEmbeddingDimension: Int?
    public var poolingModeClsToken = false
    public var poolingModeMeanTokens = true
    public var poolingModeMaxTokens = false
    public var poolingModeMeanSqrtLenTokens = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case wordEmbeddingDimension = "word_embedding_dimension", poolingModeClsToken = "pooling_mode_cls_token"
        case poolingModeMeanTokens = "pooling_mode_mean_tokens", poolingModeMaxTokens = "pooling_mode_max_tokens"
        case poolingModeMeanSqrtLenTokens = "pooling_mode_mean_sqrt_len_tokens"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        wordEmbeddingDimension = try c.decodeIfPresent(Int.self, forKey: .wordEmbeddingDimension)
        poolingModeClsToken = try c.decodeIfPresent(Bool.self, forKey: .poolingModeClsToken) ?? false
        poolingModeMeanTokens = try c.decodeIfPresent(Bool.self, forKey: .poolingModeMeanTokens) ?? false
        poolingModeMaxTokens = try c.decodeIfPresent(Bool.self, forKey: .poolingModeMaxTokens) ?? false
        poolingModeMeanSqrtLenTokens = try c.decodeIfPresent(Bool.self, forKey: .poolingModeMeanSqrtLenTokens) ?? false
    }

    /// Number of pooled vectors concatenated (sentence-transformers concatenates the modes in this order:
    /// CLS, max, mean, mean-sqrt-len).
    public var modeCount: Int {
        [poolingModeClsToken, poolingModeMeanTokens, poolingModeMaxTokens, poolingModeMeanSqrtLenTokens].filter { $0 }.count
    }
}

/// The sentence-transformers pipeline of a folder: what `modules.json` lists after the Transformer.
public struct SentencePipeline: Equatable, Sendable {
    public var pooling: PoolingConfig
    /// Whether a `Normalize` module follows the pooling (L2 normalisation).
    public var normalize: Bool
    /// `sentence_bert_config.json`'s `max_seq_length`: longer texts are cut to this many tokens
    /// (specials included).
    public var maxSeqLength: Int

    public init(pooling: PoolingConfig = .init(), normalize: Bool = true, maxSeqLength: Int = 512) {
        self.pooling = pooling
        self.normalize = normalize
        self.maxSeqLength = maxSeqLength
    }

    /// Reads `modules.json`, the pooling folder's `config.json` and `sentence_bert_config.json`. A folder
    /// without `modules.json` is a plain BERT folder: mean pooling, no normalisation (as
    /// `SentenceTransformer` builds one), `max_seq_length` = `modelMaxLength`.
    public static func read(folder: URL, modelMaxLength: Int) throws -> SentencePipeline {
        let fm = FileManager.default
        let modulesURL = folder.appendingPathComponent("modules.json")
        var pipeline = SentencePipeline(normalize: false, maxSeqLength: modelMaxLength)
        if let data = fm.contents(atPath: modulesURL.path) {
            guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
                throw TextEncoderError.badPipeline(path: modulesURL.path, reason: "not a JSON list of modules")
            }
            var sawTransformer = false, sawPooling = false
            for m in modules {
                let type = m["type"] as? String ?? ""
                let path = m["path"] as? String ?? ""
                switch type.split(separator: ".").last.map(String.init) ?? "" {
                case "Transformer": sawTransformer = true
                case "Pooling":
                    guard !path.contains("..") else { throw TextEncoderError.badPipeline(path: modulesURL.path, reason: "pooling path \(path) leaves the folder") }
                    let url = folder.appendingPathComponent(path).appendingPathComponent("config.json")
                    guard let pdata = fm.contents(atPath: url.path) else { throw TextEncoderError.badPipeline(path: url.path, reason: "no such file") }
                    do { pipeline.pooling = try JSONDecoder().decode(PoolingConfig.self, from: pdata) }
                    catch { throw TextEncoderError.badPipeline(path: url.path, reason: "not a pooling configuration (\(error))") }
                    guard pipeline.pooling.modeCount > 0 else { throw TextEncoderError.badPipeline(path: url.path, reason: "no pooling mode is on") }
                    sawPooling = true
                case "Normalize": pipeline.normalize = true
                default:
                    throw TextEncoderError.badPipeline(path: modulesURL.path, reason: "module \(type) is not supported (Transformer, Pooling, Normalize)")
                }
            }
            guard sawTransformer && sawPooling else {
                throw TextEncoderError.badPipeline(path: modulesURL.path, reason: "expected a Transformer and a Pooling module")
            }
        }
        let sbertURL = folder.appendingPathComponent("sentence_bert_config.json")
        if let data = fm.contents(atPath: sbertURL.path) {
            guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw TextEncoderError.badPipeline(path: sbertURL.path, reason: "not a JSON object")
            }
            if let n = obj["max_seq_length"] as? Int {
                guard n > 0 else { throw TextEncoderError.badPipeline(path: sbertURL.path, reason: "max_seq_length \(n) is not positive") }
                pipeline.maxSeqLength = n
            }
        }
        return pipeline
    }
}

/// One embedded text.
public struct TextEmbedding {
    /// The sentence vector (pooled, L2-normalised when the pipeline says so), `[H]` values.
    public var vector: [Float]
    /// The token features `[T, H]` (last hidden state of every real token, `[CLS]` and `[SEP]`
    /// included), as `encode(output_value="token_embeddings")` returns them.
    public var tokenFeatures: Tensor
    /// The token ids the model saw.
    public var tokenIDs: [Int]
    /// Whether the text was cut to `max_seq_length`.
    public var truncated: Bool
}

/// A sentence encoder: WordPiece tokenizer, BERT, sentence-transformers' pooling and normalisation,
/// as `SentenceTransformer.encode` runs them. Reads no mutable state: safe to share.
public final class SentenceEncoder: @unchecked Sendable {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let pipeline: SentencePipeline

    public init(model: BertModel, tokenizer: WordPieceTokenizer, pipeline: SentencePipeline) throws {
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw ModuleError.invalidConfiguration("the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.config.vocabSize)")
        }
        self.model = model
        self.tokenizer = tokenizer
        // A sequence never goes past the position table, whatever the files say.
        var p = pipeline
        p.maxSeqLength = min(p.maxSeqLength, model.config.maxPositionEmbeddings)
        self.pipeline = p
    }

    /// Width of a sentence vector.
    public var dimension: Int { model.config.hiddenSize * pipeline.pooling.modeCount }

    /// The ids of `text` as the encoder feeds them (cut to `max_seq_length`), and whether it was cut.
    public func tokenize(_ text: String) -> (ids: [Int], truncated: Bool) {
        let ids = tokenizer.encode(text)
        guard ids.count > pipeline.maxSeqLength else { return (ids, false) }
        return (tokenizer.encode(text, maxLength: pipeline.maxSeqLength), true)
    }

    /// Embeds `texts` in batches of `batchSize`, longest first as sentence-transformers sorts them (so
    /// a batch pads little), results in input order. Runs without recording gradients.
    public func embed(_ texts: [String], batchSize: Int = 32) throws -> [TextEmbedding] {
        guard !texts.isEmpty else { throw TextEncoderError.emptyInput }
        let tokenized = texts.map(tokenize)
        let order = tokenized.indices.sorted { tokenized[$0].ids.count > tokenized[$1].ids.count }
        var results = [TextEmbedding?](repeating: nil, count: texts.count)
        Tensor.withNoGrad {
            var start = 0
            while start < order.count {
                let batch = Array(order[start..<min(start + max(1, batchSize), order.count)])
                let rows = batch.map { tokenized[$0].ids }
                for (i, e) in embedBatch(rows).enumerated() {
                    results[batch[i]] = TextEmbedding(vector: e.vector, tokenFeatures: e.features, tokenIDs: rows[i],
                                                      truncated: tokenized[batch[i]].truncated)
                }
                start += batch.count
            }
        }
        return results.map { $0! }
    }

    /// One padded batch: `rows` of ids -> per row the pooled vector and the real tokens' features.
    private func embedBatch(_ rows: [[Int]]) -> [(vector: [Float], features: Tensor)] {
        let t = rows.map(\.count).max() ?? 0
        let padded = rows.map { $0 + [Int](repeating: tokenizer.padID, count: t - $0.count) }
        let mask = rows.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: t - $0.count) }
        let hidden = model(padded, mask: mask)                                          // [B, T, H]
        let h = model.config.hiddenSize
        return rows.enumerated().map { b, row in
            let features = hidden.slice(dim: 0, b, b + 1).slice(dim: 1, 0, row.count).reshaped([row.count, h]).copy()  // [n, H]
            return (pool(features), features)
        }
    }

    /// sentence-transformers' Pooling (modes concatenated CLS, max, mean, mean-sqrt-len), then Normalize.
    private func pool(_ features: Tensor) -> [Float] {
        let n = features.shape[0], h = features.shape[1]
        let x = features.scalars
        var out: [Float] = []
        let p = pipeline.pooling
        if p.poolingModeClsToken { out += Array(x[0..<h]) }
        if p.poolingModeMaxTokens { out += maxPool(x, n, h) }
        if p.poolingModeMeanTokens || p.poolingModeMeanSqrtLenTokens {
            // Summed in Float32 over the real tokens, as torch.sum(token_embeddings * mask) does.
            var sum = [Float](repeating: 0, count: h)
            for i in 0..<n { for j in 0..<h { sum[j] += x[i * h + j] } }
            let count = max(Float(n), 1e-9)
            if p.poolingModeMeanTokens { out += sum.map { $0 / count } }
            if p.poolingModeMeanSqrtLenTokens { out += sum.map { $0 / count.squareRoot() } }
        }
        guard pipeline.normalize else { return out }
        // torch.nn.functional.normalize: x / max(||x||, 1e-12).
        let norm = max(out.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return out.map { $0 / norm }
    }

    private func maxPool(_ x: [Float], _ n: Int, _ h: Int) -> [Float] {
        var m = [Float](repeating: -.infinity, count: h)
        for i in 0..<n { for j in 0..<h { m[j] = max(m[j], x[i * h + j]) } }
        return m
    }
}

/// Cosine similarity of two vectors of equal length.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "vectors of different lengths")
    var dot: Float = 0, na: Float = 0, nb: Float = 0
    for i in a.indices { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i] }
    return dot / max((na * nb).squareRoot(), 1e-12)
}
