import XCTest
@testable import MotionData

final class RotationTests: XCTestCase {
    func randomQuaternion(_ g: inout LCG) -> Quaternion {
        Quaternion(w: g.next(), x: g.next(), y: g.next(), z: g.next()).normalized
    }

    func testRotateMatchesMatrixAndComposition() {
        var g = LCG(seed: 3)
        for _ in 0..<50 {
            let a = randomQuaternion(&g), b = randomQuaternion(&g)
            let v = Vec3(g.next(), g.next(), g.next())
            XCTAssertLessThan(length(a.rotate(v) - a.matrix * v), 1e-12)
            XCTAssertLessThan(length((a * b).rotate(v) - a.rotate(b.rotate(v))), 1e-12)
            XCTAssertLessThan(length(a.inverse.rotate(a.rotate(v)) - v), 1e-12)
        }
    }

    func testMatrixAndCont6dRoundTrips() {
        var g = LCG(seed: 4)
        for _ in 0..<50 {
            var q = randomQuaternion(&g)
            if q.w < 0 { q = q.negated }
            let back = Quaternion(matrix: q.matrix)
            XCTAssertLessThan(zip(back.components, q.components).map { abs($0 - $1) }.max()!, 1e-12)
            let c = q.cont6d
            XCTAssertEqual(c.count, 6)
            let m = Matrix3(cont6d: c)
            for i in 0..<3 { XCTAssertLessThan(length(m.column(i) - q.matrix.column(i)), 1e-12) }
            // Not-orthonormal input is orthonormalised (Gram-Schmidt), as cont6d_to_matrix does.
            let skewed = Matrix3(cont6d: c.enumerated().map { $0.offset < 3 ? $0.element * 2 : $0.element + 0.1 * c[$0.offset - 3] })
            XCTAssertLessThan(length(skewed.column(0) - q.matrix.column(0)), 1e-12)
        }
    }

    /// HumanML3D's quaternion_to_cont6d lays out column 0 then column 1 of the matrix.
    func testCont6dLayoutOfAQuarterTurn() {
        let q = Quaternion(axis: Vec3(0, 0, 1), angle: .pi / 2) // x -> y, y -> -x
        let c = q.cont6d
        let expected: [Double] = [0, 1, 0, -1, 0, 0]
        for (a, b) in zip(c, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }

    func testBetweenIncludingOppositeVectors() {
        var g = LCG(seed: 5)
        for _ in 0..<20 {
            let a = Vec3(g.next(), g.next(), g.next()), b = Vec3(g.next(), g.next(), g.next())
            let q = Quaternion.between(a, b)
            XCTAssertLessThan(length(unitVector(q.rotate(a)) - unitVector(b)), 1e-12)
        }
        let q = Quaternion.between(Vec3(1, 0, 0), Vec3(-2, 0, 0))
        XCTAssertLessThan(length(q.rotate(Vec3(1, 0, 0)) - Vec3(-1, 0, 0)), 1e-12)
        XCTAssertFalse(q.w.isNaN)
    }

    func testEulerRoundTripEveryOrderAndGimbalLock() {
        var g = LCG(seed: 6)
        for order in ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"].map({ EulerOrder($0)! }) {
            for k in 0..<40 {
                var angles = Vec3(g.next() * 180, g.next() * 89, g.next() * 180)
                if k == 0 { angles.y = 90 }
                if k == 1 { angles.y = -90 }
                let q = Quaternion(euler: angles, order: order)
                let e = q.euler(order: order)
                let back = Quaternion(euler: e, order: order)
                let v = Vec3(0.3, -0.5, 0.8)
                XCTAssertLessThan(length(back.rotate(v) - q.rotate(v)), 1e-9, "\(order) \(angles) -> \(e)")
            }
        }
        // The BVH convention: channels listed first are outermost.
        let q = Quaternion(euler: Vec3(90, 90, 0), order: .zxy) // Rz(90) * Rx(90)
        let expected = Quaternion(axis: Vec3(0, 0, 1), angle: .pi / 2) * Quaternion(axis: Vec3(1, 0, 0), angle: .pi / 2)
        XCTAssertLessThan(length(q.rotate(Vec3(0, 1, 0)) - expected.rotate(Vec3(0, 1, 0))), 1e-12)
        XCTAssertNil(EulerOrder("XXY"))
        XCTAssertNil(EulerOrder("XY"))
    }
}

/// A tiny deterministic generator of values in [-1, 1).
struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
}
