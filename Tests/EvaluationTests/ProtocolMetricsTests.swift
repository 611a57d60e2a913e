import XCTest
import MotionData
import TensorEngine
import Evaluation

/// FID, Diversity, MultiModality, R-precision, MM-Dist, foot skating and jitter against numpy/scipy
/// (Tools/fixtures/make_protocol_metric_fixtures.py, the official formulas), plus hand-checkable cases and
/// bad input.
final class ProtocolMetricsTests: XCTestCase {
    typealias PM = ProtocolMetrics
    let fixture = Fixtures.protocolMetrics

    // MARK: FID

    func testFrechetDistanceMatchesScipySqrtm() throws {
        XCTAssertEqual(fixture.fid.map(\.name), ["full_rank", "rank_deficient", "n_less_than_d", "wide", "identical"])
        for c in fixture.fid {
            let a = matrix(c.a), b = matrix(c.b)
            let fid = try PM.frechetDistance(a, b)
            if c.name == "identical" {
                // 0 up to rounding in both (scipy gives ~1e-13).
                XCTAssertEqual(fid, 0, accuracy: 1e-9)
                XCTAssertEqual(c.fid_sqrtm, 0, accuracy: 1e-9)
                continue
            }
            // The brief's bound against the official sqrtm, and the tighter agreement with the eigenvalue
            // reference that the doc comment states.
            assertClose(fid, c.fid_sqrtm, rtol: 1e-4, c.name)
            assertClose(fid, c.fid_eig, rtol: 1e-8, c.name)
            // Swapped, the root is taken of the other covariance: the same value up to the rounding of the
            // zero eigenvalues when one set is rank-deficient.
            assertClose(try PM.frechetDistance(b, a), fid, rtol: 1e-8, "\(c.name) swapped")
        }
        // The cases are what their names say.
        let deficient = fixture.fid[1], small = fixture.fid[2]
        XCTAssertEqual(deficient.rank_a, 5)
        XCTAssertLessThan(deficient.rank_a, deficient.a[0].count)
        XCTAssertLessThan(small.a.count, small.a[0].count)
        XCTAssertEqual(small.rank_a, small.a.count - 1)
    }

    func testStatisticsMatchNumpyCov() throws {
        let s = fixture.statistics
        let st = try PM.statistics(matrix(s.x))
        XCTAssertEqual(st.count, s.x.count)
        XCTAssertEqual(st.dimension, 4)
        for (x, e) in zip(st.mean, s.mean) { assertClose(x, e, rtol: 1e-12) }
        for (x, e) in zip(st.covariance, s.cov.flatMap { $0 }) { XCTAssertEqual(x, e, accuracy: 1e-12) }
        // The statistics overload gives the same FID as the tensor one.
        let c = fixture.fid[0]
        let a = matrix(c.a), b = matrix(c.b)
        XCTAssertEqual(try PM.frechetDistance(PM.statistics(a), PM.statistics(b)), try PM.frechetDistance(a, b))
    }

    /// Two one-dimensional Gaussians: FID = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2.
    func testFrechetDistanceByHand() throws {
        // a: values -1, 1 (mean 0, variance 2); b: 3, 7, 5 (mean 5, variance 4).
        let a = Tensor([-1, 1], shape: [2, 1]), b = Tensor([3, 7, 5], shape: [3, 1])
        let expected = 25 + pow(2.0.squareRoot() - 2, 2)
        XCTAssertEqual(try PM.frechetDistance(a, b), expected, accuracy: 1e-12)
        // A constant dimension (zero variance) next to a varying one: a singular covariance.
        let c = Tensor([0, 5, 2, 5, 4, 5], shape: [3, 2]), d = Tensor([1, 5, 1, 5], shape: [2, 2])
        // c: dim 0 values 0 2 4 (mean 2, var 4), dim 1 constant 5; d: dim 0 constant 1, dim 1 constant 5.
        XCTAssertEqual(try PM.frechetDistance(c, d), 1 + 4, accuracy: 1e-12)
    }

    // MARK: Diversity and MultiModality

    func testDiversityMatchesNumpyDraws() throws {
        let c = fixture.diversity
        assertClose(try PM.diversity(matrix(c.x), first: c.first, second: c.second), c.value, rtol: 1e-10)
    }

    func testMultimodalityMatchesNumpyDraws() throws {
        let c = fixture.multimodality
        let groups = c.groups.map(matrix)
        assertClose(try PM.multimodality(groups, first: c.first, second: c.second), c.value, rtol: 1e-10)
    }

    /// The seeded draws: the same seed gives the same value, and with many pairs the value approaches the
    /// mean over all N x N ordered pairs (rows paired with themselves included), the official pair
    /// distribution's mean.
    func testSeededDiversityIsReproducibleAndUnbiased() throws {
        let x = matrix(fixture.diversity.x)
        let n = x.shape[0], d = x.shape[1], v = x.scalars
        XCTAssertEqual(try PM.diversity(x, times: 300, seed: 5), try PM.diversity(x, times: 300, seed: 5))
        XCTAssertNotEqual(try PM.diversity(x, times: 300, seed: 5), try PM.diversity(x, times: 300, seed: 6))
        var all = 0.0
        for i in 0..<n { for j in 0..<n { all += distance(v, i, v, j, d) } }
        all /= Double(n * n)
        assertClose(try PM.diversity(x, times: 200_000, seed: 1), all, rtol: 5e-3)
    }

    func testSeededMultimodalityIsReproducibleAndUnbiased() throws {
        // Groups of different sizes (2, 5, 12 motions), which the official 3-D array cannot hold.
        let g = fixture.multimodality.groups.map(matrix)
        let groups = [rows(g[0], 0..<2), rows(g[1], 0..<5), g[2]]
        XCTAssertEqual(try PM.multimodality(groups, times: 10, seed: 3), try PM.multimodality(groups, times: 10, seed: 3))
        var expected = 0.0
        for t in groups {
            let n = t.shape[0], d = t.shape[1], v = t.scalars
            var s = 0.0
            for i in 0..<n { for j in 0..<n { s += distance(v, i, v, j, d) } }
            expected += s / Double(n * n)
        }
        expected /= Double(groups.count)
        assertClose(try PM.multimodality(groups, times: 100_000, seed: 2), expected, rtol: 5e-3)
    }

    // MARK: R-precision and MM-Dist

    func testRPrecisionMatchesNumpy() throws {
        XCTAssertEqual(fixture.r_precision.map(\.name), ["pool32", "top5", "ties"])
        for c in fixture.r_precision {
            let t = matrix(c.texts), m = matrix(c.motions)
            let r = try PM.rPrecision(texts: t, motions: m, topK: c.top_k)
            XCTAssertEqual(r.count, c.top_k)
            for (x, e) in zip(r, c.r_precision) { XCTAssertEqual(x, e, accuracy: 1e-12, c.name) }
            assertClose(try PM.matchingScore(texts: t, motions: m), c.matching_score, rtol: 1e-9, c.name)
        }
        // The fixture's numbers are not trivial: neither all hits nor none at top 1.
        let top1 = fixture.r_precision[0].r_precision[0]
        XCTAssertTrue(top1 > 0.1 && top1 < 0.9)
    }

    /// Ties are broken by index: motion 9 is a copy of motion 5 and text 9 is nearest to both, so text 9's
    /// own motion ranks second (a top-1 miss) while text 5's ranks first.
    func testRPrecisionTiesGoToTheLowerIndex() throws {
        let c = fixture.r_precision[2]
        let t = matrix(c.texts), m = matrix(c.motions)
        XCTAssertEqual(c.motions[9], c.motions[5])
        let just9 = try PM.rPrecision(texts: rows(t, [5, 9]), motions: rows(m, [5, 9]), topK: 2)
        XCTAssertEqual(just9, [0.5, 1.0])
    }

    func testPooledRPrecisionMatchesNumpy() throws {
        let c = fixture.r_precision_pools
        let t = matrix(c.texts), m = matrix(c.motions)
        let r = try PM.rPrecisionPools(texts: t, motions: m, poolSize: c.pool_size, topK: 3, order: c.order)
        XCTAssertEqual(r.pools, c.pools)
        XCTAssertEqual(r.poolSize, 32)
        for (x, e) in zip(r.topK, c.r_precision) { XCTAssertEqual(x, e, accuracy: 1e-12) }
        assertClose(r.mmDist, c.matching_score, rtol: 1e-9)
    }

    func testSeededPoolsDropTheRemainder() throws {
        let c = fixture.r_precision_pools
        let t = matrix(c.texts), m = matrix(c.motions)
        let a = try PM.rPrecisionPools(texts: t, motions: m, seed: 11)
        XCTAssertEqual(a, try PM.rPrecisionPools(texts: t, motions: m, seed: 11))
        XCTAssertEqual(a.pools, 3)
        XCTAssertEqual(a.poolSize, 32)
        // Hits are whole counts over the 96 rows used.
        for x in a.topK { XCTAssertEqual((x * 96).rounded(), x * 96, accuracy: 1e-9) }
        // The identity order: the pools are rows 0..<32, 32..<64, 64..<96, as computed pool by pool.
        let id = try PM.rPrecisionPools(texts: t, motions: m, order: Array(0..<100))
        var sum = [0.0, 0.0, 0.0], mm = 0.0
        for p in 0..<3 {
            let r = Array((p * 32)..<((p + 1) * 32))
            let part = try PM.rPrecision(texts: rows(t, r), motions: rows(m, r))
            for k in 0..<3 { sum[k] += part[k] / 3 }
            mm += try PM.matchingScore(texts: rows(t, r), motions: rows(m, r)) / 3
        }
        for k in 0..<3 { XCTAssertEqual(id.topK[k], sum[k], accuracy: 1e-12) }
        XCTAssertEqual(id.mmDist, mm, accuracy: 1e-12)
        // Fewer rows than a pool: one pool of all of them.
        let few = try PM.rPrecisionPools(texts: rows(t, 0..<20), motions: rows(m, 0..<20), seed: 1)
        XCTAssertEqual(few.pools, 1)
        XCTAssertEqual(few.poolSize, 20)
    }

    func testRPrecisionByHand() throws {
        // Texts equal to their motions: every text's own motion is at distance 0.
        let x = Tensor([0, 0, 3, 4, 6, 8, -1, 2], shape: [4, 2])
        XCTAssertEqual(try PM.rPrecision(texts: x, motions: x, topK: 2), [1, 1])
        XCTAssertEqual(try PM.matchingScore(texts: x, motions: x), 0)
        // On a line: texts at 0, 10, 20, 30, motions at 10, 20, 30, 40, every own motion 10 away. Text 0's is
        // nearest; text 1's is second (motion 0 is at distance 0); text 2's is third: motion 1 is at 0 and
        // motion 0 ties with it at 10 and has the lower index; text 3's likewise.
        let t = Tensor([0, 10, 20, 30], shape: [4, 1]), m = Tensor([10, 20, 30, 40], shape: [4, 1])
        XCTAssertEqual(try PM.rPrecision(texts: t, motions: m, topK: 3), [0.25, 0.5, 1])
        XCTAssertEqual(try PM.matchingScore(texts: t, motions: m), 10)
    }

    // MARK: Foot skating and jitter

    func testFootSkatingMatchesGMD() throws {
        let s = fixture.foot_skating
        let p = frames(s.positions)
        XCTAssertEqual(s.cases.map(\.name), ["gmd_default", "fps30", "window4", "window3", "ankles_and_toes", "window1"])
        for c in s.cases {
            let r = try PM.footSkating(p, fps: c.fps, feet: c.feet, window: c.window)
            XCTAssertEqual(r, c.ratio, accuracy: 1e-12, c.name)
            XCTAssertEqual(Int((r * Double(p.count - 1)).rounded()), c.skating_frames, c.name)
        }
        // The defaults are GMD's.
        XCTAssertEqual(try PM.footSkating(p), s.cases[0].ratio, accuracy: 1e-12)
        // The cases differ from each other, so each setting is exercised.
        XCTAssertEqual(Set(s.cases.map(\.skating_frames)).count, s.cases.count)
    }

    /// One foot gliding along x at 1 cm height over 10 frames (9 steps). At 1 m/s every step skates, the
    /// end steps too (their window average 3/5 m/s still exceeds 0.5). At 0.8 m/s the first and last steps'
    /// averages (3 x 0.8 / 5 = 0.48) do not: 7 of 9. Lifted to 10 cm, none.
    func testFootSkatingByHand() throws {
        func glide(speed: Float, height: Float, joint: Int = 10) -> JointFrames {
            (0..<10).map { t in (0..<22).map { j in j == joint ? SIMD3(speed * Float(t) / 20, height, 0) : SIMD3(0, 0.9, 0) } }
        }
        XCTAssertEqual(try PM.footSkating(glide(speed: 1, height: 0.01)), 1, accuracy: 1e-12)
        XCTAssertEqual(try PM.footSkating(glide(speed: 0.8, height: 0.01)), 7.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(try PM.footSkating(glide(speed: 1, height: 0.1)), 0)
        // Only the feet count: the same glide on joint 3 is ignored, on the other foot (11) it is not.
        XCTAssertEqual(try PM.footSkating(glide(speed: 1, height: 0.01, joint: 3)), 0)
        XCTAssertEqual(try PM.footSkating(glide(speed: 1, height: 0.01, joint: 11)), 1, accuracy: 1e-12)
        // A Motion uses its own frame rate: at 10 fps the same positions move at 0.4 m/s, below the threshold.
        let m = try Motion(skeleton: .humanML3D, positions: glide(speed: 0.8, height: 0.01), fps: 10)
        XCTAssertEqual(try PM.footSkating(m), 0)
        XCTAssertEqual(try PM.footSkating(m.positions, fps: 20), 7.0 / 9, accuracy: 1e-12)
    }

    func testJitterMatchesAGRoL() throws {
        let j = fixture.jitter
        let p = frames(j.positions)
        for c in j.cases { assertClose(try PM.jitter(p, fps: c.fps), c.value, rtol: 1e-10, "fps \(c.fps)") }
        let m = try Motion(skeleton: .humanML3D, positions: p, fps: 30)
        assertClose(try PM.jitter(m), j.cases[1].value, rtol: 1e-10)
    }

    /// x = c t^3 (t in frames) has third difference 6c at every frame: jerk 6c fps^3. Constant velocity: 0.
    func testJitterByHand() throws {
        // c = 1/1024 keeps every position exact in Float.
        let c: Float = 1.0 / 1024
        let cubic: JointFrames = (0..<8).map { t in [SIMD3(c * Float(t * t * t), 0, 0), SIMD3(0, 1, 0)] }
        // Joint 0 has jerk 6c * 20^3 = 46.875 m/s^3; joint 1 is still: the mean over joints is half that.
        XCTAssertEqual(try PM.jitter(cubic, fps: 20), 6 * Double(c) * 8000 / 2, accuracy: 1e-9)
        let linear: JointFrames = (0..<8).map { t in [SIMD3(0.25 * Float(t), 1, 0.5 * Float(t))] }
        XCTAssertEqual(try PM.jitter(linear), 0, accuracy: 1e-9)
    }

    // MARK: Bad input

    func testBadInputGivesOneLineErrors() throws {
        let good = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let nan = Tensor([1, 2, .nan, 4, 5, 6], shape: [3, 2])
        let cases: [(String, () throws -> Any)] = [
            ("x is empty", { try PM.statistics(Tensor.zeros([0, 4]), argument: "x") }),
            ("a: embeddings must be [N, D], got [6]", { try PM.frechetDistance(Tensor([1, 2, 3, 4, 5, 6]), good) }),
            ("b: embeddings have width 3, a has 2", { try PM.frechetDistance(good, Tensor.zeros([4, 3])) }),
            ("a: 1 row, at least 2 needed", { try PM.frechetDistance(Tensor([1, 2], shape: [1, 2]), good) }),
            ("b: row 1, column 0 is not finite", { try PM.frechetDistance(good, Tensor([1, 2, .infinity, 4], shape: [2, 2])) }),
            ("b: statistics of width 2 with 2 means and 3 covariance values",
             { try PM.frechetDistance(PM.statistics(good), EmbeddingStatistics(count: 3, dimension: 2, mean: [0, 0], covariance: [1, 0, 1])) }),
            ("x: row 1, column 0 is not finite", { try PM.diversity(nan, seed: 1) }),
            ("times: 0 must be at least 1", { try PM.diversity(good, times: 0, seed: 1) }),
            ("first: index 3 is outside the 3 rows of x", { try PM.diversity(good, first: [0, 3], second: [1, 2]) }),
            ("second has 1 elements, expected 2", { try PM.diversity(good, first: [0, 1], second: [1]) }),
            ("groups is empty", { try PM.multimodality([], seed: 1) }),
            ("groups[1]: 1 motion, MultiModality needs at least 2 per text", { try PM.multimodality([good, Tensor([1, 2], shape: [1, 2])], seed: 1) }),
            ("groups[1]: embeddings have width 3, groups[0] has 2", { try PM.multimodality([good, Tensor.zeros([2, 3])], seed: 1) }),
            ("motions has 2 elements, expected 3", { try PM.rPrecision(texts: good, motions: Tensor.zeros([2, 2])) }),
            ("motions: embeddings have width 3, texts have 2", { try PM.matchingScore(texts: good, motions: Tensor.zeros([3, 3])) }),
            ("topK: 4 must be between 1 and the pool size 3", { try PM.rPrecision(texts: good, motions: good, topK: 4) }),
            ("texts: row 1, column 0 is not finite", { try PM.rPrecision(texts: nan, motions: good) }),
            ("poolSize: 0 must be at least 1", { try PM.rPrecisionPools(texts: good, motions: good, poolSize: 0, seed: 1) }),
            ("order: not a permutation of 0..<3 (1 is out of range or repeated)", { try PM.rPrecisionPools(texts: good, motions: good, topK: 1, order: [0, 1, 1]) }),
            ("topK: 3 must be between 1 and the pool size 2", { try PM.rPrecisionPools(texts: good, motions: good, poolSize: 2, seed: 1) }),
            ("positions: 1 frame, foot skating needs at least 2", { try PM.footSkating([[SIMD3<Float>](repeating: .zero, count: 22)]) }),
            ("feet: joint 30 is not one of the 22 joints", { try PM.footSkating(self.still(3), feet: [10, 30]) }),
            ("fps: 0.0 must be a positive frame rate", { try PM.footSkating(self.still(3), fps: 0) }),
            ("window: 0 must be at least 1", { try PM.footSkating(self.still(3), window: 0) }),
            ("positions is empty", { try PM.jitter([]) }),
            ("positions: 3 frames, jitter needs at least 4", { try PM.jitter(self.still(3)) }),
            ("positions: frame 2, joint 0: position is not finite", { var f = self.still(5); f[2][0].x = .nan; return try PM.jitter(f) }),
        ]
        for (message, call) in cases {
            XCTAssertThrowsError(try call(), message) { error in
                XCTAssertTrue(error is EvaluationError, "\(message): \(type(of: error))")
                XCTAssertEqual("\(error)", message)
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }

    // MARK: Helpers

    private func still(_ n: Int) -> JointFrames { (0..<n).map { _ in [SIMD3<Float>](repeating: SIMD3(0, 0.9, 0), count: 22) } }

    private func rows(_ t: Tensor, _ r: some Sequence<Int>) -> Tensor {
        let d = t.shape[1], v = t.scalars
        let idx = Array(r)
        return Tensor(idx.flatMap { v[($0 * d)..<(($0 + 1) * d)] }, shape: [idx.count, d])
    }

    private func distance(_ a: [Float], _ i: Int, _ b: [Float], _ j: Int, _ d: Int) -> Double {
        var s = 0.0
        for k in 0..<d { let x = Double(a[i * d + k]) - Double(b[j * d + k]); s += x * x }
        return s.squareRoot()
    }
}

/// `[N][D]` decimals as the fixture script computed on them: each read as a Double, then rounded to Float.
func matrix(_ values: [[Double]]) -> Tensor {
    Tensor(values.flatMap { $0.map { Float($0) } }, shape: [values.count, values.first?.count ?? 0])
}
