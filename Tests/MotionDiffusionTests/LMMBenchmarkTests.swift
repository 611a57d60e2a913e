import Foundation
@testable import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The LMM benchmark's plumbing at a tiny size (its timings are not tested; `motiongpt bench` prints them):
/// the exchange file the PyTorch side reads holds the whole state under the model's keys and the inputs,
/// and the measured sample is the guided DDIM chain itself.
final class LMMBenchmarkTests: XCTestCase {
    func tiny() throws -> LMMBenchmark.Workload {
        var c = LMMBenchmark.config
        c.latentPartDim = 4
        c.numLayers = 1
        c.numCondLayers = 1
        c.timeEmbedDim = 16
        c.textInputDim = 6
        c.textMaxTokens = 3
        c.maxSeqLen = 12
        var s = LMMBenchmark.Shape()
        s.frames = 10
        s.sections = [3]
        s.trainBatch = 2
        s.trainFrames = 8
        return try LMMBenchmark.Workload(config: c, shape: s, seed: 3)
    }

    func testShippedConfigurationIsValidAndFitsTheBenchShapes() throws {
        let c = LMMBenchmark.config
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual([c.latentDim, c.numLayers, c.timeEmbedDim, c.textInputDim ?? 0, c.numExperts], [320, 4, 512, 384, 1])
        let s = LMMBenchmark.Shape()
        XCTAssertEqual(s.steps, 50)
        XCTAssertLessThanOrEqual(max(s.frames, s.trainFrames), c.maxSeqLen)
    }

    func testExchangeFileReloadsTheSameModelAndInputs() throws {
        let w = try tiny()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lmm-bench-test-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)
        let f = try SafeTensorsFile(url: url)
        var state: [String: Tensor] = [:]
        for k in f.names where k.hasPrefix("param.") { state[String(k.dropFirst(6))] = try f.tensor(k).copy() }
        // A model from another seed, loaded strictly from the file, computes what the benchmark's model does.
        let other = try LargeMotionModel(config: w.model.config, seed: 99)
        try other.load(state: state)
        XCTAssertEqual(try f.tensor("config.latent_part_dim").scalars, [4])
        XCTAssertEqual(try f.tensor("config.guidance_scale").scalars, [w.model.config.guidanceScale])
        XCTAssertEqual(try f.tensor("config.sections").scalars, [3])
        XCTAssertEqual(try f.tensor("in.noise").scalars, w.noise.scalars)
        XCTAssertEqual(try f.tensor("in.train_part_mask").shape, [2, 8, 10])
        var inp = w.samplingInputs
        inp.timesteps = [500]
        let (a, b) = try Tensor.withNoGrad { (try w.model(w.noise, inp, guidance: 5.5), try other(w.noise, inp, guidance: 5.5)) }
        XCTAssertEqual(a.maxAbsDifference(b), 0)
        // The read-out is not the zero init, so the comparison with PyTorch is not of zeros.
        XCTAssertGreaterThan(a.scalars.map(abs).max() ?? 0, 0.01)
    }

    func testSamplingIsTheGuidedChainAndHandsAndFaceAreAbsent() throws {
        let w = try tiny()
        XCTAssertEqual(w.partMask.scalars.prefix(10).map { Int($0) }, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
        let r = try LMMBenchmark.sampling(w)
        XCTAssertEqual(r.steps, 3)
        XCTAssertGreaterThan(r.secondsPerSample, 0)
        var sampler = try w.model.ddimSampler(noise: w.noise, inputs: w.samplingInputs, guidance: w.model.config.guidanceScale, sections: [3])
        let direct = try XCTUnwrap(Tensor.withNoGrad { sampler.run().latent })
        XCTAssertEqual(r.sample.maxAbsDifference(direct), 0)
        var first = w.samplingInputs
        first.timesteps = [999]
        XCTAssertEqual(r.firstStep.maxAbsDifference(try Tensor.withNoGrad { try w.model(w.noise, first, guidance: 5.5) }), 0)
        XCTAssertEqual(LMMBenchmark.agreement(r.sample, direct), 0)
        XCTAssertNil(LMMBenchmark.agreement(r.sample, r.sample.slice(dim: 1, 0, 5)))
    }

    func testTrainingStepLeavesGradientsAndInferenceMode() throws {
        let w = try tiny()
        XCTAssertGreaterThan(try LMMBenchmark.trainingStep(w, minIterations: 1), 0)
        XCTAssertFalse(w.model.isTraining)
        XCTAssertNotNil(w.model.maskToken.grad)
    }

    func testWorkloadWithoutTextIsAnError() {
        var c = LMMBenchmark.config
        c.textInputDim = nil
        XCTAssertThrowsError(try LMMBenchmark.Workload(config: c)) { e in
            XCTAssertEqual("\(e)", "invalid LMM configuration: the benchmark needs a text condition (text_input_dim)")
        }
    }
}
