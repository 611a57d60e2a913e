import Foundation
import XCTest
@testable import Evaluation
import MotionData
import TensorEngine

/// The protocol driver (pools, windows, repeats, intervals, table) with two evaluators built here
/// whose right answers are known: one that recognises every clip (R-precision 1, MM-Dist 0) and one
/// that is blind to text (R-precision at chance). The learned evaluators are tested in their own files.
final class ProtocolEvaluationTests: XCTestCase {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Data/cmu-mocap-h3d")

    /// Motions embed as the mean of their root-height, root-velocity and joint-height features over
    /// time (windows of a clip land near the clip); a caption embeds as the clip it was given for.
    final class Oracle: MotionTextEmbedder {
        var evaluatorName = "oracle (test)"
        var embeddingDimension = 8
        var minimumFrames = 4
        var readsPartOfSpeech = false
        var textToMotion: [String: Tensor] = [:]
        var blind = false

        func embed(motions: [Tensor]) throws -> Tensor {
            let d = embeddingDimension
            let out = Tensor.zeros([motions.count, d])
            for (i, m) in motions.enumerated() {
                let t = m.shape[0], w = m.shape[1]
                for f in 0..<t { for k in 0..<d { out.storage.pointer[i * d + k] += m.storage.pointer[f * w + k * 3] / Float(t) } }
            }
            return out
        }

        func embed(captions: [MotionCaption]) throws -> Tensor {
            let d = embeddingDimension
            let out = Tensor.zeros([captions.count, d])
            for (i, c) in captions.enumerated() {
                if blind { out.storage.pointer[i * d] = 1; continue }
                guard let e = textToMotion[c.text] else { throw EvaluationError.invalidValue(argument: c.text, detail: "unknown caption") }
                (out.storage.pointer + i * d).update(from: e.storage.pointer, count: d)
            }
            return out
        }
    }

    /// Test clips whose captions are unique (made so), the oracle knowing each one's whole clip.
    func setUpClips() throws -> ([HeldOutEvaluation.Clip], Oracle) {
        var clips = try HeldOutEvaluation.clips(Self.data, split: "test")
        let oracle = Oracle()
        for i in clips.indices {
            let text = "clip \(clips[i].name)"
            clips[i] = HeldOutEvaluation.Clip(name: clips[i].name, features: clips[i].features, captions: [MotionCaption(text: text, tokens: [], start: 0, end: 0)])
            oracle.textToMotion[text] = try oracle.embed(motions: [clips[i].features])
        }
        return (clips, oracle)
    }

    func testRepeatedMetricIsTheOfficialMeanAndInterval() {
        let m = RepeatedMetric([1, 2, 3, 4])
        XCTAssertEqual(m.mean, 2.5)
        // np.std([1,2,3,4]) = sqrt(1.25); 1.96 * std / sqrt(4)
        XCTAssertEqual(m.interval, 1.96 * 1.25.squareRoot() / 2, accuracy: 1e-12)
        XCTAssertEqual(RepeatedMetric([7]).interval, 0)
    }

    func testAPerfectEvaluatorGivesRPrecisionOneAndABlindOneChance() throws {
        let (clips, oracle) = try setUpClips()
        var s = ProtocolEvaluation.Settings(); s.repeats = 2; s.seed = 5
        let perfect = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s).run(.gt, model: nil)
        let row = try XCTUnwrap(perfect.table.rows.first)
        XCTAssertEqual(perfect.table.clips, 16)
        XCTAssertEqual(perfect.table.poolSize, 16)
        XCTAssertEqual(perfect.table.pools, 1)
        XCTAssertGreaterThanOrEqual(perfect.table.vectorsPerSide, 100)
        XCTAssertEqual(row[.top1]?.mean, 1)
        XCTAssertEqual(row[.mmDist]?.mean ?? 1, 0, accuracy: 1e-6)
        // Two independent window draws of the same clips: FID small but not zero.
        let fid = try XCTUnwrap(row[.fid]?.mean)
        XCTAssertGreaterThan(fid, 0)
        XCTAssertTrue(row[.diversity]!.mean > 0)
        XCTAssertEqual(row[.fid]?.values.count, 2)

        oracle.blind = true
        var s3 = s; s3.repeats = 6
        let blind = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s3).run(.gt, model: nil)
        // Every text at the same point: the ranking of motions is the same for every text, so the
        // matched motion is the nearest for exactly one text of a pool: top-1 = 1/16.
        XCTAssertEqual(blind.table.rows[0][.top1]?.mean ?? 0, 1.0 / 16, accuracy: 1e-9)
        XCTAssertEqual(blind.table.rows[0][.top3]?.mean ?? 0, 3.0 / 16, accuracy: 1e-9)
    }

    func testPoolsAreMinOf32AndNAndTheRemainderIsDropped() throws {
        let (clips, oracle) = try setUpClips()
        var s = ProtocolEvaluation.Settings(); s.repeats = 1; s.poolSize = 5
        let r = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s).run(.gt, model: nil)
        XCTAssertEqual(r.table.poolSize, 5)
        XCTAssertEqual(r.table.pools, 3)   // 16 clips: 3 pools of 5, one left out
        XCTAssertTrue(r.table.formatted().contains("pools of 5 (3 per repeat)"), r.table.formatted())
    }

    func testTheSameSeedGivesTheSameTableAndAnotherSeedAnother() throws {
        let (clips, oracle) = try setUpClips()
        var s = ProtocolEvaluation.Settings(); s.repeats = 1; s.seed = 1
        let a = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s).run(.gt, model: nil)
        let b = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s).run(.gt, model: nil)
        s.seed = 2
        let c = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s).run(.gt, model: nil)
        XCTAssertEqual(a.table.rows[0][.fid], b.table.rows[0][.fid])
        XCTAssertNotEqual(a.table.rows[0][.fid], c.table.rows[0][.fid])
    }

    func testBadSettingsAndTasksWithoutAModelAreErrors() throws {
        let (clips, oracle) = try setUpClips()
        var s = ProtocolEvaluation.Settings(); s.repeats = 0
        XCTAssertThrowsError(try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test", settings: s))
        XCTAssertThrowsError(try ProtocolEvaluation(embedder: oracle, clips: [], data: "cmu", split: "test"))
        let e = try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test")
        XCTAssertThrowsError(try e.run(.t2m, model: nil)) { XCTAssertTrue("\($0)".contains("needs a model"), "\($0)") }
        oracle.minimumFrames = 10_000
        XCTAssertThrowsError(try ProtocolEvaluation(embedder: oracle, clips: clips, data: "cmu", split: "test")) { XCTAssertTrue("\($0)".contains("fewer than"), "\($0)") }
    }
}
