import Foundation
import ModelHub
import MotionData
import NeuralNetwork
import TensorEngine
import TextEncoder

/// `config.json` of a `motion-text-evaluator` folder: the motion encoder's sizes, the text side's
/// projection, the InfoNCE temperature it was trained with, and where its text encoder and feature
/// statistics are. Keys are snake_case.
public struct MotionTextEvaluatorConfig: Codable, Equatable, Sendable {
    public var modelType = MotionTextEvaluator.modelType
    /// Feature width of a motion frame (263 for HumanML3D).
    public var nfeats = 263
    /// Frames per motion token: the encoder's first layer is a linear map of `patch_frames`
    /// consecutive frames (a stride-`patch_frames` convolution), so a motion of `T` frames gives
    /// `T / patch_frames` tokens and trailing frames past the last whole patch are not read.
    public var patchFrames = 4
    /// Width of the motion transformer.
    public var hiddenSize = 128
    public var numLayers = 2
    public var numHeads = 4
    /// Width of each transformer block's MLP.
    public var intermediateSize = 256
    /// Dropout inside the transformer blocks and on the pooled vector (training only).
    public var dropout: Float = 0.2
    /// Width of the joint space both sides are projected into.
    public var embeddingDimension = 256
    /// Width of the text encoder's sentence vectors (384 for all-MiniLM-L6-v2); checked at load.
    public var textDimension = 384
    /// InfoNCE temperature of training (the logits are cosine similarities divided by it).
    public var temperature: Float = 0.1
    /// The frozen sentence encoder's folder, relative to this model folder (or absolute).
    public var textEncoder = "../text-encoder"
    /// The evaluator's own feature statistics, inside the model folder.
    public var meanFile = "mean.npy"
    public var stdFile = "std.npy"

    public init() {}

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", nfeats, patchFrames = "patch_frames", hiddenSize = "hidden_size"
        case numLayers = "num_layers", numHeads = "num_heads", intermediateSize = "intermediate_size", dropout
        case embeddingDimension = "embedding_dim", textDimension = "text_dim", temperature
        case textEncoder = "text_encoder", meanFile = "mean_file", stdFile = "std_file"
    }

    /// Every architecture key is required: a folder that leaves one out was not written by this code,
    /// and guessing a size would only move the error to weight loading.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        nfeats = try c.decode(Int.self, forKey: .nfeats)
        patchFrames = try c.decode(Int.self, forKey: .patchFrames)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        embeddingDimension = try c.decode(Int.self, forKey: .embeddingDimension)
        textDimension = try c.decode(Int.self, forKey: .textDimension)
        temperature = try c.decode(Float.self, forKey: .temperature)
        textEncoder = try c.decode(String.self, forKey: .textEncoder)
        meanFile = try c.decodeIfPresent(String.self, forKey: .meanFile) ?? "mean.npy"
        stdFile = try c.decodeIfPresent(String.self, forKey: .stdFile) ?? "std.npy"
    }

    /// Refuses sizes that cannot build a model, naming the key.
    public func validate() throws {
        func bad(_ key: String, _ why: String) -> ModuleError { .invalidConfiguration("\(key) \(why)") }
        guard modelType == MotionTextEvaluator.modelType else { throw bad("model_type", "is \(modelType), expected \(MotionTextEvaluator.modelType)") }
        for (k, v) in [("nfeats", nfeats), ("patch_frames", patchFrames), ("hidden_size", hiddenSize), ("num_heads", numHeads),
                       ("intermediate_size", intermediateSize), ("embedding_dim", embeddingDimension), ("text_dim", textDimension)] where v <= 0 {
            throw bad(k, "must be positive, got \(v)")
        }
        guard numLayers >= 0 else { throw bad("num_layers", "must not be negative, got \(numLayers)") }
        guard hiddenSize % numHeads == 0 else { throw bad("hidden_size", "\(hiddenSize) is not divisible by num_heads \(numHeads)") }
        guard dropout >= 0 && dropout < 1 else { throw bad("dropout", "must be in [0, 1), got \(dropout)") }
        guard temperature > 0 && temperature.isFinite else { throw bad("temperature", "must be positive, got \(temperature)") }
        for (k, v) in [("mean_file", meanFile), ("std_file", stdFile)] where v.isEmpty || v.contains("/") || v.hasPrefix(".") {
            throw bad(k, "\"\(v)\" must be a file name inside the model folder")
        }
    }
}

/// The motion side: frames -> patches -> transformer -> masked mean pool -> projection.
private final class MotionEncoderNetwork: Module {
    let patch: Linear
    let blocks: TransformerStack
    let norm: LayerNorm
    let head: Linear
    let dropout: Dropout?

    init(_ c: MotionTextEvaluatorConfig, rng: inout SeededRNG) {
        patch = Linear(c.nfeats * c.patchFrames, c.hiddenSize, rng: &rng)
        blocks = TransformerStack(depth: c.numLayers, dim: c.hiddenSize, heads: c.numHeads, mlpDim: c.intermediateSize, dropout: c.dropout, rng: &rng)
        norm = LayerNorm(c.hiddenSize)
        head = Linear(c.hiddenSize, c.embeddingDimension, rng: &rng)
        dropout = c.dropout > 0 ? Dropout(c.dropout, seed: rng.next()) : nil
    }
}

/// Our text-motion evaluator (`model_type: "motion-text-evaluator"`): a motion encoder trained
/// contrastively (TMR-style InfoNCE) against a frozen sentence encoder, so that a motion lies near
/// its caption. Text: the sentence encoder's vector (all-MiniLM-L6-v2 bundled) -> a learned linear
/// projection -> L2 normalisation. Motion: the evaluator's own Mean/Std -> `patch_frames`-frame
/// patches (a linear map) + sinusoidal positions -> pre-norm transformer blocks with a padding mask
/// -> layer norm -> mean over real tokens -> linear -> L2 normalisation. Both embeddings are unit
/// vectors of `embedding_dim`, so Euclidean distance is `sqrt(2 - 2 cos)`, in [0, 2].
///
/// A model folder holds `config.json`, `model.safetensors` (keys `motion.*`, `text_projection.*`),
/// the statistics files the config names, and a relative path to its text encoder's folder.
/// Load it with `ModelHub.load(url)` once `MotionTextEvaluator.family` is registered (the CLI does
/// that at start-up) or with `MotionTextEvaluator.load(directory:)`.
public final class MotionTextEvaluator: Module, MotionTextEmbedder {
    public static let modelType = "motion-text-evaluator"

    /// The model family for `ModelRegistry.register`.
    public static let family = ModelFamily(modelType: modelType, summary: "text-motion evaluator (our motion encoder trained against a frozen sentence encoder)") { folder in
        try MotionTextEvaluator.load(folder)
    }

    public let config: MotionTextEvaluatorConfig
    /// The evaluator's feature statistics (applied to raw features inside `embed(motions:)`).
    public let normalizer: FeatureNormalizer
    /// The frozen sentence encoder of the text side (nil: only motion embeddings and projections of
    /// given sentence vectors are available).
    public let sentenceEncoder: SentenceEncoder?
    /// The folder it was loaded from, for `evaluatorName`.
    public var source: String = "untrained"

    private let motion: MotionEncoderNetwork
    private let textProjection: Linear

    override public var keyOverrides: [String: String] { ["textProjection": "text_projection"] }

    /// A fresh evaluator (random weights from `seed`).
    public init(config: MotionTextEvaluatorConfig, normalizer: FeatureNormalizer, sentenceEncoder: SentenceEncoder?, seed: UInt64 = 0) throws {
        try config.validate()
        guard normalizer.dimension == config.nfeats else {
            throw ModuleError.invalidConfiguration("the statistics have \(normalizer.dimension) values but nfeats is \(config.nfeats)")
        }
        if let e = sentenceEncoder, e.dimension != config.textDimension {
            throw ModuleError.invalidConfiguration("the text encoder gives \(e.dimension)-wide vectors but text_dim is \(config.textDimension)")
        }
        self.config = config
        self.normalizer = normalizer
        self.sentenceEncoder = sentenceEncoder
        var rng = SeededRNG(seed: seed)
        motion = MotionEncoderNetwork(config, rng: &rng)
        textProjection = Linear(config.textDimension, config.embeddingDimension, rng: &rng)
        super.init()
        train(false)
    }

    // MARK: MotionTextEmbedder

    public var evaluatorName: String { "ours: \(source)" }
    public var embeddingDimension: Int { config.embeddingDimension }
    /// One whole patch.
    public var minimumFrames: Int { config.patchFrames }
    public var readsPartOfSpeech: Bool { false }

    /// Caption embeddings `[N, embedding_dim]`, unit rows, from the captions' text.
    public func embed(captions: [MotionCaption]) throws -> Tensor {
        try embed(texts: captions.map(\.text))
    }

    /// Text embeddings `[N, embedding_dim]` of plain sentences.
    public func embed(texts: [String]) throws -> Tensor {
        guard !texts.isEmpty else { throw EvaluationError.empty(argument: "captions") }
        guard let sentenceEncoder else {
            throw EvaluationError.invalidValue(argument: "captions", detail: "this evaluator has no text encoder (config text_encoder \(config.textEncoder))")
        }
        let vectors = try sentenceEncoder.embed(texts).flatMap(\.vector)
        return Tensor.withNoGrad { textEmbeddings(sentenceVectors: Tensor(vectors, shape: [texts.count, config.textDimension])) }
    }

    /// Motion embeddings `[N, embedding_dim]`, unit rows, of raw features `[T_i, nfeats]`. Motions are
    /// batched longest first in padded groups of `batchSize`; padding never changes a result beyond
    /// rounding (the attention masks padded tokens and the pool skips them).
    public func embed(motions: [Tensor]) throws -> Tensor {
        try embed(motions: motions, batchSize: 32)
    }

    public func embed(motions: [Tensor], batchSize: Int) throws -> Tensor {
        guard !motions.isEmpty else { throw EvaluationError.empty(argument: "motions") }
        var normalized: [Tensor] = []
        for (i, m) in motions.enumerated() {
            guard m.rank == 2, m.shape[1] == config.nfeats else {
                throw EvaluationError.shapeMismatch(argument: "motions[\(i)]", detail: "expected [frames, \(config.nfeats)] raw features, got \(m.shape)")
            }
            guard m.shape[0] >= minimumFrames else {
                throw EvaluationError.invalidValue(argument: "motions[\(i)]", detail: "\(m.shape[0]) frames, the evaluator needs at least \(minimumFrames)")
            }
            if let k = m.scalars.firstIndex(where: { !$0.isFinite }) {
                throw EvaluationError.invalidValue(argument: "motions[\(i)]", detail: "value \(k) (frame \(k / config.nfeats)) is not finite")
            }
            normalized.append(try normalizer.normalize(m))
        }
        let order = normalized.indices.sorted { normalized[$0].shape[0] > normalized[$1].shape[0] }
        let d = config.embeddingDimension
        var out = [Float](repeating: 0, count: motions.count * d)
        let wasTraining = isTraining
        train(false)
        defer { train(wasTraining) }
        try Tensor.withNoGrad {
            var start = 0
            while start < order.count {
                let group = Array(order[start..<min(start + max(1, batchSize), order.count)])
                let (batch, lengths) = try patchBatch(group.map { normalized[$0] })
                let z = motionEmbeddings(batch, lengths: lengths).scalars          // [b, D]
                for (row, index) in group.enumerated() { out.replaceSubrange(index * d..<(index + 1) * d, with: z[row * d..<(row + 1) * d]) }
                start += group.count
            }
        }
        return Tensor(out, shape: [motions.count, d])
    }

    // MARK: Differentiable pieces (the trainer uses these)

    /// Pads normalised motions `[T_i, nfeats]`, each cut to whole patches, into `[B, T_max, nfeats]`
    /// with zeros, and returns their lengths in frames (multiples of `patch_frames`).
    public func patchBatch(_ normalized: [Tensor]) throws -> (batch: Tensor, lengths: [Int]) {
        let p = config.patchFrames
        let cut = normalized.map { $0.shape[0] % p == 0 ? $0 : $0.slice(dim: 0, 0, $0.shape[0] / p * p) }
        guard cut.allSatisfy({ $0.shape[0] >= p }) else {
            throw EvaluationError.invalidValue(argument: "motions", detail: "every motion needs at least \(p) frames")
        }
        let (batch, lengths, _) = try MotionDataset.padded(cut)
        return (batch, lengths)
    }

    /// Motion embeddings `[B, D]` (unit rows) of a padded, normalised batch `[B, T, nfeats]` (`T` a
    /// multiple of `patch_frames`; `lengths` in frames, multiples of it). Records gradients.
    public func motionEmbeddings(_ batch: Tensor, lengths: [Int]) -> Tensor {
        let c = config, p = c.patchFrames
        let (b, t) = (batch.shape[0], batch.shape[1])
        precondition(batch.rank == 3 && batch.shape[2] == c.nfeats && t % p == 0 && lengths.count == b, "motion batch \(batch.shape), lengths \(lengths)")
        let n = t / p
        let tokens = lengths.map { $0 / p }
        var h = motion.patch(batch.reshaped([b, n, p * c.nfeats]))                 // [B, N, H]
        h = h + Self.positions(n, c.hiddenSize)                                     // [B, N, H] + [N, H]
        h = motion.blocks(h, bias: paddingMask(lengths: tokens, keyLength: n))      // [B, N, H]; bias [B, 1, 1, N]
        h = motion.norm(h)
        var mask = [Float](repeating: 0, count: b * n)
        for (i, k) in tokens.enumerated() { for j in 0..<k { mask[i * n + j] = 1 / Float(k) } }
        var pooled = (h * Tensor(mask, shape: [b, n, 1])).sum(dim: 1)              // [B, H]: mean over real tokens
        if let dropout = motion.dropout { pooled = dropout(pooled) }
        return Self.unitRows(motion.head(pooled))                                   // [B, D]
    }

    /// Text embeddings `[N, D]` (unit rows) of sentence vectors `[N, text_dim]`. Records gradients.
    public func textEmbeddings(sentenceVectors: Tensor) -> Tensor {
        Self.unitRows(textProjection(sentenceVectors))                              // [N, D]
    }

    /// The dropout layers, for a trainer that reseeds them every step (resumable runs).
    public var dropoutLayers: [Dropout] { namedModules().compactMap { $0.1 as? Dropout } }

    /// `x / ||x||` per row of `[N, D]`.
    static func unitRows(_ x: Tensor) -> Tensor {
        x / (x.square().sum(dim: 1, keepDims: true) + 1e-12).sqrt()
    }

    /// Sinusoidal positions `[n, width]` (Vaswani et al.): no length limit, nothing to learn.
    static func positions(_ n: Int, _ width: Int) -> Tensor {
        var v = [Float](repeating: 0, count: n * width)
        for pos in 0..<n {
            for i in stride(from: 0, to: width, by: 2) {
                let angle = Double(pos) / Foundation.pow(10000, Double(i) / Double(width))
                v[pos * width + i] = Float(Foundation.sin(angle))
                if i + 1 < width { v[pos * width + i + 1] = Float(Foundation.cos(angle)) }
            }
        }
        return Tensor(v, shape: [n, width])
    }

    // MARK: Folders

    /// Writes `config.json`, `model.safetensors` (F32, or F16 for bundled models) and the statistics
    /// into `directory`; existing files are refused unless `force`.
    public func save(directory: URL, force: Bool = false, dtype: DType = .float32) throws {
        let fm = FileManager.default
        let names = ["config.json", "model.safetensors", config.meanFile, config.stdFile]
        if !force, let clash = names.map({ directory.appendingPathComponent($0) }).first(where: { fm.fileExists(atPath: $0.path) }) {
            throw ModelHubError.exists(clash.path)
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try enc.encode(config).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        try writeSafeTensors(namedTensors(), metadata: ["format": "pt"], dtype: dtype, to: directory.appendingPathComponent("model.safetensors"))
        try npyData(Tensor(normalizer.mean)).write(to: directory.appendingPathComponent(config.meanFile), options: .atomic)
        try npyData(Tensor(normalizer.std)).write(to: directory.appendingPathComponent(config.stdFile), options: .atomic)
    }

    /// Loads an evaluator folder, its statistics and its text encoder (`text_encoder`, relative to
    /// the folder), weights strictly.
    public static func load(_ folder: ModelFolder) throws -> MotionTextEvaluator {
        let config = try folder.decodeConfig(MotionTextEvaluatorConfig.self, what: "motion-text evaluator")
        do { try config.validate() } catch { throw ModelHubError.badModel("\(folder.configURL.path): \(error)") }
        let normalizer: FeatureNormalizer
        do { normalizer = try FeatureNormalizer(meanURL: try folder.require(config.meanFile), stdURL: try folder.require(config.stdFile)) }
        catch let e as ModelHubError { throw e }
        catch { throw ModelHubError.badModel("\(folder.url.path): \(error)") }
        let textURL = ModelFolder.resolve(config.textEncoder, relativeTo: folder.url)
        guard FileManager.default.fileExists(atPath: textURL.appendingPathComponent("config.json").path) else {
            throw ModelHubError.notFound("\(folder.configURL.path): text_encoder \(config.textEncoder) is not a model folder (looked in \(textURL.path))")
        }
        let encoder = try BertFamily.load(try ModelFolder(textURL))
        let model: MotionTextEvaluator
        do { model = try MotionTextEvaluator(config: config, normalizer: normalizer, sentenceEncoder: encoder) }
        catch { throw ModelHubError.badModel("\(folder.url.path): \(error)") }
        try loadWeights(try folder.readWeights(), into: model, sanitize: { $0 }, source: folder.url.path)
        model.source = folder.url.standardizedFileURL.path
        model.train(false)
        return model
    }

    /// Loads the evaluator folder at `directory`: through `registry` when the family is registered
    /// there (a folder of another family is then named as such), else straight from the folder.
    public static func load(directory: URL, registry: ModelRegistry = .shared) throws -> MotionTextEvaluator {
        if registry.family(modelType) != nil {
            return try ModelHub.load(directory, as: MotionTextEvaluator.self, expected: modelType, registry: registry)
        }
        let folder = try ModelFolder(directory)
        guard folder.modelType == modelType else {
            throw ModelHubError.wrongFamily(folder: directory.path, found: folder.modelType.isEmpty ? "untyped" : folder.modelType, expected: modelType)
        }
        return try load(folder)
    }
}
