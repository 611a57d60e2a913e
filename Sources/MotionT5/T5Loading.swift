import Foundation
import NeuralNetwork
import TensorEngine

/// Errors reading or writing a model folder; each names the file.
public enum ModelFolderError: Error, CustomStringConvertible {
    case missingFile(URL)
    case badConfig(URL, String)
    case badIndex(URL, String)

    public var description: String {
        switch self {
        case .missingFile(let u): return "\(u.path): no such file"
        case .badConfig(let u, let s): return "\(u.path): \(s)"
        case .badIndex(let u, let s): return "\(u.path): \(s)"
        }
    }
}

extension T5Model {
    /// Writes the model as a Hugging Face folder (`config.json`, `model.safetensors`) that
    /// `transformers` and `load(directory:)` read. Refuses to replace existing files unless `force`.
    /// Weights are F32, or F16 with `dtype: .float16` (bundled models; loading widens them again).
    public func save(directory: URL, force: Bool = false, dtype: DType = .float32) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        if !force {
            for u in [configURL, weightsURL] where fm.fileExists(atPath: u.path) {
                throw ModelFolderError.badConfig(u, "already exists")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var json = try JSONSerialization.jsonObject(with: encoder.encode(config)) as! [String: Any]
        json["model_type"] = "t5"
        json["architectures"] = ["T5ForConditionalGeneration"]
        json["num_decoder_layers"] = config.decoderLayers
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        if dtype == .float32 {
            try save(to: weightsURL, metadata: ["format": "pt"])
        } else {
            try writeSafeTensors(namedTensors(), metadata: ["format": "pt"], dtype: dtype, to: weightsURL)
        }
    }
}

extension ModelFolderError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .missingFile: return .notFound
        case .badConfig, .badIndex: return .badInput
        }
    }
}
