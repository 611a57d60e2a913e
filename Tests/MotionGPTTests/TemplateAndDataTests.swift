import Foundation
import Generation
import MotionData
import MotionT5
import MotionVQ
import TensorEngine
import TextTokenizer
@testable import Training
import XCTest

/// Task templates (ours and MotionGPT's files), motion spans through the tokenizer, span corruption,
/// mirroring and the HumanML3D-layout caption reader.
final class TemplateAndDataTests: XCTestCase {
    static let root = ThreeStageTests.root
    static let motionGPTTemplates = root.appendingPathComponent("Data/motiongpt-templates")

    func templateSets() throws -> [(String, TaskTemplates)] {
        [("bundled", try TaskTemplates.bundled()),
         ("MotionGPT instructions", try TaskTemplates.load(Self.motionGPTTemplates.appendingPathComponent("template_instructions.json"))),
         ("MotionGPT pretrain", try TaskTemplates.load(Self.motionGPTTemplates.appendingPathComponent("template_pretrain.json")))]
    }

    func testBundledSetCoversMotionGPTsEighteenTasksWithTwentyPhrasingsEach() throws {
        let ours = try TaskTemplates.bundled()
        let theirs = try TaskTemplates.load(Self.motionGPTTemplates.appendingPathComponent("template_instructions.json"))
        XCTAssertEqual(ours.tasks.count, 18)
        XCTAssertEqual(Set(ours.tasks.map(\.key)), Set(theirs.tasks.map(\.key)), "same tasks as MotionGPT's instruction set")
        for t in ours.tasks {
            XCTAssertGreaterThanOrEqual(Set(t.inputs).count, 20, t.key)
            XCTAssertEqual(t.taskClass, theirs.task(t.key)?.taskClass, t.key)
            // Our phrasings are our own: none is copied from MotionGPT's file, except the short functional
            // prompts its evaluation code sends (which the pipeline uses too).
            let copied = Set(t.inputs).intersection(theirs.task(t.key)!.inputs)
            XCTAssertTrue(copied.isSubset(of: ["Predict motion: <Motion_Placeholder_s1>", "Complete the masked motion: <Motion_Placeholder_Masked>"]), "\(t.key): \(copied)")
        }
        XCTAssertEqual(ours.tasks.filter(\.answersWithMotion).count, 8)
        XCTAssertTrue(ours.skipped.isEmpty)
        // MotionGPT's file has 48 phrasings with a placeholder its code never fills; they are left out.
        XCTAssertEqual(theirs.skipped.count, 48)
        XCTAssertTrue(theirs.skipped.allSatisfy { $0.contains("<Framelen_Placeholder>") })
    }

    func testEveryPhrasingRendersAndRoundTripsThroughTheTokenizer() throws {
        let tok = try SentencePieceTokenizer(modelURL: Self.root.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model"))
        let first = MotionVocabulary(codebookSize: 512).install(in: tok)
        let renderer = TemplateRenderer(codebookSize: 512)
        let codes = [0, 7, 511, 300, 42, 42, 9, 128, 256, 1, 2, 3, 4, 5, 6, 77]
        let values = TemplateValues(caption: "a person jumps over an obstacle", codes: codes, frames: 64)
        var checked = 0
        for (name, set) in try templateSets() {
            for task in set.tasks {
                for phrasing in task.inputs + task.outputs {
                    var none: SeededRNG? = nil
                    let text = try renderer.render(phrasing, values, rng: &none)
                    XCTAssertFalse(text.contains("_Placeholder"), "\(name) \(task.key): \(text)")
                    let ids = tok.encode(text)
                    // Every motion span becomes exactly its motion ids: start, codes (or pad), end.
                    let motionIDs = ids.filter { $0 >= first }.map { $0 - first }
                    let expected = text.components(separatedBy: "<motion_id_").dropFirst().map { Int($0.prefix { $0.isNumber })! }
                    XCTAssertEqual(motionIDs, expected, "\(name) \(task.key)")
                    XCTAssertEqual(tok.decode(ids.filter { $0 >= first }, skipSpecialTokens: false),
                                   expected.map { "<motion_id_\($0)>" }.joined(), "\(name) \(task.key)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 2500)
    }

    func testPlaceholdersFollowMotionGPT() throws {
        let r = TemplateRenderer(codebookSize: 512)
        let codes = Array(0..<16)
        var none: SeededRNG? = nil
        let v = TemplateValues(caption: "walk", codes: codes, frames: 64)
        // 16 codes: prediction prefix floor(16 * 0.2) = 3 codes; in-between masks codes 4 ..< 12.
        XCTAssertEqual(try r.render("<Motion_Placeholder_s1>", v, rng: &none), "<motion_id_512><motion_id_0><motion_id_1><motion_id_2><motion_id_513>")
        XCTAssertTrue(try r.render("<Motion_Placeholder_s2>", v, rng: &none).hasPrefix("<motion_id_512><motion_id_3>"))
        let masked = try r.render("<Motion_Placeholder_Masked>", v, rng: &none)
        XCTAssertEqual(masked.components(separatedBy: "<motion_id_514>").count - 1, 8)
        XCTAssertTrue(masked.hasPrefix("<motion_id_512><motion_id_0><motion_id_1><motion_id_2><motion_id_3><motion_id_514>"))
        XCTAssertEqual(try r.render("<Frame_Placeholder> frames, <Second_Placeholder> s", v, rng: &none), "64 frames, 3.2 s")
        XCTAssertThrowsError(try r.render("<Caption_Placeholder>", TemplateValues(codes: codes), rng: &none)) { XCTAssertTrue("\($0)".contains("caption")) }
        // Training quotes captions about half the time.
        var rng: SeededRNG? = SeededRNG(seed: 1)
        let quoted = (0..<200).filter { _ in (try? r.render("<Caption_Placeholder>", v, rng: &rng)) == "\"walk\"" }.count
        XCTAssertTrue((70...130).contains(quoted), "\(quoted)")
    }

    func testBadTemplateFilesAreRefusedWithTheirName() {
        XCTAssertThrowsError(try TaskTemplates(data: Data("[1, 2]".utf8), source: "x.json")) { XCTAssertTrue("\($0)".hasPrefix("x.json")) }
        XCTAssertThrowsError(try TaskTemplates(data: Data(#"{"G": {"t": {"input": []}}}"#.utf8), source: "y.json")) { XCTAssertTrue("\($0)".contains("G/t")) }
        XCTAssertThrowsError(try TaskTemplates.load(URL(fileURLWithPath: "/no/such.json")))
        XCTAssertThrowsError(try TaskTemplates(data: Data(#"{"G": {"t": {"input": ["<Nope_Placeholder>"], "output": ["x"]}}}"#.utf8), source: "z.json")) {
            XCTAssertTrue("\($0)".contains("no usable"))
        }
    }

    func testSpanCorruptionMatchesT5sMaskAndReconstructs() {
        var rng = SeededRNG(seed: 8)
        for n in [2, 3, 7, 20, 64, 255] {
            let mask = SpanCorruption.noiseMask(length: n, rng: &rng)
            XCTAssertEqual(mask.count, n)
            let noise = min(max(Int((Double(n) * 0.15).rounded(.toNearestOrEven)), 1), n - 1)
            XCTAssertEqual(mask.filter { $0 }.count, noise, "n = \(n)")
            let spans = zip(mask, [false] + mask.dropLast()).filter { $0 && !$1 }.count
            XCTAssertEqual(spans, max(Int((Double(noise) / 3).rounded(.toNearestOrEven)), 1), "n = \(n)")
            XCTAssertFalse(mask[0], "T5's mask starts with kept tokens")
            // Interleaving input and target at the sentinels gives the original back.
            let ids = (0..<n).map { 100 + $0 }
            let (input, target) = SpanCorruption.corrupt(ids, sentinel: { 99 - $0 }, rng: &rng)
            var spansByID: [Int: [Int]] = [:], current = -1
            for t in target { if t < 100 { current = t; spansByID[t] = [] } else { spansByID[current]!.append(t) } }
            XCTAssertEqual(input.flatMap { $0 < 100 ? spansByID[$0]! : [$0] }, ids)
        }
        var a = SeededRNG(seed: 3), b = SeededRNG(seed: 3)
        XCTAssertEqual(SpanCorruption.noiseMask(length: 50, rng: &a), SpanCorruption.noiseMask(length: 50, rng: &b))
    }

    func testMirrorOnTheSampleClip() throws {
        let joints = try readNpy(ThreeStageTests.sample.appendingPathComponent("new_joints_012314.npy"))
        let motion = try Motion(skeleton: .humanML3D, tensor: joints)
        let twice = try motion.mirrored().mirrored()
        for (a, b) in zip(motion.positions.joined(), twice.positions.joined()) { XCTAssertEqual(a, b) }
        XCTAssertEqual(Skeleton.humanML3D.mirrorMap, [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20])
        // Joints -> features -> joints is exact for the mirror as for the original when the processing keeps
        // the bone lengths. The processing puts frame 0 at the origin facing +z, so compare after undoing that.
        // (HumanML3D's processing also retargets to its fixed skeleton, whose left and right bones differ by
        // a few millimetres; the mirror swaps them, which moves joints by up to ~4 cm on this clip, as it
        // does for HumanML3D's own mirrored files.)
        var keepBones = FeatureConfig.humanML3D
        keepBones.targetOffsets = nil
        func roundTripError(_ m: Motion) throws -> Float {
            let back = try Motion(features: try m.features(config: keepBones)).positions
            func heading(_ f: [SIMD3<Float>]) -> Float { let a = f[2] - f[1]; return atan2(a.z, a.x) }
            let turn = heading(m.positions[0]) - heading(back[0]), c = cos(turn), sn = sin(turn)
            func rot(_ p: SIMD3<Float>) -> SIMD3<Float> { SIMD3(c * p.x - sn * p.z, p.y, sn * p.x + c * p.z) }
            let shift = m.positions[0][0] - rot(back[0][0])
            var worst: Float = 0
            for f in 0..<back.count { for j in 0..<22 { let d = rot(back[f][j]) + shift - m.positions[f][j]; worst = max(worst, (d * d).sum().squareRoot()) } }
            return worst
        }
        let plain = try roundTripError(motion), mirror = try roundTripError(try motion.mirrored())
        XCTAssertLessThan(plain, 1e-4)
        XCTAssertLessThan(mirror, 1e-4, "mirror round trip \(mirror) m vs \(plain) m")
        XCTAssertEqual(try MotionFeatures.mirrored(try motion.features()).shape, [169, 263])
        XCTAssertEqual(MotionFeatures.mirroredCaption("a man turns left, then Right; leftover"), "a man turns right, then Left; leftover")
    }

    func testCaptionExamplesFollowTheDatasetItems() throws {
        let folder = try ThreeStageTests.makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var vq = VQVAEConfig.tiny(codes: 8, width: 8)
        vq.depth = 1
        let tok = try MotionTokenizer(model: try VQVAE(config: vq, seed: 1), normalizer: try FeatureNormalizer(directory: folder))
        var o = MotionTextDataset.Options(); o.mirror = true
        let examples = try MotionTextDataset.load(folder, tokenizer: tok, options: o)
        XCTAssertEqual(examples.map(\.name).sorted(), ["012314", "012314#0-64", "M012314", "M012314#0-64"])
        XCTAssertEqual(examples.first { $0.name == "012314#0-64" }?.codes.count, 16)
        XCTAssertEqual(examples.first { $0.name == "012314" }?.frames, 168)
        o.split = "test"
        XCTAssertThrowsError(try MotionTextDataset.load(folder, tokenizer: tok, options: o)) { XCTAssertTrue("\($0)".contains("test.txt"), "\($0)") }
        // The CMU folder in the same layout loads, with its train split.
        let cmu = Self.root.appendingPathComponent("Data/cmu-mocap-h3d")
        XCTAssertEqual(try MotionSources.load([cmu.path], split: "train", nfeats: 263, requireSplit: true).count, 68)
    }
}
