import CKernels
@testable import TensorEngine
import XCTest

/// The compact-weight kernels against independent references: Swift's own IEEE `Float16` conversions
/// and OpenBLAS's GEMM on the widened weights, on both the vector and the portable paths.
final class CompactWeightsTests: XCTestCase {
    override func tearDown() { CompactMatrix.forcePortableKernels(false) }

    private func bothPaths(_ body: (String) throws -> Void) rethrows {
        for portable in [false, true] {
            CompactMatrix.forcePortableKernels(portable)
            try body(portable ? "portable" : "vector")
        }
        CompactMatrix.forcePortableKernels(false)
    }

    func testHalfConversionsAgreeWithSwiftFloat16() {
        // Every half bit pattern widens as Swift's Float16 does (NaNs: stay NaN).
        let halves = (0...0xffff).map { UInt16($0) }
        var specials: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 2.98e-8, 2.9802322e-8, 5.96e-8, 6.1e-5,
                                 6.097555e-5, 3.0e-8, .infinity, -.infinity, .leastNormalMagnitude, .greatestFiniteMagnitude]
        var rng = SeededRNG(seed: 3)
        for _ in 0..<20_000 {
            // Random floats over the whole half range and beyond, and exact ties between two halves.
            let e = Float(rng.nextInt(50)) - 30
            specials.append((rng.nextFloat() * 2 - 1) * Foundation.pow(2, e))
            let h = Float(Float16(bitPattern: UInt16(rng.nextInt(0x7c00))))
            let next = Float(Float16(bitPattern: Float16(h).bitPattern + 1))
            specials.append((h + next) / 2)
        }
        bothPaths { path in
            var wide = [Float](repeating: 0, count: halves.count)
            mgpt_f16_to_f32(halves, &wide, halves.count)
            for (h, w) in zip(halves, wide) {
                let ref = Float(Float16(bitPattern: h))
                if ref.isNaN { XCTAssertTrue(w.isNaN, "\(path): 0x\(String(h, radix: 16))") } else {
                    XCTAssertEqual(w.bitPattern, ref.bitPattern, "\(path): 0x\(String(h, radix: 16))")
                }
            }
            var narrow = [UInt16](repeating: 0, count: specials.count)
            mgpt_f32_to_f16(specials, &narrow, specials.count)
            var wrong = 0
            for (f, h) in zip(specials, narrow) where h != Float16(f).bitPattern {
                wrong += 1
                if wrong < 5 { XCTFail("\(path): \(f) -> 0x\(String(h, radix: 16)), Swift 0x\(String(Float16(f).bitPattern, radix: 16))") }
            }
            XCTAssertEqual(wrong, 0, path)
            var nan: UInt16 = 0
            mgpt_f32_to_f16([Float.nan], &nan, 1)
            XCTAssertTrue(Float16(bitPattern: nan).isNaN, path)
        }
    }

    /// `x · Wᵀ` through the compact kernel equals BLAS on the widened weights, for block-size tails
    /// in every dimension, strided rows, and accumulation into the output.
    func testProductsEqualGEMMOnTheWidenedWeights() {
        var rng = SeededRNG(seed: 7)
        bothPaths { path in
            for format in CompactMatrix.Format.allCases {
                for (m, n, k) in [(1, 1, 1), (1, 7, 9), (2, 4, 8), (3, 5, 17), (5, 33, 64), (16, 12, 100), (17, 9, 31), (40, 300, 24)] {
                    let w = Tensor.randn([n, k], rng: &rng)
                    let c = CompactMatrix(w, format: format)
                    let wide = c.dequantized()
                    let ldx = k + 3, ldy = n + 2
                    let x = Tensor.randn([m, ldx], rng: &rng), y0 = Tensor.randn([m, ldy], rng: &rng)
                    for accumulate in [false, true] {
                        let mine = y0.copy(), ref = y0.copy()
                        c.multiply(x.storage.pointer, m: m, ldx: ldx, into: mine.storage.pointer, ldy: ldy, accumulate: accumulate)
                        sgemm(transA: false, transB: true, m: m, n: n, k: k, a: x.storage.pointer, lda: ldx, b: wide.storage.pointer, ldb: k,
                              beta: accumulate ? 1 : 0, c: ref.storage.pointer, ldc: ldy)
                        let scale = max(ref.scalars.map { abs($0) }.max()!, 1)
                        XCTAssertLessThan(mine.maxAbsDifference(ref) / scale, 2e-6, "\(path) \(format) m\(m) n\(n) k\(k) accumulate \(accumulate)")
                        // Columns past n in each output row are never written.
                        for r in 0..<m { for j in n..<ldy { XCTAssertEqual(mine[r, j], y0[r, j]) } }
                    }
                }
            }
        }
    }

    func testQuantisationErrorIsBoundedAndLinearUsesIt() {
        var rng = SeededRNG(seed: 11)
        let w = Tensor.randn([64, 96], rng: &rng)
        let half = CompactMatrix(w, format: .f16).dequantized(), q = CompactMatrix(w, format: .int8)
        let deq = q.dequantized()
        for r in 0..<64 {
            let rowMax = (0..<96).map { abs(w[r, $0]) }.max()!
            for c in 0..<96 {
                XCTAssertLessThanOrEqual(abs(deq[r, c] - w[r, c]), rowMax / 127 / 2 * 1.0001)
                XCTAssertLessThanOrEqual(abs(half[r, c] - w[r, c]), abs(w[r, c]) / 2048 + 1e-7)
            }
        }
        XCTAssertEqual(CompactMatrix(w, format: .f16).byteCount, 64 * 96 * 2)
        XCTAssertEqual(q.byteCount, 64 * 96 + 64 * 4)
        // Tensor.linear with a compact weight and a bias, leading dimensions kept.
        let x = Tensor.randn([2, 3, 96], rng: &rng), b = Tensor.randn([64], rng: &rng)
        let mine = x.linear(compact: q, bias: b), ref = Tensor.withNoGrad { x.linear(weight: deq, bias: b) }
        XCTAssertEqual(mine.shape, [2, 3, 64])
        XCTAssertLessThan(mine.maxAbsDifference(ref), 1e-4)
        let table = Tensor.embedding(CompactMatrix(w, format: .f16), ids: [3, 0, 63], shape: [3])
        for (i, id) in [3, 0, 63].enumerated() { for c in 0..<96 { XCTAssertEqual(table[i, c], half[id, c]) } }
    }

    /// The vectorised GELU and its derivative against the erf formula in Double (Foundation's erf),
    /// over [-10, 10] and both kernel paths.
    func testGELUKernelsAgreeWithTheErfFormula() {
        let n = 20_001
        let x = Tensor((0..<n).map { -10 + 20 * Float($0) / Float(n - 1) })
        bothPaths { path in
            x.requiresGrad = true
            let y = x.gelu()
            y.sum().backward()
            var worstY = 0.0, worstD = 0.0
            for i in 0..<n {
                let v = Double(x.storage.pointer[i])
                let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                worstY = max(worstY, abs(Double(y.storage.pointer[i]) - v * cdf) / max(1, abs(v * cdf)))
                worstD = max(worstD, abs(Double(x.grad!.storage.pointer[i]) - (cdf + v * Foundation.exp(-v * v / 2) / (2 * Double.pi).squareRoot())))
            }
            XCTAssertLessThan(worstY, 1e-6, "\(path) gelu")
            XCTAssertLessThan(worstD, 1e-6, "\(path) gelu derivative")
            x.grad = nil
        }
    }
}
