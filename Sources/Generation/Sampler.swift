import Foundation
import TensorEngine

/// Score-vector helpers shared by greedy, sampling and beam search.
public enum Sampler {
    /// Index of the largest score (first on ties, as `argmax`).
    public static func argmax(_ scores: [Float]) -> Int {
        var best = 0
        for i in 1..<scores.count where scores[i] > scores[best] { best = i }
        return best
    }

    /// `log_softmax` of one row, in Float32 like the reference.
    public static func logSoftmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        var s: Float = 0
        for v in x { s += Foundation.exp(v - m) }
        let lse = m + Foundation.log(s)
        return x.map { $0 - lse }
    }

    /// Indices of the `k` largest values, largest first (lower index first on ties).
    public static func topK(_ x: [Float], _ k: Int) -> [Int] {
        precondition(k <= x.count, "top-\(k) of \(x.count) values")
        if k * 8 < x.count {
            // Partial selection: keep a small sorted buffer instead of sorting the whole vocabulary.
            var best: [(Float, Int)] = []
            best.reserveCapacity(k + 1)
            for (i, v) in x.enumerated() {
                if best.count == k, let last = best.last, !(v > last.0) { continue }
                var pos = best.count
                while pos > 0 && v > best[pos - 1].0 { pos -= 1 }
                best.insert((v, i), at: pos)
                if best.count > k { best.removeLast() }
            }
            return best.map { $0.1 }
        }
        return x.indices.sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }.prefix(k).map { $0 }
    }

    /// Draws an index from the softmax of `scores` with one uniform number of `rng`.
    public static func categorical(_ scores: [Float], rng: inout SeededRNG) -> Int {
        let p = softmax(scores)
        let u = rng.nextFloat()
        var acc: Float = 0
        for (i, v) in p.enumerated() {
            acc += v
            if u < acc { return i }
        }
        return p.lastIndex { $0 > 0 } ?? 0
    }

    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}
