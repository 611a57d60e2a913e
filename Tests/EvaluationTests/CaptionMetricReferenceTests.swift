import XCTest
import Evaluation

/// BLEU, ROUGE-L and CIDEr against pycocoevalcap's own scores of the same corpora (every item, every order).
final class CaptionMetricReferenceTests: XCTestCase {
    func testFixtureCoversTheIntendedCorpora() {
        XCTAssertEqual(Fixtures.captions.corpora.map(\.name), ["motion_captions", "single_item", "empty_candidate", "irregular_spacing", "generated"])
        XCTAssertEqual(Fixtures.corpus("motion_captions").candidates.count, 12)
    }

    func testBleuMatchesPycocoevalcap() throws {
        for c in Fixtures.captions.corpora {
            let s = try bleu(candidates: c.candidates, references: c.references)
            XCTAssertEqual(s.corpus.count, 4)
            for k in 0..<4 { assertClose(s.corpus[k], c.bleu.corpus[k], "\(c.name) corpus BLEU-\(k + 1)") }
            XCTAssertEqual(s.perItem.count, c.candidates.count)
            for (i, (mine, theirs)) in zip(s.perItem, c.bleu.per_item).enumerated() {
                for k in 0..<4 { assertClose(mine[k], theirs[k], "\(c.name) item \(i) BLEU-\(k + 1)") }
            }
        }
    }

    func testRougeLMatchesPycocoevalcap() throws {
        for c in Fixtures.captions.corpora {
            let s = try rougeL(candidates: c.candidates, references: c.references)
            assertClose(s.corpus, c.rouge_l.corpus, "\(c.name) corpus ROUGE-L")
            XCTAssertEqual(s.perItem.count, c.candidates.count)
            for (i, (mine, theirs)) in zip(s.perItem, c.rouge_l.per_item).enumerated() { assertClose(mine, theirs, "\(c.name) item \(i) ROUGE-L") }
        }
    }

    func testCiderMatchesPycocoevalcap() throws {
        for c in Fixtures.captions.corpora {
            let s = try cider(candidates: c.candidates, references: c.references)
            assertClose(s.corpus, c.cider.corpus, "\(c.name) corpus CIDEr")
            XCTAssertEqual(s.perItem.count, c.candidates.count)
            for (i, (mine, theirs)) in zip(s.perItem, c.cider.per_item).enumerated() { assertClose(mine, theirs, "\(c.name) item \(i) CIDEr") }
        }
    }

    /// CIDEr's idf comes from the evaluated corpus: the same item scores differently in a different corpus.
    func testCiderDependsOnTheWholeCorpus() throws {
        let c = Fixtures.corpus("motion_captions")
        let alone = try cider(candidates: Array(c.candidates.prefix(3)), references: Array(c.references.prefix(3)))
        XCTAssertNotEqual(alone.perItem[0], c.cider.per_item[0], accuracy: 1e-3)
    }
}
