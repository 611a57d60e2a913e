import Foundation
import MotionData
import XCTest

/// `--rig`, `--joint-map`, `--no-foot-lock` and `.glb` through the built binary on a real CMU walk: the
/// written files carry the rig's skeleton, read back to the source's limb directions, and bad uses are
/// one-line errors with exit status 1.
final class RigExportCLITests: XCTestCase {
    static let clip = CLITests.repoRoot.appendingPathComponent("Data/cmu-mocap-h3d/new_joints/05_01_00.npy")
    static let rigs = CLITests.repoRoot.appendingPathComponent("Tests/MotionDataTests/Fixtures/rigs")
    static var mixamo: String { rigs.appendingPathComponent("mixamo-tall.bvh").path }
    static var cmu: String { rigs.appendingPathComponent("cmu-stocky.bvh").path }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try CLITests.run(args) }

    func ok(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(args)
        XCTAssertEqual(r.status, 0, "\(args): \(r.err)", file: file, line: line)
        return r.out
    }

    func userError(_ args: [String], contains text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertEqual(r.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.contains(text), "\(args): wanted '\(text)' in \(r.err)", file: file, line: line)
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-rig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testConvertOntoRigsReadsBackToTheSourcesDirections() throws {
        guard FileManager.default.fileExists(atPath: Self.clip.path) else { throw XCTSkip("reference data missing") }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try MotionFile.read(Self.clip)
        for (rig, names) in [(Self.mixamo, "mixamo"), (Self.cmu, "cmu")] {
            let out = dir.appendingPathComponent("walk-\(names).bvh")
            let said = try ok(["convert", Self.clip.path, "-o", out.path, "--rig", rig])
            XCTAssertTrue(said.contains("\(names) names"), said)
            let written = try BVH(url: out)
            XCTAssertEqual(written.joints.map(\.name), try BVH(url: URL(fileURLWithPath: rig)).joints.map(\.name))
            // Back through convert (import maps) to our joints: limbs point as the source's.
            let back = dir.appendingPathComponent("back-\(names).json")
            _ = try ok(["convert", out.path, "-o", back.path])
            let m = try MotionFile.read(back)
            XCTAssertEqual(m.frameCount, source.frameCount)
            var sum = 0.0, n = 0
            for (a, b) in zip(source.positions, m.positions) {
                for (p, c) in [(1, 4), (4, 7), (16, 18), (18, 20), (2, 5), (17, 19)] {
                    let u = (a[c] - a[p]), v = (b[c] - b[p])
                    let cosine = Double((u * v).sum()) / (Double((u * u).sum()).squareRoot() * Double((v * v).sum()).squareRoot())
                    sum += acos(max(-1, min(1, cosine))) * 180 / .pi; n += 1
                }
            }
            XCTAssertLessThan(sum / Double(n), 5, "\(names): mean limb angle")
        }
        // --no-foot-lock changes the legs only; the file differs from the default one.
        let free = dir.appendingPathComponent("free.bvh")
        _ = try ok(["convert", Self.clip.path, "-o", free.path, "--rig", Self.mixamo, "--no-foot-lock"])
        XCTAssertNotEqual(try Data(contentsOf: free), try Data(contentsOf: dir.appendingPathComponent("walk-mixamo.bvh")))
    }

    func testGLBOutputsWithAndWithoutARig() throws {
        guard FileManager.default.fileExists(atPath: Self.clip.path) else { throw XCTSkip("reference data missing") }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for args in [[], ["--rig", Self.cmu]] {
            let out = dir.appendingPathComponent("walk\(args.count).glb")
            _ = try ok(["convert", Self.clip.path, "-o", out.path] + args)
            let data = try Data(contentsOf: out)
            XCTAssertEqual(Array(data.prefix(4)), Array("glTF".utf8))
            let json = try JSONSerialization.jsonObject(with: data.subdata(in: 20..<(20 + Int(data[12]) + Int(data[13]) << 8 + Int(data[14]) << 16))) as! [String: Any]
            let joints = ((json["skins"] as! [[String: Any]])[0]["joints"] as! [Int]).count
            XCTAssertEqual(joints, args.isEmpty ? 22 : try BVH(url: URL(fileURLWithPath: Self.cmu)).joints.count)
        }
        // Through the decoder too: detokenize takes the same flags (the bundled model's tokenizer).
        let decoded = dir.appendingPathComponent("decoded.bvh")
        _ = try ok(["detokenize", "12 7 7 301 44 44", "-o", decoded.path, "--rig", Self.mixamo])
        XCTAssertEqual(try BVH(url: decoded).joints.first?.name, "mixamorig:Hips")
    }

    func testJointMapFileAndOneLineErrors() throws {
        guard FileManager.default.fileExists(atPath: Self.clip.path) else { throw XCTSkip("reference data missing") }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let map = dir.appendingPathComponent("map.json")
        // Legs only, by exact names: a valid map for the CMU rig that leaves the upper body at rest.
        try Data(#"{"pelvis": "Hips", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot"}"#.utf8).write(to: map)
        let out = dir.appendingPathComponent("legs.bvh")
        let said = try ok(["convert", Self.clip.path, "-o", out.path, "--rig", Self.cmu, "--joint-map", map.path])
        XCTAssertTrue(said.contains("7 driven"), said)
        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"left_tail": "Tail"}"#.utf8).write(to: bad)
        let o = dir.appendingPathComponent("x.bvh").path
        try userError(["convert", Self.clip.path, "-o", o, "--rig", Self.cmu, "--joint-map", bad.path], contains: "left_tail")
        try userError(["convert", Self.clip.path, "-o", o, "--joint-map", map.path], contains: "--joint-map goes with --rig")
        try userError(["convert", Self.clip.path, "-o", o, "--no-foot-lock"], contains: "--no-foot-lock goes with --rig")
        try userError(["convert", Self.clip.path, "-o", dir.appendingPathComponent("x.npy").path, "--rig", Self.cmu], contains: "--rig writes .bvh or .glb")
        try userError(["convert", Self.clip.path, "-o", o, "--rig", dir.appendingPathComponent("none.bvh").path], contains: "no such file")
        try userError(["convert", Self.clip.path, "-o", o, "--rig", map.path], contains: "map.json")
        try userError(["convert", out.path.replacingOccurrences(of: "legs.bvh", with: "nothing.glb"), "-o", o], contains: "no such file")
        let glb = dir.appendingPathComponent("w.glb")
        _ = try ok(["convert", Self.clip.path, "-o", glb.path])
        try userError(["convert", glb.path, "-o", dir.appendingPathComponent("w.npy").path], contains: ".glb is written, not read")
    }
}
