import Foundation
import NeuralNetwork
import TensorEngine

/// Errors of the model-folder layer; each names the folder or file.
public enum ModelHubError: ClassifiedError, Equatable {
    /// A folder or file that must exist does not.
    case notFound(String)
    /// `config.json`'s `model_type` names no registered family.
    case unknownModelType(file: String, modelType: String, known: [String])
    /// The folder is of another family than the caller asked for.
    case wrongFamily(folder: String, found: String, expected: String)
    /// A file exists but is broken or inconsistent.
    case badModel(String)
    /// An output folder already holds a model and replacing it was not asked for.
    case exists(String)

    public var kind: ErrorKind {
        switch self {
        case .notFound: return .notFound
        case .unknownModelType, .wrongFamily, .exists: return .badInput
        case .badModel: return .modelFault
        }
    }

    public var description: String {
        switch self {
        case .notFound(let s), .badModel(let s): return s
        case .unknownModelType(let file, let type, let known):
            return "\(file): model_type \"\(type)\" is not a known model family (known: \(known.joined(separator: ", ")))"
        case .wrongFamily(let folder, let found, let expected):
            return "\(folder) holds a \(found) model, not a \(expected) model"
        case .exists(let s): return "\(s) already exists"
        }
    }
}

/// A model folder with its `config.json` read once: the raw bytes (for a family's `Codable`
/// configuration), the parsed object, and the `model_type` that picks the family.
public struct ModelFolder {
    public let url: URL
    public let configURL: URL
    /// The bytes of `config.json`, for `decodeConfig`.
    public let configData: Data
    /// `config.json` as a JSON object.
    public let config: [String: Any]
    /// `config.json`'s `model_type` ("" when it has none).
    public let modelType: String

    /// Reads `url/config.json`. A missing folder or file is `.notFound`; a file that is not a JSON
    /// object is `.badModel`.
    public init(_ url: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { throw ModelHubError.notFound("\(url.path): no such model folder (no config.json)") }
        guard isDir.boolValue else { throw ModelHubError.badModel("\(url.path): a model is a folder (config.json, model.safetensors, ...), not a file") }
        let configURL = url.appendingPathComponent("config.json")
        guard fm.fileExists(atPath: configURL.path) else { throw ModelHubError.notFound("\(url.path): not a model folder (no config.json)") }
        guard let data = try? Data(contentsOf: configURL) else { throw ModelHubError.badModel("\(configURL.path): unreadable") }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelHubError.badModel("\(configURL.path): not a JSON object")
        }
        self.url = url
        self.configURL = configURL
        self.configData = data
        self.config = json
        self.modelType = json["model_type"] as? String ?? ""
    }

    /// `path` read relative to `folder` unless absolute (a model naming another model folder).
    public static func resolve(_ path: String, relativeTo folder: URL) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)).standardizedFileURL
    }

    /// `target` as a path relative to `folder` (both absolute), so two folders can move together
    /// (`Models/evaluator` -> `../text-encoder`).
    public static func relativePath(of target: URL, from folder: URL) -> String {
        let a = folder.standardizedFileURL.pathComponents, b = target.standardizedFileURL.pathComponents
        var common = 0
        while common < a.count && common < b.count && a[common] == b[common] { common += 1 }
        let parts = [String](repeating: "..", count: a.count - common) + b[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Whether `name` exists inside the folder.
    public func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name).path) }

    /// The path of `name`, which must exist.
    public func require(_ name: String) throws -> URL {
        guard has(name) else { throw ModelHubError.notFound("\(file(name).path): no such file") }
        return file(name)
    }

    /// Decodes `config.json` as a family's configuration; a decoding failure names the key.
    public func decodeConfig<T: Decodable>(_ type: T.Type, what: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: configData) }
        catch let e as DecodingError { throw ModelHubError.badModel("\(configURL.path): not a \(what) configuration (\(e.shortDescription))") }
        catch { throw ModelHubError.badModel("\(configURL.path): \(error)") }
    }

    /// The weight files of the folder, in transformers' order of preference: `model.safetensors`, the
    /// shards listed in `model.safetensors.index.json`, `pytorch_model.bin`, the shards listed in
    /// `pytorch_model.bin.index.json`.
    public func weightFiles() throws -> [URL] {
        if has("model.safetensors") { return [file("model.safetensors")] }
        if has("model.safetensors.index.json") { return try shards("model.safetensors.index.json") }
        if has("pytorch_model.bin") { return [file("pytorch_model.bin")] }
        if has("pytorch_model.bin.index.json") { return try shards("pytorch_model.bin.index.json") }
        throw ModelHubError.notFound("\(file("model.safetensors").path): no such file (nor model.safetensors.index.json, pytorch_model.bin)")
    }

    private func shards(_ indexName: String) throws -> [URL] {
        let index = file(indexName)
        guard let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: index))) as? [String: Any],
              let map = json["weight_map"] as? [String: String] else {
            throw ModelHubError.badModel("\(index.path): no weight_map object")
        }
        return try Set(map.values).sorted().map { name in
            guard !name.contains("/") && !name.hasPrefix(".") else { throw ModelHubError.badModel("\(index.path): shard name \(name) leaves the folder") }
            return try require(name)
        }
    }

    /// Every tensor of the folder's weight files, as Float32 (F16/BF16 are widened), by key. PyTorch
    /// files are read with the state-dict unpickler (no code runs).
    public func readWeights() throws -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for url in try weightFiles() {
            var tensors: [String: Tensor] = [:]
            if url.pathExtension == "bin" {
                do { tensors = try TorchCheckpoint(url: url).stateDict() } catch { throw ModelHubError.badModel("\(url.path): \(error)") }
            } else {
                let file: SafeTensorsFile
                do { file = try SafeTensorsFile(url: url) } catch { throw ModelHubError.badModel("\(url.path): \(error)") }
                for name in file.names { tensors[name] = try file.tensor(name) }
            }
            for (name, t) in tensors {
                guard state[name] == nil else { throw ModelHubError.badModel("\(url.path): tensor \(name) is in two shards") }
                state[name] = t
            }
        }
        return state
    }
}

/// The one weight-loading path every family uses: checkpoint keys, renamed and cleaned by the
/// family's `sanitize`, go into the module through `Module.load(state:strict:)`, which reports
/// missing, unexpected and mis-shaped keys together and writes nothing on failure.
public func loadWeights(_ state: [String: Tensor], into module: Module, sanitize: ([String: Tensor]) -> [String: Tensor],
                        source: String, strict: Bool = true) throws {
    do { try module.load(state: sanitize(state), strict: strict) }
    catch { throw ModelHubError.badModel("\(source): \(error)") }
}

extension DecodingError {
    /// One line: which key and what was wrong.
    public var shortDescription: String {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
        @unknown default: return "\(self)"
        }
    }
}
