import Foundation
import XCTest

/// `motiongpt evaluate` end to end through the built binary: the real-motion row with an evaluator in
/// the official T2M layout (the PyTorch-built fixture), text-to-motion and captioning tables of the
/// bundled model in the bundled evaluator's space, the JSON holding every metric of each table, the
/// HTML report, and one-line errors.
final class EvaluateCLITests: XCTestCase {
    var dir: URL!
    let data = CLITests.repoRoot.appendingPathComponent("Data/cmu-mocap-h3d").path
    let officialLayout = CLITests.repoRoot.appendingPathComponent("Tests/EvaluationTests/Fixtures/t2m-evaluator/checkpoints/t2m").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-evaluate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The tables of a JSON file written by `evaluate`.
    func tables(_ path: URL) throws -> [[String: Any]] {
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
        return try XCTUnwrap(body["tables"] as? [[String: Any]])
    }

    /// The metrics of row `row` of `table` by key: each with its mean, interval and one value a repeat.
    func metrics(_ table: [String: Any], row: Int) throws -> [String: [String: Any]] {
        let rows = try XCTUnwrap(table["rows"] as? [[String: Any]])
        return try XCTUnwrap(rows[row]["metrics"] as? [String: [String: Any]])
    }

    func testRealMotionRowWithTheOfficialEvaluatorLayout() throws {
        let json = dir.appendingPathComponent("gt.json")
        let r = try CLITests.run(["evaluate", "--task", "gt", "--data", data, "--evaluator", officialLayout, "--repeat", "2", "--json", json.path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("Real motion"), r.out)
        XCTAssertTrue(r.out.contains("N = 16 clips"), r.out)
        XCTAssertTrue(r.out.contains("pools of 16"), r.out)
        // CMU captions are tagged X: the table says the POS-reading evaluator is not meaningful here.
        XCTAssertTrue(r.out.contains("no part-of-speech tags"), r.out)
        let t = try tables(json)
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t[0]["evaluator"] as? String, "T2M evaluator (Guo et al. 2022)")
        let m = try metrics(t[0], row: 0)
        for key in ["top1", "top2", "top3", "fid", "mm_dist", "diversity", "foot_skating", "jitter"] {
            let values = try XCTUnwrap(m[key]?["values"] as? [Double], "missing \(key)")
            XCTAssertEqual(values.count, 2, key)
            XCTAssertTrue(values.allSatisfy(\.isFinite), key)
        }
        // The same command again refuses to overwrite the JSON.
        let again = try CLITests.run(["evaluate", "--task", "gt", "--data", data, "--evaluator", officialLayout, "--json", json.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("--force"), again.err)
    }

    func testTextToMotionAndCaptioningOfTheBundledModelEndToEnd() throws {
        let bundled = CLITests.repoRoot.appendingPathComponent("Models")
        for m in ["default", "evaluator"] {
            try XCTSkipUnless(FileManager.default.fileExists(atPath: bundled.appendingPathComponent("\(m)/config.json").path), "no bundled \(m) model")
        }
        for task in ["t2m", "m2t"] {
            let json = dir.appendingPathComponent("\(task).json"), html = dir.appendingPathComponent("\(task).html")
            let r = try CLITests.run(["evaluate", "--task", task, "--data", data, "--limit", "4", "--vectors", "8", "--repeat", "2",
                                      "--seed", "3", "--json", json.path, "--report", html.path])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("Real motion") && r.out.contains("MotionGPT (default)"), r.out)
            XCTAssertTrue(r.out.contains("N = 4 clips"), r.out)
            let t = try XCTUnwrap(tables(json).first)
            XCTAssertEqual(t["task"] as? String, task)
            XCTAssertEqual(t["vectorsPerSide"] as? Int, 8)
            let columns = try XCTUnwrap(t["columns"] as? [String])
            let model = try metrics(t, row: 1)
            // Every column of the task is in the model's row, one value a repeat.
            for key in columns {
                let values = try XCTUnwrap(model[key]?["values"] as? [Any], "\(task): missing \(key)")
                XCTAssertEqual(values.count, 2, "\(task) \(key)")
            }
            if task == "t2m" {
                XCTAssertEqual(Set(columns), ["top1", "top2", "top3", "fid", "mm_dist", "diversity", "multimodality", "foot_skating", "jitter"])
                let fid = try XCTUnwrap(model["fid"]?["mean"] as? Double)
                XCTAssertTrue(fid.isFinite && fid >= 0, "\(fid)")
            } else {
                XCTAssertTrue(Set(columns).isSuperset(of: ["top1", "top3", "mm_dist", "bleu1", "bleu4", "rouge_l", "cider"]))
            }
            let page = try String(contentsOf: html, encoding: .utf8)
            XCTAssertTrue(page.contains("<table>") && page.contains("iframe srcdoc"), "report without table or viewers")
        }
    }

    func testBadInputIsOneLine() throws {
        let cases: [([String], String)] = [
            (["evaluate", "--task", "gt", "--data", data, "--evaluator", officialLayout, "--repeat", "0"], "--repeat"),
            (["evaluate", "--task", "gt", "--data", dir.appendingPathComponent("missing").path, "--evaluator", officialLayout], "missing"),
            (["evaluate", "--task", "gt", "--data", data, "--evaluator", dir.path], dir.path),
            (["evaluate", "--task", "gt", "--data", data, "--evaluator", officialLayout, "--limit", "1"], "--limit"),
        ]
        for (args, needle) in cases {
            let r = try CLITests.run(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.out)")
            let lines = r.err.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(needle), "\(args): \(r.err)")
        }
    }
}
