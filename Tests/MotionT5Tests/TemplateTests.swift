import Foundation
@testable import MotionT5
import TensorEngine
import TextTokenizer
import XCTest

/// Task kinds and the values each task needs, on our template file and MotionGPT's two files; rendered
/// pairs of every task go through the tokenizer (motion vocabulary installed) and the span parser back
/// to exactly the codes that went in.
final class TemplateTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let motionGPT = root.appendingPathComponent("Data/motiongpt-templates")
    static let spiece = root.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model")

    func sets() throws -> [(String, TaskTemplates)] {
        var out = [("ours", try TaskTemplates.bundled())]
        guard FileManager.default.fileExists(atPath: Self.motionGPT.path) else { return out }
        out.append(("MotionGPT instructions", try TaskTemplates.load(Self.motionGPT.appendingPathComponent("template_instructions.json"))))
        out.append(("MotionGPT pretrain", try TaskTemplates.load(Self.motionGPT.appendingPathComponent("template_pretrain.json"))))
        return out
    }

    static let codes: [Int] = {
        var rng = SeededRNG(seed: 21)
        return [0, 511] + (0..<23).map { _ in rng.nextInt(512) }
    }()

    /// Values holding exactly what `needs` asks for.
    func values(for needs: TaskValueNeeds) -> TemplateValues {
        TemplateValues(caption: needs.contains(.caption) ? "a person waves" : nil,
                       codes: needs.isDisjoint(with: .anyMotion) ? nil : Self.codes,
                       frames: needs.isDisjoint(with: [.frames, .seconds]) ? nil : 100)
    }

    func testKindsAndNeedsOfEveryTask() throws {
        let renderer = TemplateRenderer(codebookSize: 512)
        var phrasings = 0
        for (name, set) in try sets() {
            for task in set.tasks {
                let kind = try XCTUnwrap(task.kind, "\(name) \(task.key): class \(task.taskClass)")
                XCTAssertEqual(kind.answersWithMotion, task.answersWithMotion, "\(name) \(task.key)")
                let all = task.valueNeeds
                XCTAssertEqual(all, task.requestNeeds.union(task.answerNeeds))
                for phrasing in task.inputs + task.outputs {
                    let needs = TaskValueNeeds(phrasing: phrasing)
                    XCTAssertTrue(all.isSuperset(of: needs))
                    // Exactly the values it needs are enough ...
                    var none: SeededRNG? = nil
                    let text = try renderer.render(phrasing, values(for: needs), rng: &none)
                    XCTAssertFalse(text.contains("_Placeholder"), "\(name) \(task.key): \(text)")
                    XCTAssertTrue(needs.isSatisfied(by: values(for: needs)))
                    // ... and leaving any one out fails.
                    for one in [TaskValueNeeds.caption, .motion, .splitMotion, .maskedMotion, .frames, .seconds] where needs.contains(one) {
                        var fewer = values(for: needs)
                        if one == .caption { fewer.caption = nil } else if TaskValueNeeds.anyMotion.contains(one) { fewer.codes = nil } else { fewer.frames = nil }
                        XCTAssertFalse(needs.isSatisfied(by: fewer))
                        XCTAssertThrowsError(try renderer.render(phrasing, fewer, rng: &none), "\(name) \(task.key) without \(one): \(phrasing)")
                    }
                    phrasings += 1
                }
            }
        }
        XCTAssertGreaterThan(phrasings, 400)

        let ours = try TaskTemplates.bundled()
        func task(_ key: String) throws -> TaskTemplate { try XCTUnwrap(ours.task(key), key) }
        XCTAssertEqual(try task("Text-to-Motion/caption_seclen").requestNeeds, [.caption, .seconds])
        XCTAssertEqual(try task("Text-to-Motion/caption_seclen").answerNeeds, .motion)
        XCTAssertEqual(try task("Text-to-Motion/random").requestNeeds, [])
        XCTAssertEqual(try task("Motion-to-Text/count-frame").answerNeeds, .frames)
        XCTAssertEqual(try task("Text-to-Text/caption-to-seclen").valueNeeds, [.caption, .seconds])
        XCTAssertEqual(try task("Motion-to-Motion/motion_prediction").valueNeeds, .splitMotion)
        XCTAssertEqual(try task("Motion-to-Motion/motion_inbetween").requestNeeds, .maskedMotion)
        XCTAssertEqual(try task("Motion-to-Motion/motion_inbetween").answerNeeds, .motion)
        XCTAssertEqual(Dictionary(grouping: ours.tasks, by: { $0.kind! }).mapValues(\.count),
                       [.textToMotion: 3, .lengthToMotion: 2, .randomMotion: 1, .motionToText: 3, .motionToLength: 2,
                        .textToText: 4, .randomText: 1, .prediction: 1, .inbetween: 1])
    }

    func testEveryPairRoundTripsThroughTokenizerAndSpanParser() throws {
        let tok = try SentencePieceTokenizer(modelURL: Self.spiece)
        let vocab = MotionVocabulary(codebookSize: 512)
        vocab.install(in: tok)
        let renderer = TemplateRenderer(codebookSize: 512)
        let codes = Self.codes, n = codes.count
        let split = renderer.predictionSplit(n), masked = renderer.maskedRange(n)
        XCTAssertEqual(split, 5)            // floor(25 * 0.2), as MotionGPT's predict_head - 1
        XCTAssertEqual(masked, 6..<18)      // floor(25 * 0.25) ..< floor(25 * 0.75)
        let full = TemplateValues(caption: "a person waves with the left hand", codes: codes, frames: 100)

        /// The spans a phrasing's motion placeholder must give back.
        func expected(_ phrasing: String) -> [MotionSpan] {
            if phrasing.contains("<Motion_Placeholder_s1>") { return [MotionSpan(codes: Array(codes[..<split]))] }
            if phrasing.contains("<Motion_Placeholder_s2>") { return [MotionSpan(codes: Array(codes[split...]))] }
            if phrasing.contains("<Motion_Placeholder_Masked>") {
                return [MotionSpan(codes: codes.enumerated().filter { !masked.contains($0.offset) }.map(\.element), padCount: masked.count)]
            }
            if phrasing.contains("<Motion_Placeholder>") { return [MotionSpan(codes: codes)] }
            return []
        }
        var rng = SeededRNG(seed: 4)
        var checked = 0
        for (name, set) in try sets() {
            for task in set.tasks {
                // Every request phrasing, each with an answer phrasing drawn by the seeded generator.
                for input in task.inputs {
                    let output = task.outputs[rng.nextInt(task.outputs.count)]
                    var r: SeededRNG? = rng
                    let prompt = try renderer.render(input, full, rng: &r), target = try renderer.render(output, full, rng: &r)
                    rng = r!
                    for (phrasing, text) in [(input, prompt), (output, target)] {
                        let ids = tok.encode(text)
                        let parsed = vocab.parse(ids: ids, tokenizer: tok)
                        XCTAssertEqual(parsed.spans, expected(phrasing), "\(name) \(task.key): \(text)")
                        XCTAssertTrue(parsed.invalid.isEmpty, "\(name) \(task.key): \(parsed.invalid)")
                        // The span decodes back to exactly the text that was rendered.
                        if let a = text.range(of: vocab.startToken), let b = text.range(of: vocab.endToken) {
                            XCTAssertTrue(tok.decode(ids, skipSpecialTokens: true).contains(String(text[a.lowerBound..<b.upperBound])), "\(name) \(task.key)")
                        }
                    }
                    XCTAssertEqual(vocab.parse(text: target).spans.isEmpty, !task.answersWithMotion, "\(name) \(task.key)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 360)
    }

    func testPairsAreSeededAndDrawEveryPhrasing() throws {
        let ours = try TaskTemplates.bundled()
        let renderer = TemplateRenderer(codebookSize: 512)
        let task = try XCTUnwrap(ours.task("Text-to-Motion/caption"))
        let v = TemplateValues(caption: "a person jumps", codes: [1, 2, 3, 4], frames: 16)
        var a = SeededRNG(seed: 9), b = SeededRNG(seed: 9)
        var seen = Set<String>()
        for _ in 0..<400 {
            let p = try renderer.pair(task, v, rng: &a)
            XCTAssertEqual(p.input, try renderer.pair(task, v, rng: &b).input)
            XCTAssertEqual(p.output, "<motion_id_512><motion_id_1><motion_id_2><motion_id_3><motion_id_4><motion_id_513>")
            seen.insert(p.input.replacingOccurrences(of: "\"a person jumps\"", with: "a person jumps"))
        }
        XCTAssertEqual(seen.count, Set(task.inputs).count, "every phrasing is drawn")
    }
}
