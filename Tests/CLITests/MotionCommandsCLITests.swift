import Foundation
import MotionData
import TensorEngine
import XCTest

/// convert, render, tokenize/detokenize, convert-checkpoint and the pipeline commands through the
/// built binary: outputs, one-line errors, exit status 1, no overwriting without --force.
final class MotionCommandsCLITests: XCTestCase {
    enum cli { static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try CLITests.run(args) } }
    static var shared: URL { CLITests.repoRoot.appendingPathComponent("Data") }
    static var sampleJoints: String { shared.appendingPathComponent("humanml3d-sample/new_joints_012314.npy").path }
    static var sampleFeatures: String { shared.appendingPathComponent("humanml3d-sample/new_joint_vecs_012314.npy").path }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func assertUserError(_ args: [String], contains text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try cli.run(args)
        XCTAssertEqual(r.status, 1, "\(args): \(r.err)", file: file, line: line)
        let lines = r.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.contains(text), "\(args): \(r.err)", file: file, line: line)
    }

    func testConvertRoundTripsAndRendersARealBVH() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bvh = dir.appendingPathComponent("walk.bvh").path, back = dir.appendingPathComponent("back.npy").path
        // A real CMU clip (features) -> BVH -> joints.
        let cmu = Self.shared.appendingPathComponent("cmu-mocap-h3d/new_joint_vecs/01_01_01.npy").path
        var r = try cli.run(["convert", cmu, "-o", bvh])
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli.run(["convert", bvh, "-o", back])
        XCTAssertEqual(r.status, 0, r.err)
        let original = try Motion(features: try readNpy(URL(fileURLWithPath: cmu)))
        let roundTrip = try readNpy(URL(fileURLWithPath: back))
        XCTAssertEqual(roundTrip.shape, [original.frameCount, 22, 3])
        XCTAssertLessThan(roundTrip.maxAbsDifference(original.tensor), 1e-4)
        for out in ["walk.gif", "walk.html", "walk.png"] {
            let rr = try cli.run(["render", bvh, "-o", dir.appendingPathComponent(out).path, "--width", "160", "--height", "120"])
            XCTAssertEqual(rr.status, 0, rr.err)
        }
        let gif = try Data(contentsOf: dir.appendingPathComponent("walk.gif"))
        XCTAssertEqual(String(decoding: gif.prefix(6), as: UTF8.self), "GIF89a")
        // Features out, by flag.
        r = try cli.run(["convert", Self.sampleJoints, "-o", dir.appendingPathComponent("f.npy").path, "--features"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readNpy(dir.appendingPathComponent("f.npy")).shape, [169, 263])

        try assertUserError(["convert", Self.sampleJoints, "-o", bvh], contains: "--force")
        try assertUserError(["render", bvh, "-o", dir.appendingPathComponent("walk.gif").path], contains: "--force")
        try assertUserError(["convert", "/no/such.npy", "-o", dir.appendingPathComponent("x.bvh").path], contains: "no such file")
        try assertUserError(["render", Self.sampleJoints, "-o", dir.appendingPathComponent("x.jpg").path], contains: ".gif")
        try assertUserError(["convert", Self.sampleJoints, "-o", dir.appendingPathComponent("x.txt").path], contains: ".npy")
        // Wrong shapes and broken files name the problem.
        let bad = dir.appendingPathComponent("bad.npy")
        try writeNpy(Tensor.zeros([10, 7, 3]), to: bad)
        try assertUserError(["convert", bad.path, "-o", dir.appendingPathComponent("y.bvh").path], contains: "bad.npy")
        let truncated = dir.appendingPathComponent("cut.bvh")
        let text = try String(contentsOfFile: bvh, encoding: .utf8)
        try String(text.prefix(text.count / 3)).write(to: truncated, atomically: true, encoding: .utf8)
        try assertUserError(["render", truncated.path, "-o", dir.appendingPathComponent("z.gif").path], contains: "cut.bvh")
    }

    func testTokenizerCommandsAndPipelineOnAConvertedCheckpoint() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixtures = CLITests.repoRoot.appendingPathComponent("Tests/MotionGPTTests/Fixtures/motiongpt-tiny")
        let flan = dir.appendingPathComponent("flan")
        try FileManager.default.createDirectory(at: flan, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("flan-t5-tokenizer/config.json"), to: flan.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: CLITests.repoRoot.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model"), to: flan.appendingPathComponent("spiece.model"))
        let model = dir.appendingPathComponent("model").path
        let stats = Self.shared.appendingPathComponent("humanml3d-sample").path
        var r = try cli.run(["convert-checkpoint", fixtures.appendingPathComponent("motiongpt_tiny.tar").path, "-o", model, "--tokenizer", flan.path, "--stats", stats])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("skipped 1 under t2m_textencoder."), r.out)

        r = try cli.run(["tokenize", Self.sampleFeatures, "--model", model])
        XCTAssertEqual(r.status, 0, r.err)
        let codes = r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(codes.count, 42)
        XCTAssertTrue(codes.allSatisfy { (0..<16).contains($0) })
        XCTAssertTrue(r.err.contains("last 2 of 170"), "uncovered frames are reported: \(r.err)")
        let out = dir.appendingPathComponent("d.npy").path
        r = try cli.run(["detokenize", codes.map(String.init).joined(separator: " "), "--model", model, "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readNpy(URL(fileURLWithPath: out)).shape, [168, 22, 3])
        try assertUserError(["detokenize", "1 2 99", "--model", model, "-o", dir.appendingPathComponent("e.npy").path], contains: "outside the codebook")
        try assertUserError(["detokenize", "1 x", "--model", model, "-o", dir.appendingPathComponent("e.npy").path], contains: "'x'")
        try assertUserError(["tokenize", Self.sampleFeatures, "--model", dir.path], contains: "no motion tokenizer")

        // Pipeline commands answer with the right kind of output, deterministically for a seed.
        let g1 = dir.appendingPathComponent("g1.bvh").path, g2 = dir.appendingPathComponent("g2.bvh").path
        r = try cli.run(["generate", "a person walks", "--model", model, "-o", g1, "--seed", "3", "--max-tokens", "12"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli.run(["generate", "a person walks", "--model", model, "-o", g2, "--seed", "3", "--max-tokens", "12"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: g1)), try Data(contentsOf: URL(fileURLWithPath: g2)))
        r = try cli.run(["caption", g1, "--model", model, "--max-tokens", "6"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.contains("<motion_id"))
        r = try cli.run(["predict", Self.sampleJoints, "--model", model, "-o", dir.appendingPathComponent("p.json").path, "--max-tokens", "8"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli.run(["inbetween", Self.sampleJoints, g1, "--model", model, "-o", dir.appendingPathComponent("i.gif").path, "--max-tokens", "8"])
        XCTAssertEqual(r.status, 0, r.err)
        try assertUserError(["generate", "  ", "--model", model], contains: "empty")
        try assertUserError(["generate", "walk", "--model", model, "--length", "2", "-o", dir.appendingPathComponent("q.bvh").path], contains: "--length")
        try assertUserError(["generate", "walk", "--model", model, "-o", g1], contains: "--force")
        try assertUserError(["generate", "walk", "--model", dir.appendingPathComponent("none").path, "-o", dir.appendingPathComponent("q.bvh").path], contains: "no model")
    }
}
