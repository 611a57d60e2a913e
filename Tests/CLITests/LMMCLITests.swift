import Foundation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// generate / predict / inbetween / edit with a Large Motion Model folder (a tiny random denoiser reading
/// the bundled MiniLM text encoder), through the built binary.
final class LMMCLITests: XCTestCase {
    static var cmu: URL { CLITests.repoRoot.appendingPathComponent("Data/cmu-mocap-h3d") }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("cli-lmm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    /// An `lmm` folder: 1 layer, a 64-frame window, text through Models/text-encoder.
    func makeLMMFolder(in dir: URL) throws -> URL {
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.numCondLayers = 1; c.maxSeqLen = 64
        c.textInputDim = 384
        c.textEncoder = CLITests.repoRoot.appendingPathComponent("Models/text-encoder").path
        let m = try LargeMotionModel(config: c, seed: 1)
        var rng = SeededRNG(seed: 2)
        for (_, p) in m.namedParameters() { p.assign(Tensor.randn(p.shape, std: 0.2, rng: &rng)) }
        let stats = try LMMModel.unifiedNormalizer(humanML3D: try FeatureNormalizer(directory: Self.cmu))
        let folder = dir.appendingPathComponent("lmm")
        try LMMModel(denoiser: m, normalizer: stats, textEncoder: nil).save(directory: folder)
        return folder
    }

    func assertUserError(_ args: [String], contains text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLITests.run(args)
        XCTAssertEqual(r.status, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertEqual(r.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, "\(args): \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.contains(text), "\(args): \(r.err)", file: file, line: line)
    }

    func testGenerateWithAnLMMFolder() throws {
        let dir = try tempDir()
        let model = try makeLMMFolder(in: dir).path
        let out = dir.appendingPathComponent("walk.npy")
        // 100 frames: two 64-frame windows sharing 16; 3 steps each.
        var r = try CLITests.run(["generate", "a person walks forward", "--model", model, "--frames", "100", "--steps", "3", "--seed", "2", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("100 frames"), r.out)
        XCTAssertTrue(r.err.contains("step 6/6"), r.err)
        let joints = try readNpy(out)
        XCTAssertEqual(joints.shape, [100, 22, 3])
        XCTAssertTrue(joints.scalars.allSatisfy(\.isFinite))
        // The same seed gives the same motion; --force rules as every output.
        try assertUserError(["generate", "a person walks forward", "--model", model, "--frames", "100", "-o", out.path], contains: "--force")
        r = try CLITests.run(["generate", "a person walks forward", "--model", model, "--length", "100", "--steps", "3", "--seed", "2", "-o", out.path, "--force"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readNpy(out).maxAbsDifference(joints), 0)
        // Seconds at a rate; guidance off.
        let gif = dir.appendingPathComponent("short.bvh")
        r = try CLITests.run(["generate", "a person jumps", "--model", model, "--seconds", "1.5", "--fps", "10", "--guidance", "0", "--steps", "2", "-o", gif.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("15 frames at 10.0 fps"), r.out)
        // Flags of the other kind of model are refused.
        try assertUserError(["generate", "walk", "--model", model, "--temperature", "0.8", "-o", dir.appendingPathComponent("t.npy").path], contains: "--temperature")
        try assertUserError(["generate", "walk", "--model", model, "--steps", "0", "-o", dir.appendingPathComponent("t.npy").path], contains: "--steps must be in 1...1000")
        try assertUserError(["generate", "walk", "--model", model, "--frames", "5000", "-o", dir.appendingPathComponent("t.npy").path], contains: "limit of 496")
        let t5 = CLITests.repoRoot.appendingPathComponent("Models/default")          // the bundled MotionGPT
        try assertUserError(["generate", "walk", "--model", t5.path, "--guidance", "2", "-o", dir.appendingPathComponent("t.npy").path], contains: "--guidance goes with a Large Motion Model")
        try assertUserError(["edit", Self.cmu.appendingPathComponent("new_joint_vecs/03_02_00.npy").path, "--parts", "larm", "--text", "wave",
                             "--model", t5.path, "-o", dir.appendingPathComponent("t.npy").path], contains: "needs a Large Motion Model")
    }

    func testEditPredictAndInbetweenWithAnLMMFolder() throws {
        let dir = try tempDir()
        let model = try makeLMMFolder(in: dir).path
        let clip = Self.cmu.appendingPathComponent("new_joint_vecs/03_02_00.npy").path       // 54 frames
        let other = Self.cmu.appendingPathComponent("new_joint_vecs/02_09_00.npy").path      // 172 frames
        let edited = dir.appendingPathComponent("edit.npy")
        var r = try CLITests.run(["edit", clip, "--parts", "larm, rarm", "--text", "a person waves", "--model", model, "--steps", "2", "-o", edited.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("larm"), r.out)
        // Joints in, HumanML3D features of them (one frame fewer, velocities need the next), joints out.
        XCTAssertEqual(try readNpy(edited).shape, [53, 22, 3])
        try assertUserError(["edit", clip, "--parts", "larm,wing", "--text", "wave", "--model", model, "-o", dir.appendingPathComponent("x.npy").path],
                            contains: "--parts: unknown body part \"wing\"")
        try assertUserError(["edit", clip, "--parts", "lhand", "--text", "wave", "--model", model, "-o", dir.appendingPathComponent("x.npy").path],
                            contains: "no hands")
        try assertUserError(["edit", clip, "--parts", "larm", "--text", " ", "--model", model, "-o", dir.appendingPathComponent("x.npy").path],
                            contains: "--text is empty")

        let next = dir.appendingPathComponent("next.npy")
        r = try CLITests.run(["predict", clip, "--frames", "20", "--text", "a person keeps walking", "--model", model, "--steps", "2", "-o", next.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readNpy(next).shape, [73, 22, 3])
        let joined = dir.appendingPathComponent("joined.npy")
        r = try CLITests.run(["inbetween", clip, other, "--frames", "30", "--model", model, "--steps", "2", "-o", joined.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try readNpy(joined).shape, [53 + 30 + 171, 22, 3])
        try assertUserError(["predict", clip, "--model", model, "--beams", "2", "-o", dir.appendingPathComponent("x.npy").path], contains: "--beams")
    }
}
