import Foundation
import ModelHub
import MotionVQ
import NeuralNetwork
import TensorEngine
import Training
import XCTest

/// Trainers as library functions: parameters in, events out, a callback that stops the run, resume,
/// and the output holding the weights of the best validation value.
final class TrainingRunTests: XCTestCase {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/humanml3d-sample/new_joint_vecs_012314.npy").path

    func parameters(_ out: URL) -> TokenizerTrainingParameters {
        var p = TokenizerTrainingParameters(data: [Self.sample], output: out, steps: 8)
        var c = VQVAEConfig(); c.width = 16; c.codeDim = 16; c.outputEmbWidth = 16; c.codeNum = 32; c.depth = 2
        p.config = c
        p.options.batchSize = 4; p.options.window = 32; p.options.learningRate = 1e-3; p.options.seed = 3
        p.loop.logEvery = 1; p.loop.checkpointEvery = 2; p.loop.validateEvery = 2
        return p
    }

    func testStopResumeAndBestWeights() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Uninterrupted.
        let straight = dir.appendingPathComponent("straight")
        var events: [TrainingEvent] = []
        let a = try trainTokenizer(parameters(straight)) { events.append($0); return .proceed }
        XCTAssertEqual(a, .finished(output: straight))
        let vals = events.compactMap { e -> (Int, Float, Bool)? in if case let .validation(s, _, v, b) = e { return (s, v, b) }; return nil }
        XCTAssertEqual(vals.map(\.0), [2, 4, 6, 8])
        let steps = events.compactMap { e -> Int? in if case let .step(s, _) = e { return s }; return nil }
        XCTAssertEqual(steps, Array(1...8))
        // The output holds the weights of the best validation, and the tokenizer folder reloads.
        let bestStep = vals.min { $0.1 < $1.1 }!.0
        XCTAssertEqual(vals.filter(\.2).last?.0, bestStep)
        let best = try SafeTensorsFile(url: straight.appendingPathComponent("checkpoints/best.safetensors"))
        XCTAssertEqual(best.metadata["step"], String(bestStep))
        let out = try SafeTensorsFile(url: straight.appendingPathComponent("model.safetensors"))
        for n in out.names { XCTAssertEqual(try out.tensor(n).scalars, try best.tensor(n).scalars, n) }
        XCTAssertNoThrow(try MotionTokenizer.load(directory: straight))

        // Stopped by the callback at step 3 (a checkpoint is written there), then resumed.
        let split = dir.appendingPathComponent("split")
        let b = try trainTokenizer(parameters(split)) { e in if case .step(3, _) = e { return .stop }; return .proceed }
        guard case .stopped(3, let ckpt) = b else { return XCTFail("\(b)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: split.appendingPathComponent("model.safetensors").path), "no output before the run ends")
        var p = parameters(split); p.loop.resume = true
        var resumedAt: Int?
        let c = try trainTokenizer(p) { e in if case .resumed(let s, _, _) = e { resumedAt = s }; return .proceed }
        XCTAssertEqual(c, .finished(output: split))
        XCTAssertEqual(resumedAt, 3)
        XCTAssertEqual(try Data(contentsOf: split.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: straight.appendingPathComponent("model.safetensors")))
        // A finished output is not replaced without force; bad loop values are refused before any work.
        XCTAssertThrowsError(try trainTokenizer(parameters(straight)) { _ in .proceed }) { XCTAssertEqual($0 as? TrainingError, .outputExists("\(straight.path) (a tokenizer)")) }
        var bad = parameters(dir.appendingPathComponent("bad")); bad.loop.logEvery = 0
        XCTAssertThrowsError(try trainTokenizer(bad) { _ in .proceed }) { XCTAssertEqual(ErrorKind.of($0), .badInput) }
    }
}
