import Foundation
import XCTest
@testable import TextTokenizer

final class TokenizerAPITests: XCTestCase {
    private func t5() throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL("t5like"))
    }

    func testMotionVocabulary() {
        let v = MotionVocabulary(codebookSize: 512)
        XCTAssertEqual(v.tokens.count, 515)
        XCTAssertEqual(v.tokens.first, "<motion_id_0>")
        XCTAssertEqual(v.startToken, "<motion_id_512>")
        XCTAssertEqual(v.endToken, "<motion_id_513>")
        XCTAssertEqual(v.padToken, "<motion_id_514>")
        XCTAssertEqual(v.token(forCode: 7), "<motion_id_7>")
        XCTAssertNil(v.token(forCode: 512))
        XCTAssertEqual(v.index(of: "<motion_id_513>"), 513)
        XCTAssertNil(v.index(of: "<motion_id_515>"))
        XCTAssertNil(v.index(of: "<motion_id_07>"))
        XCTAssertNil(v.index(of: "<motion_id_>"))
        XCTAssertNil(v.index(of: "motion_id_1"))
        XCTAssertEqual(v.codes(fromIDs: [5, 100, 101, 612, 613, 99], firstID: 100), [0, 1])
    }

    func testAddedTokenIDsAndDecode() throws {
        let tok = try t5()
        let base = tok.baseVocabularySize
        XCTAssertEqual(tok.vocabularySize, base + 100)
        XCTAssertEqual(tok.id(of: "<extra_id_0>"), base + 99)
        XCTAssertEqual(tok.id(of: "<extra_id_99>"), base)
        XCTAssertEqual(tok.eosID, 1)
        XCTAssertEqual(tok.padID, 0)
        XCTAssertEqual(tok.unkID, 2)
        let first = MotionVocabulary(codebookSize: 4).install(in: tok)
        XCTAssertEqual(first, base + 100)
        XCTAssertEqual(tok.vocabularySize, base + 107)
        // Adding again changes nothing; an existing piece keeps its id.
        XCTAssertEqual(tok.addTokens(["<motion_id_0>", "</s>"]), 0)
        XCTAssertEqual(tok.vocabularySize, base + 107)
        XCTAssertEqual(tok.addTokens(["<new>"]), 1)
        XCTAssertEqual(tok.id(of: "<new>"), base + 107)
        XCTAssertEqual(tok.piece(for: base + 107), "<new>")
        XCTAssertNil(tok.piece(for: base + 108))

        let ids = tok.encode("walk <motion_id_4><motion_id_1><motion_id_5> now")
        XCTAssertEqual(Array(ids.suffix(1)), [1])
        XCTAssertEqual(tok.encode("walk", addEOS: false), Array(tok.encode("walk").dropLast()))
        XCTAssertTrue(ids.contains(first + 4) && ids.contains(first + 1) && ids.contains(first + 5))
        XCTAssertEqual(tok.decode(ids), "walk<motion_id_4><motion_id_1><motion_id_5> now")
        XCTAssertEqual(tok.decode(ids, skipSpecialTokens: false), "walk<motion_id_4><motion_id_1><motion_id_5> now</s>")
        XCTAssertTrue(tok.isSpecial(1))
        XCTAssertFalse(tok.isSpecial(first))
        // Out-of-range ids are ignored rather than trapping.
        XCTAssertEqual(tok.decode([-1, 1_000_000]), "")
        XCTAssertEqual(tok.encode(""), [1])
    }

    /// transformers 5's T5Tokenizer prepends "▁" to every word, including text glued to an added token
    /// (what transformers 4 called legacy=True): "walk<extra_id_0>walk" segments both words alike.
    func testTextAfterAddedTokenStartsANewWord() throws {
        let tok = try t5()
        let p = tok.pieces("walk<extra_id_0>walk")
        let i = try XCTUnwrap(p.firstIndex(of: "<extra_id_0>"))
        XCTAssertEqual(Array(p[..<i]), Array(p[(i + 1)...]))
        XCTAssertTrue(p[0].hasPrefix("\u{2581}"))
        // sentencepiece itself knows nothing of added tokens and segments the literal text.
        XCTAssertFalse(tok.piecesSentencePiece("walk<extra_id_0>walk").contains("<extra_id_0>"))
    }

    func testNormalize() throws {
        let tok = try t5()
        XCTAssertEqual(tok.normalize("  ＡＢＣ   def\t"), "\u{2581}ABC\u{2581}def")
        XCTAssertEqual(tok.normalize("   "), "")
        XCTAssertEqual(tok.normalize("ﬁ ½"), "\u{2581}fi\u{2581}1\u{2044}2")
    }

    /// Random text through both paths: no traps, and with byte fallback sentencepiece decoding gives back
    /// the normalised text exactly (nothing becomes <unk>).
    func testRandomTextRoundTrips() throws {
        let bytesTok = try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL("bytefallback"), extraIDs: 0)
        let t5 = try t5()
        MotionVocabulary(codebookSize: 512).install(in: t5)
        var rng = SplitMix64(seed: 7)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x300...0x36F, 0x3040...0x30FF, 0x4E00...0x4FFF,
                                            0xFF00...0xFFEF, 0x1F300...0x1F64F, 0x9...0xD, 0x2000...0x206F]
        for _ in 0..<300 {
            var s = ""
            for _ in 0..<Int(rng.next() % 40) {
                let pool = pools[Int(rng.next() % UInt64(pools.count))]
                let v = pool.lowerBound + UInt32(rng.next() % UInt64(pool.count))
                if v != 0x2581, let u = Unicode.Scalar(v) { s.unicodeScalars.append(u) }
            }
            if rng.next() % 4 == 0 { s += "<motion_id_\(rng.next() % 520)>" }
            let ids = bytesTok.encodeSentencePiece(s)
            // Scalar-level: "▁" plus a combining mark is a single Character.
            var scalars = bytesTok.normalize(s).unicodeScalars.map { $0 == "\u{2581}" ? " " : $0 }
            if scalars.first == " " { scalars.removeFirst() }
            let expected = String(String.UnicodeScalarView(scalars))
            XCTAssertEqual(bytesTok.decodeSentencePiece(ids), expected, s.debugDescription)
            XCTAssertFalse(ids.contains(bytesTok.unkID))
            let t5IDs = t5.encode(s)
            XCTAssertTrue(t5IDs.allSatisfy { $0 >= 0 && $0 < t5.vocabularySize })
            _ = t5.decode(t5IDs)
            _ = bytesTok.decode(bytesTok.encode(s), skipSpecialTokens: false)
        }
    }

    func testLongInputIsFast() throws {
        let tok = try t5()
        let text = String(repeating: "A person walks forward, turns around and waves 3 times. ", count: 400)
        let start = Date()
        let ids = tok.encode(text)
        XCTAssertGreaterThan(ids.count, 4000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(tok.decode(ids), text.trimmingCharacters(in: .whitespaces))
    }
}
