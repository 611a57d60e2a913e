import Foundation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import TextEncoder
@testable import Training
import XCTest

/// The LMM trainer on the real CMU clips with a tiny denoiser: the loss falls, fine-tuning starts from
/// the pretraining output, a stopped run resumes bit for bit, and downsampled clips carry velocities of
/// their own rate.
final class LMMTrainingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let data = root.appendingPathComponent("Data/cmu-mocap-h3d")
    static let textEncoder = root.appendingPathComponent("Models/text-encoder")
    nonisolated(unsafe) static var encoder: SentenceEncoder?

    func sentenceEncoder() throws -> SentenceEncoder {
        if let e = Self.encoder { return e }
        let e = try BertFamily.load(try ModelFolder(Self.textEncoder))
        Self.encoder = e
        return e
    }

    func parameters(_ stage: LMMStage, _ out: URL, steps: Int) throws -> LMMTrainingParameters {
        var p = LMMTrainingParameters(stage: stage, data: Self.data, output: out, textEncoder: Self.textEncoder, steps: steps)
        p.sentenceEncoder = try sentenceEncoder()
        p.config.latentPartDim = 8; p.config.timeEmbedDim = 16; p.config.numLayers = 1; p.config.numCondLayers = 1
        p.config.datasetNames = ["all", "humanml3d"]
        p.options.batchSize = 4; p.options.minFrames = 24; p.options.maxFrames = 40; p.options.warmupSteps = 0
        p.options.learningRate = 1e-2; p.options.cosineFloor = nil
        p.options.downsampleFactors = stage == .pretrain ? [1, 2] : [1]
        p.loop.logEvery = 5; p.loop.checkpointEvery = 5; p.loop.validateEvery = 5
        return p
    }

    func testPretrainThenFinetuneLowersTheValidationErrorAndWritesALoadableFolder() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmm-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var messages: [String] = [], validation: [Float] = []
        func watch(_ e: TrainingEvent) -> IterationControl {
            if case .message(let s) = e { messages.append(s) }
            if case .validation(_, _, let v, _) = e { validation.append(v) }
            return .proceed
        }
        let pre = try parameters(.pretrain, tmp.appendingPathComponent("pre"), steps: 30)
        XCTAssertEqual(try trainLMM(pre, progress: watch), .finished(output: pre.output))
        let before = try XCTUnwrap(messages.first { $0.hasPrefix("before training") }.flatMap { Float($0.split(separator: " ").last!) })
        XCTAssertLessThan(validation.min()!, before * 0.95, "pretraining should lower the val x0 error: \(before) -> \(validation)")
        XCTAssertTrue(messages.first?.contains("at 10 fps") == true, "\(messages)")
        // Pretraining sized the text condition for the longest caption fine-tuning will read.
        XCTAssertGreaterThanOrEqual(try LMMModel.load(directory: pre.output).config.textMaxTokens, 33)
        // Fine-tuning starts from the pretrained folder and reads text.
        var fine = try parameters(.finetune, tmp.appendingPathComponent("fine"), steps: 10)
        fine.initial = pre.output
        messages = []; validation = []
        XCTAssertEqual(try trainLMM(fine, progress: watch), .finished(output: fine.output))
        XCTAssertTrue(messages.first.map { $0.contains("distinct captions") && $0.contains("starting from") } == true, "\(messages)")
        let model = try LMMModel.load(directory: fine.output)
        XCTAssertNotNil(model.textEncoder)
        XCTAssertTrue(model.config.textEncoder!.hasSuffix("Models/text-encoder"), model.config.textEncoder!)
        XCTAssertEqual(model.config.textInputDim, 384)
        // Without --init, fine-tuning is refused with a one-line reason.
        var bad = try parameters(.finetune, tmp.appendingPathComponent("bad"), steps: 1)
        bad.initial = nil
        XCTAssertThrowsError(try trainLMM(bad) { _ in .proceed }) { XCTAssertTrue("\($0)".contains("--init"), "\($0)") }
    }

    func testStoppedRunResumesBitForBit() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lmm-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let whole = try parameters(.pretrain, tmp.appendingPathComponent("whole"), steps: 10)
        XCTAssertEqual(try trainLMM(whole) { _ in .proceed }, .finished(output: whole.output))
        var p = try parameters(.pretrain, tmp.appendingPathComponent("resumed"), steps: 10)
        let first = try trainLMM(p) { e in
            if case .checkpoint(let step, _) = e, step == 5 { return .stop }
            return .proceed
        }
        guard case .stopped(step: 5, _) = first else { return XCTFail("expected a stop at step 5, got \(first)") }
        p.loop.resume = true
        XCTAssertEqual(try trainLMM(p) { _ in .proceed }, .finished(output: p.output))
        let a = try SafeTensorsFile(url: whole.output.appendingPathComponent("model.safetensors"))
        let b = try SafeTensorsFile(url: p.output.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(a.names.sorted(), b.names.sorted())
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
    }

    /// Every second frame, features extracted again: per-frame root displacement about doubles, the
    /// pose (root-relative positions) stays.
    func testDownsampledClipsHaveVelocitiesOfTheirRate() throws {
        let identity = try FeatureNormalizer(mean: [Float](repeating: 0, count: 669), std: [Float](repeating: 1, count: 669))
        var table: [String] = []
        let sets = try LMMTrainer.loadClips(Self.data, split: "test", normalizer: identity, factors: [1, 2], mirror: false, captions: false, minFrames: 40, table: &table)
        let full = sets[0][0]
        let half = try XCTUnwrap(sets[1].first { $0.name == full.name })
        XCTAssertEqual(full.fps, 20); XCTAssertEqual(half.fps, 10)
        func speed(_ c: LMMClip) -> Double {
            let x = c.features.scalars, n = c.features.shape[0]
            var sum = 0.0
            for f in 0..<n {
                let vx = x[f * 669 + 1], vz = x[f * 669 + 2]
                sum += Double((vx * vx + vz * vz).squareRoot())
            }
            return sum / Double(n)
        }
        let ratio = speed(half) / speed(full)
        XCTAssertEqual(ratio, 2, accuracy: 0.25, "root speed per frame at 10 fps / at 20 fps")
        // Frame 2i at 20 fps is frame i at 10 fps: the same pose (root-relative joint 10's position).
        let d = 669, j = 4 + 9 * 3
        for i in [0, 5, 10] {
            for k in 0..<3 { XCTAssertEqual(half.features.scalars[i * d + j + k], full.features.scalars[2 * i * d + j + k], accuracy: 0.02) }
        }
    }
}
