import Foundation
import XCTest
@testable import TextTokenizer

/// Motion spans written into text and parsed back out of model output, as text and as token ids.
final class MotionSpanTests: XCTestCase {
    let v = MotionVocabulary(codebookSize: 8)   // codes 0..<8, start 8, end 9, pad 10

    func testSpanTextIsMotionGPTsFormat() throws {
        XCTAssertEqual(try v.spanText([3, 0, 7]), "<motion_id_8><motion_id_3><motion_id_0><motion_id_7><motion_id_9>")
        XCTAssertEqual(try v.spanText([]), "<motion_id_8><motion_id_9>")
        XCTAssertThrowsError(try v.spanText([1, 8])) { XCTAssertEqual($0 as? MotionSpanError, .codeOutOfRange(code: 8, codebookSize: 8)) }
        XCTAssertThrowsError(try v.spanText([-1]))
        let p = v.parse(text: try v.spanText([3, 0, 7]))
        XCTAssertEqual(p.spans, [MotionSpan(codes: [3, 0, 7])])
        XCTAssertEqual(p.text, "<Motion_Placeholder>")
        XCTAssertEqual(try p.firstMotion(), [3, 0, 7])
        XCTAssertTrue(p.invalid.isEmpty)
        XCTAssertFalse(p.hasUnterminatedSpan)
    }

    /// (output text, expected spans, expected text, expected invalid count)
    var cases: [(String, [MotionSpan], String, Int)] {
        [
            // Two spans with text around them.
            ("here it is: <motion_id_8><motion_id_1><motion_id_2><motion_id_9> and then <motion_id_8><motion_id_5><motion_id_9>",
             [MotionSpan(codes: [1, 2]), MotionSpan(codes: [5])], "here it is: <Motion_Placeholder> and then <Motion_Placeholder>", 0),
            // Cut off before the end token: codes kept, flagged.
            ("<motion_id_8><motion_id_4><motion_id_4><motion_id_6>", [MotionSpan(codes: [4, 4, 6], terminated: false)], "<Motion_Placeholder>", 0),
            // No start token: the codes still form a span, flagged.
            ("<motion_id_2><motion_id_3><motion_id_9> done", [MotionSpan(codes: [2, 3], started: false)], "<Motion_Placeholder> done", 0),
            // Pads dropped and counted.
            ("<motion_id_8><motion_id_1><motion_id_10><motion_id_10><motion_id_2><motion_id_9>",
             [MotionSpan(codes: [1, 2], padCount: 2)], "<Motion_Placeholder>", 0),
            // Out-of-vocabulary and malformed tags are noted and skipped; the span goes on.
            ("<motion_id_8><motion_id_1><motion_id_11><motion_id_x><motion_id_07><motion_id_2><motion_id_9>",
             [MotionSpan(codes: [1, 2])], "<Motion_Placeholder>", 3),
            // An end with no open span is noted and dropped.
            ("a person walks <motion_id_9>", [], "a person walks", 1),
            // A new start inside an open span closes it as unterminated.
            ("<motion_id_8><motion_id_1><motion_id_8><motion_id_2><motion_id_9>",
             [MotionSpan(codes: [1], terminated: false), MotionSpan(codes: [2])], "<Motion_Placeholder> <Motion_Placeholder>", 0),
            // Text inside an open span ends it (unterminated); spaces between motion tokens do not.
            ("<motion_id_8> <motion_id_1> <motion_id_2> then text", [MotionSpan(codes: [1, 2], terminated: false)], "<Motion_Placeholder> then text", 0),
            // No motion at all.
            ("a person waves with the right hand", [], "a person waves with the right hand", 0),
            // An empty span.
            ("<motion_id_8><motion_id_9>", [MotionSpan(codes: [])], "<Motion_Placeholder>", 0),
            // A tag with no closing bracket is text.
            ("see <motion_id_3", [], "see <motion_id_3", 0),
        ]
    }

    func testParsingText() throws {
        for (output, spans, text, invalid) in cases {
            let p = v.parse(text: output)
            XCTAssertEqual(p.spans, spans, output)
            XCTAssertEqual(p.text, text, output)
            XCTAssertEqual(p.invalid.count, invalid, "\(output): \(p.invalid)")
            XCTAssertEqual(p.hasUnterminatedSpan, spans.contains { !$0.terminated }, output)
        }
        XCTAssertThrowsError(try v.parse(text: "a person waves").firstMotion()) {
            XCTAssertEqual($0 as? MotionSpanError, .noMotion("a person waves"))
        }
        XCTAssertThrowsError(try v.parse(text: "<motion_id_8><motion_id_9>").firstMotion()) { XCTAssertEqual($0 as? MotionSpanError, .emptySpan) }
    }

    /// The same outputs as token ids (encoded with the vocabulary installed) parse to the same spans and
    /// text, and each motion token is exactly one id.
    func testParsingIDsAgreesWithText() throws {
        let tok = try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL("t5like"))
        let first = v.install(in: tok)
        var compared = 0
        for (output, spans, text, _) in cases {
            let ids = tok.encode(output)
            // The test vocabulary has no "<" or "_" pieces, so text spelling a malformed tag does not survive
            // encoding (those cases are covered by the text parser above).
            guard tok.decode(ids).filter({ !$0.isWhitespace }) == output.filter({ !$0.isWhitespace }) else { continue }
            compared += 1
            let p = v.parse(ids: ids, tokenizer: tok)
            XCTAssertEqual(p.spans, spans, output)
            // Only the valid tags are single motion ids; the text parts around them decode as text.
            let motionIDs = ids.filter { (first..<(first + 11)).contains($0) }.map { $0 - first }
            let tags = output.components(separatedBy: "<motion_id_").dropFirst().compactMap { s -> Int? in
                guard let close = s.firstIndex(of: ">") else { return nil }
                return v.index(of: "<motion_id_" + s[...close])
            }
            XCTAssertEqual(motionIDs, tags, output)
            // Text may differ only in how the tokenizer spaces and normalises it.
            XCTAssertEqual(p.text.filter { !$0.isWhitespace }, text.filter { !$0.isWhitespace }, output)
            // Decoding the ids and parsing the text gives the same spans.
            XCTAssertEqual(v.parse(text: tok.decode(ids)).spans, spans, output)
        }
        XCTAssertEqual(compared, 9)
        // Ids beyond the motion range are text (other added tokens); negative ids are invalid.
        let p = v.parse(ids: [first + 8, first + 1, -5, first + 9], firstID: first) { _ in "x" }
        XCTAssertEqual(p.spans, [MotionSpan(codes: [1])])
        XCTAssertEqual(p.invalid, ["id -5"])
        // Without the motion vocabulary installed nothing is motion.
        let plain = try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL("t5like"))
        XCTAssertTrue(v.parse(ids: plain.encode("a person walks"), tokenizer: plain).spans.isEmpty)
    }
}
