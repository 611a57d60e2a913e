import Foundation
import MotionDiffusion
import NeuralNetwork
import TensorEngine

/// The `lmm` family: the Large Motion Model's denoiser (MotionDiffusion). A folder holds `config.json`
/// (`LMMConfig`, official field names) and `model.safetensors` under the official state-dict keys; an
/// official checkpoint's keys (under `model.`, with tutel's `_num_global_experts` buffers) load after
/// `sanitize`.
public enum LMMFamily {
    public static let modelType = "lmm"

    public static let family = ModelFamily(modelType: modelType, summary: "Large Motion Model: ArtAttention diffusion over body parts") { folder in
        try load(folder)
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

    /// Builds the denoiser of an `lmm` folder, weights strictly, in inference mode.
    public static func load(_ folder: ModelFolder) throws -> LargeMotionModel {
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
        try LMMFamily.load(try ModelFolder(directory))
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
