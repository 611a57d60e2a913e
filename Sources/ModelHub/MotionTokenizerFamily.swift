import Foundation
import MotionData
import MotionVQ
import NeuralNetwork
import TensorEngine

/// The `motion_vqvae` family: MotionGPT's VQ-VAE motion tokenizer with its feature statistics. A
/// tokenizer folder holds `config.json`, `model.safetensors` (MotionGPT's key names) and
/// `mean.npy`/`std.npy`; inside a MotionGPT model folder it is `motion_tokenizer/` with the
/// statistics beside it.
public enum MotionTokenizerFamily {
    public static let modelType = "motion_vqvae"

    public static let family = ModelFamily(modelType: modelType, summary: "VQ-VAE motion tokenizer (MotionGPT stage 1)") { folder in
        // Inside a model directory (`motion_tokenizer/`) the statistics sit beside the folder.
        try load(folder, statistics: folder.url.deletingLastPathComponent())
    }

    /// Checkpoint keys to module keys: MotionGPT's full checkpoints keep the tokenizer under `vae.`;
    /// tokenizer-only checkpoints and our folders use the bare names.
    public static func sanitize(_ state: [String: Tensor]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in state { out[k.hasPrefix("vae.") ? String(k.dropFirst(4)) : k] = v }
        return out
    }

    /// Whether a checkpoint key belongs to the tokenizer (bare names or under `vae.`).
    public static func isTokenizerKey(_ key: String) -> Bool {
        let k = key.hasPrefix("vae.") ? String(key.dropFirst(4)) : key
        return k.hasPrefix("encoder.") || k.hasPrefix("decoder.") || k.hasPrefix("quantizer.")
    }

    /// Builds the tokenizer of `folder`; the statistics come from the folder or from `statistics`.
    public static func load(_ folder: ModelFolder, statistics: URL) throws -> MotionTokenizer {
        let config = try folder.decodeConfig(VQVAEConfig.self, what: "motion tokenizer")
        guard config.modelType == modelType else {
            throw ModelHubError.badModel("\(folder.configURL.path): model_type is \(config.modelType), expected \(modelType)")
        }
        let model = try VQVAE(config: config)
        let weights = try folder.require("model.safetensors")
        try loadWeights(try folder.readWeights(), into: model, sanitize: sanitize, source: weights.path)
        let fm = FileManager.default
        let statsDir = fm.fileExists(atPath: folder.file("mean.npy").path) || fm.fileExists(atPath: folder.file("Mean.npy").path) ? folder.url : statistics
        let normalizer = try FeatureNormalizer(directory: statsDir)
        return try MotionTokenizer(model: model, normalizer: normalizer)
    }

    /// The folder holding the tokenizer's `config.json`: `dir/motion_tokenizer` in a model directory, else `dir`.
    public static func weightsFolder(in dir: URL) -> URL {
        let sub = dir.appendingPathComponent("motion_tokenizer")
        return FileManager.default.fileExists(atPath: sub.appendingPathComponent("config.json").path) ? sub : dir
    }
}

extension MotionTokenizer {
    /// Loads a tokenizer from a model directory (its `motion_tokenizer/`) or a tokenizer folder.
    public static func load(directory dir: URL) throws -> MotionTokenizer {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ModelHubError.notFound("\(dir.path): no such model directory")
        }
        let weights = MotionTokenizerFamily.weightsFolder(in: dir)
        guard FileManager.default.fileExists(atPath: weights.appendingPathComponent("config.json").path) else {
            throw ModelHubError.notFound("\(dir.path): no motion tokenizer (expected motion_tokenizer/config.json or config.json)")
        }
        let folder = try ModelFolder(weights)
        return try MotionTokenizerFamily.load(folder, statistics: dir)
    }
}

extension ModelRegistry {
    /// The families defined in ModelHub, registered in `ModelRegistry.shared` from the start.
    public static var builtInFamilies: [ModelFamily] { [T5Family.family, MotionTokenizerFamily.family, MotionGPTFamily.family, BertFamily.family, LMMFamily.family] }
}
