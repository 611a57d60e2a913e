import Foundation

/// A SentencePiece unigram tokenizer with Hugging Face `T5Tokenizer` behaviour on top.
///
/// Two families of methods:
/// - `encode`, `tokens`, `decode`, `addTokens`: what `T5Tokenizer.from_pretrained(dir)` does in
///   transformers 5 (the version the fixtures were made with): added tokens (`<pad>`, `</s>`, `<unk>`,
///   `<extra_id_N>`, and tokens added later such as MotionGPT's `<motion_id_N>`) are matched whole in the
///   text before segmentation; the text between them is normalised with the model's charsmap, split on
///   Unicode whitespace, and each word gets a leading "▁". transformers 5 has no `legacy` switch for T5:
///   text right after an added token always starts a new word, so "x<extra_id_0>y" segments "y" as "▁y"
///   (transformers 4 did the same with its default legacy=True; legacy=False there would give "y").
///   Ordinary added tokens (`addTokens`, MotionGPT's motion tokens) are matched after normalisation,
///   special ones on the raw text. `encode` appends `</s>` by default.
/// - `encodeSentencePiece`, `piecesSentencePiece`, `decodeSentencePiece`, `normalize`: exactly what
///   `sentencepiece.SentencePieceProcessor` does with the same model (no added tokens, no `</s>`).
///
/// The two agree on ordinary text. They differ where the references themselves differ: whitespace that
/// the charsmap keeps but Unicode calls whitespace (U+0085), a combining mark after a character the charsmap
/// rewrites (Hugging Face rewrites per grapheme and drops the mark), and literal added-token text.
///
/// Where `T5Tokenizer` would ignore the model (it always disables byte fallback and assumes `<unk>` = 2),
/// this class follows the model file instead: byte-fallback models emit `<0xXX>` pieces from `encode` too,
/// and the unknown id is the model's.
///
/// Not thread-safe while `addTokens` runs; encoding and decoding only read.
public final class SentencePieceTokenizer {
    /// The decoded model file.
    public let model: SentencePieceModel

    /// Number of pieces in the model file.
    public var baseVocabularySize: Int { model.pieces.count }
    /// All ids: model pieces, then extra ids, then added tokens (`len(tokenizer)` in transformers).
    public private(set) var vocabularySize: Int

    /// The unknown piece's id (always present: a model without one fails to load).
    public let unkID: Int
    /// `</s>`, `<pad>` and `<s>` ids, nil when the model has none.
    public let eosID: Int?
    public let padID: Int?
    public let bosID: Int?
    /// Number of T5 sentinel tokens `<extra_id_0>`..., given ids after the model's pieces in reverse order,
    /// so `<extra_id_0>` has the highest of them (as in T5: 32099 for a 32000-piece model).
    public let extraIDs: Int

    private let normalizer: Normalizer
    // Keyed by UTF-8 bytes: Swift String equality is canonical equivalence, and a vocabulary may hold both
    // "é" and "e\u{301}" as different pieces.
    private let pieceToID: [[UInt8]: Int]
    private let spmLattice: UnigramLattice
    private let hfLattice: UnigramLattice
    private let byteIDs: [Int]?  // byte value -> id, when the model has byte fallback

    // Added tokens, as in tokenizers' AddedVocabulary: special ones match the raw text, the others the
    // normalised text.
    private var addedContents: [[UInt8]: Int] = [:]
    private var idToAdded: [Int: (content: String, special: Bool)] = [:]
    private var specialTrie = ByteTrie()
    private var normalizedTrie = ByteTrie()

    /// Loads a `spiece.model` file. `extraIDs` mirrors `T5Tokenizer`'s `extra_ids` (100 by default).
    public convenience init(modelURL: URL, extraIDs: Int = 100) throws {
        let data: Data
        do {
            data = try Data(contentsOf: modelURL)
        } catch {
            throw TokenizerError.unreadableFile(path: modelURL.path, reason: error.localizedDescription)
        }
        try self.init(data: data, extraIDs: extraIDs)
    }

    /// Decodes a serialized SentencePiece `ModelProto`.
    public convenience init(data: Data, extraIDs: Int = 100) throws {
        try self.init(model: SentencePieceModel(data: data), extraIDs: extraIDs)
    }

    /// Builds the tokenizer from an already decoded model, checking it the way sentencepiece's
    /// `ModelInterface::InitializePieces` does.
    public init(model: SentencePieceModel, extraIDs: Int = 100) throws {
        guard model.trainerSpec.modelType == 1 else {
            throw TokenizerError.invalidModel("model_type \(model.trainerSpec.modelType) is not supported; only unigram (1) is")
        }
        guard extraIDs >= 0 else { throw TokenizerError.invalidModel("extraIDs must not be negative") }
        self.model = model
        self.extraIDs = extraIDs
        let pieces = model.pieces
        var pieceToID: [[UInt8]: Int] = [:]
        var unk: Int?
        var bytes = [Int](repeating: -1, count: 256)
        var spmTrie = ByteTrie(), hfTrie = ByteTrie(), userDefined = ByteTrie()
        var minNormal = Float.greatestFiniteMagnitude
        // sentencepiece starts the maximum at FLT_MIN (the smallest positive float), not at -FLT_MAX.
        var maxNormal = Float.leastNormalMagnitude
        var minAll = Double.infinity
        for (id, p) in pieces.enumerated() {
            guard !p.piece.isEmpty else { throw TokenizerError.invalidModel("piece \(id) is empty") }
            let key = Array(p.piece.utf8)
            guard pieceToID[key] == nil else {
                throw TokenizerError.invalidModel("piece '\(p.piece)' (id \(id)) is already defined")
            }
            pieceToID[key] = id
            switch p.type {
            case .normal, .userDefined, .unused: spmTrie.insert(p.piece.utf8, id: id)
            default: break
            }
            if p.type == .userDefined { userDefined.insert(p.piece.utf8, id: id) }
            if p.type == .normal {
                minNormal = min(minNormal, p.score)
                maxNormal = max(maxNormal, p.score)
            }
            if p.type == .unknown {
                guard unk == nil else { throw TokenizerError.invalidModel("more than one unknown piece (ids \(unk!) and \(id))") }
                unk = id
            }
            if p.type == .byte {
                guard model.trainerSpec.byteFallback else {
                    throw TokenizerError.invalidModel("byte piece '\(p.piece)' found although byte_fallback is off")
                }
                guard let b = Self.byteValue(of: p.piece) else {
                    throw TokenizerError.invalidModel("byte piece '\(p.piece)' is not of the form <0xXX>")
                }
                bytes[b] = id
            }
            hfTrie.insert(p.piece.utf8, id: id)
            minAll = min(minAll, Double(p.score))
        }
        guard let unkID = unk else { throw TokenizerError.invalidModel("the model has no unknown piece") }
        if model.trainerSpec.byteFallback {
            guard !bytes.contains(-1) else {
                throw TokenizerError.invalidModel("byte_fallback is on but not all 256 <0xXX> pieces are present")
            }
            byteIDs = bytes
        } else {
            byteIDs = nil
        }
        self.unkID = unkID
        func optionalID(_ id: Int) -> Int? { id >= 0 && id < pieces.count ? id : nil }
        eosID = optionalID(model.trainerSpec.eosID)
        padID = optionalID(model.trainerSpec.padID)
        bosID = optionalID(model.trainerSpec.bosID)
        self.pieceToID = pieceToID

        var hfScores = pieces.map(\.score)
        var types = pieces.map(\.type)
        let base = pieces.count
        // transformers' T5Converter appends the sentinels to the unigram vocabulary (score 0) as well as
        // registering them as special added tokens.
        for k in 0..<extraIDs {
            let content = "<extra_id_\(extraIDs - 1 - k)>"
            hfTrie.insert(content.utf8, id: base + k)
            hfScores.append(0)
            types.append(.normal)
            minAll = min(minAll, 0)
        }
        normalizer = Normalizer(spec: model.normalizerSpec,
                                charsMap: model.normalizerSpec.precompiledCharsmap.isEmpty
                                    ? nil : try CharsMap(blob: model.normalizerSpec.precompiledCharsmap),
                                userDefined: userDefined,
                                treatWhitespaceAsSuffix: model.trainerSpec.treatWhitespaceAsSuffix)
        spmLattice = UnigramLattice(trie: spmTrie, scores: pieces.map(\.score), types: pieces.map(\.type), unkID: unkID,
                                    unkScore: Double(minNormal - 10), maxScore: maxNormal, flavor: .sentencePiece)
        hfLattice = UnigramLattice(trie: hfTrie, scores: hfScores, types: types, unkID: unkID,
                                   unkScore: minAll - 10, maxScore: maxNormal, flavor: .huggingFace)

        vocabularySize = base + extraIDs
        // T5Tokenizer registers <pad>, </s>, <unk> and the sentinels as special added tokens.
        for id in [padID, eosID, unkID].compactMap({ $0 }) {
            registerAdded(pieces[id].piece, id: id, special: true)
        }
        for k in 0..<extraIDs { registerAdded("<extra_id_\(extraIDs - 1 - k)>", id: base + k, special: true) }
    }

    static func byteValue(of piece: String) -> Int? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> Int? {
            switch c {
            case 0x30...0x39: return Int(c - 0x30)
            case 0x41...0x46: return Int(c - 0x41 + 10)  // sentencepiece writes upper case only
            default: return nil
            }
        }
        guard let h = hex(u[3]), let l = hex(u[4]) else { return nil }
        return h * 16 + l
    }

    private func registerAdded(_ content: String, id: Int, special: Bool) {
        addedContents[Array(content.utf8)] = id
        idToAdded[id] = (content, special)
        if special {
            specialTrie.insert(content.utf8, id: id)
        } else {
            // Non-special added tokens are matched in normalised text, so their own text is normalised too.
            normalizedTrie.insert(normalizer.normalizeHuggingFace(Substring(content)), id: id)
        }
    }

    // MARK: - Vocabulary

    /// Adds tokens that are matched whole in the input before segmentation, like transformers'
    /// `add_tokens`. New tokens get ids after the current vocabulary in order; tokens already known keep
    /// their id. `special` tokens are matched on the raw text and dropped by `decode(skipSpecialTokens:)`;
    /// ordinary ones are matched on the normalised text. Returns the number of new ids.
    @discardableResult
    public func addTokens(_ tokens: [String], special: Bool = false) -> Int {
        var added = 0
        for t in tokens where !t.isEmpty {
            let key = Array(t.utf8)
            if addedContents[key] != nil { continue }
            if let id = pieceToID[key] {
                registerAdded(t, id: id, special: special)
                continue
            }
            registerAdded(t, id: vocabularySize, special: special)
            vocabularySize += 1
            added += 1
        }
        return added
    }

    /// The id of a model piece or added token.
    public func id(of piece: String) -> Int? {
        let key = Array(piece.utf8)
        return addedContents[key] ?? pieceToID[key]
    }

    /// The piece or added-token text for an id, nil when out of range.
    public func piece(for id: Int) -> String? {
        if let a = idToAdded[id] { return a.content }
        return id >= 0 && id < model.pieces.count ? model.pieces[id].piece : nil
    }

    /// Whether `decode(skipSpecialTokens: true)` drops the id.
    public func isSpecial(_ id: Int) -> Bool { idToAdded[id]?.special ?? false }

    // MARK: - Hugging Face T5Tokenizer behaviour

    /// Token ids as `T5Tokenizer.encode(text)`: added tokens whole, the rest segmented, then `</s>` when
    /// `addEOS` is set and the model has an end-of-sequence piece.
    public func encode(_ text: String, addEOS: Bool = true) -> [Int] {
        var ids = encodeHuggingFace(text)
        if addEOS, let eos = eosID { ids.append(eos) }
        return ids
    }

    /// The pieces `encode` produces (without `</s>`), as `T5Tokenizer.tokenize`.
    public func pieces(_ text: String) -> [String] {
        encodeHuggingFace(text).map { piece(for: $0) ?? "" }
    }

    private func encodeHuggingFace(_ text: String) -> [Int] {
        var out: [Int] = []
        let raw = Array(text.utf8)
        for part in split(raw, 0..<raw.count, on: specialTrie) {
            switch part {
            case .token(let id): out.append(id)
            case .text(let r):
                // Segment boundaries fall on character boundaries: tokens are valid UTF-8 and cannot start
                // with a continuation byte.
                let segment = String(decoding: raw[r], as: UTF8.self)
                let normalized = normalizer.normalizeHuggingFace(Substring(segment))
                for inner in split(normalized, 0..<normalized.count, on: normalizedTrie) {
                    switch inner {
                    case .token(let id): out.append(id)
                    case .text(let r2): segmentWords(normalized, r2, into: &out)
                    }
                }
            }
        }
        return out
    }

    private enum Part { case text(Range<Int>), token(Int) }

    /// Splits on added tokens, leftmost match first and the longest one there (aho-corasick's
    /// LeftmostLongest, as tokenizers uses).
    private func split(_ s: [UInt8], _ range: Range<Int>, on trie: ByteTrie) -> [Part] {
        if trie.isEmpty { return range.isEmpty ? [] : [.text(range)] }
        var parts: [Part] = []
        var textStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            if let m = trie.longestPrefix(s, from: i, to: range.upperBound) {
                if textStart < i { parts.append(.text(textStart..<i)) }
                parts.append(.token(m.id))
                i += m.length
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < range.upperBound { parts.append(.text(textStart..<range.upperBound)) }
        return parts
    }

    /// WhitespaceSplit + Metaspace(prepend_scheme: always, split: true) + Unigram, on normalised bytes.
    private func segmentWords(_ s: [UInt8], _ range: Range<Int>, into out: inout [Int]) {
        let text = String(decoding: s[range], as: UTF8.self)
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current = [] }
            } else {
                current.append(contentsOf: String(scalar).utf8)
            }
        }
        if !current.isEmpty { words.append(current) }
        let meta = UTF8Util.spaceSymbol
        for word in words {
            var w = word
            if !w.starts(with: meta) { w = meta + w }
            // Each "▁" starts a new pre-token (split, MergedWithNext).
            var starts: [Int] = [0]
            var i = 3
            while i + 3 <= w.count {
                if w[i] == meta[0] && w[i + 1] == meta[1] && w[i + 2] == meta[2] { starts.append(i); i += 3 } else { i += 1 }
            }
            for (k, a) in starts.enumerated() {
                let b = k + 1 < starts.count ? starts[k + 1] : w.count
                appendSegmentation(w, a..<b, lattice: hfLattice, into: &out)
            }
        }
    }

    /// Runs the lattice and turns unknown runs into one `<unk>` (both references fuse them) or, with byte
    /// fallback, into one byte piece per UTF-8 byte.
    private func appendSegmentation(_ s: [UInt8], _ range: Range<Int>, lattice: UnigramLattice, into out: inout [Int]) {
        var prevUnk = false
        for (r, id) in lattice.segment(s, range) {
            if id == unkID {
                if let bytes = byteIDs {
                    for b in s[r] { out.append(bytes[Int(b)]) }
                } else if !prevUnk {
                    out.append(id)
                }
                prevUnk = true
            } else {
                out.append(id)
                prevUnk = false
            }
        }
    }

    /// Text for ids, as `T5Tokenizer.decode`: pieces joined with "▁" read as a space and dropped in the
    /// first token, added tokens as their text, special ones (pad, eos, unk, sentinels) left out when
    /// `skipSpecialTokens`, ids outside the vocabulary ignored. Runs of byte pieces are read as UTF-8.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var tokens: [(text: String, isByte: Bool)] = []
        for id in ids {
            if let a = idToAdded[id] {
                if skipSpecialTokens && a.special { continue }
                tokens.append((a.content, false))
            } else if id >= 0 && id < model.pieces.count {
                let p = model.pieces[id]
                tokens.append((p.piece, p.type == .byte))
            }
        }
        var out = ""
        var pendingBytes: [UInt8] = []
        var index = 0
        func flush() {
            if pendingBytes.isEmpty { return }
            out += UTF8Util.lossyString(pendingBytes)
            pendingBytes.removeAll()
            index += 1
        }
        for t in tokens {
            if t.isByte, byteIDs != nil, let b = Self.byteValue(of: t.text) {
                pendingBytes.append(UInt8(b))
                continue
            }
            flush()
            // tokenizers' Metaspace decoder: every "▁" becomes a space, except in the first token where
            // they are removed (the dummy prefix).
            // Scalar by scalar: a "▁" followed by a combining mark is one Character, and Character-level
            // replacement would miss it.
            for u in t.text.unicodeScalars {
                if u == "\u{2581}" {
                    if index > 0 { out.unicodeScalars.append(" ") }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
            index += 1
        }
        flush()
        return out
    }

    // MARK: - sentencepiece behaviour

    /// The normalised text sentencepiece segments (charsmap, whitespace rules, dummy prefix, "▁").
    public func normalize(_ text: String) -> String {
        String(decoding: normalizer.normalizeSentencePiece(Array(text.utf8)), as: UTF8.self)
    }

    /// Ids exactly as `SentencePieceProcessor.encode(text)`: no added tokens, no `</s>`.
    public func encodeSentencePiece(_ text: String) -> [Int] {
        sentencePieceSegmentation(text)
    }

    /// Vocabulary pieces for `encodeSentencePiece` (`id_to_piece` of each id).
    public func piecesSentencePiece(_ text: String) -> [String] {
        sentencePieceSegmentation(text).map { model.pieces[$0].piece }
    }

    private func sentencePieceSegmentation(_ text: String) -> [Int] {
        let normalized = normalizer.normalizeSentencePiece(Array(text.utf8))
        var out: [Int] = []
        appendSegmentation(normalized, 0..<normalized.count, lattice: spmLattice, into: &out)
        return out
    }

    /// Text exactly as `SentencePieceProcessor.decode(ids)`: control pieces vanish, `<unk>` reads as the
    /// model's unk surface (" ⁇ "), byte pieces are reassembled as UTF-8 (invalid bytes become U+FFFD),
    /// leading "▁" is dropped while the text is still empty. Ids outside the model (which sentencepiece
    /// rejects) are skipped.
    public func decodeSentencePiece(_ ids: [Int]) -> String {
        var text: [UInt8] = []
        var pendingBytes: [UInt8] = []
        var isBOSWhitespace = true
        var bosWhitespaceSeen = false
        let spec = model.normalizerSpec
        for id in ids where id >= 0 && id < model.pieces.count {
            let p = model.pieces[id]
            if p.type == .byte, let b = Self.byteValue(of: p.piece) {
                pendingBytes.append(UInt8(b))
                continue
            }
            if !pendingBytes.isEmpty {
                text += Array(UTF8Util.lossyString(pendingBytes).utf8)
                pendingBytes.removeAll()
            }
            if bosWhitespaceSeen || !text.isEmpty { isBOSWhitespace = false }
            switch p.type {
            case .control:
                bosWhitespaceSeen = false
            case .unknown:
                text += Array(model.trainerSpec.unkSurface.utf8)
                bosWhitespaceSeen = false
            default:
                var piece = Array(p.piece.utf8)
                var consumed = false
                if isBOSWhitespace && (spec.addDummyPrefix || spec.removeExtraWhitespaces) {
                    if piece.starts(with: UTF8Util.spaceSymbol) {
                        piece.removeFirst(3)
                        consumed = true
                    }
                    // With extra whitespace removal every leading "▁" goes until text appears.
                    if spec.removeExtraWhitespaces { consumed = false }
                }
                var i = 0
                while i < piece.count {
                    if i + 3 <= piece.count && Array(piece[i..<(i + 3)]) == UTF8Util.spaceSymbol {
                        text.append(0x20); i += 3
                    } else {
                        text.append(piece[i]); i += 1
                    }
                }
                bosWhitespaceSeen = consumed
            }
        }
        if !pendingBytes.isEmpty { text += Array(UTF8Util.lossyString(pendingBytes).utf8) }
        return String(decoding: text, as: UTF8.self)
    }
}
