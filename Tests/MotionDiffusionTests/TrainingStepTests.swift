import Foundation
@testable import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The training step's randomness and loss, and that AdamW on it fits real CMU motion.
final class TrainingStepTests: XCTestCase {
    func testRandomMaskingMasksARandomShareAndNeverUnmasks() {
        var rng = SeededRNG(seed: 1)
        var m = [Float](repeating: 1, count: 400 * 20 * 10)
        for i in stride(from: 0, to: m.count, by: 7) { m[i] = 0 }  // some cells absent to start with
        let mask = Tensor(m, shape: [400, 20, 10])
        let out = randomlyMasked(mask, rng: &rng)
        let (a, b) = (mask.scalars, out.scalars)
        XCTAssertFalse(zip(a, b).contains { $0 == 0 && $1 == 1 }, "a masked cell came back")
        // r ~ U(0, 1) per sample: the masked share of the present cells is 1/2 on average and spread out.
        var shares: [Double] = []
        for s in 0..<400 {
            let r = (s * 200)..<((s + 1) * 200)
            let present = r.filter { a[$0] == 1 }.count, kept = r.filter { b[$0] == 1 }.count
            shares.append(1 - Double(kept) / Double(present))
        }
        let mean = shares.reduce(0, +) / 400
        XCTAssertEqual(mean, 0.5, accuracy: 0.05)
        XCTAssertLessThan(shares.min()!, 0.1)
        XCTAssertGreaterThan(shares.max()!, 0.9)
    }

    func testAdamWOnTheTrainingLossFitsRealMotion() throws { try fit(experts: 1) }

    /// The same with 4 experts (top-2, cosine gate, gate noise in training) and their balancing loss.
    func testAdamWFitsWithSeveralExperts() throws { try fit(experts: 4) }

    func fit(experts: Int) throws {
        try LMMTestData.requireData()
        let mean = try readNpy(LMMTestData.cmu.appendingPathComponent("Mean.npy")).scalars
        let std = try readNpy(LMMTestData.cmu.appendingPathComponent("Std.npy")).scalars
        let frames = 32
        var rows: [Tensor] = []
        for (_, h) in try LMMTestData.clips(2) {
            let v = h.scalars
            let norm = (0..<(frames * 263)).map { (v[$0] - mean[$0 % 263]) / std[$0 % 263] }
            rows.append(try UnifiedMotion(humanML3D: Tensor(norm, shape: [frames, 263])).features.unsqueezed(0))
        }
        let x0 = Tensor.concat(rows, dim: 0)                                        // [2, 32, 669]
        var mask = [Float](repeating: 0, count: 2 * frames * 10)
        for c in 0..<(2 * frames) { for p in BodyPart.humanML3DParts { mask[c * 10 + p.rawValue] = 1 } }
        let inputs = LMMInputs(timesteps: [0, 0], partMask: Tensor(mask, shape: [2, frames, 10]), lengths: [frames, 28],
                               fps: [20, 20], datasetIndex: [1, 1])
        var c = LMMConfig()
        c.latentPartDim = 8; c.timeEmbedDim = 32; c.numLayers = 1; c.maxSeqLen = frames; c.datasetNames = ["all", "cmu_mocap"]
        c.numExperts = experts; c.topk = min(2, experts)
        let model = try LargeMotionModel(config: c, seed: 2)
        model.train(true)
        let opt = AdamW(parameters: model.parameters(), learningRate: 3e-3, weightDecay: 0)
        var losses: [Float] = []
        for _ in 0..<40 {
            // The same draws every step: a fixed problem, so the loss must fall.
            var rng = SeededRNG(seed: 5)
            let step = try Tensor.withGrad { try model.trainingLoss(x0, inputs, rng: &rng) }
            XCTAssertTrue(step.loss.item.isFinite)
            XCTAssertGreaterThan(step.templateKL, 0)
            if experts > 1 { XCTAssertGreaterThan(step.routing, 0) } else { XCTAssertEqual(step.routing, 0) }
            losses.append(step.reconstruction)
            opt.zeroGrad()
            step.loss.backward()
            opt.update()
        }
        print("LMM training, \(experts) expert(s): reconstruction \(losses[0]) -> \(losses.last!)")
        XCTAssertLessThan(losses.last!, 0.5 * losses[0])
    }
}
