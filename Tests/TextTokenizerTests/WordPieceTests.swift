import Foundation
import XCTest
@testable import TextTokenizer

/// WordPiece against `BertTokenizerFast` (all-MiniLM-L6-v2's files), on the texts of
/// `Tools/fixtures/make_bert_fixtures.py`: accents, CJK, emoji, punctuation runs, digits, tabs and
/// newlines, very long words, texts that are empty after cleaning, special tokens in the text.
final class WordPieceTests: XCTestCase {
    static let fixtures: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let folder = fixtures.appendingPathComponent("minilm")

    struct Case: Decodable { let text: String; let ids: [Int]; let max_length: Int? }
    struct Golden: Decodable { let cases: [Case]; let truncated: [Case] }

    static let golden: Golden = try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: fixtures.appendingPathComponent("wordpiece_golden.json")))

    func check(_ tok: WordPieceTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        var wrong: [String] = []
        for c in Self.golden.cases where tok.encode(c.text) != c.ids {
            wrong.append("\(c.text.debugDescription): \(tok.encode(c.text)) != \(c.ids)")
        }
        XCTAssertGreaterThanOrEqual(Self.golden.cases.count, 600, file: file, line: line)
        XCTAssertEqual(wrong.count, 0, "\(wrong.count) of \(Self.golden.cases.count) differ:\n" + wrong.prefix(12).joined(separator: "\n"), file: file, line: line)
        for c in Self.golden.truncated {
            XCTAssertEqual(tok.encode(c.text, maxLength: c.max_length), c.ids, file: file, line: line)
            XCTAssertTrue(tok.isTruncated(c.text, maxLength: c.max_length!), file: file, line: line)
        }
    }

    func testTokenizerJSONMatchesBertTokenizerFast() throws {
        check(try WordPieceTokenizer.load(folder: Self.folder))
    }

    func testVocabTxtMatchesBertTokenizerFast() throws {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        check(try WordPieceTokenizer.load(vocab: Self.folder.appendingPathComponent("vocab.txt"), config: config))
    }

    /// Every code point through the normaliser and the pre-tokenizer, against the Rust tokenizer's hashes
    /// (chunks of 256 consecutive code points, surrogates left out): Unicode tables of different versions
    /// would show up here (control, whitespace, punctuation, lower-casing, NFD, CJK ranges).
    func testEveryCodePointNormalisesAndSplitsAsTheRustTokenizer() throws {
        struct Sweep: Decodable { let chunk: Int; let hashes: [[String]] }
        let sweep = try JSONDecoder().decode(Sweep.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("wordpiece_unicode_sweep.json")))
        XCTAssertEqual(sweep.hashes.count * sweep.chunk, 0x110000)
        let tok = try WordPieceTokenizer.load(folder: Self.folder)
        func fnv(_ bytes: some Sequence<UInt8>) -> String {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            let hex = String(h, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
        var wrong: [String] = []
        for (i, expected) in sweep.hashes.enumerated() {
            var text = String.UnicodeScalarView()
            for c in (i * sweep.chunk)..<((i + 1) * sweep.chunk) { if let s = Unicode.Scalar(UInt32(c)) { text.append(s) } }
            let s = String(text)
            let norm = fnv(tok.normalize(s).utf8), words = fnv(tok.words(s).joined(separator: "\u{0}").utf8)
            if norm != expected[0] || words != expected[1] {
                wrong.append(String(format: "U+%04X..U+%04X%@%@", i * sweep.chunk, (i + 1) * sweep.chunk - 1,
                                    norm != expected[0] ? " normalised" : "", words != expected[1] ? " words" : ""))
            }
        }
        XCTAssertEqual(wrong, [], "\(wrong.count) chunks differ")
    }

    /// Writes the Swift runtime's own character classes for every code point, for
    /// `Tools/fixtures/make_wordpiece_unicode_tables.py` (which diffs them against the Rust tokenizer and
    /// writes `WordPieceUnicodeTables.swift`). Only with `MOTIONGPT_WORDPIECE_DUMP=FILE`.
    func testDumpRuntimeUnicodeClasses() throws {
        guard let path = ProcessInfo.processInfo.environment["MOTIONGPT_WORDPIECE_DUMP"], !path.isEmpty else {
            throw XCTSkip("MOTIONGPT_WORDPIECE_DUMP is not set")
        }
        var out = ""
        for c in 0..<0x110000 {
            guard let s = Unicode.Scalar(UInt32(c)) else { continue }
            let r = WordPieceTokenizer.runtimeClasses(s)
            func hex(_ v: [Unicode.Scalar]) -> String { v == [s] ? "-" : v.map { String($0.value, radix: 16) }.joined(separator: ",") }
            out += "\(String(c, radix: 16)) \(r.control ? 1 : 0)\(r.mark ? 1 : 0)\(r.punctuation ? 1 : 0)\(r.whitespace ? 1 : 0) \(hex(r.nfd)) \(hex(r.lower)) \(s.properties.canonicalCombiningClass.rawValue)\n"
        }
        try out.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func testFolderSettings() throws {
        let tok = try WordPieceTokenizer.load(folder: Self.folder)
        XCTAssertEqual(tok.vocabularySize, 30522)
        XCTAssertEqual([tok.padID, tok.unkID, tok.clsID, tok.sepID], [0, 100, 101, 102])
        XCTAssertEqual(tok.modelMaxLength, 512)
        XCTAssertEqual(tok.tokens("Unaffable walking"), ["una", "##ffa", "##ble", "walking"])
        XCTAssertEqual(tok.decode(tok.encode("a person walks forward.")), "a person walks forward.")
        // Cased folders keep case and accents: the settings come from the file, not a fixed pipeline.
        let cased = try WordPieceTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Café", "café", "cafe"],
                                           options: BertNormalizerOptions(lowercase: false))
        XCTAssertEqual(cased.encode("Café"), [2, 4, 3])
        let stripped = try WordPieceTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Café", "café", "cafe", "Cafe"],
                                              options: BertNormalizerOptions(stripAccents: true, lowercase: false))
        XCTAssertEqual(stripped.encode("Café"), [2, 7, 3])
    }

    /// transformers lets tokenizer_config.json's do_lower_case override tokenizer.json's normalizer (checked
    /// with transformers 5.24: "Hello Café" is two [UNK] in this uncased vocabulary when it says false).
    func testTokenizerConfigOverridesTheNormalizer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wordpiece-cased-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["tokenizer.json", "vocab.txt"] {
            try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        try Data(#"{"do_lower_case": false, "strip_accents": null, "model_max_length": 512}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertEqual(try WordPieceTokenizer.load(folder: dir).tokens("Hello Café"), ["[UNK]", "[UNK]"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        XCTAssertEqual(try WordPieceTokenizer.load(folder: dir).tokens("Hello Café"), ["[UNK]", "[UNK]"])
        XCTAssertEqual(try WordPieceTokenizer.load(folder: Self.folder).tokens("Hello Café"), ["hello", "cafe"])
    }

    func testMissingAndBrokenFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wordpiece-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try WordPieceTokenizer.load(folder: dir)) { XCTAssertTrue("\($0)".contains("vocab.txt")) }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        XCTAssertThrowsError(try WordPieceTokenizer.load(folder: dir)) { XCTAssertTrue("\($0)".contains("tokenizer.json: not a JSON object")) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        try Data("[PAD]\n[CLS]\n[SEP]\n".utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        XCTAssertThrowsError(try WordPieceTokenizer.load(folder: dir)) { XCTAssertTrue("\($0)".contains("[UNK] is not in the vocabulary"), "\($0)") }
    }
}
