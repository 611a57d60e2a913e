import Foundation
import MotionData
import TensorEngine

/// The T2M evaluator's text input, as the official `utils/word_vectorizer.py` and the
/// `Text2MotionDatasetV2` loader of Guo et al. 2022 build it: each `word/POS` token becomes its GloVe
/// vector and a 15-way one-hot of its part of speech.
///
/// Reads the three GloVe files of the official download (`glove/` beside `checkpoints/`):
/// `our_vab_data.npy` (`[V, D]` vectors), `our_vab_words.pkl` (a pickled list of the V words) and
/// `our_vab_idx.pkl` (a pickled dict word -> row). The vocabulary must hold `unk`, `sos` and `eos`.
///
/// Rules (the official ones):
/// - a word in the vocabulary that is on one of the five VIP lists (locations, body parts, objects,
///   actions, manner) gets that list's category instead of its tag; any other known word gets its
///   tag's slot, `OTHER` when the tag is not one of the nine in `partsOfSpeech` (so the CMU
///   captions' `X` is `OTHER`);
/// - a word not in the vocabulary becomes `unk` with `OTHER`, whatever its tag;
/// - captions of fewer than `maxTextLength` (20) tokens become `sos`, the tokens, `eos`; longer ones
///   are cut to their first 20 tokens, then `sos` ... `eos` are added: words past the 20th are
///   never seen, and the encoder reads at most 22 steps.
///
/// Tokens are split at their last `/` (the official code needs exactly one); a token without a `/`
/// is a word with no tag.
public struct T2MWordVectorizer: Sendable {
    /// The 15 slots of the one-hot, in the official `POS_enumerator` order.
    public static let partsOfSpeech = ["VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
                                       "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER"]
    /// The VIP word lists, in the order the official code tries them (the first list holding a word wins).
    public static let vipLists: [(category: String, words: Set<String>)] = [
        ("Loc_VIP", ["left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back", "backward",
                     "up", "down", "straight", "curve"]),
        ("Body_VIP", ["arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee", "shoulder", "thigh"]),
        ("Obj_VIP", ["stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball", "basketball"]),
        ("Act_VIP", ["walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance", "jump", "turn",
                     "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand", "kneel", "stroll",
                     "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate", "spin", "spread", "climb"]),
        ("Desc_VIP", ["slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad", "happily",
                      "angrily", "sadly"]),
    ]
    private static let posIndex: [String: Int] = Dictionary(uniqueKeysWithValues: partsOfSpeech.enumerated().map { ($1, $0) })
    static let otherIndex = partsOfSpeech.count - 1

    /// Width of the word vectors (300 for the official GloVe files).
    public let dimension: Int
    /// Number of words in the vocabulary.
    public var count: Int { rows.count }
    /// Longest caption, in tokens, before `sos`/`eos` are added (the official `max_text_len`).
    public let maxTextLength: Int
    private let vectors: [Float]          // [V, dimension], row-major
    private let rows: [String: Int]       // word -> row of `vectors`

    /// Reads `<prefix>_data.npy`, `<prefix>_words.pkl` and `<prefix>_idx.pkl` from `directory`.
    public init(directory: URL, prefix: String = "our_vab", maxTextLength: Int = 20) throws {
        let dataURL = directory.appendingPathComponent("\(prefix)_data.npy")
        let wordsURL = directory.appendingPathComponent("\(prefix)_words.pkl")
        let idxURL = directory.appendingPathComponent("\(prefix)_idx.pkl")
        for url in [dataURL, wordsURL, idxURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw T2MEvaluatorError.missingFile(url.path, "the GloVe files of the T2M evaluator")
        }
        let table: Tensor
        do { table = try readNpy(dataURL) } catch { throw T2MEvaluatorError.badFile(dataURL.path, "\(error)") }
        guard table.rank == 2, table.shape[0] > 0, table.shape[1] > 0 else {
            throw T2MEvaluatorError.badFile(dataURL.path, "expected word vectors [V, D], got shape \(table.shape)")
        }
        func load(_ url: URL) throws -> PickleValue {
            do { return try unpickle(try Data(contentsOf: url), origin: url.path) } catch { throw T2MEvaluatorError.badFile(url.path, "\(error)") }
        }
        guard case .list(let wordItems) = try load(wordsURL) else {
            throw T2MEvaluatorError.badFile(wordsURL.path, "expected a pickled list of words")
        }
        guard case .dict(let idxItems) = try load(idxURL) else {
            throw T2MEvaluatorError.badFile(idxURL.path, "expected a pickled dict from word to row")
        }
        var index: [String: Int] = [:]
        for (k, v) in idxItems {
            guard let w = k.stringValue, case .int(let row) = v else {
                throw T2MEvaluatorError.badFile(idxURL.path, "entry \(k): \(v) is not word -> integer row")
            }
            guard row >= 0 && row < table.shape[0] else {
                throw T2MEvaluatorError.badFile(idxURL.path, "row \(row) of '\(w)' is outside the \(table.shape[0]) vectors of \(dataURL.lastPathComponent)")
            }
            index[w] = row
        }
        // The official vectorizer keeps the words of the list, each at the row the dict gives it.
        var rows: [String: Int] = [:]
        for item in wordItems {
            guard let w = item.stringValue else { throw T2MEvaluatorError.badFile(wordsURL.path, "item \(item) is not a word") }
            guard let row = index[w] else { throw T2MEvaluatorError.badFile(idxURL.path, "no row for '\(w)' of \(wordsURL.lastPathComponent)") }
            rows[w] = row
        }
        for w in ["unk", "sos", "eos"] where rows[w] == nil {
            throw T2MEvaluatorError.badFile(wordsURL.path, "the vocabulary has no '\(w)'")
        }
        guard maxTextLength >= 1 else { throw T2MEvaluatorError.badInput("maxTextLength \(maxTextLength) must be at least 1") }
        if let k = table.scalars.firstIndex(where: { !$0.isFinite }) {
            throw T2MEvaluatorError.badFile(dataURL.path, "value \(k) (word row \(k / table.shape[1])) is not finite")
        }
        self.dimension = table.shape[1]
        self.vectors = table.scalars
        self.rows = rows
        self.maxTextLength = maxTextLength
    }

    /// Whether `word` has a vector of its own (anything else reads as `unk`).
    public func contains(_ word: String) -> Bool { rows[word] != nil }

    /// The official token list of a caption's tokens: `sos/OTHER`, the first `maxTextLength` tokens,
    /// `eos/OTHER`. (The official loader pads it with `unk/OTHER` to `maxTextLength + 2`; those steps
    /// lie beyond the caption's length, which the encoder never reads, so they are left out here.)
    public func sentence(_ tokens: [String]) -> [String] {
        ["sos/OTHER"] + tokens.prefix(maxTextLength) + ["eos/OTHER"]
    }

    /// The GloVe row and one-hot slot of one `word/POS` token.
    public func lookup(_ token: String) -> (row: Int, partOfSpeech: Int) {
        let word: Substring, tag: Substring
        if let slash = token.lastIndex(of: "/") {
            word = token[..<slash]; tag = token[token.index(after: slash)...]
        } else {
            word = token[...]; tag = ""
        }
        let w = String(word)
        guard let row = rows[w] else { return (rows["unk"]!, Self.otherIndex) }
        if let vip = Self.vipLists.first(where: { $0.words.contains(w) }) { return (row, Self.posIndex[vip.category]!) }
        return (row, Self.posIndex[String(tag)] ?? Self.otherIndex)
    }

    /// Word vectors `[L, dimension]` and part-of-speech one-hots `[L, 15]` of `sentence(tokens)`,
    /// `L = min(tokens.count, maxTextLength) + 2`.
    public func encode(_ tokens: [String]) -> (words: Tensor, partsOfSpeech: Tensor) {
        let sent = sentence(tokens)
        let words = Tensor.zeros([sent.count, dimension]), pos = Tensor.zeros([sent.count, Self.partsOfSpeech.count])
        for (i, token) in sent.enumerated() {
            let (row, slot) = lookup(token)
            vectors.withUnsafeBufferPointer { v in
                (words.storage.pointer + i * dimension).update(from: v.baseAddress! + row * dimension, count: dimension)
            }
            pos.storage.pointer[i * Self.partsOfSpeech.count + slot] = 1
        }
        return (words, pos)
    }
}
