import Foundation
import XCTest

/// The help text is pinned (reviewed like code: regenerate with MOTIONGPT_UPDATE_GOLDEN=1 and read the
/// diff), every command shows an example, and the bundled model is found from any working directory.
final class HelpAndModelLookupTests: XCTestCase {
    static let golden = CLITests.repoRoot.appendingPathComponent("Tests/CLITests/Golden/help.txt")
    static let commands: [[String]] = [[], ["generate"], ["caption"], ["predict"], ["inbetween"], ["edit"], ["chat"], ["convert"], ["render"],
                                       ["tokenize"], ["detokenize"], ["lm"], ["embed"], ["train"], ["train", "tokenizer"], ["train", "pretrain"],
                                       ["train", "instruct"], ["train", "evaluator"], ["train", "lmm"], ["evaluate"], ["metric"], ["metric", "fid"], ["metric", "diversity"],
                                       ["metric", "multimodality"], ["metric", "rprecision"], ["metric", "bleu"], ["metric", "rouge"],
                                       ["metric", "cider"], ["metric", "skating"], ["metric", "jitter"], ["convert-checkpoint"], ["export"], ["bench"], ["fuzz"]]

    func run(_ args: [String], in directory: URL? = nil, environment: [String: String]) throws -> (status: Int32, out: String, err: String) {
        try CLITests.run(args, environment: environment, in: directory)
    }

    func testHelpTextIsPinnedAndEveryCommandHasAnExample() throws {
        var all = ""
        for c in Self.commands {
            let r = try run(["help"] + c, environment: ["COLUMNS": "100", "PATH": "/usr/bin:/bin"])
            XCTAssertEqual(r.status, 0, "\(c): \(r.err)")
            let example = r.out.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("Example:") }
            XCTAssertTrue(example?.contains("motiongpt ") == true, "motiongpt help \(c.joined(separator: " ")) shows no example")
            all += "$ motiongpt help \(c.joined(separator: " "))\n" + r.out + "\n"
        }
        if ProcessInfo.processInfo.environment["MOTIONGPT_UPDATE_GOLDEN"] == "1" {
            try Data(all.utf8).write(to: Self.golden)
        }
        let pinned = try String(contentsOf: Self.golden, encoding: .utf8)
        if pinned != all {
            let a = pinned.split(separator: "\n", omittingEmptySubsequences: false), b = all.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(a, b).enumerated().first { $0.1.0 != $0.1.1 }
            XCTFail("help text differs from Tests/CLITests/Golden/help.txt at line \((first?.offset ?? min(a.count, b.count)) + 1): " +
                    "pinned \"\(first.map { String($0.1.0) } ?? "")\", now \"\(first.map { String($0.1.1) } ?? "")\" (rerun with MOTIONGPT_UPDATE_GOLDEN=1 and review the diff)")
        }
    }

    func testBundledModelIsFoundFromAnotherDirectory() throws {
        let bundled = CLITests.repoRoot.appendingPathComponent("Models/default")
        XCTAssertTrue(FileManager.default.fileExists(atPath: bundled.appendingPathComponent("config.json").path), "the default model ships in Models/default")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("elsewhere-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["PATH": "/usr/bin:/bin"]   // no MOTIONGPT_MODEL
        let g = try run(["generate", "a person walks forward", "-o", "walk.bvh", "--seed", "1"], in: dir, environment: env)
        XCTAssertEqual(g.status, 0, g.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("walk.bvh").path))
        let t = try run(["tokenize", "walk.bvh"], in: dir, environment: env)
        XCTAssertEqual(t.status, 0, t.err)
        XCTAssertFalse(t.out.split(separator: " ").isEmpty)
        // $MOTIONGPT_MODEL comes before the bundled model; a wrong one is an error naming it.
        let e = try run(["caption", "walk.bvh"], in: dir, environment: env.merging(["MOTIONGPT_MODEL": "/no/such/model"]) { $1 })
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.err.contains("/no/such/model"), e.err)
        // An unknown word is named on standard error.
        let u = try run(["generate", "a person pirouettes zzzq", "-o", "u.bvh"], in: dir, environment: env)
        XCTAssertEqual(u.status, 0, u.err)
        XCTAssertTrue(u.err.contains("\"zzzq\""), u.err)
    }
}
