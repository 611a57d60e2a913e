import Foundation
import XCTest
@testable import Evaluation
import MotionData
import TensorEngine

/// The T2M evaluator against an independent PyTorch build of the official modules and pipeline
/// (Fixtures/t2m-evaluator, made by Tools/fixtures/make_t2m_evaluator_fixtures.py: random weights,
/// small sizes, the official download's layout and file types).
final class T2MEvaluatorTests: XCTestCase {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("t2m-evaluator")
    /// The folder a user passes: the official `checkpoints/t2m`, with `glove/` two levels up.
    static let folder = root.appendingPathComponent("checkpoints/t2m")
    static let expected: SafeTensorsFile = try! SafeTensorsFile(url: root.appendingPathComponent("expected.safetensors"))

    struct CaptionRecord: Decodable { let tokens: [String]; let sentence: [String]; let sent_len: Int; let rows: [Int]; let pos: [Int] }
    struct CaptionFile: Decodable { let max_text_len: Int; let captions: [CaptionRecord] }
    static let captionFile: CaptionFile = try! JSONDecoder().decode(
        CaptionFile.self, from: Data(contentsOf: root.appendingPathComponent("captions.json")))

    static var captions: [MotionCaption] {
        captionFile.captions.map { MotionCaption(text: $0.tokens.joined(separator: " "), tokens: $0.tokens, start: 0, end: 0) }
    }

    static var motions: [Tensor] {
        (0...).lazy.map { "motion.\($0)" }.prefix { expected.names.contains($0) }.map { try! expected.tensor($0) }
    }

    /// max |a - b| relative to the reference's largest magnitude.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        guard a.shape == b.shape else { return .infinity }
        return a.maxAbsDifference(b) / max(b.scalars.map(abs).max() ?? 0, 1e-6)
    }

    func testConfigurationIsReadFromTheCheckpointShapes() throws {
        let e = try T2MEvaluator(folder: Self.folder)
        XCTAssertEqual(e.configuration, T2MEvaluatorConfiguration(
            dimPose: 263, dimMovementEncHidden: 16, dimMovementLatent: 12, dimWord: 24, dimPosOhot: 15,
            dimTextHidden: 20, dimMotionHidden: 28, dimCoembHidden: 16))
        XCTAssertEqual(e.embeddingDimension, 16)
        XCTAssertEqual(e.minimumFrames, 4)
        XCTAssertTrue(e.readsPartOfSpeech)
        XCTAssertEqual(e.wordVectorizer.count, 50)
        // The official sizes, with the official option names, round-trip through JSON.
        let json = try JSONEncoder().encode(T2MEvaluatorConfiguration.official)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\"dim_motion_hidden\":1024"))
        XCTAssertEqual(try JSONDecoder().decode(T2MEvaluatorConfiguration.self, from: json), .official)
    }

    func testWordVectorizerFollowsTheOfficialLoader() throws {
        let e = try T2MEvaluator(folder: Self.folder)
        let v = e.wordVectorizer
        for (i, c) in Self.captionFile.captions.enumerated() {
            let sentence = v.sentence(c.tokens)
            XCTAssertEqual(sentence, Array(c.sentence.prefix(c.sent_len)), "caption \(i): tokens")
            XCTAssertEqual(sentence.map { v.lookup($0).row }, c.rows, "caption \(i): GloVe rows")
            XCTAssertEqual(sentence.map { v.lookup($0).partOfSpeech }, c.pos, "caption \(i): POS slots")
        }
        // The fixture holds both crop cases and a VIP word tagged otherwise.
        XCTAssertTrue(Self.captionFile.captions.contains { $0.tokens.count > 20 && $0.sent_len == 22 })
        XCTAssertEqual(v.lookup("left/ADJ").partOfSpeech, T2MWordVectorizer.partsOfSpeech.firstIndex(of: "Loc_VIP"))
        XCTAssertEqual(v.lookup("zorblax/VERB").row, v.lookup("unk/OTHER").row)
        XCTAssertEqual(v.lookup("zorblax/VERB").partOfSpeech, 14)
        // A token without a tag reads as the word with no tag (the official code would fail on it).
        XCTAssertTrue(v.lookup("man") == v.lookup("man/"))
        XCTAssertTrue(v.lookup("walk") == v.lookup("walk/VERB"))
        let (words, pos) = v.encode(["walk/VERB"])
        XCTAssertEqual(words.shape, [3, 24])
        XCTAssertEqual(pos.shape, [3, 15])
        XCTAssertEqual(pos.scalars.reduce(0, +), 3)
    }

    func testEmbeddingsMatchTheOfficialPipeline() throws {
        let e = try T2MEvaluator(folder: Self.folder)
        let text = try e.embed(captions: Self.captions)
        let motion = try e.embed(motions: Self.motions)
        let textErr = relativeError(text, try Self.expected.tensor("text_embeddings"))
        let motionErr = relativeError(motion, try Self.expected.tensor("motion_embeddings"))
        print(String(format: "T2M evaluator vs PyTorch: text %.2e, motion %.2e (relative max error)", textErr, motionErr))
        XCTAssertLessThan(textErr, 1e-4)
        XCTAssertLessThan(motionErr, 1e-4)
        for (i, m) in Self.motions.enumerated() {
            let steps = m.shape[0] / 4
            XCTAssertLessThan(relativeError(try e.movement(m, steps: steps), try Self.expected.tensor("movement.\(i)")), 1e-4,
                              "movement features of motion \(i) (\(m.shape[0]) frames)")
        }
    }

    func testResultsDoNotDependOnOrderOrBatching() throws {
        let e = try T2MEvaluator(folder: Self.folder)
        let caps = Self.captions
        var motions = Self.motions
        // A motion longer than the official 196 frames (the loader never makes one): no padding at all.
        motions.append(Tensor.concat([motions[0], motions[1]], dim: 0))
        let text = try e.embed(captions: caps), motion = try e.embed(motions: motions)
        let reversedText = try e.embed(captions: caps.reversed()), reversedMotion = try e.embed(motions: motions.reversed())
        for i in caps.indices {
            let one = try e.embed(captions: [caps[i]])
            XCTAssertLessThan(one.maxAbsDifference(text.slice(dim: 0, i, i + 1)), 1e-6, "caption \(i) alone")
            let r = caps.count - 1 - i
            XCTAssertLessThan(reversedText.slice(dim: 0, r, r + 1).maxAbsDifference(text.slice(dim: 0, i, i + 1)), 1e-6)
        }
        for i in motions.indices {
            let one = try e.embed(motions: [motions[i]])
            XCTAssertLessThan(one.maxAbsDifference(motion.slice(dim: 0, i, i + 1)), 1e-6, "motion \(i) alone")
            let r = motions.count - 1 - i
            XCTAssertLessThan(reversedMotion.slice(dim: 0, r, r + 1).maxAbsDifference(motion.slice(dim: 0, i, i + 1)), 1e-6)
        }
        e.batchSize = 2
        XCTAssertLessThan(try e.embed(captions: caps).maxAbsDifference(text), 1e-6)
        XCTAssertLessThan(try e.embed(motions: motions).maxAbsDifference(motion), 1e-6)
        // Frames past the last whole unit of 4 are not read.
        let m = motions[1]   // 102 frames -> 100 read
        XCTAssertEqual(try e.embed(motions: [m]).scalars, try e.embed(motions: [m.slice(dim: 0, 0, 100)]).scalars)
    }

    /// A folder with the statistics in `meta/` and GloVe in `glove/` inside it (the flat layout).
    func makeFlatFolder() throws -> URL {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("t2m-flat-\(UUID().uuidString)")
        try fm.createDirectory(at: dir.appendingPathComponent("text_mot_match/model"), withIntermediateDirectories: true)
        try fm.copyItem(at: Self.folder.appendingPathComponent("text_mot_match/model/finest.tar"),
                        to: dir.appendingPathComponent("text_mot_match/model/finest.tar"))
        try fm.copyItem(at: Self.folder.appendingPathComponent("Comp_v6_KLD01/meta"), to: dir.appendingPathComponent("meta"))
        try fm.copyItem(at: Self.root.appendingPathComponent("glove"), to: dir.appendingPathComponent("glove"))
        addTeardownBlock { try? fm.removeItem(at: dir) }
        return dir
    }

    func testFlatLayoutLoadsTheSame() throws {
        let flat = try T2MEvaluator(folder: try makeFlatFolder())
        let official = try T2MEvaluator(folder: Self.folder)
        XCTAssertEqual(try flat.embed(captions: Self.captions).scalars, try official.embed(captions: Self.captions).scalars)
    }

    func assertError(_ expression: @autoclosure () throws -> Any, contains pieces: [String], kind: ErrorKind,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("expected an error containing \(pieces)", file: file, line: line)
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for p in pieces { XCTAssertTrue(text.contains(p), "\"\(text)\" should contain \"\(p)\"", file: file, line: line) }
            XCTAssertEqual(ErrorKind.of(error), kind, "\(text)", file: file, line: line)
        }
    }

    func testBadFoldersGiveClearErrors() throws {
        let fm = FileManager.default
        let dir = try makeFlatFolder()
        let tar = dir.appendingPathComponent("text_mot_match/model/finest.tar")
        // The legacy torch.save format starts with a bare pickle (PROTO 2).
        let real = try Data(contentsOf: tar)
        try Data([0x80, 0x02, 0x8a, 0x0a] + [UInt8](repeating: 0, count: 60)).write(to: tar)
        assertError(try T2MEvaluator(folder: dir), contains: ["finest.tar", "legacy", "re-save"], kind: .badInput)
        try real.write(to: tar)
        // GloVe without 'unk'.
        let words = dir.appendingPathComponent("glove/our_vab_words.pkl")
        let savedWords = try Data(contentsOf: words)
        // Protocol-3 pickle of ['sos', 'eos'].
        try Data([0x80, 0x03, 0x5d, 0x71, 0x00, 0x28, 0x58, 0x03, 0, 0, 0] + Array("sos".utf8) + [0x58, 0x03, 0, 0, 0]
                 + Array("eos".utf8) + [0x65, 0x2e]).write(to: words)
        assertError(try T2MEvaluator(folder: dir), contains: ["our_vab_words.pkl", "'unk'"], kind: .badInput)
        try savedWords.write(to: words)
        // Statistics of the wrong width.
        let mean = dir.appendingPathComponent("meta/mean.npy"), savedMean = try Data(contentsOf: mean)
        try writeNpy(Tensor.zeros([251]), to: mean)
        assertError(try T2MEvaluator(folder: dir), contains: ["mean", "251"], kind: .badInput)
        try savedMean.write(to: mean)
        // Missing pieces.
        try fm.removeItem(at: dir.appendingPathComponent("glove"))
        assertError(try T2MEvaluator(folder: dir), contains: ["our_vab_data.npy", "GloVe"], kind: .notFound)
        try fm.removeItem(at: tar)
        assertError(try T2MEvaluator(folder: dir), contains: ["finest.tar"], kind: .notFound)
        assertError(try T2MEvaluator(folder: dir.appendingPathComponent("nowhere")), contains: ["nowhere"], kind: .notFound)
        XCTAssertNoThrow(try T2MEvaluator(folder: Self.folder))
    }

    func testBadInputGivesClearErrors() throws {
        let e = try T2MEvaluator(folder: Self.folder)
        assertError(try e.embed(motions: [Tensor.zeros([3, 263])]), contains: ["motion 0", "3 frames", "at least 4"], kind: .badInput)
        assertError(try e.embed(motions: [Tensor.zeros([40, 263]), Tensor.zeros([40, 251])]), contains: ["motion 1", "[40, 251]"], kind: .badInput)
        let nan = Tensor.zeros([8, 263]); nan[5, 7] = .nan
        assertError(try e.embed(motions: [nan]), contains: ["frame 5", "not finite"], kind: .badInput)
        assertError(try e.embed(motions: []), contains: ["no motions"], kind: .badInput)
        assertError(try e.embed(captions: [MotionCaption(text: "a man walks", tokens: [], start: 0, end: 0)]),
                    contains: ["caption 0", "word/POS"], kind: .badInput)
    }
}
