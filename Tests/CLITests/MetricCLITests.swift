import Foundation
import XCTest
import Evaluation
import TensorEngine

/// `motiongpt metric`: numbers checked by hand, against the library, and against pycocoevalcap's fixture;
/// bad input gives exit status 1 and one line.
final class MetricCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-metric-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func npy(_ name: String, _ values: [Float], _ shape: [Int]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try npyData(Tensor(values, shape: shape)).write(to: url)
        return url.path
    }

    private func text(_ name: String, _ lines: [String]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url.path
    }

    private func number(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [Double] {
        let r = try CLITests.run(["metric"] + args)
        XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.out, file: file, line: line)
        return (lines.first ?? "").split(separator: " ").map { Double(String($0)) ?? .nan }
    }

    /// One-dimensional sets: a = {-1, 1} (mean 0, variance 2), b = {3, 7, 5} (mean 5, variance 4), so
    /// FID = 25 + (sqrt 2 - 2)^2.
    func testFIDByHand() throws {
        let a = try npy("a.npy", [-1, 1], [2, 1]), b = try npy("b.npy", [3, 7, 5], [3, 1])
        let fid = try number(["fid", a, b])
        XCTAssertEqual(fid.count, 1)
        XCTAssertEqual(fid[0], 25 + pow(2.0.squareRoot() - 2, 2), accuracy: 1e-12)
    }

    func testDiversityAndMultimodalityAreTheLibrarysSeededValues() throws {
        var rng = SeededRNG(seed: 4)
        let x = Tensor.randn([40, 8], rng: &rng), groups = Tensor.randn([3, 5, 8], rng: &rng)
        let xp = try npy("x.npy", x.scalars, x.shape), gp = try npy("g.npy", groups.scalars, groups.shape)
        XCTAssertEqual(try number(["diversity", xp, "--times", "50", "--seed", "7"]), [try ProtocolMetrics.diversity(x, times: 50, seed: 7)])
        let split = (0..<3).map { Tensor(Array(groups.scalars[($0 * 40)..<(($0 + 1) * 40)]), shape: [5, 8]) }
        XCTAssertEqual(try number(["multimodality", gp, "--seed", "2"]), [try ProtocolMetrics.multimodality(split, times: 10, seed: 2)])
    }

    /// Texts at 0, 10, 20, 30 and motions at 6, 17, 24, 34 on a line (no ties, so the shuffle does not
    /// matter): texts 0 and 3 find their own motion first, texts 1 and 2 second. MM-Dist (6 + 7 + 4 + 4) / 4.
    func testRPrecisionByHand() throws {
        let t = try npy("t.npy", [0, 10, 20, 30], [4, 1]), m = try npy("m.npy", [6, 17, 24, 34], [4, 1])
        let r = try CLITests.run(["metric", "rprecision", t, m, "--seed", "5"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "0.5 1.0 1.0 5.25\n")
        XCTAssertEqual(r.err, "rprecision: 1 pool of 4 rows, 0 of 4 rows dropped; printed: top-1..top-3, MM-Dist\n")
        XCTAssertEqual(try number(["rprecision", t, m, "--top-k", "1", "--pool", "2", "--seed", "1"]).count, 2)
    }

    /// BLEU, ROUGE-L and CIDEr from files equal pycocoevalcap's corpus scores in the Evaluation fixture:
    /// the fixture's already-tokenised captions go through captionTokens unchanged.
    func testCaptionMetricsMatchPycocoevalcap() throws {
        let url = CLITests.repoRoot.appendingPathComponent("Tests/EvaluationTests/Fixtures/caption_metrics.json")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let corpora = try XCTUnwrap(json["corpora"] as? [[String: Any]])
        let corpus = try XCTUnwrap(corpora.first { $0["name"] as? String == "motion_captions" })
        let candidates = try XCTUnwrap(corpus["candidates"] as? [String])
        let references = try XCTUnwrap(corpus["references"] as? [[String]])
        let bleu = try XCTUnwrap((corpus["bleu"] as? [String: Any])?["corpus"] as? [Double])
        let rouge = try XCTUnwrap((corpus["rouge_l"] as? [String: Any])?["corpus"] as? Double)
        let cider = try XCTUnwrap((corpus["cider"] as? [String: Any])?["corpus"] as? Double)
        // Reference file k holds each item's k-th reference, or an empty line when it has fewer.
        let most = references.map(\.count).max()!
        XCTAssertGreaterThan(most, references.map(\.count).min()!, "items with different reference counts")
        var args = ["--hyp", try text("hyp.txt", candidates)]
        for k in 0..<most { args += ["--ref", try text("ref\(k).txt", references.map { k < $0.count ? $0[k] : "" })] }
        let b = try number(["bleu"] + args)
        XCTAssertEqual(b.count, 4)
        for (x, e) in zip(b, bleu) { XCTAssertEqual(x, e, accuracy: 1e-9) }
        XCTAssertEqual(try number(["rouge"] + args)[0], rouge, accuracy: 1e-9)
        XCTAssertEqual(try number(["cider"] + args)[0], cider, accuracy: 1e-9)
    }

    /// A foot gliding at 1 m/s, 1 cm above the floor, skates at every step; the same motion has the jerk
    /// of straight-line motion, 0.
    func testSkatingAndJitterOfAMotionFile() throws {
        var values: [Float] = []
        for t in 0..<10 { for j in 0..<22 { values += j == 10 ? [Float(t) / 20, 0.01, 0] : [0, 0.9, 0] } }
        let p = try npy("glide.npy", values, [10, 22, 3])
        XCTAssertEqual(try number(["skating", p])[0], 1, accuracy: 1e-12)
        XCTAssertEqual(try number(["jitter", p])[0], 0, accuracy: 1e-3)
    }

    func testBadInputExitsWithOneLine() throws {
        let a = try npy("a.npy", [1, 2, 3, 4, 5, 6], [3, 2]), wide = try npy("w.npy", [Float](repeating: 1, count: 9), [3, 3])
        let vector = try npy("v.npy", [1, 2, 3], [3]), short = try npy("s.npy", [1, 2, 3, 4], [2, 2])
        let nan = try npy("n.npy", [1, .nan, 3, 4, 5, 6], [3, 2])
        let hyp = try text("h.txt", ["a person walks", "a person runs"]), ref1 = try text("r.txt", ["someone walks"])
        let missing = dir.appendingPathComponent("missing.npy").path
        let cases: [([String], String)] = [
            (["fid", a, missing], "\(missing): no such file"),
            (["fid", a, vector], "\(vector): embeddings must be [N, D], got [3]"),
            (["fid", a, wide], "\(wide): embeddings have width 3, \(a) has 2"),
            (["fid", a, nan], "\(nan): row 0, column 1 is not finite"),
            (["diversity", a, "--times", "0"], "--times: 0 must be at least 1"),
            (["multimodality", a], "\(a): embeddings must be [texts, samples, D], got [3, 2]"),
            (["rprecision", a, short], "\(short) has 2 rows, \(a) has 3"),
            (["rprecision", a, a, "--pool", "2"], "--top-k: 3 must be between 1 and the pool size 2"),
            (["bleu", "--hyp", hyp, "--ref", ref1], "\(ref1): 1 lines, \(hyp) has 2"),
            (["cider", "--hyp", hyp], "no references: pass --ref FILE (once per reference of each item)"),
            (["skating", missing], "\(missing): no such file"),
        ]
        for (args, message) in cases {
            let r = try CLITests.run(["metric"] + args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.out) \(r.err)")
            XCTAssertEqual(r.err, "Error: \(message)\n", "\(args)")
            XCTAssertEqual(r.out, "", "\(args)")
        }
    }
}
