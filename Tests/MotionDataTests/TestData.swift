import Foundation
@testable import MotionData
import TensorEngine
import XCTest

/// Paths of the shared reference data: the package root is three levels above this file, the data
/// is the copy in `Data/` (kept equal to `../shared/data` by `.ci/run`).
enum TestData {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sample = packageRoot.appendingPathComponent("Data/humanml3d-sample").standardizedFileURL
    static let cmu = packageRoot.appendingPathComponent("Data/cmu-mocap-h3d").standardizedFileURL

    /// Skips the test when the shared data is not next to the checkout.
    static func require(_ url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("reference data missing: \(url.path)") }
    }

    static func rows(_ t: Tensor) -> [[Float]] {
        let d = t.shape.last!, v = t.scalars
        return (0..<(t.count / d)).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
    }

    static func joints(_ t: Tensor) -> [[SIMD3<Float>]] {
        let j = t.shape[1], v = t.scalars
        return (0..<t.shape[0]).map { f in (0..<j).map { k in SIMD3(v[(f * j + k) * 3], v[(f * j + k) * 3 + 1], v[(f * j + k) * 3 + 2]) } }
    }

    static func maxDiff(_ a: [[SIMD3<Float>]], _ b: [[SIMD3<Float>]]) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) frames")
        var m: Float = 0
        for (fa, fb) in zip(a, b) { for (p, q) in zip(fa, fb) { let d = p - q; m = max(m, abs(d.x), abs(d.y), abs(d.z)) } }
        return m
    }

    static func maxDiff(_ a: [[Float]], _ b: [[Float]]) -> (Float, Int, Int) {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) rows")
        var m: Float = 0, at = (0, 0)
        for (t, (ra, rb)) in zip(a, b).enumerated() { for (k, (x, y)) in zip(ra, rb).enumerated() where abs(x - y) > m { m = abs(x - y); at = (t, k) } }
        return (m, at.0, at.1)
    }
}

extension TestData {
    /// A rest pose of the HumanML3D skeleton built from the target offsets (feet on the floor at y = 0).
    static func tPose() -> [SIMD3<Float>] {
        let s = Skeleton.humanML3D
        var p = [SIMD3<Float>](repeating: .zero, count: 22)
        p[0] = [0, 0.9, 0]
        for j in 1..<22 { p[j] = p[s.parents[j]] + Skeleton.humanML3DTargetOffsets[j] }
        return p
    }
}
