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
    /// Keys a Hugging Face T5 checkpoint may hold that are copies of `shared.weight` or unused
    /// (transformers ignores the decoder's cross-attention bias table too).
    static func redundantKeys(tied: Bool) -> Set<String> {
        var keys: Set<String> = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                 "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"]
        if tied { keys.insert("lm_head.weight") }
        return keys
    }

    /// Loads a Hugging Face T5 folder: `config.json` plus `model.safetensors`, or shards listed in
    /// `model.safetensors.index.json`. Every weight the model has must be in the files, with its shape.
    public static func load(directory: URL) throws -> T5Model {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else { throw ModelFolderError.missingFile(configURL) }
        let config: T5Config
        do {
            config = try JSONDecoder().decode(T5Config.self, from: Data(contentsOf: configURL))
        } catch let e as DecodingError {
            throw ModelFolderError.badConfig(configURL, "not a T5 configuration (\(e.shortDescription))")
        }
        let model = try T5Model(config: config)
        try model.loadWeights(directory: directory)
        return model
    }

    /// Reads the weights of a model folder into this model (see `load(directory:)`).
    public func loadWeights(directory: URL) throws {
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var files: [URL] = []
        if FileManager.default.fileExists(atPath: single.path) {
            files = [single]
        } else if FileManager.default.fileExists(atPath: index.path) {
            guard let json = try JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw ModelFolderError.badIndex(index, "no weight_map object")
            }
            files = Set(map.values).sorted().map { directory.appendingPathComponent($0) }
        } else {
            throw ModelFolderError.missingFile(single)
        }
        let skip = Self.redundantKeys(tied: config.tieWordEmbeddings)
        var state: [String: Tensor] = [:]
        for url in files {
            guard FileManager.default.fileExists(atPath: url.path) else { throw ModelFolderError.missingFile(url) }
            let file = try SafeTensorsFile(url: url)
            for name in file.names where !skip.contains(name) { state[name] = try file.tensor(name) }
        }
        try load(state: state)
    }

    /// Writes the model as a Hugging Face folder (`config.json`, `model.safetensors`) that
    /// `transformers` and `load(directory:)` read. Refuses to replace existing files unless `force`.
    public func save(directory: URL, force: Bool = false) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        if !force {
            for u in [configURL, weightsURL] where fm.fileExists(atPath: u.path) {
                throw ModelFolderError.badConfig(u, "already exists (use --force to replace it)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var json = try JSONSerialization.jsonObject(with: encoder.encode(config)) as! [String: Any]
        json["model_type"] = "t5"
        json["architectures"] = ["T5ForConditionalGeneration"]
        json["num_decoder_layers"] = config.decoderLayers
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        try save(to: weightsURL, metadata: ["format": "pt"])
    }
}

extension DecodingError {
    /// One line: which key and what was wrong.
    var shortDescription: String {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
        @unknown default: return "\(self)"
        }
    }
}
