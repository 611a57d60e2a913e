import XCTest
import MotionData
import TensorEngine
import Evaluation

/// MPJPE and ADE/FDE against numpy (Tools/fixtures/make_motion_metric_fixtures.py, MotionGPT's m2m.py
/// arithmetic) and on hand-checkable cases.
final class MotionMetricTests: XCTestCase {
    func testMPJPEMatchesNumpy() throws {
        let c = Fixtures.motions.cases.mpjpe
        let p = frames(c.predicted), g = frames(c.ground_truth)
        XCTAssertEqual(p[0].count, 22)
        assertClose(try mpjpe(predicted: p, groundTruth: g), c.mpjpe)
        assertClose(try rootAlignedMPJPE(predicted: p, groundTruth: g), c.root_aligned_mpjpe)
        // The fixture's prediction has a global offset, so aligning the root must change the number.
        XCTAssertGreaterThan(c.mpjpe, c.root_aligned_mpjpe * 1.2)
    }

    func testPredictionDisplacementMatchesNumpy() throws {
        let c = Fixtures.motions.cases.prediction
        let p = frames(c.predicted), g = frames(c.ground_truth)
        XCTAssertNotEqual(p.count, g.count)
        try check(predictionDisplacementErrors(predicted: p, groundTruth: g), c.default, .poseNorm)
        try check(predictionDisplacementErrors(predicted: p, groundTruth: g, distance: .meanJointDistance), c.default, .meanJointDistance)
        try check(predictionDisplacementErrors(predicted: p, groundTruth: g, givenFrames: 10), c.given_10, .poseNorm)
        try check(predictionDisplacementErrors(predicted: p, groundTruth: g, givenFrames: 10, distance: .meanJointDistance), c.given_10, .meanJointDistance)
    }

    func testInbetweenDisplacementMatchesNumpy() throws {
        let c = Fixtures.motions.cases.inbetween
        let p = frames(c.predicted), g = frames(c.ground_truth)
        XCTAssertNotEqual(p.count, g.count)
        try check(inbetweenDisplacementErrors(predicted: p, groundTruth: g), c.default, .poseNorm)
        try check(inbetweenDisplacementErrors(predicted: p, groundTruth: g, distance: .meanJointDistance), c.default, .meanJointDistance)
        try check(inbetweenDisplacementErrors(predicted: p, groundTruth: g, givenPrefix: 3, givenSuffix: 5), c.prefix_3_suffix_5, .poseNorm)
        try check(inbetweenDisplacementErrors(predicted: p, groundTruth: g, givenPrefix: 3, givenSuffix: 5, distance: .meanJointDistance),
                  c.prefix_3_suffix_5, .meanJointDistance)
    }

    private func check(_ e: DisplacementErrors, _ expected: Fixtures.MotionFile.Displacement, _ kind: FrameDistance,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(e.frames, expected.start..<expected.end, file: file, line: line)
        let x = kind == .poseNorm ? expected.pose_norm : expected.mean_joint_distance
        assertClose(e.ade, x.ade, "ADE \(kind)", file: file, line: line)
        assertClose(e.fde, x.fde, "FDE \(kind)", file: file, line: line)
    }

    /// Two joints, each 5 away from the ground truth (a 3-4-5 offset): MPJPE 5, root-aligned 0 (the offset
    /// is global), the pose norm per frame sqrt(5^2 + 5^2).
    func testByHand() throws {
        let g: [[SIMD3<Float>]] = [[[0, 0, 0], [1, 0, 0]], [[0, 1, 0], [1, 1, 0]]]
        let p = g.map { $0.map { $0 + SIMD3(3, 4, 0) } }
        XCTAssertEqual(try mpjpe(predicted: p, groundTruth: g), 5, accuracy: 1e-12)
        XCTAssertEqual(try rootAlignedMPJPE(predicted: p, groundTruth: g), 0, accuracy: 1e-12)
        let e = try predictionDisplacementErrors(predicted: p, groundTruth: g, givenFrames: 0)
        XCTAssertEqual(e.ade, 50.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(try predictionDisplacementErrors(predicted: p, groundTruth: g, givenFrames: 0, distance: .meanJointDistance).ade, 5, accuracy: 1e-12)
        // Root alignment on joint 1 instead: joint 0 moves relative to it by nothing either.
        XCTAssertEqual(try rootAlignedMPJPE(predicted: p, groundTruth: g, rootJoint: 1), 0, accuracy: 1e-12)
    }

    /// One joint moving away from the ground truth by 1 per frame: the distance at frame t is t. The ground
    /// truth is longer, with frames far off, which must not count (the common length is 5).
    func testDisplacementFramesByHand() throws {
        let p: [[SIMD3<Float>]] = (0..<5).map { [SIMD3(Float($0), 0, 0)] }
        let g: [[SIMD3<Float>]] = (0..<5).map { _ in [SIMD3<Float>.zero] } + [[[100, 0, 0]], [[100, 0, 0]]]
        // Prediction: int(5 * 0.2) = 1 given frame; frames 1..<5, distances 1 2 3 4.
        let pred = try predictionDisplacementErrors(predicted: p, groundTruth: g)
        XCTAssertEqual(pred.frames, 1..<5)
        XCTAssertEqual(pred.ade, 2.5, accuracy: 1e-12)
        XCTAssertEqual(pred.fde, 4, accuracy: 1e-12)
        // In-between: int(5 * 0.25) = 1 given at each end; frames 1..<4, distances 1 2 3.
        let mid = try inbetweenDisplacementErrors(predicted: p, groundTruth: g)
        XCTAssertEqual(mid.frames, 1..<4)
        XCTAssertEqual(mid.ade, 2, accuracy: 1e-12)
        XCTAssertEqual(mid.fde, 3, accuracy: 1e-12)
        // MotionGPT averages per-sequence values over sequences.
        let m = try DisplacementErrors.mean([pred, mid])
        XCTAssertEqual(m.ade, 2.25, accuracy: 1e-12)
        XCTAssertEqual(m.fde, 3.5, accuracy: 1e-12)
    }

    func testMotionAndTensorInputs() throws {
        let c = Fixtures.motions.cases.mpjpe
        let p = try Motion(skeleton: .humanML3D, positions: frames(c.predicted))
        let g = try Motion(skeleton: .humanML3D, positions: frames(c.ground_truth))
        assertClose(try mpjpe(predicted: p, groundTruth: g), c.mpjpe)
        assertClose(try rootAlignedMPJPE(predicted: p, groundTruth: g), c.root_aligned_mpjpe)
        XCTAssertEqual(try jointFrames(p.tensor), p.positions)
        XCTAssertThrowsError(try jointFrames(Tensor([1, 2, 3, 4], shape: [2, 2]), argument: "output")) {
            XCTAssertEqual(($0 as? EvaluationError).map { "\($0)" }, "output: joint positions must be [T, J, 3], got [2, 2]")
        }
        let slow = try Motion(skeleton: .humanML3D, positions: g.positions, fps: 30)
        XCTAssertThrowsError(try mpjpe(predicted: p, groundTruth: slow))
        XCTAssertThrowsError(try predictionDisplacementErrors(predicted: p, groundTruth: slow))
    }

    func testBadInputIsAnErrorNamingTheArgument() {
        let one: [[SIMD3<Float>]] = [[.zero, .zero]]
        let two: [[SIMD3<Float>]] = [[.zero, .zero], [.zero, .zero]]
        func expect(_ expected: EvaluationError, _ body: () throws -> Any, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? EvaluationError, expected, line: line) }
        }
        expect(.empty(argument: "predicted")) { try mpjpe(predicted: [], groundTruth: one) }
        expect(.empty(argument: "groundTruth")) { try predictionDisplacementErrors(predicted: one, groundTruth: []) }
        // MPJPE never cuts the longer motion.
        expect(.shapeMismatch(argument: "groundTruth", detail: "2 frames, predicted has 1")) { try mpjpe(predicted: one, groundTruth: two) }
        expect(.shapeMismatch(argument: "groundTruth", detail: "1 joints per frame, predicted has 2")) {
            try mpjpe(predicted: one, groundTruth: [[.zero]])
        }
        expect(.shapeMismatch(argument: "predicted", detail: "frame 1 has 1 joints, frame 0 has 2")) {
            try predictionDisplacementErrors(predicted: [[.zero, .zero], [.zero]], groundTruth: two)
        }
        expect(.invalidValue(argument: "predicted", detail: "frame 0, joint 1: position is not finite")) {
            try mpjpe(predicted: [[.zero, SIMD3(.nan, 0, 0)]], groundTruth: one)
        }
        expect(.invalidValue(argument: "rootJoint", detail: "2 is not a joint index (0..<2)")) { try rootAlignedMPJPE(predicted: one, groundTruth: one, rootJoint: 2) }
        expect(.invalidValue(argument: "givenFrames", detail: "2 given frames leave none of the 2 common frames to evaluate")) {
            try predictionDisplacementErrors(predicted: two, groundTruth: two, givenFrames: 2)
        }
        XCTAssertThrowsError(try predictionDisplacementErrors(predicted: two, groundTruth: two, givenFrames: -1))
        XCTAssertThrowsError(try inbetweenDisplacementErrors(predicted: two, groundTruth: two, givenPrefix: 1, givenSuffix: 1))
        XCTAssertThrowsError(try inbetweenDisplacementErrors(predicted: two, groundTruth: two, givenPrefix: 0, givenSuffix: -1))
        // One common frame: int(1 * 0.2) = 0 given, frame 0 evaluated.
        XCTAssertEqual(try predictionDisplacementErrors(predicted: one, groundTruth: two).frames, 0..<1)
        expect(.empty(argument: "items")) { try DisplacementErrors.mean([]) }
    }
}
