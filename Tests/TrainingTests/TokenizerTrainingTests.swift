import Foundation
import MotionData
import MotionVQ
import NeuralNetwork
import TensorEngine
@testable import Training
import XCTest

/// Tokenizer training on the real HumanML3D sample clip (170 frames: a tiny data set, so these check
/// mechanics, not quality).
final class TokenizerTrainingTests: XCTestCase {
    static let sampleDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/humanml3d-sample")

    func sample() throws -> (MotionClips, FeatureNormalizer) {
        let path = Self.sampleDir.appendingPathComponent("new_joint_vecs_012314.npy").path
        let clips = try MotionSources.load([path], split: "train", nfeats: 263)
        return (clips, try MotionSources.normalizer(for: [path], clips: clips))
    }

    func trainer(reset: Bool = true, steps: Int, seed: UInt64 = 5) throws -> TokenizerTrainer {
        let (clips, norm) = try sample()
        var c = VQVAEConfig.tiny(codes: 32, width: 24)
        if !reset { c.quantizer = "ema" }
        var o = TokenizerTrainingOptions()
        o.steps = steps; o.batchSize = 4; o.window = 32; o.learningRate = 2e-3; o.seed = seed
        return try TokenizerTrainer(tokenizer: try MotionTokenizer(model: try VQVAE(config: c, seed: 11), normalizer: norm),
                                    clips: clips, options: o)
    }

    func testLossFallsAndReconstructionImproves() throws {
        let t = try trainer(steps: 120)
        let (clips, _) = try sample()
        let before = try TokenizerTrainer.evaluate(t.tokenizer, clips: clips)
        var losses: [Float] = []
        for _ in 0..<120 { losses.append(t.trainStep().featureLoss) }
        let after = try TokenizerTrainer.evaluate(t.tokenizer, clips: clips)
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, first * 0.7, "reconstruction loss \(first) -> \(last)")
        // 60 steps are too few for the recovered joints (the integrated root rotation drifts early on);
        // the feature error must already fall.
        XCTAssertLessThan(after.featureError, before.featureError * 0.85, "feature error \(before.featureError) -> \(after.featureError)")
    }

    func testResumeFromCheckpointIsBitIdentical() throws {
        let straight = try trainer(steps: 8)
        for _ in 0..<8 { straight.trainStep() }

        let first = try trainer(steps: 8)
        for _ in 0..<4 { first.trainStep() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vq-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try first.save(to: CheckpointStore(directory: dir))

        let resumed = try trainer(steps: 8)
        let state = try XCTUnwrap(CheckpointStore(directory: dir).latestValid())
        try resumed.resume(from: state)
        XCTAssertEqual(resumed.step, 4)
        for _ in 0..<4 { resumed.trainStep() }
        func everything(_ t: TokenizerTrainer) -> [String: [Float]] {
            var out: [String: [Float]] = [:]
            for (k, v) in t.tokenizer.model.namedTensors() { out[k] = v.scalars }
            for (k, v) in t.tokenizer.model.trainingState() { out["ema." + k] = v.scalars }
            for (i, m) in t.optimizer.firstMoments.enumerated() { out["m\(i)"] = m.scalars }
            for (i, v) in t.optimizer.secondMoments.enumerated() { out["v\(i)"] = v.scalars }
            return out
        }
        let a = everything(straight), b = everything(resumed)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(v, b[k], "\(k) differs after resume") }
    }

    func testDeadCodeResetRaisesCodebookUsage() throws {
        let (clips, _) = try sample()
        var used: [Bool: Int] = [:]
        for reset in [true, false] {
            let t = try trainer(reset: reset, steps: 40)
            for _ in 0..<40 { t.trainStep() }
            used[reset] = try TokenizerTrainer.evaluate(t.tokenizer, clips: clips).distinctCodes
        }
        XCTAssertGreaterThan(used[true]!, used[false]!, "distinct codes with reset \(used[true]!), without \(used[false]!)")
    }

    func testBadInputsAreRefused() throws {
        let (clips, norm) = try sample()
        let tok = try MotionTokenizer(model: try VQVAE(config: .tiny(), seed: 1), normalizer: norm)
        var o = TokenizerTrainingOptions(); o.window = 30
        XCTAssertThrowsError(try TokenizerTrainer(tokenizer: tok, clips: clips, options: o)) { XCTAssertTrue("\($0)".contains("multiple of 4")) }
        o.window = 400
        XCTAssertThrowsError(try TokenizerTrainer(tokenizer: tok, clips: clips, options: o)) { XCTAssertTrue("\($0)".contains("at least 400 frames")) }
        XCTAssertThrowsError(try MotionSources.load(["/no/such.npy"], split: "train", nfeats: 263)) { XCTAssertTrue("\($0)".contains("no such file")) }
        let joints = Self.sampleDir.appendingPathComponent("new_joints_012314.npy").path
        XCTAssertThrowsError(try MotionSources.load([joints], split: "train", nfeats: 263)) { XCTAssertTrue("\($0)".contains("[frames, 263]")) }
    }
}
