import XCTest
@testable import MotionData
import TensorEngine

final class FeatureTests: XCTestCase {
    func testRecoverFromRicMatchesOfficialJoints() throws {
        try TestData.require(TestData.sample)
        let vecs = try readNpy(TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy"))
        let ref = try readNpy(TestData.sample.appendingPathComponent("new_joints_012314.npy"))
        let motion = try Motion(features: vecs)
        let err = TestData.maxDiff(motion.positions, TestData.joints(ref))
        print("recover_from_ric max error vs new_joints: \(err)")
        XCTAssertLessThan(err, 1e-4)
    }

    func testFeaturesFromJointsMatchOfficialProcessing() throws {
        try TestData.require(TestData.sample)
        let joints = try readNpy(TestData.sample.appendingPathComponent("new_joints_012314.npy"))
        let ref = TestData.rows(try readNpy(TestData.sample.appendingPathComponent("features_from_new_joints_012314.npy")))
        let target = TestData.joints(try readNpy(TestData.sample.appendingPathComponent("target_offsets.npy")).reshaped([1, 22, 3]))[0]
        var config = FeatureConfig.humanML3D
        config.targetOffsets = target
        for identity in [false, true] {
            config.identityFirstRoot = identity
            let f = try MotionFeatures.features(from: TestData.joints(joints), config: config)
            let (m, t, k) = TestData.maxDiff(f, ref)
            print("identityFirstRoot \(identity): max feature error \(m) at frame \(t) value \(k)")
        }
        config.identityFirstRoot = true
        let f = try MotionFeatures.features(from: TestData.joints(joints), config: config)
        XCTAssertEqual(f.count, 169)
        XCTAssertEqual(f[0].count, 263)
        XCTAssertLessThan(TestData.maxDiff(f, ref).0, 5e-4)
    }
}

final class FeatureInvarianceTests: XCTestCase {
    /// The representation is defined relative to the first frame's position and facing, so turning the
    /// whole clip about the vertical axis or moving it must not change the features.
    func testFeaturesInvariantToVerticalRotationAndTranslation() throws {
        try TestData.require(TestData.sample)
        let joints = TestData.joints(try readNpy(TestData.sample.appendingPathComponent("new_joints_012314.npy")))
        let base = try MotionFeatures.features(from: joints)
        for (angle, shift) in [(0.7, SIMD3<Double>(1.5, 0.3, -2)), (-2.5, SIMD3<Double>(-0.4, -0.2, 3)), (Double.pi, .zero)] {
            let q = Quaternion(axis: Vec3(0, 1, 0), angle: angle)
            let moved = joints.map { $0.map { (q.rotate($0.double) + shift).float } }
            let f = try MotionFeatures.features(from: moved)
            let (m, t, k) = TestData.maxDiff(f, base)
            print("rotation \(angle) rad + shift \(shift): max feature change \(m) at frame \(t) value \(k)")
            XCTAssertLessThan(m, 1e-4)
        }
    }

    func testBundledTargetSkeletonIsTheDatasetOne() throws {
        try TestData.require(TestData.sample)
        let t = try readNpy(TestData.sample.appendingPathComponent("target_offsets.npy")).scalars
        XCTAssertEqual(Skeleton.humanML3DTargetOffsets.flatMap { [$0.x, $0.y, $0.z] }, t)
    }

    /// CMU clips processed with the official code: our recovery of their features gives their joints.
    func testCMUFeaturesRecoverTheirJoints() throws {
        try TestData.require(TestData.cmu)
        let names = try FileManager.default.contentsOfDirectory(atPath: TestData.cmu.appendingPathComponent("new_joints").path).sorted()
        var worst: Float = 0
        for name in names.enumerated().filter({ $0.offset % 12 == 0 }).map(\.element) {
            let vecs = try readNpy(TestData.cmu.appendingPathComponent("new_joint_vecs/\(name)"))
            let ref = TestData.joints(try readNpy(TestData.cmu.appendingPathComponent("new_joints/\(name)")))
            let m = try Motion(features: vecs)
            let e = TestData.maxDiff(m.positions, ref)
            worst = max(worst, e)
            XCTAssertLessThan(e, 1e-4, name)
        }
        print("CMU features -> joints, worst max error over sampled clips: \(worst)")
    }

    /// Features of recovered joints reproduce the features (up to the dropped last frame); checks that the
    /// two directions are each other's inverse on canonical data.
    func testCMUJointsToFeaturesRoundTrip() throws {
        try TestData.require(TestData.cmu)
        let vecs = TestData.rows(try readNpy(TestData.cmu.appendingPathComponent("new_joint_vecs/02_01_00.npy")))
        let joints = try MotionFeatures.joints(fromFeatures: vecs, jointCount: 22)
        let again = try MotionFeatures.features(from: joints)
        // Root, positions and velocities come back; rotations differ because joints were canonicalised.
        var m: Float = 0
        for (a, b) in zip(again, vecs) { for k in Array(0..<67) + Array(193..<259) { m = max(m, abs(a[k] - b[k])) } }
        print("CMU 02_01_00 features -> joints -> features (root, ric, velocity blocks): max \(m)")
        XCTAssertLessThan(m, 2e-2)
    }

    func testNormalizerRoundTripAndErrors() throws {
        try TestData.require(TestData.sample)
        let n = try FeatureNormalizer(directory: TestData.sample)
        XCTAssertEqual(n.dimension, 263)
        let x = try readNpy(TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy"))
        let z = try n.normalize(x)
        XCTAssertEqual(z.scalars[5], (x.scalars[5] - n.mean[5]) / n.std[5])
        let back = try n.denormalize(z)
        XCTAssertLessThan(zip(back.scalars, x.scalars).map { abs($0 - $1) }.max()!, 1e-5)
        XCTAssertThrowsError(try n.normalize(Tensor.zeros([3, 251]))) { XCTAssertTrue("\($0)".contains("263"), "\($0)") }
        XCTAssertThrowsError(try FeatureNormalizer(mean: [0, 0], std: [1, 0])) { XCTAssertTrue("\($0)".contains("std[1]"), "\($0)") }
    }

    func testFeatureInputErrors() throws {
        let frame = [SIMD3<Float>](repeating: .zero, count: 21)
        XCTAssertThrowsError(try MotionFeatures.features(from: [frame, frame])) { XCTAssertTrue("\($0)".contains("21 joints"), "\($0)") }
        var bad = TestData.tPose()
        bad[3].y = .nan
        XCTAssertThrowsError(try MotionFeatures.features(from: [TestData.tPose(), bad])) {
            XCTAssertTrue("\($0)".contains("frame 1, joint spine1"), "\($0)")
        }
        let collapsed = [SIMD3<Float>](repeating: [0, 1, 0], count: 22)
        XCTAssertThrowsError(try MotionFeatures.features(from: [collapsed, collapsed])) { XCTAssertTrue("\($0)".contains("degenerate"), "\($0)") }
        XCTAssertThrowsError(try Motion(features: Tensor.zeros([4, 200]))) { XCTAssertTrue("\($0)".contains("263"), "\($0)") }
        var rows = [[Float]](repeating: [Float](repeating: 0, count: 263), count: 3)
        rows[2][10] = .infinity
        XCTAssertThrowsError(try MotionFeatures.joints(fromFeatures: rows, jointCount: 22)) {
            XCTAssertTrue("\($0)".contains("frame 2, value 10"), "\($0)")
        }
    }
}
