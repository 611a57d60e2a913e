import XCTest
@testable import MotionData
import TensorEngine

final class MotionFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("motiondata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func sample() throws -> Motion {
        try TestData.require(TestData.sample)
        return try MotionFile.read(TestData.sample.appendingPathComponent("new_joints_012314.npy"))
    }

    func testNpyJointsAndFeatures() throws {
        let m = try sample()
        XCTAssertEqual(m.frameCount, 170)
        XCTAssertEqual(m.fps, 20)
        let joints = dir.appendingPathComponent("a.npy")
        try MotionFile.write(m, to: joints)
        XCTAssertEqual(try MotionFile.read(joints).positions, m.positions)
        // Features: [T-1, 263] on disk; reading them recovers joints (rescaled to the target skeleton,
        // on the floor, facing +Z, so compare with the official features' own recovery).
        let feats = dir.appendingPathComponent("f.npy")
        try MotionFile.write(m, to: feats, features: true)
        XCTAssertEqual(try readNpy(feats).shape, [169, 263])
        let back = try MotionFile.read(feats)
        XCTAssertEqual(back.frameCount, 169)
        let ref = try MotionFile.read(TestData.sample.appendingPathComponent("features_from_new_joints_012314.npy"), features: true)
        XCTAssertLessThan(TestData.maxDiff(back.positions, ref.positions), 1e-4)
        // The official features read as features, and refused as joints.
        let official = TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy")
        XCTAssertEqual(try MotionFile.read(official).frameCount, 170)
        XCTAssertThrowsError(try MotionFile.read(official, features: false)) { XCTAssertTrue("\($0)".contains("[T, 22, 3]"), "\($0)") }
        XCTAssertThrowsError(try MotionFile.read(joints, features: true)) { XCTAssertTrue("\($0)".contains("263"), "\($0)") }
    }

    func testJSONRoundTripAndFormat() throws {
        let m = try sample()
        let url = dir.appendingPathComponent("m.json")
        try MotionFile.write(m, to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("{\"fps\":20,\"skeleton\":\"humanml3d\",\"joints\":[[[0,"), String(text.prefix(60)))
        let back = try MotionFile.read(url)
        XCTAssertEqual(back.positions, m.positions)
        XCTAssertEqual(back.fps, 20)
        // A hand-written file without "skeleton" takes the joint count's.
        let frame = "[" + Array(repeating: "[0,1,2.5]", count: 22).joined(separator: ",") + "]"
        let m2 = try MotionFile.motion(json: Data("{\"fps\":30,\"joints\":[\(frame),\(frame)]}".utf8))
        XCTAssertEqual(m2.frameCount, 2)
        XCTAssertEqual(m2.fps, 30)
        XCTAssertEqual(m2.positions[1][5], SIMD3(0, 1, 2.5))
    }

    func testBVHFileRoundTrip() throws {
        let m = try sample()
        let url = dir.appendingPathComponent("m.bvh")
        try MotionFile.write(m, to: url)
        let back = try MotionFile.read(url)
        XCTAssertLessThan(TestData.maxDiff(back.positions, m.positions), 1e-4)
    }

    func testRefusesToOverwriteWithoutForce() throws {
        let m = try sample()
        for ext in ["npy", "json", "bvh"] {
            let url = dir.appendingPathComponent("x.\(ext)")
            try MotionFile.write(m, to: url)
            XCTAssertThrowsError(try MotionFile.write(m, to: url)) { XCTAssertTrue("\($0)".contains("exists"), "\($0)") }
            XCTAssertNoThrow(try MotionFile.write(m, to: url, force: true))
        }
        XCTAssertThrowsError(try MotionFile.write(m, to: dir.appendingPathComponent("x.txt"))) { XCTAssertTrue("\($0)".contains(".txt"), "\($0)") }
        XCTAssertThrowsError(try MotionFile.write(m, to: dir.appendingPathComponent("x.json"), force: true, features: true))
        XCTAssertThrowsError(try MotionFile.write(m, to: dir.appendingPathComponent("no/such/x.npy"))) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }
    }

    func testCorruptInputsNameTheProblem() throws {
        // Wrong joint count in .npy.
        let bad = dir.appendingPathComponent("bad.npy")
        try writeNpy(Tensor.zeros([5, 20, 3]), to: bad)
        XCTAssertThrowsError(try MotionFile.read(bad)) { XCTAssertTrue("\($0)".contains("bad.npy") && "\($0)".contains("20 joints"), "\($0)") }
        // NaN joints in .npy.
        var v = [Float](repeating: 0, count: 2 * 22 * 3)
        v[22 * 3 + 7 * 3 + 1] = .nan
        try writeNpy(Tensor(v, shape: [2, 22, 3]), to: bad)
        XCTAssertThrowsError(try MotionFile.read(bad)) { XCTAssertTrue("\($0)".contains("frame 1, joint left_ankle"), "\($0)") }
        // Truncated .npy.
        try Data(npyData(Tensor.zeros([5, 22, 3])).prefix(200)).write(to: bad)
        XCTAssertThrowsError(try MotionFile.read(bad)) { XCTAssertTrue("\($0)".contains("bad.npy"), "\($0)") }
        // JSON problems.
        let frame21 = "[" + Array(repeating: "[0,0,0]", count: 21).joined(separator: ",") + "]"
        XCTAssertThrowsError(try MotionFile.motion(json: Data("{\"skeleton\":\"humanml3d\",\"joints\":[\(frame21)]}".utf8), source: "m.json")) {
            XCTAssertTrue("\($0)".contains("m.json") && "\($0)".contains("21 joints"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFile.motion(json: Data("{\"joints\":[[[0,0]]]}".utf8), source: "m.json")) {
            XCTAssertTrue("\($0)".contains("joints[0][0] is not [x, y, z]"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFile.motion(json: Data("{\"joints\":[[[0,0,\"a\"]]]}".utf8))) {
            XCTAssertTrue("\($0)".contains("joints[0][0][2] is not a number"), "\($0)")
        }
        XCTAssertThrowsError(try MotionFile.motion(json: Data("{\"joints\":[".utf8))) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
        XCTAssertThrowsError(try MotionFile.read(dir.appendingPathComponent("none.npy"))) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    func testKITJointsAndFeatures() throws {
        // A KIT-shaped clip: 21 joints from the HumanML3D sample's first joints (only shapes matter here).
        let m = try sample()
        let kit = try Motion(skeleton: .kitML, positions: m.positions.map { Array($0.prefix(21)) }, fps: 12.5)
        let f = try kit.features()
        XCTAssertEqual(f.shape, [169, 251])
        let back = try Motion(features: f)
        XCTAssertEqual(back.skeleton, .kitML)
        XCTAssertEqual(back.fps, 12.5)
        XCTAssertEqual(back.frameCount, 169)
    }
}
