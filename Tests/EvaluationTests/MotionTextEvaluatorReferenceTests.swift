import Foundation
import XCTest
import MotionData
import NeuralNetwork
import TensorEngine
import Training
@testable import Evaluation

/// The evaluator's forward pass, its training loss with gradients, and the retrieval arithmetic
/// against Tools/fixtures/make_evaluator_fixtures.py (PyTorch float64 from the architecture's
/// description; the T2M evaluation code's numpy R-precision and matching score).
final class MotionTextEvaluatorReferenceTests: XCTestCase {
    struct Meta: Decodable {
        struct Retrieval: Decodable { let texts: [[Float]]; let motions: [[Float]]; let top_k: [Double]; let mm_dist: Double }
        let config: MotionTextEvaluatorConfig
        let lengths: [Int]
        let excluded: [[Int]]
        let grads: [String]
        let retrieval: Retrieval
    }

    static let meta = try! JSONDecoder().decode(Meta.self, from: Data(contentsOf: Fixtures.folder.appendingPathComponent("evaluator_reference.json")))
    static let file = try! SafeTensorsFile(url: Fixtures.folder.appendingPathComponent("evaluator_reference.safetensors"))

    func model() throws -> (MotionTextEvaluator, [Tensor]) {
        let f = Self.file
        let normalizer = try FeatureNormalizer(mean: try f.tensor("input.mean").scalars, std: try f.tensor("input.std").scalars)
        let m = try MotionTextEvaluator(config: Self.meta.config, normalizer: normalizer, sentenceEncoder: nil, seed: 99)
        var state: [String: Tensor] = [:]
        for name in f.names where name.hasPrefix("motion.") || name.hasPrefix("text_projection.") { state[name] = try f.tensor(name) }
        try m.load(state: state)      // strict: the fixture's keys are exactly the module's
        let raw = try (0..<Self.meta.lengths.count).map { try f.tensor("input.motion.\($0)") }
        return (m, raw)
    }

    func testMotionAndTextEmbeddingsMatchTorch() throws {
        let (m, raw) = try model()
        let expected = try Self.file.tensor("output.motion_embeddings")
        let batched = try m.embed(motions: raw)                                   // one padded batch
        var alone: [Tensor] = []
        for x in raw { alone.append(try m.embed(motions: [x])) }
        let single = Tensor.concat(alone, dim: 0)
        print("motion embeddings vs torch: batched \(batched.maxAbsDifference(expected)), one at a time \(single.maxAbsDifference(expected))")
        XCTAssertLessThan(batched.maxAbsDifference(expected), 2e-6)
        XCTAssertLessThan(single.maxAbsDifference(expected), 2e-6)
        let texts = m.textEmbeddings(sentenceVectors: try Self.file.tensor("input.sentence_vectors"))
        XCTAssertLessThan(texts.maxAbsDifference(try Self.file.tensor("output.text_embeddings")), 2e-6)
        // No sentence encoder: captions are refused with one line, motions still embed.
        XCTAssertThrowsError(try m.embed(captions: [MotionCaption(text: "walk", tokens: [], start: 0, end: 0)])) {
            XCTAssertTrue("\($0)".contains("no text encoder"), "\($0)")
        }
    }

    func testContrastiveLossAndGradientsMatchTorch() throws {
        let (m, raw) = try model()
        m.train(true)      // dropout 0: training mode changes nothing, but it is the mode the trainer uses
        let normalized = try raw.map { try m.normalizer.normalize($0) }
        let (batch, lengths) = try m.patchBatch(normalized)
        XCTAssertEqual(lengths, Self.meta.lengths.map { $0 / 2 * 2 })
        let motions = m.motionEmbeddings(batch, lengths: lengths)
        let texts = m.textEmbeddings(sentenceVectors: try Self.file.tensor("input.sentence_vectors"))
        let n = raw.count
        var excluded = [[Bool]](repeating: [Bool](repeating: false, count: n), count: n)
        for pair in Self.meta.excluded { excluded[pair[0]][pair[1]] = true }
        let (loss, _) = EvaluatorTrainer.contrastiveLoss(texts: texts, motions: motions, temperature: Self.meta.config.temperature, excluded: excluded)
        let expected = try Self.file.tensor("output.loss").scalars[0]
        XCTAssertEqual(loss.item, expected, accuracy: 2e-5 * max(1, abs(expected)))
        m.zeroGrad()
        loss.backward()
        let params = Dictionary(uniqueKeysWithValues: m.namedParameters())
        for name in Self.meta.grads {
            let g = try XCTUnwrap(params[name]?.grad, name)
            let ref = try Self.file.tensor("grad." + name)
            let scale = max(ref.scalars.map(abs).max()!, 1e-3)
            XCTAssertLessThan(g.maxAbsDifference(ref) / scale, 1e-4, name)
        }
        // Excluding every negative leaves each softmax with its positive only: the loss is 0.
        let all = [[Bool]](repeating: [Bool](repeating: true, count: n), count: n)
        XCTAssertEqual(EvaluatorTrainer.contrastiveLoss(texts: texts, motions: motions, temperature: 0.1, excluded: all).loss.item, 0, accuracy: 1e-6)
    }

    func testRetrievalMatchesTheT2MCode() throws {
        let r = Self.meta.retrieval
        let n = r.texts.count, d = r.texts[0].count
        let texts = Tensor(r.texts.flatMap { $0 }, shape: [n, d]), motions = Tensor(r.motions.flatMap { $0 }, shape: [n, d])
        let got = try EvaluatorCheck.retrieval(texts: texts, motions: motions, topK: 3)
        XCTAssertEqual(got.pool, n)
        for k in 0..<3 { XCTAssertEqual(got.topK[k], r.top_k[k], accuracy: 1e-12, "top-\(k + 1)") }
        XCTAssertEqual(got.mmDist, r.mm_dist, accuracy: 1e-5)
    }
}
