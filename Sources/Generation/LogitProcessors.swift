import Foundation

/// A step of decoding that changes the scores of the next token of one sequence (a penalty, a
/// constraint, a warper). Composable: decoding applies a list in order. `history` is the decoder's
/// tokens so far (the start token included); `generated` counts the tokens generated so far.
public protocol LogitProcessor: Sendable {
    func process(_ scores: inout [Float], history: [Int], generated: Int)
}

/// `transformers`' repetition penalty: scores of tokens already in `history` are divided by the
/// penalty when positive and multiplied when negative.
public struct RepetitionPenalty: LogitProcessor {
    public var penalty: Float
    public init(penalty: Float) { self.penalty = penalty }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        guard penalty != 1 else { return }
        for tok in Set(history) where tok >= 0 && tok < scores.count {
            scores[tok] = scores[tok] < 0 ? scores[tok] * penalty : scores[tok] / penalty
        }
    }
}

/// Constrained decoding: only tokens in `ranges` (and `alwaysAllowed`, the end and stop tokens) keep
/// their scores; the rest become -inf.
public struct AllowedTokens: LogitProcessor {
    public var ranges: [Range<Int>]
    public var alwaysAllowed: [Int]
    public init(ranges: [Range<Int>], alwaysAllowed: [Int]) { self.ranges = ranges; self.alwaysAllowed = alwaysAllowed }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        var keep = [Bool](repeating: false, count: scores.count)
        for r in ranges { for t in r where t >= 0 && t < scores.count { keep[t] = true } }
        for t in alwaysAllowed where t >= 0 && t < scores.count { keep[t] = true }
        for t in scores.indices where !keep[t] { scores[t] = -.infinity }
    }
}

/// Blocks the end tokens until `count` tokens have been generated.
public struct MinNewTokens: LogitProcessor {
    public var count: Int
    public var endTokens: [Int]
    public init(count: Int, endTokens: [Int]) { self.count = count; self.endTokens = endTokens }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        guard generated < count else { return }
        for t in endTokens where t >= 0 && t < scores.count { scores[t] = -.infinity }
    }
}

/// Divides the scores by a temperature (sampling).
public struct Temperature: LogitProcessor {
    public var value: Float
    public init(value: Float) { self.value = value }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        for i in scores.indices { scores[i] /= value }
    }
}

/// Keeps the `k` highest scores (ties with the k-th kept), as `TopKLogitsWarper`.
public struct TopK: LogitProcessor {
    public var k: Int
    public init(k: Int) { self.k = k }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        guard k > 0 && k < scores.count else { return }
        let kth = scores[Sampler.topK(scores, k).last!]
        for i in scores.indices where scores[i] < kth { scores[i] = -.infinity }
    }
}

/// Nucleus filtering, as `TopPLogitsWarper`: removes the low-probability tail whose total mass is at
/// most `1 - p`, keeping at least one token.
public struct TopP: LogitProcessor {
    public var p: Float
    public init(p: Float) { self.p = p }
    public func process(_ scores: inout [Float], history: [Int], generated: Int) {
        guard p < 1 else { return }
        let order = scores.indices.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }
        let probs = Sampler.softmax(order.map { scores[$0] })
        var cumulative: Float = 0
        for (rank, i) in order.enumerated() where rank < order.count - 1 {
            cumulative += probs[rank]
            if cumulative <= 1 - p { scores[i] = -.infinity } else { break }
        }
    }
}
