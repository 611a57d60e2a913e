import Foundation
import TensorEngine

/// Errors loading a WordPiece (BERT) tokenizer; each names the file and the key or line at fault.
public enum WordPieceError: ClassifiedError, Equatable {
    /// A file the tokenizer needs does not exist.
    case missingFile(String)
    /// A file exists but is not what it should be (not JSON, no vocabulary, a duplicate piece, ...).
    case invalidFile(path: String, reason: String)

    public var kind: ErrorKind {
        switch self {
        case .missingFile: return .notFound
        case .invalidFile: return .badInput
        }
    }

    public var description: String {
        switch self {
        case .missingFile(let path): return "\(path): no such file"
        case .invalidFile(let path, let reason): return "\(path): \(reason)"
        }
    }
}

/// The text clean-up BERT tokenizers do before splitting (tokenizers' `BertNormalizer`).
public struct BertNormalizerOptions: Equatable, Sendable {
    /// Drop control characters (and NUL, U+FFFD), turn every whitespace character into a space.
    public var cleanText = true
    /// Put spaces around CJK ideographs so each becomes a word of its own.
    public var handleChineseChars = true
    /// Strip accents (NFD, then drop non-spacing marks); nil means "as `lowercase`", as transformers does.
    public var stripAccents: Bool? = nil
    /// Lower-case every character.
    public var lowercase = true

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }
}

/// A WordPiece tokenizer with exactly the behaviour of transformers' `BertTokenizerFast` (the Rust
/// `tokenizers` pipeline: `BertNormalizer`, `BertPreTokenizer`, `WordPiece`, `[CLS] $A [SEP]`):
///
/// 1. special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`) are matched whole in the raw text,
///    leftmost-longest, and the text between them goes through the next steps;
/// 2. normalisation: control characters dropped, whitespace made a space, spaces put around CJK
///    ideographs, accents stripped and text lower-cased as the folder says;
/// 3. words split at whitespace and at every punctuation character (each punctuation character is a
///    word of its own);
/// 4. each word cut into the longest vocabulary pieces from the left, later pieces carrying `##`; a word
///    with a part no piece covers, or longer than 100 characters, is `[UNK]` as a whole.
///
/// Character classes follow the Unicode tables of the Swift runtime, flipped at the code points where the
/// Rust tokenizer's older tables differ (`WordPieceUnicodeTables`); a test sweeps every code point.
///
/// Vocabulary lookups are by UTF-8 bytes: Swift `String` equality is canonical equivalence, and a
/// vocabulary may hold both a precomposed and a decomposed spelling as different pieces.
public final class WordPieceTokenizer: @unchecked Sendable {
    /// Pieces by id.
    public let pieces: [String]
    private let pieceToID: [[UInt8]: Int]
    public let options: BertNormalizerOptions
    public let unkToken: String
    public let continuingSubwordPrefix: String
    /// Words longer than this many characters (Unicode scalars) are `[UNK]` whole.
    public let maxInputCharsPerWord: Int
    /// `model_max_length` of `tokenizer_config.json` (512 for BERT), the longest input the model takes.
    public let modelMaxLength: Int
    public let unkID: Int
    public let clsID: Int
    public let sepID: Int
    public let padID: Int
    /// Special tokens matched in the raw text, with their ids.
    public let specialTokens: [String: Int]
    private let specialBytes: [([UInt8], Int)]

    /// Number of ids.
    public var vocabularySize: Int { pieces.count }

    /// A tokenizer over `vocabulary` (pieces in id order, as in `vocab.txt`).
    public init(vocabulary: [String], options: BertNormalizerOptions = .init(), unkToken: String = "[UNK]",
                clsToken: String = "[CLS]", sepToken: String = "[SEP]", padToken: String = "[PAD]",
                maskToken: String = "[MASK]", extraSpecialTokens: [String] = [],
                continuingSubwordPrefix: String = "##", maxInputCharsPerWord: Int = 100,
                modelMaxLength: Int = 512, source: String = "vocabulary") throws {
        var map: [[UInt8]: Int] = [:]
        for (i, p) in vocabulary.enumerated() where map[Array(p.utf8)] == nil {
            // transformers keeps the first id of a repeated line in vocab.txt's token -> id map too.
            map[Array(p.utf8)] = i
        }
        func id(_ token: String, _ what: String) throws -> Int {
            guard let i = map[Array(token.utf8)] else {
                throw WordPieceError.invalidFile(path: source, reason: "the \(what) token \(token) is not in the vocabulary")
            }
            return i
        }
        self.pieces = vocabulary
        self.pieceToID = map
        self.options = options
        self.unkToken = unkToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.modelMaxLength = modelMaxLength
        unkID = try id(unkToken, "unknown")
        clsID = try id(clsToken, "classifier")
        sepID = try id(sepToken, "separator")
        padID = try id(padToken, "padding")
        var specials: [String: Int] = [unkToken: unkID, clsToken: clsID, sepToken: sepID, padToken: padID]
        if let m = map[Array(maskToken.utf8)] { specials[maskToken] = m }
        for t in extraSpecialTokens { specials[t] = try id(t, "additional special") }
        specialTokens = specials
        // Longest first, so the first match at a position is the longest one.
        specialBytes = specials.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.count > $1.0.count }
    }

    // MARK: Loading

    /// The tokenizer of a model folder: `tokenizer.json` when present (what `BertTokenizerFast` reads),
    /// else `vocab.txt` with `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars`, `model_max_length`, the special tokens) and `special_tokens_map.json`.
    public static func load(folder: URL) throws -> WordPieceTokenizer {
        let fm = FileManager.default
        let json = folder.appendingPathComponent("tokenizer.json")
        let config = try readJSON(folder.appendingPathComponent("tokenizer_config.json"), optional: true) ?? [:]
        if fm.fileExists(atPath: json.path) { return try load(tokenizerJSON: json, config: config) }
        let vocab = folder.appendingPathComponent("vocab.txt")
        guard fm.fileExists(atPath: vocab.path) else {
            throw WordPieceError.missingFile("\(vocab.path) (and no tokenizer.json)")
        }
        let map = try readJSON(folder.appendingPathComponent("special_tokens_map.json"), optional: true) ?? [:]
        return try load(vocab: vocab, config: config, specialTokensMap: map)
    }

    /// Reads `vocab.txt` (one piece a line, id = line number) with a `tokenizer_config.json` object.
    public static func load(vocab url: URL, config: [String: Any] = [:], specialTokensMap: [String: Any] = [:]) throws -> WordPieceTokenizer {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw WordPieceError.missingFile(url.path) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WordPieceError.invalidFile(path: url.path, reason: "not UTF-8 text")
        }
        // transformers' load_vocab: readlines() then rstrip("\n") per line; a final newline ends the file.
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        lines = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        guard !lines.isEmpty else { throw WordPieceError.invalidFile(path: url.path, reason: "empty vocabulary") }
        let lower = config["do_lower_case"] as? Bool ?? true
        let options = BertNormalizerOptions(cleanText: true, handleChineseChars: config["tokenize_chinese_chars"] as? Bool ?? true,
                                            stripAccents: config["strip_accents"] as? Bool, lowercase: lower)
        func token(_ key: String, _ fallback: String) -> String {
            tokenString(config[key]) ?? tokenString(specialTokensMap[key]) ?? fallback
        }
        let extra = ((config["additional_special_tokens"] ?? specialTokensMap["additional_special_tokens"]) as? [Any] ?? []).compactMap(tokenString)
        return try WordPieceTokenizer(vocabulary: lines, options: options, unkToken: token("unk_token", "[UNK]"),
                                      clsToken: token("cls_token", "[CLS]"), sepToken: token("sep_token", "[SEP]"),
                                      padToken: token("pad_token", "[PAD]"), maskToken: token("mask_token", "[MASK]"),
                                      extraSpecialTokens: extra, modelMaxLength: maxLength(config), source: url.path)
    }

    /// Reads a `tokenizer.json` whose model is `WordPiece` (its normalizer options, vocabulary, special
    /// added tokens); `config` is `tokenizer_config.json`: `model_max_length`, and `do_lower_case`,
    /// `strip_accents`, `tokenize_chinese_chars`, which override the normalizer as transformers does.
    public static func load(tokenizerJSON url: URL, config: [String: Any] = [:]) throws -> WordPieceTokenizer {
        guard let root = try readJSON(url, optional: false) else { throw WordPieceError.missingFile(url.path) }
        guard let model = root["model"] as? [String: Any], (model["type"] as? String) == "WordPiece" else {
            throw WordPieceError.invalidFile(path: url.path, reason: "model.type is \((root["model"] as? [String: Any])?["type"] ?? "missing"), not WordPiece")
        }
        guard let vocabMap = model["vocab"] as? [String: Int], !vocabMap.isEmpty else {
            throw WordPieceError.invalidFile(path: url.path, reason: "model.vocab is not an object of piece -> id")
        }
        var vocabulary = [String?](repeating: nil, count: vocabMap.count)
        for (piece, id) in vocabMap {
            guard id >= 0 && id < vocabMap.count else {
                throw WordPieceError.invalidFile(path: url.path, reason: "model.vocab: \(piece) has id \(id), outside 0..<\(vocabMap.count)")
            }
            guard vocabulary[id] == nil else { throw WordPieceError.invalidFile(path: url.path, reason: "model.vocab: id \(id) is given twice") }
            vocabulary[id] = piece
        }
        var options = BertNormalizerOptions()
        if let n = root["normalizer"] as? [String: Any] {
            guard (n["type"] as? String) == "BertNormalizer" else {
                throw WordPieceError.invalidFile(path: url.path, reason: "normalizer.type \(n["type"] ?? "missing") is not supported (BertNormalizer)")
            }
            options = BertNormalizerOptions(cleanText: n["clean_text"] as? Bool ?? true,
                                            handleChineseChars: n["handle_chinese_chars"] as? Bool ?? true,
                                            stripAccents: n["strip_accents"] as? Bool, lowercase: n["lowercase"] as? Bool ?? true)
        }
        // transformers rebuilds the normalizer when tokenizer_config.json says otherwise: the config wins.
        if let lower = config["do_lower_case"] as? Bool { options.lowercase = lower }
        if config.keys.contains("strip_accents") { options.stripAccents = config["strip_accents"] as? Bool }
        if let cjk = config["tokenize_chinese_chars"] as? Bool { options.handleChineseChars = cjk }
        let specials = (root["added_tokens"] as? [[String: Any]] ?? []).filter { $0["special"] as? Bool ?? false }
            .compactMap { $0["content"] as? String }
        func pick(_ key: String, _ fallback: String) -> String { tokenString(config[key]) ?? fallback }
        return try WordPieceTokenizer(vocabulary: vocabulary.map { $0 ?? "" }, options: options,
                                      unkToken: model["unk_token"] as? String ?? "[UNK]",
                                      clsToken: pick("cls_token", "[CLS]"), sepToken: pick("sep_token", "[SEP]"),
                                      padToken: pick("pad_token", "[PAD]"), maskToken: pick("mask_token", "[MASK]"),
                                      extraSpecialTokens: specials.filter { vocabMap[$0] != nil },
                                      continuingSubwordPrefix: model["continuing_subword_prefix"] as? String ?? "##",
                                      maxInputCharsPerWord: model["max_input_chars_per_word"] as? Int ?? 100,
                                      modelMaxLength: maxLength(config), source: url.path)
    }

    private static func readJSON(_ url: URL, optional: Bool) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            if optional { return nil }
            throw WordPieceError.missingFile(url.path)
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw WordPieceError.invalidFile(path: url.path, reason: "not a JSON object")
        }
        return obj
    }

    /// A token given as a string or as an AddedToken object (`{"content": ...}`).
    private static func tokenString(_ v: Any?) -> String? {
        if let s = v as? String { return s }
        if let d = v as? [String: Any] { return d["content"] as? String }
        return nil
    }

    /// `model_max_length`, with transformers' "no limit" sentinel (1e30) read as 512.
    private static func maxLength(_ config: [String: Any]) -> Int {
        if let n = config["model_max_length"] as? Int, n > 0 { return n }
        if let d = config["model_max_length"] as? Double, d > 0, d < 1e9 { return Int(d) }
        return 512
    }

    // MARK: Encoding

    /// The id of `piece`, if it is in the vocabulary.
    public func id(of piece: String) -> Int? { pieceToID[Array(piece.utf8)] }

    /// The piece of `id`, if in range.
    public func piece(for id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }

    /// Token ids of `text`: `[CLS]`, the pieces, `[SEP]` (with `addSpecialTokens`). With `maxLength`,
    /// the pieces are cut so the whole sequence (specials included) has at most `maxLength` ids, as
    /// `truncation=True, max_length=N` does for one text.
    public func encode(_ text: String, addSpecialTokens: Bool = true, maxLength: Int? = nil) -> [Int] {
        var ids = tokenIDs(text)
        if let maxLength {
            let room = max(0, maxLength - (addSpecialTokens ? 2 : 0))
            if ids.count > room { ids.removeLast(ids.count - room) }
        }
        return addSpecialTokens ? [clsID] + ids + [sepID] : ids
    }

    /// Whether `encode(text, maxLength:)` cuts pieces off.
    public func isTruncated(_ text: String, maxLength: Int, addSpecialTokens: Bool = true) -> Bool {
        tokenIDs(text).count > maxLength - (addSpecialTokens ? 2 : 0)
    }

    /// The pieces of `text`, without `[CLS]`/`[SEP]` (`tokenizer.tokenize`).
    public func tokens(_ text: String) -> [String] { tokenIDs(text).map { pieces[$0] } }

    private func tokenIDs(_ text: String) -> [Int] {
        var out: [Int] = []
        for segment in splitSpecial(text) {
            switch segment {
            case .special(let id): out.append(id)
            case .text(let s):
                for word in preTokenize(normalizeScalars(s)) { wordPiece(word, into: &out) }
            }
        }
        return out
    }

    private enum Segment { case text([Unicode.Scalar]), special(Int) }

    /// Splits at special tokens, leftmost-longest over the raw UTF-8 (tokenizers' AddedVocabulary).
    private func splitSpecial(_ text: String) -> [Segment] {
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var start = 0, i = 0
        func flush(_ end: Int) {
            if end > start { segments.append(.text(Array(String(decoding: bytes[start..<end], as: UTF8.self).unicodeScalars))) }
        }
        while i < bytes.count {
            var matched: ([UInt8], Int)?
            for candidate in specialBytes where candidate.0.count <= bytes.count - i {
                if bytes[i..<(i + candidate.0.count)].elementsEqual(candidate.0) { matched = candidate; break }
            }
            if let (b, id) = matched {
                flush(i)
                segments.append(.special(id))
                i += b.count
                start = i
            } else {
                i += 1
            }
        }
        flush(bytes.count)
        return segments
    }

    /// The normalised text (`backend_tokenizer.normalizer.normalize_str`).
    public func normalize(_ text: String) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: normalizeScalars(Array(text.unicodeScalars)))
        return String(s)
    }

    /// The words of `text` before WordPiece: normalised, split at whitespace and punctuation
    /// (`pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))`; special tokens not matched).
    public func words(_ text: String) -> [String] {
        preTokenize(normalizeScalars(Array(text.unicodeScalars))).map { w in
            var v = String.UnicodeScalarView()
            v.append(contentsOf: w)
            return String(v)
        }
    }

    private func normalizeScalars(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(input.count + 8)
        for c in input {
            if options.cleanText {
                if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
                if Self.isWhitespace(c) { scalars.append(" "); continue }
            }
            if options.handleChineseChars && Self.isChinese(c) {
                scalars.append(" "); scalars.append(c); scalars.append(" ")
            } else {
                scalars.append(c)
            }
        }
        if options.stripAccents ?? options.lowercase {
            // NFD of the whole text, as tokenizers does, then every non-spacing mark dropped.
            scalars = Self.nfd(scalars).filter { !Self.isNonspacingMark($0) }
        }
        if options.lowercase {
            // Per character, as Rust's char::to_lowercase: full mappings such as U+0130 -> "i\u{307}" kept.
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for c in scalars { Self.lowercase(c, into: &lowered) }
            scalars = lowered
        }
        return scalars
    }

    /// Words: split at whitespace (dropped) and at punctuation (kept, one character a word).
    private func preTokenize(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, c) in scalars.enumerated() {
            if Self.isWhitespace(c) {
                if i > start { words.append(scalars[start..<i]) }
                start = i + 1
            } else if Self.isPunctuation(c) {
                if i > start { words.append(scalars[start..<i]) }
                words.append(scalars[i..<(i + 1)])
                start = i + 1
            }
        }
        if scalars.count > start { words.append(scalars[start..<scalars.count]) }
        return words
    }

    /// Greedy longest-match-first pieces of one word; `[UNK]` when any part has no piece.
    private func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard word.count <= maxInputCharsPerWord else { out.append(unkID); return }
        let chars = Array(word)
        // UTF-8 offsets of each character, so candidate pieces are byte slices.
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        for c in chars { bytes.append(contentsOf: String(c).utf8); offsets.append(bytes.count) }
        let prefix = Array(continuingSubwordPrefix.utf8)
        var found: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var match: Int?
            while end > start {
                var key = start > 0 ? prefix : []
                key.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                if let id = pieceToID[key] { match = id; break }
                end -= 1
            }
            guard let id = match else { out.append(unkID); return }
            found.append(id)
            start = end
        }
        out.append(contentsOf: found)
    }

    /// Text of `ids` as `decode(..., skip_special_tokens=True)` gives it: pieces joined by spaces,
    /// `##` continuations glued on, and transformers' clean-up of spaces before punctuation.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let specialIDs = Set(specialTokens.values)
        var text = ""
        for id in ids {
            guard let p = piece(for: id), !(skipSpecialTokens && specialIDs.contains(id)) else { continue }
            if p.hasPrefix(continuingSubwordPrefix) && !text.isEmpty { text += p.dropFirst(continuingSubwordPrefix.count) }
            else { text += (text.isEmpty ? "" : " ") + p }
        }
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                       (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            text = text.replacingOccurrences(of: a, with: b)
        }
        return text
    }

    // MARK: Character classes (tokenizers' bert.rs)
    //
    // The Rust tokenizer takes control/format/private-use, non-spacing marks and punctuation from the
    // `unicode_categories` crate (old Unicode tables; unassigned code points are never "control" there),
    // whitespace and lower-casing from Rust's std, NFD from `unicode-normalization`. Each class here is
    // the Swift runtime's, flipped at the code points listed in `WordPieceUnicodeTables` (generated by
    // Tools/fixtures/make_wordpiece_unicode_tables.py from a sweep of every code point through both), so
    // the behaviour is the reference's even where the two sets of Unicode tables disagree.

    /// The Swift runtime's classes of `c`, before the reference's exceptions.
    static func runtimeClasses(_ c: Unicode.Scalar) -> (control: Bool, mark: Bool, punctuation: Bool, whitespace: Bool,
                                                          nfd: [Unicode.Scalar], lower: [Unicode.Scalar]) {
        let p = c.properties
        let control: Bool
        switch p.generalCategory {
        case .control, .format, .privateUse, .surrogate: control = true
        default: control = false
        }
        let punct: Bool
        if c.isASCII {
            let v = c.value
            punct = (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        } else {
            switch p.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation, .initialPunctuation,
                 .otherPunctuation, .openPunctuation: punct = true
            default: punct = false
            }
        }
        let nfd = Array(String(c).decomposedStringWithCanonicalMapping.unicodeScalars)
        let lower = p.changesWhenLowercased ? Array(p.lowercaseMapping.unicodeScalars) : [c]
        return (control, p.generalCategory == .nonspacingMark, punct, p.isWhitespace, nfd, lower)
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: return false
        default: break
        }
        let base: Bool
        switch c.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: base = true
        default: base = false
        }
        return base != WordPieceUnicodeTables.controlFlips.contains(c.value)
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D, 0x20: return true
        default: return c.properties.isWhitespace != WordPieceUnicodeTables.whitespaceFlips.contains(c.value)
        }
    }

    static func isNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        (c.properties.generalCategory == .nonspacingMark) != WordPieceUnicodeTables.markFlips.contains(c.value)
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            let v = c.value
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        let base: Bool
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation, .initialPunctuation,
             .otherPunctuation, .openPunctuation: base = true
        default: base = false
        }
        return base != WordPieceUnicodeTables.punctuationFlips.contains(c.value)
    }

    /// NFD as the reference decomposes: Foundation's, except at the code points whose decomposition the
    /// reference's (older) tables give differently.
    static func nfd(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        func foundation(_ run: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: run)
            return Array(String(v).decomposedStringWithCanonicalMapping.unicodeScalars)
        }
        let overrides = WordPieceUnicodeTables.nfdOverrides
        guard scalars.contains(where: { overrides[$0.value] != nil }) else { return foundation(scalars[...]) }
        var out: [Unicode.Scalar] = []
        var start = 0
        for (i, c) in scalars.enumerated() {
            guard let o = overrides[c.value] else { continue }
            out += foundation(scalars[start..<i])
            out += o.compactMap(Unicode.Scalar.init)
            start = i + 1
        }
        return out + foundation(scalars[start...])
    }

    /// Per-character lower-casing as Rust's `char::to_lowercase` (no final-sigma context).
    static func lowercase(_ c: Unicode.Scalar, into out: inout [Unicode.Scalar]) {
        if c.isASCII { out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c); return }
        if let o = WordPieceUnicodeTables.lowercaseOverrides[c.value] { out += o.compactMap(Unicode.Scalar.init); return }
        let p = c.properties
        if p.changesWhenLowercased { out.append(contentsOf: p.lowercaseMapping.unicodeScalars) } else { out.append(c) }
    }

    static func isChinese(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}
