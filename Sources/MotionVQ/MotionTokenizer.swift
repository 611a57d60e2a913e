import Foundation
import MotionData
import NeuralNetwork
import TensorEngine

/// Errors reading or writing a motion-tokenizer folder; each names the file.
public enum MotionTokenizerError: ClassifiedError {
    case missing(String)
    case badFile(URL, String)
    case exists(URL)

    public var kind: ErrorKind {
        switch self {
        case .missing: return .notFound
        case .badFile: return .modelFault
        case .exists: return .badInput
        }
    }

    public var description: String {
        switch self {
        case .missing(let s): return s
        case .badFile(let u, let s): return "\(u.path): \(s)"
        case .exists(let u): return "\(u.path) already exists"
        }
    }
}

/// A trained motion tokenizer with its feature normalisation: raw HumanML3D features or motions in,
/// codes out, and back.
///
/// Loading goes through the model-folder layer (`MotionTokenizer.load(directory:)` in ModelHub).
/// On disk (DESIGN.md's model directory): `motion_tokenizer/config.json`, `motion_tokenizer/model.safetensors`
/// (MotionGPT's key names), and `mean.npy`/`std.npy` either inside the tokenizer folder or beside it in the
/// model directory.
public final class MotionTokenizer {
    public let model: VQVAE
    public let normalizer: FeatureNormalizer

    public init(model: VQVAE, normalizer: FeatureNormalizer) throws {
        guard normalizer.dimension == model.config.nfeats else {
            throw VQVAEError.badConfig("mean/std have \(normalizer.dimension) values but the tokenizer expects \(model.config.nfeats) features")
        }
        self.model = model
        self.normalizer = normalizer
        model.train(false)
    }

    public var config: VQVAEConfig { model.config }
    /// Frames covered by one code (4 for MotionGPT).
    public var framesPerCode: Int { model.config.framesPerCode }

    /// Writes `config.json`, `model.safetensors` and (with `statistics`) `mean.npy`/`std.npy` into `dir`
    /// (created if needed). A model directory keeps the statistics beside `motion_tokenizer/` instead.
    /// Existing files are refused unless `force`.
    /// Weights are F32, or F16 with `dtype: .float16` (bundled models).
    public func save(directory dir: URL, force: Bool = false, statistics: Bool = true, dtype: DType = .float32) throws {
        let fm = FileManager.default
        let names = ["config.json", "model.safetensors"] + (statistics ? ["mean.npy", "std.npy"] : [])
        if !force, let clash = names.map({ dir.appendingPathComponent($0) }).first(where: { fm.fileExists(atPath: $0.path) }) {
            throw MotionTokenizerError.exists(clash)
        }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(config).write(to: dir.appendingPathComponent("config.json"), options: .atomic)
        try writeSafeTensors(model.namedTensors(), metadata: ["format": "pt"], dtype: dtype, to: dir.appendingPathComponent("model.safetensors"))
        if statistics { try saveStatistics(to: dir) }
    }

    /// Writes `mean.npy` and `std.npy` (the model-directory names) into `dir`.
    public func saveStatistics(to dir: URL) throws {
        try npyData(Tensor(normalizer.mean)).write(to: dir.appendingPathComponent("mean.npy"), options: .atomic)
        try npyData(Tensor(normalizer.std)).write(to: dir.appendingPathComponent("std.npy"), options: .atomic)
    }

    /// Codes of raw (not normalised) features `[T, nfeats]`. Trailing frames past the last multiple of
    /// `framesPerCode` are not covered; `coveredFrames(_:)` says how many are.
    public func encode(features: Tensor) throws -> [Int] {
        guard features.rank == 2, features.shape[1] == config.nfeats else {
            throw VQVAEError.badInput("motion features must be [frames, \(config.nfeats)], got \(features.shape)")
        }
        guard features.scalars.allSatisfy({ $0.isFinite }) else { throw VQVAEError.badInput("motion features contain NaN or infinity") }
        return try model.encode(try normalizer.normalize(features))
    }

    /// Frames of a `frames`-long motion that its codes cover.
    public func coveredFrames(_ frames: Int) -> Int { frames / framesPerCode * framesPerCode }

    /// Codes of a motion (its HumanML3D features are computed first; they have one frame fewer).
    public func encode(motion: Motion) throws -> [Int] { try encode(features: try motion.features()) }

    /// Raw features `[4N, nfeats]` of `N` codes.
    public func decode(_ codes: [Int]) throws -> Tensor { try normalizer.denormalize(try model.decode(codes)) }

    /// The motion (joint positions, 20 fps) of `codes`.
    public func decodeMotion(_ codes: [Int]) throws -> Motion { try Motion(features: try decode(codes)) }
}
