import Foundation

/// CIDEr exactly as pycocoevalcap's `Cider().compute_score(gts, res)` (cider/cider_scorer.py: the CIDEr-D
/// variant with clipping and a length penalty), the scorer TM2T and MotionGPT report for motion-to-text.
///
/// Inputs are tokenised captions, words separated by whitespace (see `captionTokens(_:)`), split with
/// Python's `str.split()`. With N items and `n = 1...maxOrder`:
/// - document frequency `df(g)` = the number of items whose references (any of them) contain n-gram `g`;
///   it comes from the references of this corpus only, so scores depend on the whole corpus, and a
///   one-item corpus scores 0 (every weight below is `log 1 - log 1`);
/// - a caption's vector for order n maps each of its n-grams to `tf(g) * (log N - log max(1, df(g)))`;
/// - for the candidate `h` and each reference `r`:
///   `sim_n = sum_g min(h_n(g), r_n(g)) * r_n(g) / (|h_n| |r_n|)` (the division skipped when a norm is 0),
///   times `exp(-delta^2 / (2 sigma^2))` with sigma 6 and `delta` = the candidate's minus the reference's
///   bigram count. (cider_scorer.py's `length` sums the term frequencies of the n-grams with index
///   `n == 1`, the bigrams; that is the word count minus one for any non-empty caption, so `delta` is the
///   word-count difference except against an empty caption, whose similarity is 0 anyway.)
/// - the item score is `10 * mean_n(sum_r sim_n) / (number of references)`;
/// the corpus score is the mean of the item scores.
///
/// pycocoevalcap fails (`max()` of an empty sequence) when no reference in the corpus has a word; here
/// that corpus scores 0.
///
/// - Throws: `EvaluationError` if `candidates` is empty, `references` has a different count, an item has
///   no references, `maxOrder < 1` or `sigma` is not positive.
public func cider(candidates: [String], references: [[String]], maxOrder: Int = 4, sigma: Double = 6) throws -> CaptionScores {
    try checkCaptionCorpus(candidates: candidates, references: references)
    guard maxOrder >= 1 else { throw EvaluationError.invalidValue(argument: "maxOrder", detail: "\(maxOrder) must be at least 1") }
    guard sigma > 0, sigma.isFinite else { throw EvaluationError.invalidValue(argument: "sigma", detail: "\(sigma) must be positive") }
    let n = maxOrder
    let tests = candidates.map { NGramCounts(pythonWhitespaceSplit($0), maxOrder: n) }
    let refs = references.map { $0.map { NGramCounts(pythonWhitespaceSplit($0), maxOrder: n) } }

    // compute_doc_freq: each item counts once per n-gram, however many of its references hold it.
    var documentFrequency: [[String]: Double] = [:]
    for itemRefs in refs {
        var seen = Set<[String]>()
        for r in itemRefs { for g in r.order where seen.insert(g).inserted { documentFrequency[g, default: 0] += 1 } }
    }
    let logItemCount = log(Double(candidates.count))   // cider_scorer.py's `ref_len`

    // counts2vec
    struct Vector { var weights: [[[String]: Double]]; var order: [[[String]]]; var norms: [Double]; var bigramCount: Int }
    func vector(_ c: NGramCounts) -> Vector {
        var v = Vector(weights: Array(repeating: [:], count: n), order: Array(repeating: [], count: n),
                       norms: Array(repeating: 0, count: n), bigramCount: 0)
        for g in c.order {
            let tf = c.counts[g]!
            let df = log(max(1.0, documentFrequency[g] ?? 0))
            let k = g.count - 1
            let w = Double(tf) * (logItemCount - df)
            v.weights[k][g] = w
            v.order[k].append(g)
            v.norms[k] += pow(w, 2)
            if k == 1 { v.bigramCount += tf }
        }
        v.norms = v.norms.map { $0.squareRoot() }
        return v
    }
    // sim
    let e = M_E
    func similarity(_ h: Vector, _ r: Vector) -> [Double] {
        let delta = Double(h.bigramCount - r.bigramCount)
        var val = [Double](repeating: 0, count: n)
        for k in 0..<n {
            for g in h.order[k] {
                let rw = r.weights[k][g] ?? 0
                val[k] += min(h.weights[k][g]!, rw) * rw
            }
            if h.norms[k] != 0 && r.norms[k] != 0 { val[k] /= h.norms[k] * r.norms[k] }
            val[k] *= pow(e, -pow(delta, 2) / (2 * pow(sigma, 2)))   // `np.e**(-(delta**2)/(2*self.sigma**2))`
        }
        return val
    }

    var perItem: [Double] = []
    perItem.reserveCapacity(candidates.count)
    for (test, itemRefs) in zip(tests, refs) {
        let h = vector(test)
        var sum = [Double](repeating: 0, count: n)
        for r in itemRefs {
            let s = similarity(h, vector(r))
            for k in 0..<n { sum[k] += s[k] }
        }
        var score = sum.reduce(0, +) / Double(n)
        score /= Double(itemRefs.count)
        score *= 10
        perItem.append(score)
    }
    return CaptionScores(corpus: perItem.reduce(0, +) / Double(perItem.count), perItem: perItem)
}
