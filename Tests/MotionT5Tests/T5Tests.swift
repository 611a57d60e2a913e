import Foundation
@testable import Generation
import ModelHub
@testable import MotionT5
import NeuralNetwork
import TensorEngine
import XCTest

/// max|a - b| / max(max|b|, 1)
private func relErr(_ a: Tensor, _ b: Tensor) -> Float {
    XCTAssertEqual(a.shape, b.shape)
    return a.maxAbsDifference(b) / max(b.scalars.map { abs($0) }.max() ?? 0, 1)
}

/// One fixture folder of Tools/fixtures/make_t5_fixtures.py and its expectations.
private struct T5Fixture {
    let model: T5Model
    let expected: SafeTensorsFile

    init(_ name: String) throws {
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
        model = try T5Model.load(directory: dir)
        expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
    }

    func ints(_ name: String) throws -> [[Int]] {
        let t = try expected.tensor(name)
        let (r, c) = (t.shape[0], t.shape[1])
        let v = t.scalars
        return (0..<r).map { i in (0..<c).map { Int(v[i * c + $0]) } }
    }

    /// Generated rows without the start token and without the padding after the end.
    func generations(_ name: String, fill: Int) throws -> [[Int]] {
        try ints(name).map { row in
            var out = Array(row.dropFirst())
            if let eos = out.firstIndex(of: model.config.eosTokenId) { out = Array(out[...eos]) }
            else { while out.last == fill && out.count > 0 && fill == model.config.eosTokenId { out.removeLast() } }
            return out
        }
    }
}

final class T5Tests: XCTestCase {
    func checkForwardAndTraining(_ name: String) throws {
        let f = try T5Fixture(name)
        let ids = try f.ints("input_ids"), mask = try f.ints("attention_mask"), labels = try f.ints("labels")
        try Tensor.withNoGrad {
            let enc = f.model.encode(ids, mask: mask)
            XCTAssertLessThan(relErr(enc, try f.expected.tensor("encoder_output")), 1e-4, "\(name) encoder output")
            XCTAssertEqual(f.model.shiftRight(labels), try f.ints("decoder_input_ids"))
            let logits = f.model.decode(f.model.shiftRight(labels), encoderOutput: enc, encoderMask: mask)
            XCTAssertLessThan(relErr(logits, try f.expected.tensor("logits")), 1e-4, "\(name) logits")
        }
        f.model.train()
        let (loss, _) = f.model.loss(inputIds: ids, attentionMask: mask, labels: labels)
        let refLoss = try f.expected.tensor("loss").item
        XCTAssertEqual(loss.item, refLoss, accuracy: 1e-3 * abs(refLoss), "\(name) loss")
        loss.backward()
        let params = Dictionary(uniqueKeysWithValues: f.model.namedParameters())
        var checked = 0
        for key in f.expected.names where key.hasPrefix("grad.") {
            let pname = String(key.dropFirst(5))
            guard let p = params[pname], let g = p.grad else { XCTFail("\(name): no gradient for \(pname)"); continue }
            let ref = try f.expected.tensor(key)
            let rel = g.maxAbsDifference(ref) / max(ref.scalars.map { abs($0) }.max()!, 1e-6)
            XCTAssertLessThan(rel, 1e-3, "\(name) gradient of \(pname)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 6)
    }

    func testReluTiedForwardLossAndGradientsMatchTransformers() throws { try checkForwardAndTraining("t5-relu") }
    func testGatedUntiedForwardLossAndGradientsMatchTransformers() throws { try checkForwardAndTraining("t5-gated") }

    func checkGeneration(_ name: String) throws {
        let f = try T5Fixture(name)
        let ids = try f.ints("input_ids"), mask = try f.ints("attention_mask")
        let prompts = zip(ids, mask).map { row, m in Array(row.prefix(m.reduce(0, +))) }
        let gen = Generator(model: f.model)
        var greedy = GenerationOptions(); greedy.maxNewTokens = 12
        XCTAssertEqual(try gen.generate(prompts, options: greedy), try f.generations("greedy", fill: 0), "\(name) greedy")
        var rep = greedy; rep.repetitionPenalty = 1.3
        XCTAssertEqual(try gen.generate(prompts, options: rep), try f.generations("greedy_repetition_1.3", fill: 0), "\(name) repetition")
        var beam = GenerationOptions(); beam.maxNewTokens = 10; beam.numBeams = 3
        XCTAssertEqual(try gen.generate(prompts, options: beam), try f.generations("beam", fill: f.model.config.eosTokenId), "\(name) beam")
    }

    func testReluGreedyBeamAndRepetitionPenaltyMatchTransformers() throws { try checkGeneration("t5-relu") }
    func testGatedGreedyBeamAndRepetitionPenaltyMatchTransformers() throws { try checkGeneration("t5-gated") }

    /// F16 and int8 weights in memory (Float32 compute): greedy ids equal transformers' on the
    /// fixtures (made with Float32 weights), logits close to the Float32 path's.
    func checkCompactWeights(_ name: String, _ format: CompactMatrix.Format, logitTolerance: Float) throws {
        let f = try T5Fixture(name)
        let ids = try f.ints("input_ids"), mask = try f.ints("attention_mask"), labels = try f.ints("labels")
        let full = Tensor.withNoGrad {
            f.model.decode(f.model.shiftRight(labels), encoderOutput: f.model.encode(ids, mask: mask), encoderMask: mask)
        }
        let bytes = f.model.useCompactWeights(format)
        XCTAssertEqual(f.model.compactWeightFormat, format)
        XCTAssertGreaterThan(bytes, 0)
        let compact = Tensor.withNoGrad {
            f.model.decode(f.model.shiftRight(labels), encoderOutput: f.model.encode(ids, mask: mask), encoderMask: mask)
        }
        let diff = relErr(compact, full)
        print("\(name) \(format): logits within \(diff) of the Float32 path (relative to the largest)")
        XCTAssertGreaterThan(diff, 0, "the compact weights were not used")
        XCTAssertLessThan(diff, logitTolerance)
        let prompts = zip(ids, mask).map { row, m in Array(row.prefix(m.reduce(0, +))) }
        var greedy = GenerationOptions(); greedy.maxNewTokens = 12
        XCTAssertEqual(try Generator(model: f.model).generate(prompts, options: greedy), try f.generations("greedy", fill: 0), "\(name) \(format) greedy")
        // Training still sees the Float32 weights: the loss equals transformers'.
        f.model.train()
        let (loss, _) = f.model.loss(inputIds: ids, attentionMask: mask, labels: labels)
        XCTAssertEqual(loss.item, try f.expected.tensor("loss").item, accuracy: 1e-3 * abs(try f.expected.tensor("loss").item))
    }

    func testF16WeightsKeepGreedyOutputs() throws {
        try checkCompactWeights("t5-relu", .f16, logitTolerance: 2e-3)
        try checkCompactWeights("t5-gated", .f16, logitTolerance: 2e-3)
    }

    func testInt8WeightsKeepGreedyOutputs() throws {
        try checkCompactWeights("t5-relu", .int8, logitTolerance: 3e-2)
        try checkCompactWeights("t5-gated", .int8, logitTolerance: 3e-2)
    }

    func testCachedDecodingEqualsFullDecoding() throws {
        let f = try T5Fixture("t5-gated")
        let ids = try f.ints("input_ids"), mask = try f.ints("attention_mask")
        let dec = try f.ints("decoder_input_ids")
        Tensor.withNoGrad {
            let enc = f.model.encode(ids, mask: mask)
            let full = f.model.decode(dec, encoderOutput: enc, encoderMask: mask)
            let cache = f.model.makeCache()
            for t in 0..<dec[0].count {
                let step = f.model.decode(dec.map { [$0[t]] }, encoderOutput: enc, encoderMask: mask, cache: cache)
                XCTAssertLessThan(step.maxAbsDifference(full.slice(dim: 1, t, t + 1)), 1e-4, "position \(t)")
            }
        }
    }

    func testRelativePositionBuckets() {
        // Values of transformers' _relative_position_bucket(num_buckets=32, max_distance=128).
        let bidirectional: [Int: Int] = [0: 0, 1: 17, -1: 1, 7: 23, -8: 8, 12: 25, -20: 10, 127: 31, -200: 15, 64: 30]
        for (rp, b) in bidirectional {
            XCTAssertEqual(relativePositionBucket(rp, bidirectional: true, numBuckets: 32, maxDistance: 128), b, "bidirectional \(rp)")
        }
        let causal: [Int: Int] = [0: 0, 5: 0, -5: 5, -15: 15, -16: 16, -40: 23, -127: 31, -1000: 31]
        for (rp, b) in causal {
            XCTAssertEqual(relativePositionBucket(rp, bidirectional: false, numBuckets: 32, maxDistance: 128), b, "causal \(rp)")
        }
    }

    func testSaveAndReloadGivesSameOutputs() throws {
        var config = T5Config()
        config.vocabSize = 40; config.dModel = 16; config.dKv = 4; config.dFf = 24; config.numLayers = 1
        config.numDecoderLayers = 2; config.numHeads = 2; config.feedForwardProj = "gated-gelu"
        config.tieWordEmbeddings = false; config.dropoutRate = 0
        let model = try T5Model(config: config, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("t5-save-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(directory: dir)
        XCTAssertThrowsError(try model.save(directory: dir), "no overwrite without force")
        let reloaded = try T5Model.load(directory: dir)
        XCTAssertEqual(reloaded.config, model.config)
        Tensor.withNoGrad {
            let a = model.decode([[0, 5]], encoderOutput: model.encode([[3, 4, 1]]))
            let b = reloaded.decode([[0, 5]], encoderOutput: reloaded.encode([[3, 4, 1]]))
            XCTAssertEqual(a.scalars, b.scalars)
        }
    }

    func testBadInputsAreRefused() throws {
        let f = try T5Fixture("t5-relu")
        let gen = Generator(model: f.model)
        XCTAssertThrowsError(try gen.generate([[]])) { XCTAssertTrue("\($0)".contains("empty")) }
        XCTAssertThrowsError(try gen.generate([[5, 999]])) { XCTAssertTrue("\($0)".contains("999")) }
        var o = GenerationOptions(); o.maxNewTokens = 0
        XCTAssertThrowsError(try gen.generate([[5]], options: o))
        o = GenerationOptions(); o.topP = 0
        XCTAssertThrowsError(try gen.generate([[5]], options: o))
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-model-\(UUID().uuidString)")
        XCTAssertThrowsError(try T5Model.load(directory: missing)) { XCTAssertTrue("\($0)".contains("config.json")) }
        // Sizes no machine holds are refused before anything is allocated.
        var huge = T5Config(); huge.dModel = 1_000_000_000_000
        XCTAssertThrowsError(try T5Model(config: huge)) { XCTAssertTrue("\($0)".contains("d_model")) }
        huge = T5Config(); huge.vocabSize = 3_000_000; huge.dModel = 16_384
        XCTAssertThrowsError(try T5Model(config: huge)) { XCTAssertTrue("\($0)".contains("billion")) }
    }

    func testSamplingIsSeededAndTopKOneIsGreedy() throws {
        let f = try T5Fixture("t5-gated")
        let gen = Generator(model: f.model)
        var o = GenerationOptions(); o.maxNewTokens = 8; o.doSample = true; o.seed = 42; o.temperature = 1.5
        let a = try gen.generate([[5, 6, 7, 1]], options: o), b = try gen.generate([[5, 6, 7, 1]], options: o)
        XCTAssertEqual(a, b, "same seed, same tokens")
        o.topK = 1
        var greedy = GenerationOptions(); greedy.maxNewTokens = 8
        XCTAssertEqual(try gen.generate([[5, 6, 7, 1]], options: o), try gen.generate([[5, 6, 7, 1]], options: greedy))
        o.topK = 0; o.topP = 1e-6
        XCTAssertEqual(try gen.generate([[5, 6, 7, 1]], options: o), try gen.generate([[5, 6, 7, 1]], options: greedy), "tiny top-p keeps one token")
    }
}

final class T5ResizeTests: XCTestCase {
    func testResizeKeepsOldRowsAndTheModelRuns() throws {
        var config = T5Config()
        config.vocabSize = 30; config.dModel = 8; config.dKv = 4; config.dFf = 16; config.numLayers = 1
        config.numHeads = 2; config.feedForwardProj = "gated-gelu"; config.tieWordEmbeddings = false; config.dropoutRate = 0
        let model = try T5Model(config: config, seed: 1)
        let before = model.shared.weight.scalars
        let encBefore = Tensor.withNoGrad { model.encode([[3, 4, 1]]) }
        try model.resizeTokenEmbeddings(30 + 515)
        XCTAssertEqual(model.config.vocabSize, 545)
        XCTAssertEqual(model.shared.weight.shape, [545, 8])
        XCTAssertEqual(Array(model.shared.weight.scalars.prefix(before.count)), before)
        XCTAssertEqual(model.namedTensors().first { $0.0 == "lm_head.weight" }?.1.shape, [545, 8])
        Tensor.withNoGrad {
            XCTAssertEqual(model.encode([[3, 4, 1]]).scalars, encBefore.scalars, "old tokens encode as before")
            let logits = model.decode([[0]], encoderOutput: model.encode([[3, 540, 1]]))
            XCTAssertEqual(logits.shape, [1, 1, 545])
            XCTAssertTrue(logits.scalars.allSatisfy { $0.isFinite })
        }
        // New rows are drawn near the old rows' statistics, not zeros or huge values.
        let newRows = Array(model.shared.weight.scalars.suffix(515 * 8))
        let mean = newRows.reduce(0, +) / Float(newRows.count)
        XCTAssertLessThan(abs(mean), 0.3)
        XCTAssertTrue(newRows.contains { $0 != 0 })
    }
}
