import Foundation
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import TextEncoder

/// The `lmm` family: a Large Motion Model folder (`LMMModel`). It holds `config.json` (`LMMConfig`,
/// official field names plus `text_encoder`, `text_max_tokens`, `fps`), `model.safetensors` under the
/// official state-dict keys (an official checkpoint's keys, under `model.` with tutel's
/// `_num_global_experts` buffers, load after `sanitize`), and `mean.npy` / `std.npy` (`[669]`, the
/// normalisation of the unified features the model was trained on).
public enum LMMFamily {
    public static let modelType = "lmm"

    public static let family = ModelFamily(modelType: modelType, summary: "Large Motion Model: ArtAttention diffusion over body parts") { folder in
        try LMMModel.load(folder)
    }

    /// Official checkpoint keys to ours: the denoiser sits under `model.` in the official architecture
    /// (`UnifiedMotionDiffusion.model`); tutel's expert-count buffers hold no weights.
    public static func sanitize(_ state: [String: Tensor]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in state where !k.hasSuffix("._num_global_experts") {
            out[k.hasPrefix("model.") ? String(k.dropFirst(6)) : k] = v
        }
        return out
    }

    /// Builds the denoiser alone of an `lmm` folder, weights strictly, in inference mode.
    public static func loadDenoiser(_ folder: ModelFolder) throws -> LargeMotionModel {
        guard folder.modelType == modelType else {
            throw ModelHubError.wrongFamily(folder: folder.url.path, found: folder.modelType.isEmpty ? "untyped" : folder.modelType, expected: modelType)
        }
        let config = try folder.decodeConfig(LMMConfig.self, what: "LMM")
        let model: LargeMotionModel
        do { model = try LargeMotionModel(config: config) }
        catch { throw ModelHubError.badModel("\(folder.configURL.path): \(error)") }
        try loadWeights(try folder.readWeights(), into: model, sanitize: sanitize, source: folder.url.path)
        model.train(false)
        return model
    }
}

extension LargeMotionModel {
    /// Loads an `lmm` model folder.
    public static func load(directory: URL) throws -> LargeMotionModel {
        try LMMFamily.loadDenoiser(try ModelFolder(directory))
    }

    /// Writes `config.json` and `model.safetensors` (F32, or F16 for bundled models) into `directory`;
    /// existing files are refused unless `force`.
    public func save(directory: URL, force: Bool = false, dtype: DType = .float32) throws {
        let fm = FileManager.default
        if !force, let clash = ["config.json", "model.safetensors"].map({ directory.appendingPathComponent($0) })
            .first(where: { fm.fileExists(atPath: $0.path) }) {
            throw ModelHubError.exists(clash.path)
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try enc.encode(config).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        try writeSafeTensors(namedTensors(), metadata: ["format": "pt"], dtype: dtype, to: directory.appendingPathComponent("model.safetensors"))
    }
}

/// A Large Motion Model ready to sample: the denoiser, the statistics of its unified features, and the
/// sentence encoder whose per-token features are its text condition.
public final class LMMModel: @unchecked Sendable {
    public let denoiser: LargeMotionModel
    /// Mean / std of the 669 unified values (absent parts: 0 / 1).
    public let normalizer: FeatureNormalizer
    /// The text condition's encoder (nil when the model reads no text).
    public let textEncoder: SentenceEncoder?
    /// Where it was loaded from (nil when built in memory).
    public internal(set) var source: String?

    public var config: LMMConfig { denoiser.config }

    public init(denoiser: LargeMotionModel, normalizer: FeatureNormalizer, textEncoder: SentenceEncoder?) throws {
        guard normalizer.mean.count == UnifiedMotion.dimension else {
            throw ModelHubError.badModel("LMM statistics have \(normalizer.mean.count) values, expected \(UnifiedMotion.dimension)")
        }
        if let t = denoiser.config.textInputDim, let e = textEncoder, e.dimension != t {
            throw ModelHubError.badModel("text_input_dim is \(t) but the text encoder gives \(e.dimension)-wide token features")
        }
        self.denoiser = denoiser
        self.normalizer = normalizer
        self.textEncoder = textEncoder
    }

    /// The statistics for HumanML3D data: a folder's 263-value `Mean.npy` / `Std.npy` put in the unified
    /// layout (the layout only moves values), 0 / 1 on the hand and face values HumanML3D lacks.
    public static func unifiedNormalizer(humanML3D n: FeatureNormalizer) throws -> FeatureNormalizer {
        guard n.mean.count == 263 else { throw ModelHubError.badModel("expected HumanML3D statistics of 263 values, got \(n.mean.count)") }
        let mean = try UnifiedMotion(humanML3D: Tensor(n.mean, shape: [1, 263])).features.scalars
        let stdU = try UnifiedMotion(humanML3D: Tensor(n.std, shape: [1, 263])).features.scalars
        let present = UnifiedMotion.valueMask(Tensor(UnifiedMotion.humanML3DPresence, shape: [1, 1, 10])).scalars
        return try FeatureNormalizer(mean: mean, std: zip(stdU, present).map { $1 > 0 ? $0 : 1 })
    }

    /// Loads an `lmm` folder: denoiser (strict weights), statistics, and the text encoder named by
    /// `text_encoder` (relative to the folder) when it names one.
    public static func load(_ folder: ModelFolder) throws -> LMMModel {
        let denoiser = try LMMFamily.loadDenoiser(folder)
        let normalizer: FeatureNormalizer
        do { normalizer = try FeatureNormalizer(meanURL: try folder.require("mean.npy"), stdURL: try folder.require("std.npy")) }
        catch let e as ModelHubError { throw e }
        catch { throw ModelHubError.badModel("\(folder.url.path): \(error)") }
        var encoder: SentenceEncoder?
        // A model that reads text but names no encoder (an official checkpoint, ImageBind features) loads;
        // its text conditions must then come from the caller.
        if denoiser.config.textInputDim != nil, let path = denoiser.config.textEncoder {
            let url = ModelFolder.resolve(path, relativeTo: folder.url)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
                throw ModelHubError.notFound("\(folder.configURL.path): text_encoder \(path) is not a model folder (looked in \(url.path))")
            }
            encoder = try BertFamily.load(try ModelFolder(url))
        }
        let m = try LMMModel(denoiser: denoiser, normalizer: normalizer, textEncoder: encoder)
        m.source = folder.url.standardizedFileURL.path
        return m
    }

    /// Loads the `lmm` folder at `directory` through the registry.
    public static func load(directory: URL, registry: ModelRegistry = .shared) throws -> LMMModel {
        try ModelHub.load(directory, as: LMMModel.self, expected: LMMFamily.modelType, registry: registry)
    }

    /// Writes the folder: `config.json`, `model.safetensors` (F32, or F16 for bundled models), `mean.npy`,
    /// `std.npy`; existing files are refused unless `force`.
    public func save(directory: URL, force: Bool = false, dtype: DType = .float32) throws {
        let fm = FileManager.default
        if !force, let clash = ["mean.npy", "std.npy"].map({ directory.appendingPathComponent($0) }).first(where: { fm.fileExists(atPath: $0.path) }) {
            throw ModelHubError.exists(clash.path)
        }
        try denoiser.save(directory: directory, force: force, dtype: dtype)
        try npyData(Tensor(normalizer.mean)).write(to: directory.appendingPathComponent("mean.npy"), options: .atomic)
        try npyData(Tensor(normalizer.std)).write(to: directory.appendingPathComponent("std.npy"), options: .atomic)
    }

    /// The text condition of `texts` (one per sample; nil: that sample has no text): each caption's
    /// per-token features (`[CLS]` ... `[SEP]`) zero-padded to `text_max_tokens`, `[B, M, D]`.
    public func textCondition(_ texts: [String?]) throws -> ConditionTokens {
        guard let width = config.textInputDim else { throw ModelHubError.badModel("this LMM reads no text condition (no text_input_dim)") }
        guard let encoder = textEncoder else { throw ModelHubError.badModel("this LMM names no text_encoder in its config.json: its text features must be given") }
        let m = config.textMaxTokens
        let given = texts.compactMap { $0 }
        let embedded = given.isEmpty ? [] : try encoder.embed(given)
        var values = [Float](repeating: 0, count: texts.count * m * width)
        var present = [Float](repeating: 0, count: texts.count)
        var k = 0
        for (i, t) in texts.enumerated() where t != nil {
            let f = embedded[k].tokenFeatures; k += 1                       // [n, D]
            let n = f.shape[0]
            guard n <= m else {
                throw ModelHubError.badModel("the text \"\(t!)\" has \(n) tokens; this model reads at most \(m) (text_max_tokens)")
            }
            let s = f.scalars
            for j in 0..<(n * width) { values[i * m * width + j] = s[j] }
            present[i] = 1
        }
        return ConditionTokens(words: Tensor(values, shape: [texts.count, m, width]), present: present)
    }
}
