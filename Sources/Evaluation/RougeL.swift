import Foundation

/// ROUGE-L exactly as pycocoevalcap's `Rouge().compute_score(gts, res)` (rouge/rouge.py), the scorer TM2T
/// and MotionGPT report for motion-to-text.
///
/// Inputs are tokenised captions, words separated by single spaces (see `captionTokens(_:)`). Words are
/// split with Python's `str.split(" ")`, as rouge.py does, so an empty caption is one empty word and a
/// double space makes an empty word (BLEU and CIDEr split on any whitespace instead). Per item, for every
/// reference `r` with LCS = the length of the longest common subsequence of the candidate's and `r`'s words:
/// precision `P_r = LCS / |candidate|`, recall `R_r = LCS / |r|`. Then, as rouge.py does, the maxima are
/// taken separately, `P = max_r P_r` and `R = max_r R_r` (possibly from different references), and
/// `score = (1 + beta^2) P R / (R + beta^2 P)`, or 0 when `P` or `R` is 0. beta is 1.2 (rouge.py's value).
/// The corpus score is the mean of the item scores.
///
/// - Throws: `EvaluationError` if `candidates` is empty, `references` has a different count or an item has
///   no references.
public func rougeL(candidates: [String], references: [[String]]) throws -> CaptionScores {
    try checkCaptionCorpus(candidates: candidates, references: references)
    let beta = 1.2
    let betaSquared = pow(beta, 2)   // rouge.py's `self.beta**2`, not the literal 1.44
    var perItem: [Double] = []
    perItem.reserveCapacity(candidates.count)
    for (candidate, refs) in zip(candidates, references) {
        let c = pythonSpaceSplit(candidate)
        var precisionMax = -Double.infinity, recallMax = -Double.infinity
        for ref in refs {
            let r = pythonSpaceSplit(ref)
            let lcs = Double(longestCommonSubsequence(r, c))
            precisionMax = max(precisionMax, lcs / Double(c.count))
            recallMax = max(recallMax, lcs / Double(r.count))
        }
        if precisionMax != 0 && recallMax != 0 {
            perItem.append(((1 + betaSquared) * precisionMax * recallMax) / (recallMax + betaSquared * precisionMax))
        } else {
            perItem.append(0)
        }
    }
    return CaptionScores(corpus: perItem.reduce(0, +) / Double(perItem.count), perItem: perItem)
}

/// Length of the longest common subsequence of two word lists (rouge.py's `my_lcs`), with one row of the
/// dynamic-programming table kept at a time.
func longestCommonSubsequence(_ a: [String], _ b: [String]) -> Int {
    guard !a.isEmpty, !b.isEmpty else { return 0 }
    var previous = [Int](repeating: 0, count: b.count + 1)
    var current = previous
    for x in a {
        for (j, y) in b.enumerated() {
            current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j])
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
