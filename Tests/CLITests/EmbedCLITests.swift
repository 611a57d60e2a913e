import Foundation
import XCTest

/// `motiongpt embed` with the bundled Models/text-encoder.
final class EmbedCLITests: XCTestCase {
    func testEmbedPrintsOneNormalisedVectorPerText() throws {
        // A bogus MOTIONGPT_MODEL must not matter: embed has its own default.
        let r = try CLITests.run(["embed", "a person walks forward", "a man strolls ahead"],
                                 environment: ["PATH": "/usr/bin:/bin", "MOTIONGPT_MODEL": "/nonexistent"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let vectors = lines.map { $0.split(separator: " ").map { Float(String($0))! } }
        for v in vectors {
            XCTAssertEqual(v.count, 384)
            XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
        }
        let cos = zip(vectors[0], vectors[1]).reduce(0) { $0 + $1.0 * $1.1 }
        XCTAssertGreaterThan(cos, 0.4, "a walk and a stroll should be near")
        XCTAssertEqual(r.err, "")
    }

    func testJSONTokensAndTruncationNote() throws {
        let long = String(repeating: "a person walks forward ", count: 80)
        let r = try CLITests.run(["embed", "walks", long, "--json", "--tokens"], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 0, r.err)
        let items = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
        XCTAssertEqual(items.count, 2)
        let tokens = try XCTUnwrap(items[0]["tokens"] as? [[String: Any]])
        XCTAssertEqual(tokens.map { $0["token"] as? String }, ["[CLS]", "walks", "[SEP]"])
        XCTAssertEqual((tokens[1]["features"] as? [Any])?.count, 384)
        XCTAssertEqual(items[1]["truncated"] as? Bool, true)
        XCTAssertEqual((items[1]["tokens"] as? [Any])?.count, 256)
        XCTAssertTrue(r.err.contains("text 2 has 322 tokens; cut to 256"), r.err)
    }

    func testMissingModelIsOneLine() throws {
        let r = try CLITests.run(["embed", "x", "--model", "/nonexistent/folder"], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertTrue(r.err.contains("/nonexistent/folder"), r.err)
    }
}
