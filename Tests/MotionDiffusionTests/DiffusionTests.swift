import Foundation
@testable import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The diffusion schedule, respacing and DDIM steps against the official gaussian_diffusion.py and
/// diffusers' DDIMScheduler (Fixtures/lmm_diffusion.safetensors, made by Tools/fixtures/make_lmm_fixtures.py).
final class DiffusionTests: XCTestCase {
    static let fixture: SafeTensorsFile = try! SafeTensorsFile(url: LMMTestData.fixture("lmm_diffusion.safetensors"))
    func tensor(_ key: String) throws -> Tensor { try Self.fixture.tensor(key).copy() }

    func testScheduleAndRespacingAreTheOfficialOnes() throws {
        let s = NoiseSchedule()
        let ref = try tensor("acp").scalars
        XCTAssertEqual(ref.count, 1000)
        for (a, b) in zip(s.alphasCumprod, ref) { XCTAssertEqual(Float(a), b, accuracy: 1e-6) }
        let respaced = try s.respacedTimesteps(sections: NoiseSchedule.officialSections)
        XCTAssertEqual(respaced, try tensor("respaced").scalars.map { Int($0) })
        XCTAssertEqual(respaced.count, 50)
        XCTAssertThrowsError(try s.respacedTimesteps(sections: [600, 1])) { XCTAssertTrue("\($0)".contains("cannot divide"), "\($0)") }
    }

    func testDDIMStepsEqualDiffusers() throws {
        let s = NoiseSchedule()
        var worst: Float = 0, pairs = 0
        while Self.fixture.names.contains("step.\(pairs).t") {
            let i = pairs
            let t = Int(try tensor("step.\(i).t").item), prev = Int(try tensor("step.\(i).prev").item)
            let out = s.ddimStep(sample: try tensor("step.\(i).x"), predictedX0: try tensor("step.\(i).x0"), timestep: t, previous: prev)
            worst = max(worst, out.maxAbsDifference(try tensor("step.\(i).out")))
            pairs += 1
        }
        print("DDIM: \(pairs) timestep pairs, worst difference from diffusers \(worst)")
        XCTAssertEqual(pairs, 49)
        XCTAssertLessThan(worst, 1e-5)
    }

    func testSamplerRunsTheOfficialLoop() throws {
        // The official ddim_sample_loop with a closed-form model; its last step ends on x0 (alpha_bar_prev 1).
        let noise = try tensor("loop.noise")
        var seen: [Int] = []
        var sampler = try DDIMSampler(noise: noise) { x, t in
            seen.append(t)
            return x.tanh() * 0.7 + 0.0005 * Float(t)
        }
        let result = sampler.run()
        XCTAssertEqual(result.stepsRun, 50)
        XCTAssertFalse(result.stopped)
        XCTAssertEqual(seen, try NoiseSchedule().respacedTimesteps(sections: NoiseSchedule.officialSections).reversed())
        let e = result.latent!.maxAbsDifference(try tensor("loop.out"))
        print("DDIM loop: difference from the official loop \(e)")
        XCTAssertLessThan(e, 1e-5)
    }

    func testSamplerStopsAndKeepsKnownValues() throws {
        var rng = SeededRNG(seed: 4)
        let noise = Tensor.randn([1, 3, 4], rng: &rng)
        let known = Tensor.randn([1, 3, 4], rng: &rng)
        let mask = Tensor([1, 0, 1], shape: [1, 3, 1])
        var inputs: [Tensor] = []
        var sampler = try DDIMSampler(sections: [5], noise: noise, known: known, knownMask: mask) { x, _ in
            inputs.append(x.copy())
            return x * 0.5
        }
        let result = sampler.run { $0.step == 3 ? .stop : .proceed }
        XCTAssertEqual(result.stepsRun, 3)
        XCTAssertTrue(result.stopped)
        // Every model input holds the known frames (0 and 2), scaled to the timestep's signal level.
        let s = NoiseSchedule()
        for (x, t) in zip(inputs, sampler.timesteps) {
            let a = Float(s.alphasCumprod[t].squareRoot())
            for f in [0, 2] { for k in 0..<4 { XCTAssertEqual(x[0, f, k], known[0, f, k] * a, accuracy: 1e-6) } }
        }
        XCTAssertThrowsError(try DDIMSampler(noise: noise, known: Tensor.zeros([1, 2, 4]), knownMask: mask) { x, _ in x })
    }

    func testPartEditingKeepsTheKeptParts() throws {
        // Regenerate the arms only: the result holds the given values of every other part exactly, whatever
        // the model predicts there, and the arms are what the sampler made of them.
        var rng = SeededRNG(seed: 8)
        let known = Tensor.randn([1, 4, 669], rng: &rng)
        var parts = [Float](repeating: 1, count: 40)
        for f in 0..<4 { parts[f * 10 + BodyPart.leftArm.rawValue] = 0; parts[f * 10 + BodyPart.rightArm.rawValue] = 0 }
        let keep = UnifiedMotion.valueMask(Tensor(parts, shape: [1, 4, 10]))
        XCTAssertEqual(keep.shape, [1, 4, 669])
        XCTAssertEqual(Int(keep.sum().item), 4 * (669 - 2 * 48))
        var sampler = try DDIMSampler(sections: [6], noise: Tensor.randn([1, 4, 669], rng: &rng), known: known, knownMask: keep) { x, _ in
            x.tanh() * 0.5
        }
        let out = try XCTUnwrap(sampler.run().latent)
        let (o, k, m) = (out.scalars, known.scalars, keep.scalars)
        var keptWorst: Float = 0, editedMin = Float.infinity
        for i in 0..<o.count {
            if m[i] == 1 { keptWorst = max(keptWorst, abs(o[i] - k[i])) } else { editedMin = min(editedMin, abs(o[i] - k[i])) }
        }
        XCTAssertEqual(keptWorst, 0)
        XCTAssertGreaterThan(editedMin, 0, "edited values come from the sampler, not the input")
    }

    func testMaskedLossCountsOnlyPresentCells() {
        let pred = Tensor.zeros([1, 2, 669]), target = Tensor.ones([1, 2, 669])
        var m = [Float](repeating: 0, count: 20)
        m[0] = 1            // frame 0 root: 7 values
        m[10 + 9] = 1       // frame 1 face: 50 values
        let loss = maskedPartMSE(pred, target, mask: Tensor(m, shape: [1, 2, 10]))
        XCTAssertEqual(loss.item, 1, accuracy: 1e-6)
        target.storage.pointer[669 + 619] = 3  // a face value of frame 1: (57 - 1 + 9) / 57
        XCTAssertEqual(maskedPartMSE(pred, target, mask: Tensor(m, shape: [1, 2, 10])).item, 65.0 / 57, accuracy: 1e-5)
        target.storage.pointer[5] = 100         // frame 0, a root-relative position (head slot, absent): ignored
        XCTAssertEqual(maskedPartMSE(pred, target, mask: Tensor(m, shape: [1, 2, 10])).item, 65.0 / 57, accuracy: 1e-5)
    }
}

/// Guidance and sampling through the real denoiser (random weights, read-out not zero).
final class GuidedSamplingTests: XCTestCase {
    func model() throws -> LargeMotionModel {
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.maxSeqLen = 8; c.textInputDim = 5; c.numCondLayers = 1
        let m = try LargeMotionModel(config: c, seed: 3)
        var rng = SeededRNG(seed: 9)
        for (_, p) in m.namedParameters() where p.shape.count == 2 { p.assign(Tensor.randn(p.shape, std: 0.3, rng: &rng)) }
        m.train(false)
        return m
    }

    func testGuidanceCombinesConditionalAndUnconditionalPasses() throws {
        let m = try model()
        var rng = SeededRNG(seed: 2)
        let x = Tensor.randn([2, 6, 669], rng: &rng)
        let words = Tensor.randn([2, 3, 5], rng: &rng)
        var inp = LMMInputs(timesteps: [600, 600], partMask: Tensor.ones([2, 6, 10]), lengths: [6, 4], fps: [20, 30], datasetIndex: [0, 0],
                            conditions: ["text": ConditionTokens(words: words, present: [1, 1])])
        try Tensor.withNoGrad {
            let cond = try m(x, inp)
            inp.conditions["text"]!.present = [0, 0]
            let uncond = try m(x, inp)
            inp.conditions["text"]!.present = [1, 1]
            let guided = try m(x, inp, guidance: 2)
            let w: Float = 1 + 2 * 600 / 1000
            XCTAssertLessThan(guided.maxAbsDifference(cond * w + uncond * (1 - w)), 1e-4)
            XCTAssertGreaterThan(cond.maxAbsDifference(uncond), 1e-3, "the text must change the prediction")
            XCTAssertLessThan(try m(x, inp, guidance: 0).maxAbsDifference(cond), 1e-5)
        }
    }

    func testSamplerDrivesTheDenoiser() throws {
        let m = try model()
        var rng = SeededRNG(seed: 5)
        let noise = Tensor.randn([1, 5, 669], rng: &rng)
        let inp = LMMInputs(timesteps: [0], partMask: Tensor.ones([1, 5, 10]), lengths: [5], fps: [20], datasetIndex: [0],
                            conditions: ["text": ConditionTokens(words: Tensor.randn([1, 2, 5], rng: &rng), present: [1])])
        var sampler = try m.ddimSampler(noise: noise, inputs: inp, guidance: 1.5, sections: [4])
        let r = sampler.run()
        XCTAssertEqual(r.stepsRun, 4)
        XCTAssertTrue(r.latent!.scalars.allSatisfy(\.isFinite))
        // The last step lands on the model's x0 at t = 0.
        var last = inp; last.timesteps = [0]
        let x0 = try Tensor.withNoGrad { try m(sampler.lastInput!, last, guidance: 1.5) }
        XCTAssertLessThan(r.latent!.maxAbsDifference(x0), 1e-5)
    }
}
