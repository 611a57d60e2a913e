import Foundation
import MotionData
import TensorEngine
import XCTest

/// `convert` and `render` through the built binary, on the real HumanML3D sample clip: format round trips,
/// features detected by shape, outputs that decode, and one-line errors with exit status 1.
final class ConvertRenderCLITests: XCTestCase {
    static var sampleDir: URL { CLITests.repoRoot.appendingPathComponent("Data/humanml3d-sample") }
    static var joints: URL { sampleDir.appendingPathComponent("new_joints_012314.npy") }
    static var features: URL { sampleDir.appendingPathComponent("new_joint_vecs_012314.npy") }

    /// Runs the binary with `args` and, when given, the environment (to hide ffmpeg from it).
    func run(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
        try CLITests.run(args, environment: environment)
    }

    func ok(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, 0, "\(args): \(r.err)", file: file, line: line)
    }

    func userError(_ args: [String], contains text: String, environment: [String: String]? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args, environment: environment)
        XCTAssertEqual(r.status, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertEqual(r.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.contains(text), "\(args): wanted '\(text)' in \(r.err)", file: file, line: line)
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-cr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testJointsRoundTripThroughBVHAndJSON() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try readNpy(Self.joints)                                      // [170, 22, 3]
        let bvh = dir.appendingPathComponent("clip.bvh"), json = dir.appendingPathComponent("clip.json")
        try ok(["convert", Self.joints.path, "-o", bvh.path])
        try ok(["convert", bvh.path, "-o", dir.appendingPathComponent("from-bvh.npy").path])
        let fromBVH = try readNpy(dir.appendingPathComponent("from-bvh.npy"))
        XCTAssertEqual(fromBVH.shape, original.shape)
        // BVH stores one bone length per joint and rotations, so only the clip's small bone-length
        // wobble is lost; the motion itself comes back to about a centimetre.
        XCTAssertLessThan(fromBVH.maxAbsDifference(original), 0.02)
        try ok(["convert", Self.joints.path, "-o", json.path])
        try ok(["convert", json.path, "-o", dir.appendingPathComponent("from-json.npy").path])
        XCTAssertLessThan(try readNpy(dir.appendingPathComponent("from-json.npy")).maxAbsDifference(original), 1e-5)
        // The BVH text itself is a BVH: hierarchy, 170 frames at 0.05 s.
        let text = try String(contentsOf: bvh, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("HIERARCHY"))
        XCTAssertTrue(text.contains("Frames: 170"))
        XCTAssertTrue(text.contains("Frame Time: 0.05"))
    }

    func testFeaturesAreDetectedByShapeAndWrittenByFlag() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // [170, 263] raw features -> joints: HumanML3D's new_joints is exactly recover_from_ric(new_joint_vecs).
        let out = dir.appendingPathComponent("j.npy")
        try ok(["convert", Self.features.path, "-o", out.path])
        XCTAssertLessThan(try readNpy(out).maxAbsDifference(try readNpy(Self.joints)), 1e-4)
        // Joints -> features with --features: the official processing's [T-1, 263] (reference file in the sample folder).
        let f = dir.appendingPathComponent("f.npy")
        try ok(["convert", Self.joints.path, "-o", f.path, "--features"])
        let reference = try readNpy(Self.sampleDir.appendingPathComponent("features_from_new_joints_012314.npy"))
        let mine = try readNpy(f)
        XCTAssertEqual(mine.shape, reference.shape)
        XCTAssertLessThan(mine.maxAbsDifference(reference), 1e-3)
        try userError(["convert", Self.joints.path, "-o", dir.appendingPathComponent("f.bvh").path, "--features"], contains: "--features")
    }

    func testConvertErrors() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try userError(["convert", dir.appendingPathComponent("missing.npy").path, "-o", dir.appendingPathComponent("a.bvh").path], contains: "missing.npy")
        // Shapes that are neither joints [T, 22|21, 3] nor features [T, 263|251].
        for (name, shape) in [("feat100.npy", [12, 100]), ("joints2d.npy", [12, 22, 2]), ("joints7.npy", [12, 7, 3]), ("flat.npy", [30])] {
            let bad = dir.appendingPathComponent(name)
            try writeNpy(Tensor.zeros(shape), to: bad)
            try userError(["convert", bad.path, "-o", dir.appendingPathComponent("b.bvh").path], contains: name)
        }
        let garbage = dir.appendingPathComponent("garbage.bvh")
        try Data("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n".utf8).write(to: garbage)
        try userError(["convert", garbage.path, "-o", dir.appendingPathComponent("c.npy").path], contains: "garbage.bvh")
        try userError(["convert", Self.joints.path, "-o", dir.appendingPathComponent("c.gif").path], contains: "render")
        // An existing output is kept unless --force.
        let existing = dir.appendingPathComponent("existing.bvh")
        try Data("keep me".utf8).write(to: existing)
        try userError(["convert", Self.joints.path, "-o", existing.path], contains: "--force")
        XCTAssertEqual(try String(contentsOf: existing, encoding: .utf8), "keep me")
        try ok(["convert", Self.joints.path, "-o", existing.path, "--force"])
        XCTAssertTrue(try String(contentsOf: existing, encoding: .utf8).hasPrefix("HIERARCHY"))
    }

    func testRenderWritesEveryFormatAndRefusesBadRequests() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gif = dir.appendingPathComponent("w.gif"), png = dir.appendingPathComponent("w.png"), html = dir.appendingPathComponent("w.html")
        try ok(["render", Self.joints.path, "-o", gif.path, "--width", "96", "--height", "80", "--title", "walk"])
        let g = [UInt8](try Data(contentsOf: gif))
        XCTAssertEqual(String(decoding: g[0..<6], as: UTF8.self), "GIF89a")
        XCTAssertEqual(Int(g[6]) | Int(g[7]) << 8, 96)
        XCTAssertEqual(Int(g[8]) | Int(g[9]) << 8, 80)
        // One image descriptor per frame: count graphic control extensions (21 F9 04) followed by a descriptor.
        var frames = 0
        for i in 0..<(g.count - 8) where g[i] == 0x21 && g[i + 1] == 0xF9 && g[i + 2] == 4 && g[i + 7] == 0 && g[i + 8] == 0x2C { frames += 1 }
        XCTAssertEqual(frames, 170)
        try ok(["render", Self.joints.path, "-o", png.path, "--width", "96", "--height", "80", "--frame", "0"])
        let p = [UInt8](try Data(contentsOf: png))
        XCTAssertEqual(Array(p[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        try ok(["render", Self.features.path, "-o", html.path, "--title", "a person walks"])
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertTrue(page.contains("a person walks"))
        for forbidden in ["http://", "https://", "<script src"] { XCTAssertFalse(page.contains(forbidden), forbidden) }

        try userError(["render", Self.joints.path, "-o", gif.path], contains: "--force")
        try userError(["render", Self.joints.path, "-o", dir.appendingPathComponent("x.bvh").path], contains: ".gif")
        try userError(["render", Self.joints.path, "-o", dir.appendingPathComponent("x.gif").path, "--width", "10"], contains: "between 64 and 4096")
        try userError(["render", Self.joints.path, "-o", dir.appendingPathComponent("x.png").path, "--frame", "170"], contains: "frame 170")
        try userError(["render", dir.appendingPathComponent("none.bvh").path, "-o", dir.appendingPathComponent("x.gif").path], contains: "none.bvh")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.gif").path))
    }

    func testMP4NeedsFFmpegAndSaysSo() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mp4 = dir.appendingPathComponent("w.mp4")
        // A PATH with no ffmpeg on it: a one-line error, and no file.
        try userError(["render", Self.joints.path, "-o", mp4.path], contains: "ffmpeg", environment: ["PATH": dir.path])
        XCTAssertFalse(FileManager.default.fileExists(atPath: mp4.path))
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/ffmpeg") }) else {
            throw XCTSkip("ffmpeg is not installed; the MP4 output itself is not checked here")
        }
        try ok(["render", Self.joints.path, "-o", mp4.path, "--width", "97", "--height", "81"])
        let m = [UInt8](try Data(contentsOf: mp4))
        XCTAssertEqual(String(decoding: m[4..<8], as: UTF8.self), "ftyp")
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasSuffix(".partial") })
    }
}
