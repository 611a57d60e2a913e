import Foundation
import XCTest
import Evaluation

/// Caption metrics on cases small enough to work out by hand, and their input errors.
final class CaptionMetricTests: XCTestCase {
    /// A 3-word candidate against a 4-word reference containing it: every precision is 1 except 4-grams
    /// (none), the brevity penalty is exp(1 - 4/3).
    func testBleuByHand() throws {
        let s = try bleu(candidates: ["a person walks"], references: [["a person walks forward"]])
        let penalty = exp(1 - 4.0 / 3.0)
        for k in 0..<3 { XCTAssertEqual(s.corpus[k], penalty, accuracy: 1e-8) }
        // No 4-gram: the running product picks up (0 + 1e-15) / (0 + 1e-9) = 1e-6, then the 4th root.
        XCTAssertEqual(s.corpus[3], pow(1e-6, 0.25) * penalty, accuracy: 1e-9)
        XCTAssertEqual(s.perItem, [s.corpus])
    }

    /// Repeated words are clipped at their largest count in any one reference.
    func testBleuClipsRepeatedWords() throws {
        let s = try bleu(candidates: ["the the the the"], references: [["the cat is on the mat", "the dog"]])
        // Unigrams: "the" 4 times, at most 2 in one reference -> 2/4. Closest reference length to 4: 2 (|2-4| = |6-4|, the shorter).
        XCTAssertEqual(s.corpus[0], 0.5, accuracy: 1e-8)
    }

    /// The closest-length tie goes to the shorter reference: a 5-word candidate, references of 4 and 6
    /// words, no brevity penalty; with the longer one BLEU-1 would be exp(1 - 6/5) = 0.82.
    func testBleuClosestLengthTieTakesTheShorter() throws {
        let s = try bleu(candidates: ["a b c d e"], references: [["a b c d", "a b c d e f"]])
        XCTAssertEqual(s.corpus[0], 1, accuracy: 1e-8)
    }

    func testRougeLByHand() throws {
        // LCS("a b c d", "a c e") = 2: P = 2/4, R = 2/3.
        let p = 0.5, r = 2.0 / 3.0, b2 = 1.2 * 1.2
        let s = try rougeL(candidates: ["a b c d"], references: [["a c e"]])
        XCTAssertEqual(s.corpus, (1 + b2) * p * r / (r + b2 * p), accuracy: 1e-12)
        XCTAssertEqual(try rougeL(candidates: ["x y"], references: [["a b"]]).corpus, 0)
    }

    /// rouge.py takes the best precision and the best recall separately, over different references.
    func testRougeLMaximisesPrecisionAndRecallSeparately() throws {
        // "a b": P = 2/4, R = 1. "a b c d e f g h": P = 1, R = 4/8. Separate maxima: P = R = 1.
        let s = try rougeL(candidates: ["a b c d"], references: [["a b", "a b c d e f g h"]])
        XCTAssertEqual(s.corpus, 1, accuracy: 1e-12)
    }

    /// Two items, each candidate equal to its one reference and sharing nothing with the other item: every
    /// idf is log 2, orders 1 and 2 have cosine 1, orders 3 and 4 have no n-grams (0), so 10 * (1+1+0+0)/4.
    func testCiderByHand() throws {
        let s = try cider(candidates: ["a b", "c d"], references: [["a b"], ["c d"]])
        XCTAssertEqual(s.perItem[0], 5, accuracy: 1e-12)
        XCTAssertEqual(s.perItem[1], 5, accuracy: 1e-12)
        XCTAssertEqual(s.corpus, 5, accuracy: 1e-12)
    }

    func testCiderOfOneItemIsZero() throws {
        XCTAssertEqual(try cider(candidates: ["a b c"], references: [["a b c"]]).corpus, 0)
    }

    /// A one-word candidate against a two-word reference: only order 1 matches, times exp(-1 / (2 * 6^2)).
    func testCiderLengthPenaltyByHand() throws {
        let refs = [["a b"], ["c d"]]
        let short = try cider(candidates: ["a", "c d"], references: refs).perItem[0]
        // Order 1: h = {a: log2}, r = {a: log2, b: log2}: cosine 1/sqrt(2); the others 0; delta = 0 - 1.
        XCTAssertEqual(short, 10 * (1 / 2.0.squareRoot()) / 4 * exp(-1.0 / 72), accuracy: 1e-12)
    }

    func testCorpusErrorsNameTheArgument() {
        for f in [{ try bleu(candidates: $0, references: $1) as Any }, { try rougeL(candidates: $0, references: $1) as Any },
                  { try cider(candidates: $0, references: $1) as Any }] as [([String], [[String]]) throws -> Any] {
            XCTAssertThrowsError(try f([], [])) { XCTAssertEqual($0 as? EvaluationError, .empty(argument: "candidates")) }
            XCTAssertThrowsError(try f(["a"], [["a"], ["b"]])) {
                XCTAssertEqual($0 as? EvaluationError, .countMismatch(argument: "references", expected: 1, got: 2))
            }
            XCTAssertThrowsError(try f(["a", "b"], [["a"], []])) { XCTAssertEqual($0 as? EvaluationError, .empty(argument: "references[1]")) }
        }
        XCTAssertThrowsError(try bleu(candidates: ["a"], references: [["a"]], maxOrder: 0))
        XCTAssertThrowsError(try cider(candidates: ["a"], references: [["a"]], sigma: 0))
        XCTAssertEqual(EvaluationError.countMismatch(argument: "references", expected: 1, got: 2).description, "references has 2 elements, expected 1")
    }

    /// A thousand items (a quarter of HumanML3D's test split) must stay quick in a debug build: no quadratic step.
    func testCorpusOfAThousandIsFast() throws {
        let words = ["a", "person", "walks", "forward", "and", "turns", "left", "right", "then", "sits", "down", "slowly", "twice"]
        // Deterministic, varied captions: length 5...14, words from a fixed stride through the list.
        func caption(_ i: Int) -> String { (0..<(5 + i % 10)).map { words[(i * 7 + $0 * 5) % words.count] }.joined(separator: " ") }
        let candidates = (0..<1000).map { caption($0) }
        let references = (0..<1000).map { i in (1...3).map { caption(i * 3 + $0) } }
        let start = Date()
        _ = try bleu(candidates: candidates, references: references)
        _ = try rougeL(candidates: candidates, references: references)
        _ = try cider(candidates: candidates, references: references)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }
}
