import Foundation
import XCTest

/// The fixtures written by Tools/fixtures/make_caption_metric_fixtures.py (pycocoevalcap).
enum Fixtures {
    static let folder: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    struct CaptionFile: Decodable {
        struct Scores: Decodable { let corpus: Double; let per_item: [Double] }
        struct Bleu: Decodable { let corpus: [Double]; let per_item: [[Double]] }
        struct Corpus: Decodable {
            let name: String
            let candidates: [String]
            let references: [[String]]
            let bleu: Bleu
            let rouge_l: Scores
            let cider: Scores
        }
        let pycocoevalcap: String
        let corpora: [Corpus]
    }

    static let captions: CaptionFile = load("caption_metrics.json")

    static func corpus(_ name: String) -> CaptionFile.Corpus { captions.corpora.first { $0.name == name }! }

    private static func load<T: Decodable>(_ name: String) -> T {
        let data = try! Data(contentsOf: folder.appendingPathComponent(name))
        return try! JSONDecoder().decode(T.self, from: data)
    }
}

/// Relative agreement to `rtol`, with a tiny absolute floor so an expected 0 needs an actual (near) 0.
func assertClose(_ actual: Double, _ expected: Double, rtol: Double = 1e-6, _ message: @autoclosure () -> String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    let ok = abs(actual - expected) <= rtol * abs(expected) + 1e-12
    XCTAssertTrue(ok, "\(actual) vs expected \(expected) \(message())", file: file, line: line)
}
