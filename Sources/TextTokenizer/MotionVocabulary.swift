/// MotionGPT's motion tokens: `<motion_id_0>` ... `<motion_id_{K-1}>` for the K codes of the VQ-VAE
/// codebook, then `<motion_id_K>` (start of motion), `<motion_id_{K+1}>` (end), `<motion_id_{K+2}>` (pad).
/// They are added to the T5 tokenizer in this order, so their ids follow the base vocabulary and sentinels.
public struct MotionVocabulary: Sendable, Equatable {
    public let codebookSize: Int

    public init(codebookSize: Int = 512) {
        precondition(codebookSize > 0, "codebookSize must be positive")
        self.codebookSize = codebookSize
    }

    /// All K + 3 token strings in id order.
    public var tokens: [String] { (0..<(codebookSize + 3)).map(Self.token) }
    public var startToken: String { Self.token(codebookSize) }
    public var endToken: String { Self.token(codebookSize + 1) }
    public var padToken: String { Self.token(codebookSize + 2) }

    /// `<motion_id_{index}>`.
    public static func token(_ index: Int) -> String { "<motion_id_\(index)>" }

    /// The token for a codebook entry, nil when the code is outside the codebook.
    public func token(forCode code: Int) -> String? {
        (0..<codebookSize).contains(code) ? Self.token(code) : nil
    }

    /// The index in `<motion_id_N>` of a token string (codes, start, end, pad), nil for anything else.
    public func index(of token: String) -> Int? {
        guard token.hasPrefix("<motion_id_"), token.hasSuffix(">") else { return nil }
        let digits = token.dropFirst("<motion_id_".count).dropLast()
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              digits.count < 10, let n = Int(digits), n < codebookSize + 3,
              Self.token(n) == token else { return nil }
        return n
    }

    /// Adds the motion tokens to `tokenizer` (as MotionGPT does with `add_tokens`) and returns the id of
    /// `<motion_id_0>`; the others follow consecutively.
    @discardableResult
    public func install(in tokenizer: SentencePieceTokenizer) -> Int {
        tokenizer.addTokens(tokens)
        return tokenizer.id(of: Self.token(0))!
    }

    /// Motion codes from tokenizer ids: the ids of `<motion_id_0..K-1>` mapped back to codes, everything
    /// else (text, start/end/pad of motion) skipped.
    public func codes(fromIDs ids: [Int], firstID: Int) -> [Int] {
        ids.compactMap { id in
            let c = id - firstID
            return (0..<codebookSize).contains(c) ? c : nil
        }
    }
}
