import XCTest
@testable import MotionData
import TensorEngine

final class SkeletonTests: XCTestCase {
    func testHumanML3DSkeletonIsATreeFromItsChains() {
        let s = Skeleton.humanML3D
        XCTAssertEqual(s.jointCount, 22)
        XCTAssertEqual(s.parents[0], -1)
        XCTAssertEqual(s.bones.count, 21, "every joint but the root hangs on one bone")
        for (j, p) in s.parents.enumerated() where j > 0 { XCTAssertLessThan(p, j, "parents come before children") }
        XCTAssertEqual(s.parents[s.index(of: "right_wrist")!], s.index(of: "right_elbow")!)
        XCTAssertEqual(s.parents[s.index(of: "left_collar")!], s.index(of: "spine3")!)
        XCTAssertEqual(s.rawOffsets.count, 22)
    }

    func testMotionValidatesJointCountAndFiniteValues() throws {
        let s = Skeleton.humanML3D
        let frame = [SIMD3<Float>](repeating: .zero, count: 22)
        XCTAssertNoThrow(try Motion(skeleton: s, positions: [frame, frame]))
        XCTAssertThrowsError(try Motion(skeleton: s, positions: [Array(frame.prefix(21))])) {
            XCTAssertTrue("\($0)".contains("21 joints"), "\($0)")
        }
        var bad = frame
        bad[5] = SIMD3(0, .nan, 0)
        XCTAssertThrowsError(try Motion(skeleton: s, positions: [frame, bad])) {
            XCTAssertTrue("\($0)".contains("frame 1, joint right_knee"), "\($0)")
        }
        XCTAssertThrowsError(try Motion(skeleton: s, positions: [frame], fps: 0))
    }

    func testTensorRoundTrip() throws {
        var rng = SeededRNG(seed: 1)
        let t = Tensor.randn([5, 22, 3], rng: &rng)
        let m = try Motion(skeleton: .humanML3D, tensor: t)
        XCTAssertEqual(m.frameCount, 5)
        XCTAssertEqual(m.tensor.scalars, t.scalars)
        XCTAssertThrowsError(try Motion(skeleton: .humanML3D, tensor: Tensor.zeros([5, 21, 3])))
    }
}
