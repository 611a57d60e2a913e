import Foundation
import MotionData
@testable import MotionDiffusion
import TensorEngine
import XCTest

/// Paths of the test inputs: the fixtures of this target and the shared CMU data (`Data/`).
enum LMMTestData {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cmu = packageRoot.appendingPathComponent("Data/cmu-mocap-h3d")
    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }
    static func requireData() throws {
        guard FileManager.default.fileExists(atPath: cmu.path) else { throw XCTSkip("reference data missing: \(cmu.path)") }
    }
    /// A few test-split clips (features [T, 263]) by name.
    static func clips(_ count: Int) throws -> [(String, Tensor)] {
        let names = try String(contentsOf: cmu.appendingPathComponent("test.txt"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).map(String.init).prefix(count)
        return try names.map { ($0, try readNpy(cmu.appendingPathComponent("new_joint_vecs/\($0).npy"))) }
    }
}

/// The 669-value unified layout: part slices against the official `SinglePoseEncoder` (Fixtures/lmm_parts.json,
/// made by Tools/fixtures/make_lmm_fixtures.py from the LMM code), and the conversions from and to our
/// HumanML3D features and joints on real clips.
final class UnifiedMotionTests: XCTestCase {
    func testPartSlicesAreTheOfficialOnes() throws {
        let data = try Data(contentsOf: LMMTestData.fixture("lmm_parts.json"))
        let official = try JSONSerialization.jsonObject(with: data) as! [String: [Int]]
        XCTAssertEqual(official.count, 10)
        for part in BodyPart.allCases {
            XCTAssertEqual(part.featureIndices, official["\(part.officialName)_slice"], "\(part) (\(part.officialName))")
        }
    }

    func testPartsCoverTheLayoutOnce() {
        var seen = [Int](repeating: 0, count: UnifiedMotion.dimension)
        for p in BodyPart.allCases { for i in p.featureIndices { seen[i] += 1 } }
        XCTAssertEqual(seen, [Int](repeating: 1, count: UnifiedMotion.dimension))
        // 7 root values, 12 a joint, 50 face values.
        XCTAssertEqual(BodyPart.allCases.map { $0.featureIndices.count }, [7, 24, 36, 48, 48, 48, 48, 180, 180, 50])
    }

    func testHumanML3DRoundTripIsExactOnRealClips() throws {
        try LMMTestData.requireData()
        var contacts = 0, contactAgree = 0
        for (name, h) in try LMMTestData.clips(6) {
            let u = try UnifiedMotion(humanML3D: h)
            XCTAssertEqual(u.features.shape, [h.shape[0], 669])
            // Hands and face absent, every body part present.
            let m = u.mask.scalars
            for f in 0..<u.frameCount {
                XCTAssertEqual(Array(m[(f * 10)..<(f * 10 + 10)]), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "\(name) frame \(f)")
            }
            // Absent parts hold zeros.
            let fv = u.features.scalars
            for f in 0..<u.frameCount { for p in [BodyPart.leftHand, .rightHand, .face] { for i in p.featureIndices {
                XCTAssertEqual(fv[f * 669 + i], 0)
            } } }
            let back = try u.humanML3DFeatures()
            let a = h.scalars, b = back.scalars
            for f in 0..<h.shape[0] {
                for k in 0..<259 { if a[f * 263 + k] != b[f * 263 + k] { XCTFail("\(name) frame \(f) value \(k): \(a[f * 263 + k]) vs \(b[f * 263 + k])"); return } }
                for k in 259..<263 { contacts += 1; if a[f * 263 + k] == b[f * 263 + k] { contactAgree += 1 } }
            }
        }
        // Foot contacts are recomputed from the velocities by HumanML3D's rule; the dataset's were computed
        // from float64 positions, so only displacements within float rounding of the threshold may differ.
        print("foot contacts recomputed: \(contactAgree)/\(contacts) agree")
        XCTAssertGreaterThanOrEqual(Double(contactAgree) / Double(contacts), 0.999)
    }

    func testSlotsFollowTheJoints() throws {
        // A synthetic row whose every value encodes where it came from; the unified slots of a joint hold its
        // position, rotation and velocity values.
        let h = Tensor((0..<263).map { Float($0) }, shape: [1, 263])
        let u = try UnifiedMotion(humanML3D: h)
        let v = u.features.scalars
        let j = 19  // SMPL right elbow: slot 3 ("larm" in the official code).
        XCTAssertTrue(BodyPart.rightArm.joints.contains(j))
        let idx = BodyPart.rightArm.featureIndices
        let k = BodyPart.rightArm.joints.firstIndex(of: j)! * 12
        XCTAssertEqual(idx[k..<(k + 12)].map { v[$0] },
                       (0..<3).map { Float(4 + (j - 1) * 3 + $0) } + (0..<6).map { Float(67 + (j - 1) * 6 + $0) } + (0..<3).map { Float(193 + j * 3 + $0) })
        XCTAssertEqual(BodyPart.root.featureIndices.map { v[$0] }, [0, 1, 2, 3, 193, 194, 195])
    }

    func testJointsRoundTrip() throws {
        try LMMTestData.requireData()
        for (name, _) in try LMMTestData.clips(3) {
            let j = try readNpy(LMMTestData.cmu.appendingPathComponent("new_joints/\(name).npy"))
            let motion = try Motion(skeleton: .humanML3D, tensor: j, fps: 20)
            let u = try UnifiedMotion(motion: motion)
            XCTAssertEqual(u.frameCount, motion.frameCount - 1)
            // Joints recovered from the unified layout equal those from the HumanML3D features.
            let back = try u.motion()
            let direct = try Motion(features: try motion.features(config: .humanML3D), fps: 20)
            XCTAssertEqual(back.positions, direct.positions)
            // joints -> unified -> joints -> unified: the recovered joints give the same root-relative positions
            // again (one frame fewer each pass) up to HumanML3D's facing estimate, which smooths the hip/shoulder
            // direction over the clip and so moves slightly when the clip is a frame shorter (measured: 0.6-6.7 mm).
            let u2 = try UnifiedMotion(motion: back)
            let n = u2.frameCount
            var worst: Float = 0
            let a = u.features.scalars, b = u2.features.scalars
            for f in 0..<n { for i in 4..<(4 + 21 * 3) { worst = max(worst, abs(a[f * 669 + i] - b[f * 669 + i])) } }
            print("\(name): joints round trip, worst root-relative position difference \(worst) m")
            XCTAssertLessThan(worst, 0.01, name)
        }
    }

    func testBadInputIsAClearError() {
        XCTAssertThrowsError(try UnifiedMotion(humanML3D: Tensor.zeros([4, 251]))) { e in
            XCTAssertTrue("\(e)".contains("[T, 263]"), "\(e)")
        }
        let u = try! UnifiedMotion(features: Tensor.zeros([2, 669]), mask: Tensor.zeros([2, 10]), fps: 20)
        XCTAssertThrowsError(try u.humanML3DFeatures()) { e in XCTAssertTrue("\(e)".contains("root is absent"), "\(e)") }
        XCTAssertThrowsError(try UnifiedMotion(features: Tensor.zeros([2, 668]), mask: Tensor.zeros([2, 10]), fps: 20))
    }
}
