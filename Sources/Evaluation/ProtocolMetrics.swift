import Foundation
import TensorEngine

/// The mean and covariance of a set of embeddings, the two numbers per set that FID compares. Computed
/// once for a reference set (the ground-truth motions) and reused against every model's set.
public struct EmbeddingStatistics: Equatable, Sendable {
    /// How many embeddings (rows) the statistics came from.
    public var count: Int
    /// Width of the embeddings, `D`.
    public var dimension: Int
    /// Per-dimension mean, `[D]`.
    public var mean: [Double]
    /// Sample covariance with the `N - 1` denominator (numpy's `np.cov(x, rowvar=False)`), row-major `[D, D]`,
    /// exactly symmetric.
    public var covariance: [Double]

    /// Statistics from their parts (as `ProtocolMetrics.statistics` computes them, or saved ones).
    public init(count: Int, dimension: Int, mean: [Double], covariance: [Double]) {
        self.count = count
        self.dimension = dimension
        self.mean = mean
        self.covariance = covariance
    }
}

/// R-precision and MM-Dist over pools of a shuffled set, as the HumanML3D protocol reports them.
public struct RPrecisionPools: Equatable, Sendable, Codable {
    /// `topK[k]`: the share of texts whose own motion is among the `k + 1` nearest motions of its pool.
    public var topK: [Double]
    /// MM-Dist (the "matching score"): the mean distance between a text and its own motion, over the rows used.
    public var mmDist: Double
    /// Pools evaluated.
    public var pools: Int
    /// Rows per pool (`min(poolSize, N)`); `pools * poolSize` rows were used, the rest dropped.
    public var poolSize: Int

    /// A result from its parts.
    public init(topK: [Double], mmDist: Double, pools: Int, poolSize: Int) {
        self.topK = topK
        self.mmDist = mmDist
        self.pools = pools
        self.poolSize = poolSize
    }
}

/// The text-to-motion metrics of the HumanML3D protocol (Guo et al. 2022, "Generating Diverse and Natural
/// 3D Human Motions from Text"; the same code in T2M, MDM, GMD and MotionGPT's `metrics/utils.py`), on
/// embeddings from a learned evaluator (`MotionTextEmbedder`): FID, Diversity, MultiModality, R-precision
/// and MM-Dist. Embeddings are `Tensor`s `[N, D]` (Float32); every sum is taken in Double.
///
/// Where the official code draws random indices, there are two overloads: one that takes the indices (so
/// a test can match numpy's draws exactly) and one that draws them from a `SeededRNG`.
public enum ProtocolMetrics {

    // MARK: FID

    /// Mean and covariance of the rows of `x` `[N, D]`, as T2M's `calculate_activation_statistics`
    /// (`np.mean(x, axis=0)`, `np.cov(x, rowvar=False)`), in Double.
    ///
    /// - Throws: `EvaluationError` unless `x` is `[N, D]` with `N >= 2` (a covariance needs two rows) and
    ///   `D >= 1`, all finite.
    public static func statistics(_ x: Tensor, argument: String = "x") throws -> EmbeddingStatistics {
        let (n, d) = try checkEmbeddings(x, argument: argument, minimumRows: 2)
        let v = x.storage.pointer
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(v[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        // Centred rows [N, D], then Xcᵀ Xc / (N - 1) [D, D].
        var centred = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { centred[i * d + j] = Double(v[i * d + j]) - mean[j] } }
        var cov = [Double](repeating: 0, count: d * d)
        dgemm(transA: true, transB: false, m: d, n: d, k: n, alpha: 1 / Double(n - 1), a: centred, lda: d,
              b: centred, ldb: d, c: &cov, ldc: d)
        symmetrise(&cov, d)
        return EmbeddingStatistics(count: n, dimension: d, mean: mean, covariance: cov)
    }

    /// Fréchet distance (FID) between the Gaussians fitted to two sets of embeddings `a` `[Na, D]` and
    /// `b` `[Nb, D]`: `|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`, T2M's `calculate_frechet_distance`.
    /// The sets may differ in size; the value is symmetric in `a` and `b`.
    ///
    /// - Throws: as `statistics`, and `EvaluationError.shapeMismatch` if the widths differ.
    public static func frechetDistance(_ a: Tensor, _ b: Tensor) throws -> Double {
        try frechetDistance(statistics(a, argument: "a"), statistics(b, argument: "b"))
    }

    /// `frechetDistance` on statistics already computed (a reference set's, reused for every model).
    ///
    /// The official code takes `scipy.linalg.sqrtm(S_a @ S_b)` and its trace. `S_a S_b` is not symmetric,
    /// but it is similar to `S_a^(1/2) S_b S_a^(1/2)`, which is symmetric positive semi-definite, so its
    /// trace square root is the sum of the square roots of that matrix's eigenvalues. That is what this
    /// computes, with two symmetric eigendecompositions (LAPACK `dsyevd`): `S_a = V diag(w) Vᵀ` gives
    /// `S_a^(1/2) = V diag(sqrt w) Vᵀ`, then the eigenvalues of `S_a^(1/2) S_b S_a^(1/2)`. It needs no
    /// complex arithmetic and no `eps` retry, and stays accurate when a covariance is singular (fewer rows
    /// than dimensions, or a dimension that never varies), where `sqrtm` of a singular product is at its
    /// least accurate. Both matrices are positive semi-definite in exact arithmetic, so an eigenvalue below
    /// zero is rounding (of order 1e-16 times the largest) and is taken as 0 before its square root.
    ///
    /// Agreement with `sqrtm` (Tools/fixtures/make_protocol_metric_fixtures.py): 1e-15 relative on
    /// full-rank sets, a few 1e-9 on singular ones (a rank-5 covariance in 12 dimensions, 10 rows in 24),
    /// where each zero eigenvalue's rounding, clamped or not, leaves about 1e-8 in its square root, and
    /// `sqrtm` is no more exact. For a set against itself the value is 0 up to rounding, and can be a tiny
    /// negative number, as the official code's can.
    ///
    /// - Throws: `EvaluationError.shapeMismatch` if the statistics have different widths, or a mean or
    ///   covariance does not have `dimension` (`dimension^2`) values; `.invalidValue` for a non-finite one.
    public static func frechetDistance(_ a: EmbeddingStatistics, _ b: EmbeddingStatistics) throws -> Double {
        for (name, s) in [("a", a), ("b", b)] {
            guard s.dimension >= 1, s.mean.count == s.dimension, s.covariance.count == s.dimension * s.dimension else {
                throw EvaluationError.shapeMismatch(argument: name, detail: "statistics of width \(s.dimension) with \(s.mean.count) means and \(s.covariance.count) covariance values")
            }
            guard s.mean.allSatisfy(\.isFinite), s.covariance.allSatisfy(\.isFinite) else {
                throw EvaluationError.invalidValue(argument: name, detail: "statistics hold a non-finite value")
            }
        }
        guard a.dimension == b.dimension else {
            throw EvaluationError.shapeMismatch(argument: "b", detail: "embeddings have width \(b.dimension), a has \(a.dimension)")
        }
        let d = a.dimension
        var meanTerm = 0.0
        for j in 0..<d { let diff = a.mean[j] - b.mean[j]; meanTerm += diff * diff }
        var traces = 0.0
        for j in 0..<d { traces += a.covariance[j * d + j] + b.covariance[j * d + j] }

        let rootA = try symmetricSquareRoot(a.covariance, d)
        // S_a^(1/2) S_b S_a^(1/2) [D, D], symmetrised against the products' rounding.
        var left = [Double](repeating: 0, count: d * d), middle = [Double](repeating: 0, count: d * d)
        dgemm(transA: false, transB: false, m: d, n: d, k: d, a: rootA, lda: d, b: b.covariance, ldb: d, c: &left, ldc: d)
        dgemm(transA: false, transB: false, m: d, n: d, k: d, a: left, lda: d, b: rootA, ldb: d, c: &middle, ldc: d)
        symmetrise(&middle, d)
        let eigen = try decompose(middle, d, vectors: false)
        let traceRoot = eigen.values.reduce(0) { $0 + max($1, 0).squareRoot() }
        return meanTerm + traces - 2 * traceRoot
    }

    // MARK: Diversity and MultiModality

    /// Diversity: the mean Euclidean distance between `first.count` pairs of rows of `x` `[N, D]`, pair `k`
    /// being rows `first[k]` and `second[k]`, as T2M's `calculate_diversity` once its indices are drawn.
    ///
    /// - Throws: `EvaluationError` for an `x` that is not `[N, D]` with finite values, empty or differently
    ///   long index lists, or an index outside `0..<N`.
    public static func diversity(_ x: Tensor, first: [Int], second: [Int]) throws -> Double {
        let (n, d) = try checkEmbeddings(x, argument: "x", minimumRows: 1)
        try checkPairs(first, second, below: n, what: "rows of x")
        let v = x.storage.pointer
        var sum = 0.0
        for (i, j) in zip(first, second) { sum += rowDistance(v + i * d, v + j * d, d) }
        return sum / Double(first.count)
    }

    /// Diversity with `times` pairs drawn from `seed` (the protocol uses 300).
    ///
    /// The official code draws `first` and `second` each as `times` distinct rows
    /// (`np.random.choice(N, times, replace=False)`) and so needs `N > times`; the sets here are often
    /// smaller (the CMU test split has 16 clips). This draws every index independently and uniformly from
    /// `0..<N` instead. Each pair then has exactly the official pair's distribution (two independent
    /// uniform rows; like the official pairs it may be a row with itself, at a rate of `1/N`), so the
    /// expected value is the official one; only the spread over seeds is a little larger, because rows
    /// can repeat across pairs. The same seed gives the same value on every machine.
    ///
    /// - Throws: as the explicit overload; `EvaluationError.invalidValue` if `times < 1` or `N < 2`.
    public static func diversity(_ x: Tensor, times: Int = 300, seed: UInt64) throws -> Double {
        let (n, _) = try checkEmbeddings(x, argument: "x", minimumRows: 2)
        guard times >= 1 else { throw EvaluationError.invalidValue(argument: "times", detail: "\(times) must be at least 1") }
        var rng = SeededRNG(seed: seed)
        var first: [Int] = [], second: [Int] = []
        for _ in 0..<times { first.append(rng.nextInt(n)); second.append(rng.nextInt(n)) }
        return try diversity(x, first: first, second: second)
    }

    /// MultiModality: for each text, the mean distance between pairs of the motions generated for it, then
    /// the mean over texts, as T2M's `calculate_multimodality` once its indices are drawn. `groups[t]` holds
    /// text `t`'s motion embeddings `[S_t, D]`; pair `k` of every group is rows `first[k]` and `second[k]`
    /// (the official code, too, uses one set of indices for all texts).
    ///
    /// - Throws: `EvaluationError` for no groups, groups of different widths or non-finite values, empty or
    ///   differently long index lists, or an index outside some group.
    public static func multimodality(_ groups: [Tensor], first: [Int], second: [Int]) throws -> Double {
        let shapes = try checkGroups(groups)
        let smallest = shapes.map(\.rows).min()!
        try checkPairs(first, second, below: smallest, what: "rows of the smallest group")
        var sum = 0.0
        for (g, (_, d)) in zip(groups, shapes) {
            let v = g.storage.pointer
            for (i, j) in zip(first, second) { sum += rowDistance(v + i * d, v + j * d, d) }
        }
        return sum / Double(groups.count * first.count)
    }

    /// MultiModality with `times` pairs per text drawn from `seed` (the protocol uses 10 pairs among 30
    /// motions per text). As in `diversity(_:times:seed:)`, indices are drawn independently and uniformly
    /// (the official code draws without replacement and needs more motions per text than `times`), so each
    /// pair has the official distribution; and because groups may differ in size here, each text gets its
    /// own draws. The result is the mean over all pairs, which is the mean over texts of each text's mean.
    ///
    /// - Throws: as the explicit overload; `EvaluationError.invalidValue` if `times < 1` or a group has
    ///   fewer than 2 motions.
    public static func multimodality(_ groups: [Tensor], times: Int = 10, seed: UInt64) throws -> Double {
        let shapes = try checkGroups(groups)
        guard times >= 1 else { throw EvaluationError.invalidValue(argument: "times", detail: "\(times) must be at least 1") }
        if let t = shapes.firstIndex(where: { $0.rows < 2 }) {
            throw EvaluationError.invalidValue(argument: "groups[\(t)]", detail: "\(shapes[t].rows) motion, MultiModality needs at least 2 per text")
        }
        var rng = SeededRNG(seed: seed)
        var sum = 0.0
        for (g, (rows, d)) in zip(groups, shapes) {
            let v = g.storage.pointer
            for _ in 0..<times {
                let i = rng.nextInt(rows), j = rng.nextInt(rows)
                sum += rowDistance(v + i * d, v + j * d, d)
            }
        }
        return sum / Double(groups.count * times)
    }

    // MARK: R-precision and MM-Dist

    /// R-precision of one pool: row `i` of `texts` `[N, D]` belongs with row `i` of `motions` `[N, D]`;
    /// `result[k]` is the share of texts whose own motion is among the `k + 1` nearest motions (Euclidean),
    /// for `k` in `0..<topK`, as T2M's `calculate_R_precision` (`euclidean_distance_matrix`, `argsort`,
    /// `calculate_top_k`) divided by `N`.
    ///
    /// Ties: the official code ranks with `np.argsort` / `torch.argsort`, whose order among exactly equal
    /// distances is unspecified. Here a motion at the same distance as the text's own ranks before it when
    /// its index is lower (a stable argsort), so ties are deterministic. Equal distances need duplicated
    /// embeddings; with real evaluator outputs they do not occur.
    ///
    /// - Throws: `EvaluationError` for inputs that are not `[N, D]` with the same shape and finite values,
    ///   or a `topK` outside `1...N`.
    public static func rPrecision(texts: Tensor, motions: Tensor, topK: Int = 3) throws -> [Double] {
        let (n, d) = try checkPair(texts, motions)
        guard (1...n).contains(topK) else {
            throw EvaluationError.invalidValue(argument: "topK", detail: "\(topK) must be between 1 and the pool size \(n)")
        }
        let hits = poolHits(texts.storage.pointer, motions.storage.pointer, rows: Array(0..<n), d: d, topK: topK)
        return hits.counts.map { Double($0) / Double(n) }
    }

    /// MM-Dist (the "matching score"): the mean Euclidean distance between each text and its own motion,
    /// `mean_i |texts[i] - motions[i]|`, T2M's `calculate_matching_score` averaged (the trace of the pool's
    /// distance matrix over `N`).
    ///
    /// - Throws: as `rPrecision`.
    public static func matchingScore(texts: Tensor, motions: Tensor) throws -> Double {
        let (n, d) = try checkPair(texts, motions)
        let t = texts.storage.pointer, m = motions.storage.pointer
        var sum = 0.0
        for i in 0..<n { sum += rowDistance(t + i * d, m + i * d, d) }
        return sum / Double(n)
    }

    /// R-precision and MM-Dist as the protocol reports them (MotionGPT's `TM2TMetrics.compute`): the rows
    /// are put in `order` (a permutation of `0..<N`), cut into `N / s` pools of `s = min(poolSize, N)`
    /// consecutive rows, the last `N % s` rows dropped (as the official loader's `drop_last` does); each
    /// pool is ranked as `rPrecision`, and hits and matched distances are summed over pools and divided by
    /// the rows used.
    ///
    /// The official code asserts `N > 32`; with fewer rows this uses one pool of all `N`, whose chance level
    /// (`k / N` for top-k) is higher than a 32-row pool's, so such numbers are not comparable with
    /// published ones (tables should print the pool size).
    ///
    /// - Throws: as `rPrecision` (with `topK` at most the pool size), and `EvaluationError.invalidValue` if
    ///   `poolSize < 1` or `order` is not a permutation of `0..<N`.
    public static func rPrecisionPools(texts: Tensor, motions: Tensor, poolSize: Int = 32, topK: Int = 3, order: [Int]) throws -> RPrecisionPools {
        let (n, d) = try checkPair(texts, motions)
        guard poolSize >= 1 else { throw EvaluationError.invalidValue(argument: "poolSize", detail: "\(poolSize) must be at least 1") }
        guard order.count == n else { throw EvaluationError.countMismatch(argument: "order", expected: n, got: order.count) }
        var seen = [Bool](repeating: false, count: n)
        for i in order {
            guard (0..<n).contains(i), !seen[i] else {
                throw EvaluationError.invalidValue(argument: "order", detail: "not a permutation of 0..<\(n) (\(i) is out of range or repeated)")
            }
            seen[i] = true
        }
        let size = min(poolSize, n)
        guard (1...size).contains(topK) else {
            throw EvaluationError.invalidValue(argument: "topK", detail: "\(topK) must be between 1 and the pool size \(size)")
        }
        let pools = n / size
        var counts = [Int](repeating: 0, count: topK), matched = 0.0
        for p in 0..<pools {
            let hits = poolHits(texts.storage.pointer, motions.storage.pointer, rows: Array(order[(p * size)..<((p + 1) * size)]), d: d, topK: topK)
            for k in 0..<topK { counts[k] += hits.counts[k] }
            matched += hits.matchedDistance
        }
        let used = Double(pools * size)
        return RPrecisionPools(topK: counts.map { Double($0) / used }, mmDist: matched / used, pools: pools, poolSize: size)
    }

    /// `rPrecisionPools` with the order shuffled from `seed` (Fisher-Yates over `SeededRNG`), as the
    /// official code shuffles with `torch.randperm` before cutting pools.
    public static func rPrecisionPools(texts: Tensor, motions: Tensor, poolSize: Int = 32, topK: Int = 3, seed: UInt64) throws -> RPrecisionPools {
        let (n, _) = try checkPair(texts, motions)
        var rng = SeededRNG(seed: seed)
        var order = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(i + 1)) } }
        return try rPrecisionPools(texts: texts, motions: motions, poolSize: poolSize, topK: topK, order: order)
    }

    // MARK: Helpers

    /// For the texts and motions at `rows` (one pool): how many texts have their motion within the
    /// `k + 1` nearest, for each `k`, and the sum of matched distances.
    private static func poolHits(_ t: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, rows: [Int], d: Int,
                                 topK: Int) -> (counts: [Int], matchedDistance: Double) {
        var counts = [Int](repeating: 0, count: topK), matched = 0.0
        var distances = [Double](repeating: 0, count: rows.count)
        for (a, ta) in rows.enumerated() {
            for (b, mb) in rows.enumerated() { distances[b] = rowDistance(t + ta * d, m + mb * d, d) }
            let own = distances[a]
            matched += own
            // The own motion's position in a stable argsort of the row: nearer motions, and equally near
            // ones that come first in the pool.
            var rank = 0
            for b in 0..<rows.count where distances[b] < own || (distances[b] == own && b < a) { rank += 1 }
            for k in 0..<topK where rank <= k { counts[k] += 1 }
        }
        return (counts, matched)
    }

    /// Checks `[N, D]` embeddings with `N >= minimumRows`, `D >= 1` and finite values; returns `(N, D)`.
    static func checkEmbeddings(_ x: Tensor, argument: String, minimumRows: Int) throws -> (rows: Int, width: Int) {
        guard x.rank == 2 else { throw EvaluationError.shapeMismatch(argument: argument, detail: "embeddings must be [N, D], got \(x.shape)") }
        let (n, d) = (x.shape[0], x.shape[1])
        guard n > 0, d > 0 else { throw EvaluationError.empty(argument: argument) }
        guard n >= minimumRows else {
            throw EvaluationError.invalidValue(argument: argument, detail: "\(n) row\(n == 1 ? "" : "s"), at least \(minimumRows) needed")
        }
        let v = x.storage.pointer
        if let bad = (0..<(n * d)).first(where: { !v[$0].isFinite }) {
            throw EvaluationError.invalidValue(argument: argument, detail: "row \(bad / d), column \(bad % d) is not finite")
        }
        return (n, d)
    }

    private static func checkPair(_ texts: Tensor, _ motions: Tensor) throws -> (rows: Int, width: Int) {
        let (n, d) = try checkEmbeddings(texts, argument: "texts", minimumRows: 1)
        let (nm, dm) = try checkEmbeddings(motions, argument: "motions", minimumRows: 1)
        guard nm == n else { throw EvaluationError.countMismatch(argument: "motions", expected: n, got: nm) }
        guard dm == d else { throw EvaluationError.shapeMismatch(argument: "motions", detail: "embeddings have width \(dm), texts have \(d)") }
        return (n, d)
    }

    private static func checkGroups(_ groups: [Tensor]) throws -> [(rows: Int, width: Int)] {
        guard !groups.isEmpty else { throw EvaluationError.empty(argument: "groups") }
        let shapes = try groups.enumerated().map { try checkEmbeddings($1, argument: "groups[\($0)]", minimumRows: 1) }
        if let t = shapes.firstIndex(where: { $0.width != shapes[0].width }) {
            throw EvaluationError.shapeMismatch(argument: "groups[\(t)]", detail: "embeddings have width \(shapes[t].width), groups[0] has \(shapes[0].width)")
        }
        return shapes
    }

    private static func checkPairs(_ first: [Int], _ second: [Int], below n: Int, what: String) throws {
        guard !first.isEmpty else { throw EvaluationError.empty(argument: "first") }
        guard second.count == first.count else { throw EvaluationError.countMismatch(argument: "second", expected: first.count, got: second.count) }
        for (name, list) in [("first", first), ("second", second)] {
            if let bad = list.first(where: { !(0..<n).contains($0) }) {
                throw EvaluationError.invalidValue(argument: name, detail: "index \(bad) is outside the \(n) \(what)")
            }
        }
    }

    @inline(__always)
    private static func rowDistance(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ d: Int) -> Double {
        var s = 0.0
        for j in 0..<d { let x = Double(a[j]) - Double(b[j]); s += x * x }
        return s.squareRoot()
    }

    private static func symmetrise(_ m: inout [Double], _ d: Int) {
        for i in 0..<d { for j in (i + 1)..<d { let v = 0.5 * (m[i * d + j] + m[j * d + i]); m[i * d + j] = v; m[j * d + i] = v } }
    }

    private static func decompose(_ m: [Double], _ d: Int, vectors: Bool) throws -> SymmetricEigen {
        do { return try SymmetricEigen(m, order: d, vectors: vectors) }
        catch { throw EvaluationError.invalidValue(argument: "covariance", detail: "\(error)") }
    }

    /// `S^(1/2) = V diag(sqrt(max(w, 0))) Vᵀ` of a symmetric positive semi-definite `S` `[D, D]`. A covariance
    /// is PSD in exact arithmetic; its eigenvalues below zero are rounding and become 0.
    private static func symmetricSquareRoot(_ s: [Double], _ d: Int) throws -> [Double] {
        let e = try decompose(s, d, vectors: true)
        // V diag(sqrt w): scale column j by sqrt(w_j); then (V diag(sqrt w)) Vᵀ.
        var scaled = e.vectors
        for j in 0..<d { let r = max(e.values[j], 0).squareRoot(); for i in 0..<d { scaled[i * d + j] *= r } }
        var root = [Double](repeating: 0, count: d * d)
        dgemm(transA: false, transB: true, m: d, n: d, k: d, a: scaled, lda: d, b: e.vectors, ldb: d, c: &root, ldc: d)
        symmetrise(&root, d)
        return root
    }
}
