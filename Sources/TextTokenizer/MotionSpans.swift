import TensorEngine

/// Motion spans inside text, as MotionGPT writes them (`motion_token_to_string` in `mgpt_lm.py`):
/// `<motion_id_K><motion_id_c1>...<motion_id_cn><motion_id_{K+1}>` with no spaces, K the codebook size.
/// The in-between task also writes `<motion_id_{K+2}>` (pad) in place of masked codes.
///
/// Parsing (of model output, as token ids or as text) is more forgiving than MotionGPT's own
/// `motion_string_to_token`, which keeps only the text between the first start and the first end token
/// and answers `[0]` when either is missing. Here:
/// - every start ... end pair is one span, in order (several spans per answer are kept);
/// - a span still open when the output ends keeps its codes and is flagged `terminated == false`;
/// - a start token inside an open span closes the open one (flagged unterminated) and opens a new one;
/// - codes met outside any span open a span of their own (flagged `started == false`): a model that
///   forgot the start token still answered with motion;
/// - pad tokens are dropped (counted in `padCount`); an end token with no open span is dropped and noted
///   in `invalid`;
/// - `<motion_id_N>` with N >= K+3, or a malformed `<motion_id_...>` tag, is not motion: it is noted in
///   `invalid` and otherwise ignored (it neither ends nor opens a span);
/// - whitespace between motion tokens is ignored (some decoders put spaces between added tokens).
/// No motion at all gives an empty `spans`; `MotionSpanParse.firstMotion()` turns that (and an empty
/// span) into a `MotionSpanError`.
public struct MotionSpan: Equatable, Sendable {
    /// Codebook indices `0..<K`, in order.
    public var codes: [Int]
    /// False when the output ended (or a new start token came) before the span's end token.
    public var terminated: Bool
    /// False when the span began with a code rather than the start token.
    public var started: Bool
    /// Pad tokens (`<motion_id_{K+2}>`) dropped from the span.
    public var padCount: Int

    public init(codes: [Int], terminated: Bool = true, started: Bool = true, padCount: Int = 0) {
        self.codes = codes; self.terminated = terminated; self.started = started; self.padCount = padCount
    }
}

/// What `MotionVocabulary.parse` found in a model output.
public struct MotionSpanParse: Equatable, Sendable {
    /// The spans in order of appearance.
    public var spans: [MotionSpan]
    /// The output's text with each span replaced by `<Motion_Placeholder>` (as MotionGPT's cleaned
    /// output), whitespace trimmed at both ends.
    public var text: String
    /// Motion-looking tokens that are not motion: ids/tags beyond the vocabulary, malformed tags, end
    /// tokens with no open span. Empty for a well-formed output.
    public var invalid: [String]

    /// The codes of each span.
    public var codes: [[Int]] { spans.map(\.codes) }
    /// Whether some span was cut off before its end token.
    public var hasUnterminatedSpan: Bool { spans.contains { !$0.terminated } }

    /// The codes of the first span; throws when the output holds no motion or the first span is empty.
    public func firstMotion() throws -> [Int] {
        guard let s = spans.first else { throw MotionSpanError.noMotion(text) }
        guard !s.codes.isEmpty else { throw MotionSpanError.emptySpan }
        return s.codes
    }
}

/// Errors turning model output into motion codes, or codes into span text.
public enum MotionSpanError: Error, CustomStringConvertible, Equatable {
    /// The output holds no motion token; the associated value is the output's text.
    case noMotion(String)
    /// The first span has a start (or end) but no codes.
    case emptySpan
    /// A code outside `0..<codebookSize` was given to format.
    case codeOutOfRange(code: Int, codebookSize: Int)

    public var description: String {
        switch self {
        case .noMotion(let t): return "the output holds no motion span: \"\(t.prefix(80))\""
        case .emptySpan: return "the output's motion span has no codes"
        case .codeOutOfRange(let c, let k): return "motion code \(c) is outside the codebook 0..<\(k)"
        }
    }
}

extension MotionVocabulary {
    /// The span text of `codes`: start token, one `<motion_id_c>` per code, end token, no spaces.
    public func spanText(_ codes: [Int]) throws -> String {
        var s = startToken
        for c in codes {
            guard let t = token(forCode: c) else { throw MotionSpanError.codeOutOfRange(code: c, codebookSize: codebookSize) }
            s += t
        }
        return s + endToken
    }

    /// One step of the parse: a motion index (code, start, end, pad), an invalid motion-looking token, or text.
    private enum Piece { case motion(Int), invalid(String), text(String) }

    private func assemble(_ pieces: [Piece]) -> MotionSpanParse {
        let k = codebookSize
        var spans: [MotionSpan] = [], invalid: [String] = []
        var open: MotionSpan? = nil
        var text = "", pendingSpace = false
        func appendText(_ t: String) {
            if pendingSpace, !t.isEmpty, !text.isEmpty, !(t.first?.isWhitespace ?? true), !(text.last?.isWhitespace ?? true) { text += " " }
            pendingSpace = false
            text += t
        }
        func close(terminated: Bool) {
            guard var s = open else { return }
            s.terminated = terminated
            spans.append(s)
            open = nil
            // A placeholder is always set off from neighbouring text by one space, whichever way the
            // output spaced it (decoders differ around added tokens).
            pendingSpace = true
            appendText("<Motion_Placeholder>")
            pendingSpace = true
        }
        for p in pieces {
            switch p {
            case .motion(let m) where m == k:
                close(terminated: false)
                open = MotionSpan(codes: [], terminated: false, started: true)
            case .motion(let m) where m == k + 1:
                if open != nil { close(terminated: true) } else { invalid.append(MotionVocabulary.token(m) + " (end without start)") }
            case .motion(let m) where m == k + 2:
                if open != nil { open!.padCount += 1 }
            case .motion(let m):
                if open == nil { open = MotionSpan(codes: [], terminated: false, started: false) }
                open!.codes.append(m)
            case .invalid(let s):
                invalid.append(s)
            case .text(let t):
                // Whitespace inside a span (between motion tokens) is not text.
                if open != nil && t.allSatisfy(\.isWhitespace) { continue }
                close(terminated: false)
                appendText(t)
            }
        }
        close(terminated: false)
        return MotionSpanParse(spans: spans, text: text.trimmingCharacters(in: .whitespacesAndNewlines), invalid: invalid)
    }

    /// Splits text into motion tags, invalid motion-looking tags and text.
    private func scan(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        let prefix = "<motion_id_"
        while let r = rest.range(of: prefix) {
            if r.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<r.lowerBound]))) }
            // The tag runs to the next ">"; without one it is plain text.
            guard let close = rest[r.upperBound...].firstIndex(of: ">") else {
                pieces.append(.text(String(rest[r.lowerBound...])))
                return pieces
            }
            let tag = String(rest[r.lowerBound...close])
            if let n = index(of: tag) { pieces.append(.motion(n)) } else { pieces.append(.invalid(tag)) }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// Parses decoded text (motion tokens written as `<motion_id_N>`).
    public func parse(text: String) -> MotionSpanParse { assemble(scan(text)) }

    /// Parses generated token ids. `firstID` is the id of `<motion_id_0>` (what `install(in:)` returns);
    /// ids in `firstID ..< firstID + K + 3` are motion, other ids are text, decoded run by run with
    /// `decodeText` (e.g. `{ tokenizer.decode($0) }`); decoded text is read as `parse(text:)` reads it, so
    /// a tag the model spelled out in text pieces counts the same as in text. Negative ids are noted as
    /// invalid.
    public func parse(ids: [Int], firstID: Int, decodeText: ([Int]) -> String) -> MotionSpanParse {
        var pieces: [Piece] = [], run: [Int] = []
        func flush() { if !run.isEmpty { pieces += scan(decodeText(run)); run = [] } }
        for id in ids {
            let m = id - firstID
            if (0..<(codebookSize + 3)).contains(m) { flush(); pieces.append(.motion(m)) }
            else if id < 0 { flush(); pieces.append(.invalid("id \(id)")) }
            else { run.append(id) }
        }
        flush()
        return assemble(pieces)
    }

    /// Parses generated ids with the tokenizer the vocabulary is installed in (special tokens such as
    /// `</s>` and `<pad>` dropped from the text). When the vocabulary is not installed, the decoded text
    /// is parsed.
    public func parse(ids: [Int], tokenizer: SentencePieceTokenizer) -> MotionSpanParse {
        guard let first = tokenizer.id(of: Self.token(0)) else { return parse(text: tokenizer.decode(ids)) }
        return parse(ids: ids, firstID: first) { tokenizer.decode($0, skipSpecialTokens: true) }
    }
}

extension MotionSpanError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}
