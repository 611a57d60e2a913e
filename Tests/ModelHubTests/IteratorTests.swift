import Foundation
import Generation
import ModelHub
import MotionT5
import NeuralNetwork
import TensorEngine
import XCTest

/// Token iterator, logit processors and streaming; the denoising-iterator protocol.
final class IteratorTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MotionT5Tests/Fixtures/t5-gated")

    func testStreamingSeesEveryTokenAndCanStop() throws {
        let model = try T5Model.load(directory: Self.fixtures)
        let gen = Generator(model: model)
        var o = GenerationOptions(); o.maxNewTokens = 12; o.minNewTokens = 12
        let full = try gen.generate([[5, 6, 7, 1], [9, 1]], options: o)
        var seen: [[Int?]] = []
        let streamed = try gen.generate([[5, 6, 7, 1], [9, 1]], options: o) { seen.append($0.tokens); return .proceed }
        XCTAssertEqual(streamed, full)
        XCTAssertEqual(seen.map { $0.compactMap { $0 } }.count, 12)
        XCTAssertEqual((0..<2).map { i in seen.compactMap { $0[i] } }, full)
        let stopped = try gen.generate([[5, 6, 7, 1], [9, 1]], options: o) { $0.step == 3 ? .stop : .proceed }
        XCTAssertEqual(stopped, full.map { Array($0.prefix(3)) })
        // The iterator itself gives the same tokens step by step.
        let (ids, mask) = try gen.batch([[5, 6, 7, 1], [9, 1]])
        var it = TokenIterator(model: T5LanguageModel(model), ids: ids, mask: mask, options: o)
        var steps = 0
        while it.next() != nil { steps += 1 }
        XCTAssertEqual(steps, 12)
        XCTAssertEqual(it.outputs, full)
        // Beam search streams too, and stops.
        var b = GenerationOptions(); b.maxNewTokens = 6; b.numBeams = 3
        var beamSteps = 0
        _ = try gen.generate([[5, 6, 7, 1]], options: b) { _ in beamSteps += 1; return beamSteps == 2 ? .stop : .proceed }
        XCTAssertEqual(beamSteps, 2)
    }

    func testProcessorsComposeInOrder() {
        var s: [Float] = [2, -2, 1, 0.5, 3]
        RepetitionPenalty(penalty: 2).process(&s, history: [0, 1], generated: 1)
        XCTAssertEqual(s, [1, -4, 1, 0.5, 3])
        AllowedTokens(ranges: [0..<2], alwaysAllowed: [4]).process(&s, history: [], generated: 0)
        XCTAssertEqual(s, [1, -4, -.infinity, -.infinity, 3])
        MinNewTokens(count: 2, endTokens: [4]).process(&s, history: [], generated: 1)
        XCTAssertEqual(s[4], -.infinity)
        var t: [Float] = [1, 2, 3, 4]
        Temperature(value: 2).process(&t, history: [], generated: 0)
        XCTAssertEqual(t, [0.5, 1, 1.5, 2])
        TopK(k: 2).process(&t, history: [], generated: 0)
        XCTAssertEqual(t, [-.infinity, -.infinity, 1.5, 2])
        var p: [Float] = [0, 0, 5, 0]   // one token holds almost all the mass
        TopP(p: 0.9).process(&p, history: [], generated: 0)
        XCTAssertEqual(p, [-.infinity, -.infinity, 5, -.infinity])
    }

    /// A toy sampler that halves its latent each step, driven through the protocol.
    struct Halving: DenoisingIterator {
        var latent = Tensor([8, 4], shape: [2])
        var done = 0
        let totalSteps = 5
        mutating func next() -> DenoisingStep? {
            guard done < totalSteps else { return nil }
            done += 1
            latent = latent.scaled(0.5)
            return DenoisingStep(step: done, totalSteps: totalSteps, timestep: (totalSteps - done) * 200, latent: latent)
        }
    }

    func testDenoisingIteratorRunsReportsAndStops() async {
        var a = Halving()
        var fractions: [Double] = []
        let full = a.run { fractions.append($0.fraction); return .proceed }
        XCTAssertEqual(full.stepsRun, 5); XCTAssertFalse(full.stopped)
        XCTAssertEqual(full.latent?.scalars, [0.25, 0.125])
        XCTAssertEqual(fractions, [0.2, 0.4, 0.6, 0.8, 1.0])
        var b = Halving()
        let early = b.run { $0.step == 2 ? .stop : .proceed }
        XCTAssertEqual(early.stepsRun, 2); XCTAssertTrue(early.stopped)
        XCTAssertEqual(early.latent?.scalars, [2, 1])
        // Cancelling the task stops it after the current step.
        let task = Task { () -> DenoisingResult in
            var c = Halving()
            return c.run { s in if s.step == 3 { withUnsafeCurrentTask { $0?.cancel() } }; return .proceed }
        }
        let cancelled = await task.value
        XCTAssertEqual(cancelled.stepsRun, 3); XCTAssertTrue(cancelled.stopped)
    }
}
