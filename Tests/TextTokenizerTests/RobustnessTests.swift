import Foundation
import XCTest
@testable import TextTokenizer

/// Hostile and broken model files must end in a `TokenizerError`, never a trap; a file that still decodes
/// must tokenize without trapping.
final class RobustnessTests: XCTestCase {
    private static let t5Bytes = [UInt8](try! Data(contentsOf: TokenizerFixtures.modelURL("t5like")))
    private static let byteBytes = [UInt8](try! Data(contentsOf: TokenizerFixtures.modelURL("bytefallback")))
    private let probe = "A person walks  forward, Café 東京 😀 ＡＢＣ <motion_id_3> <extra_id_0> </s>\t\n"

    /// Either a typed error or a tokenizer that survives encoding and decoding.
    private func loadOrThrow(_ bytes: [UInt8], _ label: String) -> Bool {
        do {
            let tok = try SentencePieceTokenizer(data: Data(bytes), extraIDs: 3)
            tok.addTokens(["<motion_id_3>"])
            let ids = tok.encode(probe)
            _ = tok.decode(ids, skipSpecialTokens: false)
            let spIDs = tok.encodeSentencePiece(probe)
            _ = tok.decodeSentencePiece(spIDs + [-5, 1 << 40, tok.vocabularySize])
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < tok.vocabularySize }, label)
            return true
        } catch is TokenizerError {
            return false
        } catch {
            XCTFail("\(label): untyped error \(error)")
            return false
        }
    }

    func testTruncatedFilesThrowTypedErrors() {
        for bytes in [Self.t5Bytes, Self.byteBytes] {
            var lengths = Array(0..<80)
            lengths += stride(from: 80, to: bytes.count, by: 997).map { $0 }
            lengths += (1...40).map { bytes.count - $0 }
            var thrown = 0
            for n in lengths where n >= 0 && n < bytes.count {
                if !loadOrThrow(Array(bytes[0..<n]), "prefix \(n)") { thrown += 1 }
            }
            // Almost every cut lands inside a field; a few land on a boundary and decode as a smaller model.
            XCTAssertGreaterThan(thrown, lengths.count * 8 / 10)
        }
        // A cut inside the vocabulary names the piece that broke.
        do {
            _ = try SentencePieceModel(bytes: Array(Self.t5Bytes[0..<100]))
            XCTFail("expected an error")
        } catch let e as TokenizerError {
            XCTAssertTrue(e.description.contains("ModelProto.pieces["), e.description)
        } catch { XCTFail("\(error)") }
    }

    func testCorruptedFilesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        for trial in 0..<150 {
            var bytes = trial % 2 == 0 ? Self.t5Bytes : Self.byteBytes
            // Bias half of the damage towards the start (pieces) and the rest anywhere (charsmap included).
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let limit = rng.next() % 2 == 0 ? min(bytes.count, 4096) : bytes.count
                let at = Int(rng.next() % UInt64(limit))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = loadOrThrow(bytes, "trial \(trial)")
        }
        for trial in 0..<50 {
            let n = Int(rng.next() % 3000)
            let garbage = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = loadOrThrow(garbage, "garbage \(trial)")
        }
    }

    func testSpecificErrors() throws {
        func expectError(_ bytes: [UInt8], contains text: String, file: StaticString = #filePath, line: UInt = #line) {
            do {
                _ = try SentencePieceTokenizer(data: Data(bytes))
                XCTFail("expected an error containing '\(text)'", file: file, line: line)
            } catch let e as TokenizerError {
                XCTAssertTrue(e.description.contains(text), "\(e.description)", file: file, line: line)
            } catch {
                XCTFail("untyped \(error)", file: file, line: line)
            }
        }
        let unk = piece("<unk>", score: 0, type: 2)
        let a = piece("\u{2581}a", score: -1, type: 1)
        expectError([], contains: "empty")
        expectError([0x0A, 0x05, 0x0A, 0x01], contains: "truncated")          // piece payload cut short
        expectError([0x0E], contains: "unknown wire type")
        expectError([0x0B], contains: "wire type 3, expected 2")
        expectError([0x0A] + [UInt8](repeating: 0xFF, count: 11), contains: "varint")
        expectError(a, contains: "no unknown piece")
        expectError(unk + unk, contains: "already defined")
        expectError(unk + piece("", score: 0, type: 1), contains: "empty")
        expectError(unk + a + field(2, message: varintField(3, 2)), contains: "model_type 2")
        expectError(unk + piece("<0x41>", score: 0, type: 6), contains: "byte_fallback is off")
        expectError(unk + piece("x", score: 0, type: 9), contains: "unknown piece type")
        expectError(unk + field(1, message: field(1, bytes: [0xC3, 0x28])), contains: "UTF-8")
        // A charsmap whose trie size is larger than the blob.
        expectError(unk + a + field(3, message: field(2, bytes: [0xFF, 0xFF, 0, 0, 1, 2, 3, 4])), contains: "trie size")
        // A float score with the wrong wire type.
        expectError(field(1, message: field(1, bytes: Array("x".utf8)) + varintField(2, 1)), contains: "wire type")

        do {
            _ = try SentencePieceTokenizer(modelURL: URL(fileURLWithPath: "/nonexistent/spiece.model"))
            XCTFail("expected an error")
        } catch let e as TokenizerError {
            XCTAssertTrue(e.description.contains("/nonexistent/spiece.model"), e.description)
        }
    }

    /// A hand-built model without charsmap loads and segments with the lattice alone.
    func testMinimalHandBuiltModel() throws {
        let model = piece("<unk>", score: 0, type: 2) + piece("</s>", score: 0, type: 3)
            + piece("\u{2581}", score: -2, type: 1) + piece("\u{2581}ab", score: -1, type: 1)
            + piece("a", score: -3, type: 1) + piece("b", score: -3, type: 1)
            + field(2, message: varintField(40, 0) + varintField(41, UInt64(bitPattern: -1)) + varintField(42, 1))
        let tok = try SentencePieceTokenizer(data: Data(model), extraIDs: 0)
        XCTAssertEqual(tok.eosID, 1)
        XCTAssertNil(tok.bosID)
        XCTAssertEqual(tok.piecesSentencePiece("ab  ba"), ["\u{2581}ab", "\u{2581}", "b", "a"])
        XCTAssertEqual(tok.encode("abc"), [3, 0, 1])
        XCTAssertEqual(tok.decodeSentencePiece([3, 0, 1]), "ab \u{2047} ")
        XCTAssertEqual(tok.decode([3, 0, 1]), "ab")
    }

    // MARK: protobuf writing helpers

    private func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F); v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    private func varintField(_ n: Int, _ v: UInt64) -> [UInt8] { varint(UInt64(n << 3)) + varint(v) }
    private func field(_ n: Int, bytes: [UInt8]) -> [UInt8] { varint(UInt64(n << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    private func field(_ n: Int, message: [UInt8]) -> [UInt8] { field(n, bytes: message) }
    private func piece(_ s: String, score: Float, type: UInt64) -> [UInt8] {
        var body = field(1, bytes: Array(s.utf8))
        body += varint(UInt64(2 << 3 | 5))
        let bits = score.bitPattern
        body += (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
        body += varintField(3, type)
        return field(1, message: body)
    }
}

/// Small seeded generator so the fuzz cases are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
