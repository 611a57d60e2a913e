import Foundation

/// BLEU-1...BLEU-n of a corpus: `corpus[k]` is BLEU-(k+1); `perItem[i][k]` the same for item `i` alone.
public struct BleuScores: Equatable, Sendable {
    public var corpus: [Double]
    public var perItem: [[Double]]

    public init(corpus: [Double], perItem: [[Double]]) {
        self.corpus = corpus
        self.perItem = perItem
    }
}

/// BLEU exactly as pycocoevalcap's `Bleu(4).compute_score(gts, res)` (bleu/bleu_scorer.py, option
/// "closest"), the scorer TM2T and MotionGPT report for motion-to-text.
///
/// Inputs are tokenised captions, words separated by whitespace (see `captionTokens(_:)`): one candidate per
/// item and its references. Words are split with Python's `str.split()`. Per item, with the candidate's
/// length `c`:
/// - `correct[k]` = sum over the candidate's distinct (k+1)-grams of min(count in candidate, maximum count in
///   any one reference); `guess[k]` = max(0, c - k);
/// - the reference length `r` is the reference length closest to `c` (the shorter one on a tie).
///
/// The corpus score sums `correct`, `guess`, `c` and `r` over items, then for k = 0..<n:
/// `BLEU-(k+1) = (prod_{m<=k} (correct[m] + 1e-15) / (guess[m] + 1e-9)) ^ (1 / (k+1))`, times the brevity
/// penalty `exp(1 - 1/ratio)` when `ratio = (c + 1e-15) / (r + 1e-9) < 1`. The two constants are
/// bleu_scorer.py's `tiny` and `small`: they make an order with no matches give a tiny value rather than
/// log(0): BLEU-4 of a corpus with no 4-gram match is small (the fourth root of 1e-15 is 5.6e-4) but not 0.
/// `perItem` applies the same formula to each item's own counts (pycocoevalcap's second return value,
/// which it lays out as `[k][i]`; here it is `[i][k]`).
///
/// - Throws: `EvaluationError` if `candidates` is empty, `references` has a different count, an item has
///   no references, or `maxOrder < 1`.
public func bleu(candidates: [String], references: [[String]], maxOrder: Int = 4) throws -> BleuScores {
    try checkCaptionCorpus(candidates: candidates, references: references)
    guard maxOrder >= 1 else { throw EvaluationError.invalidValue(argument: "maxOrder", detail: "\(maxOrder) must be at least 1") }
    let n = maxOrder
    let small = 1e-9, tiny = 1e-15   // bleu_scorer.py's constants

    var totalCorrect = [Int](repeating: 0, count: n), totalGuess = [Int](repeating: 0, count: n)
    var totalTest = 0, totalRef = 0
    var perItem: [[Double]] = []
    perItem.reserveCapacity(candidates.count)

    for (candidate, refs) in zip(candidates, references) {
        // cook_refs: each n-gram's largest count in any single reference, and every reference's length.
        var refLengths: [Int] = []
        var maxCounts: [[String]: Int] = [:]
        for ref in refs {
            let words = pythonWhitespaceSplit(ref)
            refLengths.append(words.count)
            for (gram, c) in NGramCounts(words, maxOrder: n).counts { maxCounts[gram] = max(maxCounts[gram] ?? 0, c) }
        }
        // cook_test
        let words = pythonWhitespaceSplit(candidate)
        let testLength = words.count
        let guess = (0..<n).map { max(0, testLength - $0) }
        var correct = [Int](repeating: 0, count: n)
        for (gram, c) in NGramCounts(words, maxOrder: n).counts { correct[gram.count - 1] += min(maxCounts[gram] ?? 0, c) }
        // "closest": min over (|l - c|, l), so a tie goes to the shorter reference.
        let refLength = refLengths.min { (abs($0 - testLength), $0) < (abs($1 - testLength), $1) }!

        totalTest += testLength
        totalRef += refLength
        for k in 0..<n { totalCorrect[k] += correct[k]; totalGuess[k] += guess[k] }
        perItem.append(bleuFromCounts(correct: correct, guess: guess, testLength: testLength, refLength: refLength, tiny: tiny, small: small))
    }
    let corpus = bleuFromCounts(correct: totalCorrect, guess: totalGuess, testLength: totalTest, refLength: totalRef, tiny: tiny, small: small)
    return BleuScores(corpus: corpus, perItem: perItem)
}

/// bleu_scorer.py's `compute_score` arithmetic, in its order (a running product, then the k-th root).
private func bleuFromCounts(correct: [Int], guess: [Int], testLength: Int, refLength: Int, tiny: Double, small: Double) -> [Double] {
    var scores: [Double] = []
    var product = 1.0
    for k in 0..<correct.count {
        product *= (Double(correct[k]) + tiny) / (Double(guess[k]) + small)
        scores.append(pow(product, 1.0 / Double(k + 1)))
    }
    let ratio = (Double(testLength) + tiny) / (Double(refLength) + small)
    if ratio < 1 {
        let penalty = exp(1 - 1 / ratio)
        for k in scores.indices { scores[k] *= penalty }
    }
    return scores
}
