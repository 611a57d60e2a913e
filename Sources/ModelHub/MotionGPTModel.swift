import Foundation
import MotionData
import MotionT5
import MotionVQ
import NeuralNetwork
import TensorEngine
import TextTokenizer

/// Task settings of a MotionGPT model, stored under `"motiongpt"` in the model's `config.json`.
/// Defaults are MotionGPT's (`configs/lm/default.yaml`).
public struct MotionGPTSettings: Codable, Equatable, Sendable {
    /// Frames per second of the motions.
    public var framerate: Float = 20
    /// Longest prompt in tokens (MotionGPT truncates at 256; we refuse longer prompts instead).
    public var maxLength: Int = 256
    /// Share of a motion's tokens given as the prefix in motion prediction.
    public var predictRatio: Float = 0.2
    /// Share of tokens kept at each end in in-betweening.
    public var inbetweenRatio: Float = 0.25

    public init() {}

    enum CodingKeys: String, CodingKey {
        case framerate, maxLength = "max_length", predictRatio = "predict_ratio", inbetweenRatio = "inbetween_ratio"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MotionGPTSettings()
        framerate = try c.decodeIfPresent(Float.self, forKey: .framerate) ?? d.framerate
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        predictRatio = try c.decodeIfPresent(Float.self, forKey: .predictRatio) ?? d.predictRatio
        inbetweenRatio = try c.decodeIfPresent(Float.self, forKey: .inbetweenRatio) ?? d.inbetweenRatio
    }
}

/// Errors loading, saving, converting or running a MotionGPT model; each names the file, key or value.
public enum MotionGPTError: ClassifiedError {
    case badModel(String)
    case badInput(String)
    case tooLarge(String)

    public var kind: ErrorKind {
        switch self {
        case .badModel: return .modelFault
        case .badInput: return .badInput
        case .tooLarge: return .tooLarge
        }
    }

    public var description: String {
        switch self {
        case .badModel(let s), .badInput(let s), .tooLarge(let s): return s
        }
    }
}

/// A MotionGPT model: a T5 whose vocabulary is the text vocabulary plus `<motion_id_0..K+2>`, the
/// SentencePiece tokenizer, and the motion tokenizer (VQ-VAE with its feature statistics).
///
/// On disk (DESIGN.md): `config.json` (T5 fields, `model_type: motiongpt`, task settings under
/// `motiongpt`), `model.safetensors` (Hugging Face T5 keys), `spiece.model`, `added_tokens.json`,
/// `motion_tokenizer/{config.json, model.safetensors}`, `mean.npy`, `std.npy`.
public final class MotionGPTModel {
    public let lm: T5Model
    public let textTokenizer: SentencePieceTokenizer
    /// The `spiece.model` bytes, kept so `save` writes the same file.
    public let spieceData: Data
    public let motionTokenizer: MotionTokenizer
    public let vocabulary: MotionVocabulary
    /// Token id of `<motion_id_0>`; the motion tokens are consecutive from here.
    public let firstMotionID: Int
    public var settings: MotionGPTSettings
    /// The words of the captions the model was trained on (`vocabulary.txt` in its folder), when known:
    /// words outside it are words the model never saw.
    public var trainingVocabulary: Set<String>? = nil

    /// Puts the parts together, adding the motion tokens to the text tokenizer if it lacks them.
    /// The LM's vocabulary must already cover text + motion tokens (see `resizeTokenEmbeddings`).
    public init(lm: T5Model, spieceData: Data, motionTokenizer: MotionTokenizer, settings: MotionGPTSettings = MotionGPTSettings()) throws {
        let tok = try SentencePieceTokenizer(data: spieceData)
        let vocab = MotionVocabulary(codebookSize: motionTokenizer.config.codeNum)
        let first = vocab.install(in: tok)
        guard tok.vocabularySize <= lm.config.vocabSize else {
            throw MotionGPTError.badModel("the language model has \(lm.config.vocabSize) token embeddings but text + motion tokens need \(tok.vocabularySize) (\(first) text, \(vocab.codebookSize + 3) motion)")
        }
        self.lm = lm
        self.textTokenizer = tok
        self.spieceData = spieceData
        self.motionTokenizer = motionTokenizer
        self.vocabulary = vocab
        self.firstMotionID = first
        self.settings = settings
        lm.train(false)
    }

    /// The words of `text` that are not in the training vocabulary (lower-cased, in order, once each);
    /// empty when the vocabulary is not known.
    public func unseenWords(in text: String) -> [String] {
        guard let vocabulary = trainingVocabulary else { return [] }
        var seen = Set<String>(), out: [String] = []
        for w in MotionGPTModel.words(text) where !vocabulary.contains(w) && seen.insert(w).inserted { out.append(w) }
        return out
    }

    /// A `vocabulary.txt`: one word a line (lower-cased, blank lines skipped).
    public static func readVocabulary(_ url: URL) throws -> Set<String> {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ModelHubError.notFound("\(url.path): no such file") }
        return Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }

    /// Lower-cased words and numbers of a caption, as `vocabulary.txt` lists them.
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "'") }.map(String.init)
    }

    /// Token id of motion index `n` (`K` = start, `K+1` = end, `K+2` = pad).
    public func motionID(_ n: Int) -> Int { firstMotionID + n }

    /// The compact weight format that loses nothing for the folder `dir`: F16 when every tensor of its
    /// `model.safetensors` is stored F16 (the bundled models), else nil (keep Float32).
    public static func storedCompactFormat(_ dir: URL) -> CompactMatrix.Format? {
        guard let file = try? SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")), !file.names.isEmpty,
              file.names.allSatisfy({ file.dtype($0) == .float16 }) else { return nil }
        return .f16
    }

    /// Loads a model directory (see `MotionGPTFamily`).
    public static func load(directory dir: URL) throws -> MotionGPTModel {
        try MotionGPTFamily.load(try ModelFolder(dir))
    }

    /// Writes the model directory; existing files are refused unless `force`.
    public func save(directory dir: URL, force: Bool = false, dtype: DType = .float32) throws {
        let fm = FileManager.default
        if !force, fm.fileExists(atPath: dir.appendingPathComponent("config.json").path) {
            throw ModelHubError.exists("\(dir.path)/config.json (a model)")
        }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        try lm.save(directory: dir, force: true, dtype: dtype)
        // T5Model.save wrote a plain T5 config; add what makes it a MotionGPT folder.
        let configURL = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        json["model_type"] = "motiongpt"
        json["motiongpt"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings))
        json["motion_codebook_size"] = vocabulary.codebookSize
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: configURL, options: .atomic)
        try spieceData.write(to: dir.appendingPathComponent("spiece.model"), options: .atomic)
        var added: [String: Int] = [:]
        for n in 0..<(vocabulary.codebookSize + 3) { added[MotionVocabulary.token(n)] = motionID(n) }
        try JSONSerialization.data(withJSONObject: added, options: [.sortedKeys]).write(to: dir.appendingPathComponent("added_tokens.json"), options: .atomic)
        try motionTokenizer.save(directory: dir.appendingPathComponent("motion_tokenizer"), force: true, statistics: false, dtype: dtype)
        try motionTokenizer.saveStatistics(to: dir)
        if let v = trainingVocabulary {
            try Data((v.sorted().joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("vocabulary.txt"), options: .atomic)
        }
    }
}

/// The `motiongpt` family: a T5 whose vocabulary adds the motion tokens, with its SentencePiece model
/// and motion tokenizer (DESIGN.md's model directory).
public enum MotionGPTFamily {
    public static let modelType = "motiongpt"

    public static let family = ModelFamily(modelType: modelType, summary: "MotionGPT: T5 with motion tokens and a VQ-VAE motion tokenizer") { folder in
        try load(folder)
    }

    /// Builds the model of a `motiongpt` folder: task settings from `config.json`'s `motiongpt`
    /// object, the LM through `T5Family`, the motion tokenizer through `MotionTokenizerFamily`.
    public static func load(_ folder: ModelFolder) throws -> MotionGPTModel {
        guard folder.modelType == modelType else {
            throw ModelHubError.wrongFamily(folder: folder.url.path, found: folder.modelType.isEmpty ? "untyped" : folder.modelType, expected: modelType)
        }
        var settings = MotionGPTSettings()
        if let s = folder.config["motiongpt"] {
            do { settings = try JSONDecoder().decode(MotionGPTSettings.self, from: JSONSerialization.data(withJSONObject: s)) }
            catch { throw ModelHubError.badModel("\(folder.configURL.path): motiongpt settings: \(error)") }
        }
        let spiece = try folder.require("spiece.model")
        guard let spieceData = try? Data(contentsOf: spiece) else { throw ModelHubError.badModel("\(spiece.path): unreadable") }
        let lm = try T5Family.loadLM(folder)
        let motion = try MotionTokenizer.load(directory: folder.url)
        let model = try MotionGPTModel(lm: lm, spieceData: spieceData, motionTokenizer: motion, settings: settings)
        if folder.has("vocabulary.txt") { model.trainingVocabulary = try MotionGPTModel.readVocabulary(folder.file("vocabulary.txt")) }
        return model
    }
}

/// Conversion of MotionGPT's released PyTorch checkpoints (`motiongpt_s3_h3d.tar` and the like).
public enum MotionGPTCheckpoint {
    /// What a conversion found.
    public struct Report: Sendable {
        public var kind: String
        public var tokenizerConfig: VQVAEConfig
        public var lmConfig: T5Config?
        /// Prefixes of tensors that were not converted (evaluator networks), with counts.
        public var skipped: [String: Int]
    }

    /// Infers the VQ-VAE configuration from MotionGPT tokenizer weights (keys without `vae.`).
    public static func tokenizerConfig(from state: [String: Tensor]) throws -> VQVAEConfig {
        func shape(_ k: String) throws -> [Int] {
            guard let t = state[k] else { throw MotionGPTError.badModel("checkpoint lacks vae.\(k)") }
            return t.shape
        }
        var c = VQVAEConfig()
        let cb = try shape("quantizer.codebook")
        let first = try shape("encoder.model.0.weight")          // [width, nfeats, 3]
        c.codeNum = cb[0]; c.codeDim = cb[1]; c.outputEmbWidth = cb[1]
        c.width = first[0]; c.nfeats = first[1]
        var down = 0
        while state["encoder.model.\(2 + down).0.weight"] != nil { down += 1 }
        c.downT = down
        var depth = 0
        while state["encoder.model.2.1.model.\(depth).conv1.weight"] != nil { depth += 1 }
        c.depth = depth
        // The dilation growth rate leaves no trace in the weights (dilation is not a parameter);
        // every MotionGPT tokenizer uses 3, the default kept here.
        c.strideT = 2
        try c.validate()
        return c
    }

    /// Converts a MotionGPT checkpoint into a model directory. `tokenizerFolder` holds the Flan-T5 files
    /// (`spiece.model`, `config.json`) the checkpoint was trained with; `statistics` holds `Mean.npy` and
    /// `Std.npy` of its training data. A tokenizer-only checkpoint (only `vae.` keys, or bare VQ-VAE keys)
    /// becomes a `motion_tokenizer/` folder with the statistics.
    public static func convert(checkpoint: URL, tokenizerFolder: URL?, statistics: URL, to out: URL, force: Bool) throws -> Report {
        let ckpt: TorchCheckpoint
        do { ckpt = try TorchCheckpoint(url: checkpoint) } catch { throw MotionGPTError.badModel("\(checkpoint.path): \(error)") }
        let state = try ckpt.stateDict()
        var vaeKeys: [String: Tensor] = [:], lm: [String: Tensor] = [:], skipped: [String: Int] = [:]
        let bare = state.keys.contains("quantizer.codebook")
        for (k, v) in state {
            if k.hasPrefix("lm.language_model.") { lm[String(k.dropFirst("lm.language_model.".count))] = v }
            else if k.hasPrefix("vae.") || (bare && MotionTokenizerFamily.isTokenizerKey(k)) { vaeKeys[k] = v }
            else { skipped[String(k.split(separator: ".").first ?? ""), default: 0] += 1 }
        }
        let vae = MotionTokenizerFamily.sanitize(vaeKeys)
        guard !vae.isEmpty else {
            throw MotionGPTError.badModel("\(checkpoint.path): no motion tokenizer weights (keys under vae.) in the checkpoint")
        }
        let normalizer = try FeatureNormalizer(directory: statistics)
        let vqConfig = try tokenizerConfig(from: vae)
        let vq = try VQVAE(config: vqConfig)
        try loadWeights(vae, into: vq, sanitize: { $0 }, source: "\(checkpoint.path): tokenizer weights")
        let motion = try MotionTokenizer(model: vq, normalizer: normalizer)
        let fm = FileManager.default
        if lm.isEmpty {
            try motion.save(directory: out.appendingPathComponent("motion_tokenizer"), force: force)
            return Report(kind: "tokenizer", tokenizerConfig: vqConfig, lmConfig: nil, skipped: skipped)
        }
        guard let tokenizerFolder else {
            throw MotionGPTError.badModel("the checkpoint holds a language model: give the Flan-T5 folder it was trained with (spiece.model, config.json)")
        }
        let spiece = tokenizerFolder.appendingPathComponent("spiece.model")
        guard let spieceData = try? Data(contentsOf: spiece) else { throw MotionGPTError.badModel("\(spiece.path): no such file") }
        let configURL = tokenizerFolder.appendingPathComponent("config.json")
        guard fm.fileExists(atPath: configURL.path) else { throw MotionGPTError.badModel("\(configURL.path): no such file") }
        var t5: T5Config
        do { t5 = try JSONDecoder().decode(T5Config.self, from: Data(contentsOf: configURL)) }
        catch { throw MotionGPTError.badModel("\(configURL.path): \(error)") }
        guard let shared = lm["shared.weight"] else { throw MotionGPTError.badModel("\(checkpoint.path): no lm.language_model.shared.weight") }
        // The embeddings were resized to text + motion tokens; the folder's config still has the old size.
        t5.vocabSize = shared.shape[0]
        guard shared.shape[1] == t5.dModel else {
            throw MotionGPTError.badModel("\(configURL.path): d_model \(t5.dModel) does not match the checkpoint's embeddings \(shared.shape)")
        }
        t5.tieWordEmbeddings = lm["lm_head.weight"] == nil
        let model = try T5Model(config: t5, seed: 0)
        try loadWeights(lm, into: model, sanitize: { T5Family.sanitize($0, config: t5) }, source: "\(checkpoint.path): language model weights")
        let full = try MotionGPTModel(lm: model, spieceData: spieceData, motionTokenizer: motion)
        guard full.textTokenizer.vocabularySize == t5.vocabSize else {
            throw MotionGPTError.badModel("the checkpoint's vocabulary has \(t5.vocabSize) tokens but \(spiece.path) + \(vqConfig.codeNum + 3) motion tokens make \(full.textTokenizer.vocabularySize): wrong tokenizer folder?")
        }
        try full.save(directory: out, force: force)
        return Report(kind: "full", tokenizerConfig: vqConfig, lmConfig: t5, skipped: skipped)
    }
}
