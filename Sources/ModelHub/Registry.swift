import Foundation
import TensorEngine

/// A model family: the `model_type` it answers to and how it builds a model from a folder (decode its
/// configuration, build the module, read the weights, rename them with its `sanitize` step, strict load).
public struct ModelFamily: Sendable {
    /// `config.json`'s `model_type` value.
    public let modelType: String
    /// One line for listings (`motiongpt help`, the server's `/v1/models`).
    public let summary: String
    /// Builds the model of a folder whose `model_type` is `modelType`.
    public let load: @Sendable (ModelFolder) throws -> AnyObject

    public init(modelType: String, summary: String, load: @escaping @Sendable (ModelFolder) throws -> AnyObject) {
        self.modelType = modelType
        self.summary = summary
        self.load = load
    }
}

/// A model loaded through the registry, with the folder it came from.
public struct LoadedModel {
    public let folder: ModelFolder
    public let family: ModelFamily
    /// The family's model object (`MotionGPTModel`, `T5TextModel`, `MotionTokenizer`, ...).
    public let model: AnyObject

    /// The model as `T`, or an error naming the folder and both families.
    public func `as`<T>(_ type: T.Type, expected: String) throws -> T {
        guard let m = model as? T else {
            throw ModelHubError.wrongFamily(folder: folder.url.path, found: family.modelType, expected: expected)
        }
        return m
    }
}

/// The families that can be loaded, by `model_type`. The families of this target (`t5`, `motiongpt`,
/// `motion_vqvae`) are there from the start; families defined in targets above (the evaluator, the
/// diffusion model) register themselves, and the executables register every family at start-up.
/// Thread-safe: registration and lookup take a lock.
public final class ModelRegistry: @unchecked Sendable {
    /// The process's registry.
    public static let shared = ModelRegistry(families: ModelRegistry.builtInFamilies)

    private let lock = NSLock()
    private var families: [String: ModelFamily] = [:]

    /// A registry holding `families` (tests build their own).
    public init(families: [ModelFamily] = []) {
        for f in families { self.families[f.modelType] = f }
    }

    /// Adds (or replaces) a family.
    public func register(_ family: ModelFamily) {
        lock.lock(); defer { lock.unlock() }
        families[family.modelType] = family
    }

    /// The family of `modelType`, if registered.
    public func family(_ modelType: String) -> ModelFamily? {
        lock.lock(); defer { lock.unlock() }
        return families[modelType]
    }

    /// Registered `model_type`s, sorted.
    public var modelTypes: [String] {
        lock.lock(); defer { lock.unlock() }
        return families.keys.sorted()
    }

    /// Loads any model folder: `config.json` read once, its `model_type` picks the family.
    public func load(_ url: URL) throws -> LoadedModel {
        let folder = try ModelFolder(url)
        guard !folder.modelType.isEmpty else {
            throw ModelHubError.badModel("\(folder.configURL.path): no model_type (known: \(modelTypes.joined(separator: ", ")))")
        }
        guard let family = family(folder.modelType) else {
            throw ModelHubError.unknownModelType(file: folder.configURL.path, modelType: folder.modelType, known: modelTypes)
        }
        return LoadedModel(folder: folder, family: family, model: try family.load(folder))
    }
}

/// The model-folder layer's entry points.
public enum ModelHub {
    /// Loads any registered kind of model folder (see `ModelRegistry.load`).
    public static func load(_ url: URL, registry: ModelRegistry = .shared) throws -> LoadedModel {
        try registry.load(url)
    }

    /// Loads a folder that must be of type `T`, naming both families when it is not.
    public static func load<T>(_ url: URL, as type: T.Type, expected: String, registry: ModelRegistry = .shared) throws -> T {
        try registry.load(url).as(T.self, expected: expected)
    }
}
