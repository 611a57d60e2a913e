import Foundation
import MotionData
import NeuralNetwork
import TensorEngine

/// Errors loading or feeding the T2M evaluator; each names the file or argument at fault.
public enum T2MEvaluatorError: Error, CustomStringConvertible, Equatable {
    /// A file of the evaluator's layout is not there (the second value says which part it is).
    case missingFile(String, String)
    /// A file is there but unreadable, of the wrong kind or shape.
    case badFile(String, String)
    /// Captions or motions the evaluator cannot take.
    case badInput(String)

    public var description: String {
        switch self {
        case .missingFile(let path, let what): return "\(path): no such file (\(what))"
        case .badFile(let path, let why): return "\(path): \(why)"
        case .badInput(let why): return why
        }
    }
}

extension T2MEvaluatorError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .missingFile: return .notFound
        case .badFile, .badInput: return .badInput
        }
    }
}

/// The sizes of the T2M evaluator, with the official option names (`opt.dim_pose`, ...). They are
/// read from the checkpoint's tensor shapes, so the official HumanML3D weights (`official`), its
/// KIT-ML ones (`dim_pose` 251) and smaller test builds all load through the same path.
public struct T2MEvaluatorConfiguration: Codable, Sendable, Equatable {
    /// Feature width of the raw motions (263 HumanML3D, 251 KIT-ML); the encoder reads all but the
    /// last 4 (the foot contacts).
    public var dimPose: Int
    /// Channels of the movement encoder's first convolution.
    public var dimMovementEncHidden: Int
    /// Width of the movement features (second convolution and `out_net`).
    public var dimMovementLatent: Int
    /// Width of the word vectors (300 for GloVe).
    public var dimWord: Int
    /// Slots of the part-of-speech one-hot (15).
    public var dimPosOhot: Int
    /// Hidden width of the text encoder's GRU (each direction).
    public var dimTextHidden: Int
    /// Hidden width of the motion encoder's GRU (each direction).
    public var dimMotionHidden: Int
    /// Width of the shared embedding space.
    public var dimCoembHidden: Int
    /// Captions are cut to this many tokens before `sos`/`eos` are added.
    public var maxTextLen: Int
    /// Frames per movement step (the two stride-2 convolutions).
    public var unitLength: Int
    /// The official loader zero-pads every normalised motion to this many frames (see `T2MEvaluator`).
    public var maxMotionLength: Int

    enum CodingKeys: String, CodingKey {
        case dimPose = "dim_pose", dimMovementEncHidden = "dim_movement_enc_hidden", dimMovementLatent = "dim_movement_latent"
        case dimWord = "dim_word", dimPosOhot = "dim_pos_ohot", dimTextHidden = "dim_text_hidden"
        case dimMotionHidden = "dim_motion_hidden", dimCoembHidden = "dim_coemb_hidden", maxTextLen = "max_text_len"
        case unitLength = "unit_length", maxMotionLength = "max_motion_length"
    }

    /// Sizes given one by one; the last three default to the official values.
    public init(dimPose: Int, dimMovementEncHidden: Int, dimMovementLatent: Int, dimWord: Int, dimPosOhot: Int,
                dimTextHidden: Int, dimMotionHidden: Int, dimCoembHidden: Int, maxTextLen: Int = 20, unitLength: Int = 4,
                maxMotionLength: Int = 196) {
        self.dimPose = dimPose; self.dimMovementEncHidden = dimMovementEncHidden; self.dimMovementLatent = dimMovementLatent
        self.dimWord = dimWord; self.dimPosOhot = dimPosOhot; self.dimTextHidden = dimTextHidden
        self.dimMotionHidden = dimMotionHidden; self.dimCoembHidden = dimCoembHidden; self.maxTextLen = maxTextLen
        self.unitLength = unitLength; self.maxMotionLength = maxMotionLength
    }

    /// The official HumanML3D evaluator (`networks/evaluator_wrapper.py`).
    public static let official = T2MEvaluatorConfiguration(
        dimPose: 263, dimMovementEncHidden: 512, dimMovementLatent: 512, dimWord: 300, dimPosOhot: 15,
        dimTextHidden: 512, dimMotionHidden: 1024, dimCoembHidden: 512)

    /// Sizes from the three state dicts (keys without their `text_encoder.` ... prefixes); `origin`
    /// names the checkpoint in errors. Shapes beyond these are checked by strict loading.
    init(movement: [String: Tensor], text: [String: Tensor], motion: [String: Tensor], origin: String) throws {
        func shape(_ dict: [String: Tensor], _ part: String, _ key: String, rank: Int) throws -> [Int] {
            guard let t = dict[key] else { throw T2MEvaluatorError.badFile(origin, "\(part) state dict has no '\(key)'") }
            guard t.rank == rank else { throw T2MEvaluatorError.badFile(origin, "\(part).\(key) has shape \(t.shape), expected rank \(rank)") }
            return t.shape
        }
        let conv0 = try shape(movement, "movement_encoder", "main.0.weight", rank: 3)
        let conv3 = try shape(movement, "movement_encoder", "main.3.weight", rank: 3)
        guard conv0[2] == 4, conv3[2] == 4 else {
            throw T2MEvaluatorError.badFile(origin, "movement_encoder convolutions have kernels \(conv0[2]) and \(conv3[2]), the T2M evaluator's are 4")
        }
        let posEmb = try shape(text, "text_encoder", "pos_emb.weight", rank: 2)
        let textIn = try shape(text, "text_encoder", "input_emb.weight", rank: 2)
        let textOut = try shape(text, "text_encoder", "output_net.3.weight", rank: 2)
        let motionIn = try shape(motion, "motion_encoder", "input_emb.weight", rank: 2)
        let motionOut = try shape(motion, "motion_encoder", "output_net.3.weight", rank: 2)
        guard posEmb[1] == T2MWordVectorizer.partsOfSpeech.count else {
            throw T2MEvaluatorError.badFile(origin, "text_encoder.pos_emb.weight \(posEmb) reads \(posEmb[1]) parts of speech; the word vectorizer has \(T2MWordVectorizer.partsOfSpeech.count)")
        }
        guard motionIn[1] == conv3[0] else {
            throw T2MEvaluatorError.badFile(origin, "motion_encoder.input_emb.weight \(motionIn) does not read the movement encoder's \(conv3[0]) outputs")
        }
        guard textOut[0] == motionOut[0] else {
            throw T2MEvaluatorError.badFile(origin, "text embeddings are \(textOut[0]) wide but motion embeddings \(motionOut[0])")
        }
        self.init(dimPose: conv0[1] + 4, dimMovementEncHidden: conv0[0], dimMovementLatent: conv3[0], dimWord: posEmb[0],
                  dimPosOhot: posEmb[1], dimTextHidden: textIn[0], dimMotionHidden: motionIn[0], dimCoembHidden: textOut[0])
    }
}

// MARK: - The official modules (networks/modules.py), with its key names

/// `MovementConvEncoder`: `[B, T, dim_pose - 4]` -> `[B, T/4, dim_movement_latent]`.
final class T2MMovementConvEncoder: Module {
    /// Conv1d(k4 s2 p1), Dropout(0.2), LeakyReLU(0.2), Conv1d(k4 s2 p1), Dropout(0.2), LeakyReLU(0.2):
    /// `main.0` and `main.3` hold weights.
    let main: Sequential
    let outNet: Linear

    override var keyOverrides: [String: String] { ["outNet": "out_net"] }

    init(_ c: T2MEvaluatorConfiguration, rng: inout SeededRNG) {
        main = Sequential([
            Conv1d(c.dimPose - 4, c.dimMovementEncHidden, kernelSize: 4, stride: 2, padding: 1, rng: &rng),
            Dropout(0.2), LeakyReLU(negativeSlope: 0.2),
            Conv1d(c.dimMovementEncHidden, c.dimMovementLatent, kernelSize: 4, stride: 2, padding: 1, rng: &rng),
            Dropout(0.2), LeakyReLU(negativeSlope: 0.2),
        ])
        outNet = Linear(c.dimMovementLatent, c.dimMovementLatent, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = main(x.permuted([0, 2, 1]))          // [B, latent, T/4]
        return outNet(h.permuted([0, 2, 1]))        // [B, T/4, latent]
    }
}

/// `output_net` of both co-embedding encoders: Linear(2H, H), LayerNorm(H), LeakyReLU(0.2), Linear(H, out).
private func coEmbeddingHead(hidden: Int, output: Int, rng: inout SeededRNG) -> Sequential {
    Sequential([Linear(2 * hidden, hidden, rng: &rng), LayerNorm(hidden), LeakyReLU(negativeSlope: 0.2),
                Linear(hidden, output, rng: &rng)])
}

/// `TextEncoderBiGRUCo`: word vectors plus embedded part-of-speech one-hots, a bidirectional GRU over
/// each caption's length from the learned initial state `hidden [2, 1, H]`, both final states
/// through `output_net`.
final class T2MTextEncoder: Module {
    let posEmb: Linear
    let inputEmb: Linear
    let gru: GRU
    let outputNet: Sequential
    let hidden: Tensor

    override var keyOverrides: [String: String] { ["posEmb": "pos_emb", "inputEmb": "input_emb", "outputNet": "output_net"] }

    init(_ c: T2MEvaluatorConfiguration, rng: inout SeededRNG) {
        posEmb = Linear(c.dimPosOhot, c.dimWord, rng: &rng)
        inputEmb = Linear(c.dimWord, c.dimTextHidden, rng: &rng)
        gru = GRU(inputSize: c.dimTextHidden, hiddenSize: c.dimTextHidden, bidirectional: true, rng: &rng)
        outputNet = coEmbeddingHead(hidden: c.dimTextHidden, output: c.dimCoembHidden, rng: &rng)
        hidden = .randn([2, 1, c.dimTextHidden], rng: &rng, requiresGrad: true)
    }

    /// `words [B, L, dim_word]`, `partsOfSpeech [B, L, 15]`, lengths in `1...L` -> `[B, dim_coemb_hidden]`.
    func callAsFunction(words: Tensor, partsOfSpeech: Tensor, lengths: [Int]) -> Tensor {
        let b = words.shape[0]
        let x = inputEmb(words + posEmb(partsOfSpeech))                                   // [B, L, H]
        let h0 = hidden.expanded(to: [2, b, hidden.shape[2]])                             // [2, B, H]
        let (_, last) = gru(x, initialHidden: h0, lengths: lengths)                        // [2, B, H]
        let both = Tensor.concat([last.slice(dim: 0, 0, 1), last.slice(dim: 0, 1, 2)], dim: 2).reshaped([b, -1])  // [B, 2H]
        return outputNet(both)
    }
}

/// `MotionEncoderBiGRUCo`: movement features through `input_emb`, a bidirectional GRU over
/// `m_len / unit_length` steps from the learned `hidden [2, 1, H]`, both final states through `output_net`.
final class T2MMotionEncoder: Module {
    let inputEmb: Linear
    let gru: GRU
    let outputNet: Sequential
    let hidden: Tensor

    override var keyOverrides: [String: String] { ["inputEmb": "input_emb", "outputNet": "output_net"] }

    init(_ c: T2MEvaluatorConfiguration, rng: inout SeededRNG) {
        inputEmb = Linear(c.dimMovementLatent, c.dimMotionHidden, rng: &rng)
        gru = GRU(inputSize: c.dimMotionHidden, hiddenSize: c.dimMotionHidden, bidirectional: true, rng: &rng)
        outputNet = coEmbeddingHead(hidden: c.dimMotionHidden, output: c.dimCoembHidden, rng: &rng)
        hidden = .randn([2, 1, c.dimMotionHidden], rng: &rng, requiresGrad: true)
    }

    /// `movements [B, S, dim_movement_latent]`, lengths in `1...S` -> `[B, dim_coemb_hidden]`.
    func callAsFunction(_ movements: Tensor, lengths: [Int]) -> Tensor {
        let b = movements.shape[0]
        let x = inputEmb(movements)                                                       // [B, S, H]
        let h0 = hidden.expanded(to: [2, b, hidden.shape[2]])                             // [2, B, H]
        let (_, last) = gru(x, initialHidden: h0, lengths: lengths)                        // [2, B, H]
        let both = Tensor.concat([last.slice(dim: 0, 0, 1), last.slice(dim: 0, 1, 2)], dim: 2).reshaped([b, -1])  // [B, 2H]
        return outputNet(both)
    }
}

// MARK: - The evaluator

/// The text-motion evaluator of Guo et al. 2022 ("Generating Diverse and Natural 3D Human Motions
/// from Text", EricGuo5513/text-to-motion): the embedding space in which every paper's HumanML3D
/// table reports R-precision, FID, MM-Dist, Diversity and MultiModality. Loads the official
/// weights; nothing is downloaded.
///
/// Layout of the folder (`init(folder:)`), as the official download unpacks (`checkpoints/t2m/`
/// of text-to-motion, `deps/t2m/t2m/` of MotionGPT):
///
///     DIR/text_mot_match/model/finest.tar      torch.save dict: 'text_encoder', 'motion_encoder',
///                                              'movement_encoder' state dicts (other entries ignored)
///     DIR/Comp_v6_KLD01/meta/mean.npy, std.npy the evaluator's feature statistics (or DIR/meta/)
///     DIR/glove/our_vab_{data.npy,words.pkl,idx.pkl}   GloVe (or ../glove, ../../glove: the
///                                              official repositories keep glove/ two levels up)
///
/// `finest.tar` must be in torch's zip format (torch >= 1.6); a legacy-format file is refused with
/// a message saying to re-save it. Sizes come from the tensor shapes (`T2MEvaluatorConfiguration`).
///
/// Text side: `T2MWordVectorizer` (official `word/POS` rules, at most 20 tokens plus `sos`/`eos`).
/// Motion side, per motion `[T, dim_pose]` of raw features: cropped to its first
/// `L = (T / 4) * 4` frames (the official loader's crop to a multiple of `unit_length`, taken at
/// frame 0 rather than at a random offset, and never the loader's random one-unit-shorter variant),
/// normalised with the evaluator's mean/std, foot contacts (last 4) dropped, zero-padded as the
/// official loader pads to 196 frames, through the movement encoder, then the motion encoder over
/// `L / 4` steps. Only the first 4 padding frames can reach those steps, so a motion is padded
/// with `min(4, 196 - L)` zero frames and one of 196 frames or more with none: the results are the
/// official ones, the same whether a motion is embedded alone or in a batch, and in input order
/// (the official wrapper returns them sorted by length).
public final class T2MEvaluator: MotionTextEmbedder {
    /// The sizes, as read from the checkpoint.
    public let configuration: T2MEvaluatorConfiguration
    /// The caption side's GloVe vocabulary and POS rules.
    public let wordVectorizer: T2MWordVectorizer
    /// The evaluator's own feature statistics (`Comp_v6_KLD01/meta`), not the dataset's `Mean.npy`.
    public let normalizer: FeatureNormalizer
    /// Captions or motions per forward pass (memory bound only; results do not depend on it).
    public var batchSize = 128
    let movementEncoder: T2MMovementConvEncoder
    let textEncoder: T2MTextEncoder
    let motionEncoder: T2MMotionEncoder

    public let evaluatorName = "T2M evaluator (Guo et al. 2022)"
    public var embeddingDimension: Int { configuration.dimCoembHidden }
    public var minimumFrames: Int { configuration.unitLength }
    public let readsPartOfSpeech = true

    /// Loads an evaluator folder in the official layout (see the type's documentation).
    public convenience init(folder: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw T2MEvaluatorError.missingFile(folder.path, "the T2M evaluator folder")
        }
        let checkpoint = folder.appendingPathComponent("text_mot_match/model/finest.tar")
        guard fm.fileExists(atPath: checkpoint.path) else {
            throw T2MEvaluatorError.missingFile(checkpoint.path, "the T2M evaluator's weights; the folder is the official checkpoints/t2m")
        }
        let metaCandidates = ["meta", "Comp_v6_KLD01/meta"].map { folder.appendingPathComponent($0) }
        guard let meta = metaCandidates.first(where: { fm.fileExists(atPath: $0.appendingPathComponent("mean.npy").path) }) else {
            throw T2MEvaluatorError.missingFile(metaCandidates[1].appendingPathComponent("mean.npy").path,
                                                "the T2M evaluator's feature statistics; also looked in \(metaCandidates[0].path)")
        }
        let gloveCandidates = ["glove", "../glove", "../../glove"].map { folder.appendingPathComponent($0).standardizedFileURL }
        guard let glove = gloveCandidates.first(where: { fm.fileExists(atPath: $0.appendingPathComponent("our_vab_data.npy").path) }) else {
            throw T2MEvaluatorError.missingFile(gloveCandidates[0].appendingPathComponent("our_vab_data.npy").path,
                                                "the GloVe files; also looked in \(gloveCandidates[1].path) and \(gloveCandidates[2].path)")
        }
        try self.init(checkpoint: checkpoint, glove: glove, statistics: meta)
    }

    /// Loads the three parts from where they are: `finest.tar`, the GloVe folder and the folder of
    /// `mean.npy`/`std.npy`.
    public init(checkpoint: URL, glove: URL, statistics: URL) throws {
        let origin = checkpoint.path
        // The official files date from 2021; one saved with torch < 1.6 (or without the zip
        // serialisation) is a bare pickle stream, which starts with a PROTO opcode instead of "PK".
        if let handle = FileHandle(forReadingAtPath: origin) {
            let head = (try? handle.read(upToCount: 2)) ?? Data()
            try? handle.close()
            if head.count == 2, head[head.startIndex] == 0x80, head[head.startIndex + 1] <= 5 {
                throw T2MEvaluatorError.badFile(origin, "written in torch's legacy (non-zip) format; re-save it with a recent torch: torch.save(torch.load(f), f)")
            }
        }
        let ckpt: TorchCheckpoint
        do {
            ckpt = try TorchCheckpoint(url: checkpoint)
        } catch {
            throw T2MEvaluatorError.badFile(origin, "not a readable torch.save checkpoint: \(error)")
        }
        func part(_ name: String) throws -> [String: Tensor] {
            let prefix = name + "."
            var out: [String: Tensor] = [:]
            for n in ckpt.tensorNames where n.hasPrefix(prefix) {
                do { out[String(n.dropFirst(prefix.count))] = try ckpt.tensor(n) } catch { throw T2MEvaluatorError.badFile(origin, "\(error)") }
            }
            guard !out.isEmpty else { throw T2MEvaluatorError.badFile(origin, "no '\(name)' state dict; not a T2M evaluator checkpoint (text_mot_match)") }
            return out
        }
        let movementState = try part("movement_encoder"), textState = try part("text_encoder"), motionState = try part("motion_encoder")
        let config = try T2MEvaluatorConfiguration(movement: movementState, text: textState, motion: motionState, origin: origin)

        // Random initial values are overwritten by strict loading; the seed only makes that deterministic.
        var rng = SeededRNG(seed: 0)
        let movement = T2MMovementConvEncoder(config, rng: &rng)
        let text = T2MTextEncoder(config, rng: &rng)
        let motion = T2MMotionEncoder(config, rng: &rng)
        for (name, module, state) in [("movement_encoder", movement as Module, movementState),
                                      ("text_encoder", text, textState), ("motion_encoder", motion, motionState)] {
            do { try module.load(state: state) } catch { throw T2MEvaluatorError.badFile(origin, "\(name): \(error)") }
            module.train(false)
        }
        movementEncoder = movement
        textEncoder = text
        motionEncoder = motion

        wordVectorizer = try T2MWordVectorizer(directory: glove, maxTextLength: config.maxTextLen)
        guard wordVectorizer.dimension == config.dimWord else {
            throw T2MEvaluatorError.badFile(glove.appendingPathComponent("our_vab_data.npy").path,
                                            "word vectors are \(wordVectorizer.dimension) wide; the text encoder reads \(config.dimWord)")
        }
        let meanURL = statistics.appendingPathComponent("mean.npy"), stdURL = statistics.appendingPathComponent("std.npy")
        for url in [meanURL, stdURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw T2MEvaluatorError.missingFile(url.path, "the T2M evaluator's feature statistics")
        }
        do { normalizer = try FeatureNormalizer(meanURL: meanURL, stdURL: stdURL) } catch {
            throw T2MEvaluatorError.badFile(statistics.path, "\(error)")
        }
        guard normalizer.dimension == config.dimPose else {
            throw T2MEvaluatorError.badFile(meanURL.path, "\(normalizer.dimension) features; the movement encoder reads \(config.dimPose) (\(config.dimPose - 4) plus 4 foot contacts)")
        }
        configuration = config
    }

    // MARK: Text

    /// Caption embeddings `[captions.count, dim_coemb_hidden]` from each caption's `word/POS` tokens.
    public func embed(captions: [MotionCaption]) throws -> Tensor {
        guard !captions.isEmpty else { throw T2MEvaluatorError.badInput("no captions to embed") }
        if let i = captions.firstIndex(where: { $0.tokens.isEmpty }) {
            throw T2MEvaluatorError.badInput("caption \(i) (\"\(captions[i].text)\") has no word/POS tokens; the T2M evaluator reads HumanML3D's tagged tokens")
        }
        var pieces: [Tensor] = []
        for start in stride(from: 0, to: captions.count, by: max(batchSize, 1)) {
            let chunk = captions[start..<min(captions.count, start + max(batchSize, 1))]
            let encoded = chunk.map { wordVectorizer.encode($0.tokens) }
            let lengths = encoded.map { $0.words.shape[0] }
            let words = padded(encoded.map(\.words), to: lengths.max()!)               // [B, L, dim_word]
            let pos = padded(encoded.map(\.partsOfSpeech), to: lengths.max()!)         // [B, L, 15]
            pieces.append(Tensor.withNoGrad { textEncoder(words: words, partsOfSpeech: pos, lengths: lengths) })
        }
        return pieces.count == 1 ? pieces[0] : Tensor.concat(pieces, dim: 0)
    }

    // MARK: Motion

    /// Motion embeddings `[motions.count, dim_coemb_hidden]` of raw features `[T_i, dim_pose]`,
    /// `T_i >= 4`; frames past the last whole unit of 4 are not read.
    public func embed(motions: [Tensor]) throws -> Tensor {
        guard !motions.isEmpty else { throw T2MEvaluatorError.badInput("no motions to embed") }
        let c = configuration
        for (i, m) in motions.enumerated() {
            guard m.rank == 2, m.shape[1] == c.dimPose else {
                throw T2MEvaluatorError.badInput("motion \(i) has shape \(m.shape); the T2M evaluator reads raw features [frames, \(c.dimPose)]")
            }
            guard m.shape[0] >= minimumFrames else {
                throw T2MEvaluatorError.badInput("motion \(i) has \(m.shape[0]) frames; the T2M evaluator needs at least \(minimumFrames)")
            }
            if let k = m.scalars.firstIndex(where: { !$0.isFinite }) {
                throw T2MEvaluatorError.badInput("motion \(i): value \(k) (frame \(k / c.dimPose)) is not finite")
            }
        }
        var pieces: [Tensor] = []
        for start in stride(from: 0, to: motions.count, by: max(batchSize, 1)) {
            let chunk = motions[start..<min(motions.count, start + max(batchSize, 1))]
            var steps: [Int] = [], movements: [Tensor] = []
            for m in chunk {
                let s = m.shape[0] / c.unitLength
                movements.append(try movement(m, steps: s))                                // [s, latent]
                steps.append(s)
            }
            let batch = padded(movements, to: steps.max()!)                              // [B, S, latent]
            pieces.append(Tensor.withNoGrad { motionEncoder(batch, lengths: steps) })
        }
        return pieces.count == 1 ? pieces[0] : Tensor.concat(pieces, dim: 0)
    }

    /// The movement features of one raw motion, `[steps, dim_movement_latent]`, `steps = T / 4`.
    func movement(_ motion: Tensor, steps: Int) throws -> Tensor {
        let c = configuration
        let frames = steps * c.unitLength
        let normalised: Tensor
        do { normalised = try normalizer.normalize(motion.slice(dim: 0, 0, frames)) } catch { throw T2MEvaluatorError.badInput("\(error)") }
        // The official loader pads with zeros (after normalising) to max_motion_length; the last step
        // the GRU reads sees frames up to L + 2, so 4 zero frames stand in for all of that padding.
        let paddedFrames = frames >= c.maxMotionLength ? frames : min(c.maxMotionLength, frames + c.unitLength)
        let d = c.dimPose - 4
        let x = Tensor.zeros([1, paddedFrames, d])                                         // [1, P, dim_pose - 4]
        let src = normalised.storage.pointer, dst = x.storage.pointer
        for f in 0..<frames { (dst + f * d).update(from: src + f * c.dimPose, count: d) }
        let out = Tensor.withNoGrad { movementEncoder(x) }                                 // [1, P/4, latent]
        return out.reshaped([out.shape[1], out.shape[2]]).slice(dim: 0, 0, steps)
    }

    /// Stacks `[L_i, D]` rows into `[B, length, D]`, zeros after each.
    private func padded(_ items: [Tensor], to length: Int) -> Tensor {
        let d = items[0].shape[1]
        let out = Tensor.zeros([items.count, length, d])
        for (b, t) in items.enumerated() {
            (out.storage.pointer + b * length * d).update(from: t.storage.pointer, count: t.count)
        }
        return out
    }
}
