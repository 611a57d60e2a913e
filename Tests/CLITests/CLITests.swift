import Foundation
import XCTest
import MotionT5
import TensorEngine

/// Runs the built `motiongpt` binary the way users and scripts do: exit status, standard output, and
/// one-line errors on standard error.
final class CLITests: XCTestCase {
    static var binary: URL {
        // The test bundle (macOS) or test executable (Linux) sits beside the products of the same build.
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("motiongpt")
        }
        return Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("motiongpt")
    }

    static var repoRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try Self.run(args) }

    /// Runs the binary with `args` (and, when given, only `environment`, in `directory`): exit status,
    /// standard output, standard error.
    static func run(_ args: [String], environment: [String: String]? = nil, in directory: URL? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let environment { p.environment = environment }
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A T5 folder with a real SentencePiece model (the tokenizer fixture) and random weights.
    func makeModelFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-t5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let spiece = Self.repoRoot.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model")
        try FileManager.default.copyItem(at: spiece, to: dir.appendingPathComponent("spiece.model"))
        var c = T5Config()
        c.vocabSize = 1000 + 100 + 4; c.dModel = 16; c.dKv = 4; c.dFf = 24; c.numLayers = 1; c.numHeads = 2
        c.feedForwardProj = "gated-gelu"; c.tieWordEmbeddings = false; c.dropoutRate = 0
        try T5Model(config: c, seed: 1).save(directory: dir)
        try JSONSerialization.data(withJSONObject: ["<motion_id_0>": 1100, "<motion_id_1>": 1101])
            .write(to: dir.appendingPathComponent("added_tokens.json"))
        return dir
    }

    func testVersion() throws {
        let r = try run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertFalse(r.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    func testLMPrintsGeneratedTextAndIsDeterministic() throws {
        let dir = try makeModelFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try run(["lm", "--model", dir.path, "--prompt", "a person walks <motion_id_1> forward", "--max-tokens", "6"])
        XCTAssertEqual(a.status, 0, a.err)
        XCTAssertEqual(a.out.filter { $0 == "\n" }.count, 1, "one line of text: \(a.out)")
        let b = try run(["lm", "--model", dir.path, "--prompt", "a person walks <motion_id_1> forward", "--max-tokens", "6"])
        XCTAssertEqual(a.out, b.out)
        let s = try run(["lm", "--model", dir.path, "--prompt", "jump", "--temperature", "0.8", "--seed", "3", "--max-tokens", "5"])
        XCTAssertEqual(s.status, 0, s.err)
    }

    func testUserErrorsExitWithStatusOneAndOneLine() throws {
        let dir = try makeModelFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for args in [["lm", "--model", "/no/such/folder", "--prompt", "hi"],
                     ["lm", "--model", dir.path, "--prompt", "   "],
                     ["lm", "--model", dir.path, "--prompt", "hi", "--max-tokens", "0"],
                     ["lm", "--model", dir.path, "--prompt", "hi", "--top-p", "2"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.err)")
            XCTAssertEqual(r.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, "\(args): \(r.err)")
            XCTAssertTrue(r.out.isEmpty)
        }
    }
}
