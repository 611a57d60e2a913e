import Foundation
import XCTest
@testable import TextTokenizer

/// Expected outputs written by Tools/fixtures/make_tokenizer_fixtures.py (sentencepiece + transformers).
struct TokenizerFixtures: Decodable {
    struct SPCase: Decodable { let text: String; let ids: [Int]; let pieces: [String]; let decoded: String }
    struct SPDecode: Decodable { let ids: [Int]; let decoded: String }
    struct Model: Decodable {
        let vocab_size: Int
        let unk_id: Int
        let eos_id: Int
        let bos_id: Int
        let pad_id: Int
        let sentencepiece: [SPCase]
        let decode: [SPDecode]
    }
    struct HFCase: Decodable {
        let text: String; let ids: [Int]; let tokens: [String]; let decode_skip: String; let decode_keep: String
    }
    struct HFDecode: Decodable { let ids: [Int]; let decode_skip: String; let decode_keep: String }
    struct T5: Decodable {
        let model: String
        let extra_ids: Int
        let length: Int
        let motion_first_id: Int
        let extra_id_0: Int
        let cases: [HFCase]
        let decode: [HFDecode]
    }
    let codebook_size: Int
    let models: [String: Model]
    let t5: T5

    static let folder: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let shared: TokenizerFixtures = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(TokenizerFixtures.self, from: data)
    }()
    static func modelURL(_ name: String) -> URL { folder.appendingPathComponent("\(name).model") }
}

final class ReferenceParityTests: XCTestCase {
    private func checkSentencePiece(_ name: String) throws {
        let fx = TokenizerFixtures.shared
        let ref = try XCTUnwrap(fx.models[name])
        let tok = try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL(name), extraIDs: 0)
        XCTAssertEqual(tok.baseVocabularySize, ref.vocab_size)
        XCTAssertEqual(tok.unkID, ref.unk_id)
        XCTAssertEqual(tok.eosID ?? -1, ref.eos_id)
        XCTAssertEqual(tok.bosID ?? -1, ref.bos_id)
        XCTAssertEqual(tok.padID ?? -1, ref.pad_id)
        var mismatches: [String] = []
        for c in ref.sentencepiece {
            let ids = tok.encodeSentencePiece(c.text)
            let pieces = tok.piecesSentencePiece(c.text)
            let decoded = tok.decodeSentencePiece(c.ids)
            if ids != c.ids || pieces != c.pieces || decoded != c.decoded {
                mismatches.append("\(c.text.debugDescription): ids \(ids) vs \(c.ids), pieces \(pieces) vs \(c.pieces), "
                                  + "decoded \(decoded.debugDescription) vs \(c.decoded.debugDescription)")
            }
        }
        XCTAssertGreaterThanOrEqual(ref.sentencepiece.count, 500)
        XCTAssertTrue(mismatches.isEmpty, "\(name): \(mismatches.count)/\(ref.sentencepiece.count) differ:\n"
                      + mismatches.prefix(10).joined(separator: "\n"))
        for d in ref.decode {
            XCTAssertEqual(tok.decodeSentencePiece(d.ids), d.decoded, "\(name) decode \(d.ids)")
        }
    }

    func testSentencePieceParityWithoutByteFallback() throws { try checkSentencePiece("t5like") }

    func testSentencePieceParityWithByteFallback() throws { try checkSentencePiece("bytefallback") }

    /// No charsmap, no dummy prefix, whitespace kept: the other branches of the normaliser.
    func testSentencePieceParityIdentityNormalization() throws { try checkSentencePiece("identity") }

    /// transformers' T5Tokenizer.from_pretrained (100 sentinels) with MotionGPT's 515 motion tokens added.
    func testT5TokenizerParityWithMotionTokens() throws {
        let fx = TokenizerFixtures.shared
        let tok = try SentencePieceTokenizer(modelURL: TokenizerFixtures.modelURL(fx.t5.model), extraIDs: fx.t5.extra_ids)
        let motion = MotionVocabulary(codebookSize: fx.codebook_size)
        let first = motion.install(in: tok)
        XCTAssertEqual(first, fx.t5.motion_first_id)
        XCTAssertEqual(tok.vocabularySize, fx.t5.length)
        XCTAssertEqual(tok.id(of: "<extra_id_0>"), fx.t5.extra_id_0)
        var mismatches: [String] = []
        for c in fx.t5.cases {
            let ids = tok.encode(c.text)
            let tokens = tok.pieces(c.text) + ["</s>"]
            let skip = tok.decode(c.ids, skipSpecialTokens: true)
            let keep = tok.decode(c.ids, skipSpecialTokens: false)
            if ids != c.ids || tokens != c.tokens || skip != c.decode_skip || keep != c.decode_keep {
                mismatches.append("\(c.text.debugDescription): ids \(ids) vs \(c.ids), tokens \(tokens) vs \(c.tokens), "
                                  + "skip \(skip.debugDescription) vs \(c.decode_skip.debugDescription), "
                                  + "keep \(keep.debugDescription) vs \(c.decode_keep.debugDescription)")
            }
        }
        XCTAssertGreaterThanOrEqual(fx.t5.cases.count, 700)
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count)/\(fx.t5.cases.count) differ:\n"
                      + mismatches.prefix(10).joined(separator: "\n"))
        for d in fx.t5.decode {
            XCTAssertEqual(tok.decode(d.ids, skipSpecialTokens: true), d.decode_skip, "decode \(d.ids)")
            XCTAssertEqual(tok.decode(d.ids, skipSpecialTokens: false), d.decode_keep, "decode keep \(d.ids)")
        }
    }
}
