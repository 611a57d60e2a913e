/// What the pycocoevalcap-style caption scorers share: the corpus shape check, Python's whitespace split
/// and n-gram counting in first-seen order.

/// Corpus-level scores of one caption metric: the corpus score and one score per item, in item order.
public struct CaptionScores: Equatable, Sendable {
    public var corpus: Double
    public var perItem: [Double]

    public init(corpus: Double, perItem: [Double]) {
        self.corpus = corpus
        self.perItem = perItem
    }
}

/// One candidate per item and at least one reference per item, as pycocoevalcap's scorers assert
/// (`len(hypo) == 1`, `len(ref) >= 1`); the corpus itself must not be empty.
func checkCaptionCorpus(candidates: [String], references: [[String]]) throws {
    guard !candidates.isEmpty else { throw EvaluationError.empty(argument: "candidates") }
    guard references.count == candidates.count else {
        throw EvaluationError.countMismatch(argument: "references", expected: candidates.count, got: references.count)
    }
    if let i = references.firstIndex(where: { $0.isEmpty }) { throw EvaluationError.empty(argument: "references[\(i)]") }
}

/// Python's `str.split()` with no argument: runs of whitespace separate words and empty words are dropped.
/// Python also counts the separators U+001C...U+001F as whitespace, which Unicode's White_Space does not.
func pythonWhitespaceSplit(_ s: String) -> [String] {
    s.split(whereSeparator: { $0.isWhitespace || ("\u{1C}"..."\u{1F}").contains($0) }).map(String.init)
}

/// Python's `str.split(" ")`: every single space separates, so `""` is `[""]` and two spaces make an empty
/// word. ROUGE-L's scorer splits this way (BLEU and CIDEr use `split()`), and the two differ on such input.
func pythonSpaceSplit(_ s: String) -> [String] {
    s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
}

/// Counts of the 1- to `maxOrder`-grams of `words`, as `precook` in bleu_scorer.py and cider_scorer.py.
/// `order` keeps first-seen order (by length, then position) because both scorers iterate a Python dict;
/// sums taken in the same order give the same rounding.
struct NGramCounts {
    var order: [[String]] = []
    var counts: [[String]: Int] = [:]

    init(_ words: [String], maxOrder: Int) {
        for k in 1...maxOrder where words.count >= k {
            for i in 0...(words.count - k) {
                let gram = Array(words[i..<(i + k)])
                if let c = counts[gram] { counts[gram] = c + 1 } else { counts[gram] = 1; order.append(gram) }
            }
        }
    }
}
