import Foundation
import Generation
import ModelHub
import MotionData
import MotionT5
import MotionVQ
import NeuralNetwork
import TensorEngine
@testable import Training
import XCTest

/// The language-model stages resume from a checkpoint exactly as if never stopped.
final class LMResumeTests: XCTestCase {
    func tinyModel() throws -> MotionGPTModel {
        var t5 = T5Config()
        t5.vocabSize = 1100 + 11; t5.dModel = 16; t5.dKv = 4; t5.dFf = 24; t5.numLayers = 1; t5.numHeads = 2
        t5.feedForwardProj = "gated-gelu"; t5.tieWordEmbeddings = false; t5.dropoutRate = 0.1   // dropout on: masks must resume too
        let vq = try VQVAE(config: .tiny(codes: 8, width: 8), seed: 1)
        let norm = try FeatureNormalizer(mean: [Float](repeating: 0, count: 263), std: [Float](repeating: 1, count: 263))
        return try MotionGPTModel(lm: try T5Model(config: t5, seed: 2), spieceData: try Data(contentsOf: ThreeStageTests.spiece),
                                  motionTokenizer: try MotionTokenizer(model: vq, normalizer: norm))
    }

    func trainer(_ model: MotionGPTModel) throws -> LMTrainer {
        var o = LMTrainingOptions(); o.steps = 6; o.batchSize = 3; o.learningRate = 1e-2; o.seed = 7
        let examples = (0..<5).map { MotionTextExample(name: "m\($0)", codes: [$0, 7 - $0, 3, $0], frames: 16, caption: "a person jumps \($0) times") }
        let tasks = MotionLanguageTasks(model: model, templates: try TaskTemplates.bundled())
        return try LMTrainer(model: model, options: o) { rng, n in
            try (0..<n).map { _ in try tasks.instructPair(examples[rng.nextInt(examples.count)], rng: &rng) }
        }
    }

    func testResumedStageEqualsAnUninterruptedOne() throws {
        let straight = try trainer(try tinyModel())
        for _ in 0..<6 { try straight.trainStep() }
        let first = try trainer(try tinyModel())
        for _ in 0..<3 { try first.trainStep() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lm-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try first.save(to: CheckpointStore(directory: dir), stage: "instruct")
        let resumed = try trainer(try tinyModel())
        try resumed.resume(from: try XCTUnwrap(CheckpointStore(directory: dir).latestValid()))
        XCTAssertEqual(resumed.step, 3)
        var losses: [Float] = []
        for _ in 0..<3 { losses.append(try resumed.trainStep().loss) }
        XCTAssertTrue(losses.allSatisfy(\.isFinite))
        let a = straight.model.lm.namedTensors(), b = resumed.model.lm.namedTensors()
        for ((ka, ta), (kb, tb)) in zip(a, b) { XCTAssertEqual(ka, kb); XCTAssertEqual(ta.scalars, tb.scalars, ka) }
        XCTAssertEqual(straight.optimizer.step, resumed.optimizer.step)
    }
}
