import Evaluation
import Foundation
import Generation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import TextEncoder
import XCTest

/// The LMM sampling pipeline on a tiny random denoiser (1 layer, 16-frame window) reading the real
/// MiniLM text encoder's token features, with HumanML3D statistics of the CMU data, on real CMU clips.
/// A random model makes arbitrary motions; what is checked is what the pipeline guarantees whatever the
/// model: given cells kept, lengths and windows, errors.
final class LMMPipelineTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let data = root.appendingPathComponent("Data/cmu-mocap-h3d")
    static let fast = LMMSampling(steps: 4, seed: 3)

    nonisolated(unsafe) static var cached: [Bool: LMMPipeline] = [:]

    /// A tiny LMM; `text`: with the MiniLM text condition (384-wide token features).
    static func pipeline(text: Bool = true) throws -> LMMPipeline {
        if let p = cached[text] { return p }
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.numCondLayers = 1; c.maxSeqLen = 16
        c.textInputDim = text ? 384 : nil
        let m = try LargeMotionModel(config: c, seed: 5)
        var rng = SeededRNG(seed: 6)
        // A non-zero read-out (an untrained one predicts x0 = 0 everywhere).
        for (_, p) in m.namedParameters() { p.assign(Tensor.randn(p.shape, std: 0.2, rng: &rng)) }
        m.train(false)
        let stats = try LMMModel.unifiedNormalizer(humanML3D: try FeatureNormalizer(directory: data))
        let encoder = text ? try BertFamily.load(try ModelFolder(root.appendingPathComponent("Models/text-encoder"))) : nil
        let p = LMMPipeline(model: try LMMModel(denoiser: m, normalizer: stats, textEncoder: encoder))
        cached[text] = p
        return p
    }

    /// The first `frames` frames of a CMU test clip in the unified layout.
    static func clip(_ name: String = "02_09_00", frames: Int) throws -> UnifiedMotion {
        let h = try readNpy(data.appendingPathComponent("new_joint_vecs/\(name).npy"))
        return try UnifiedMotion(humanML3D: h.slice(dim: 0, 0, frames), fps: 20)
    }

    /// Largest difference over `parts`' values in frames `a` of `x` and `b` of `y`.
    func difference(_ x: UnifiedMotion, _ y: UnifiedMotion, parts: [BodyPart], frames a: Range<Int>, _ b: Range<Int>) -> Float {
        let d = UnifiedMotion.dimension
        let xs = x.features.scalars, ys = y.features.scalars
        var worst: Float = 0
        for (fa, fb) in zip(a, b) { for p in parts { for k in p.featureIndices { worst = max(worst, abs(xs[fa * d + k] - ys[fb * d + k])) } } }
        return worst
    }

    /// Largest distance of `joints` between two motions, frame by frame (metres).
    func jointDistance(_ a: Motion, _ b: Motion, joints: [Int]) -> Float {
        var worst: Float = 0
        for (fa, fb) in zip(a.positions, b.positions) { for j in joints { worst = max(worst, simd_length(fa[j] - fb[j])) } }
        return worst
    }

    func simd_length(_ v: SIMD3<Float>) -> Float { (v * v).sum().squareRoot() }

    func testEditingTheArmsKeepsEveryOtherPartTheRootAndTheLegJoints() throws {
        let p = try Self.pipeline()
        let source = try Self.clip(frames: 40)                     // 3 windows of 16 frames
        let arms = try BodyPart.parseList("larm, rarm", available: LMMPipeline.generatedParts)
        XCTAssertEqual(arms, [.rightArm, .leftArm])               // slot order; larm is SMPL's left arm
        let out = try p.edit(motion: source, parts: arms, text: "a person waves both arms", options: Self.fast)
        XCTAssertEqual(out.frameCount, 40)
        let kept = LMMPipeline.generatedParts.filter { !arms.contains($0) }
        XCTAssertTrue(kept.contains(.root))
        let keptDiff = difference(out, source, parts: kept, frames: 0..<40, 0..<40)
        let armDiff = difference(out, source, parts: arms, frames: 0..<40, 0..<40)
        print("edit arms: kept parts differ by \(keptDiff), arms by \(armDiff)")
        XCTAssertLessThanOrEqual(keptDiff, 1e-4)
        XCTAssertGreaterThan(armDiff, 0.05, "the arms were regenerated")
        // Joints: the legs (and the pelvis) hang on the kept root path, so they stay; the arms move.
        let (a, b) = (try out.motion(), try source.motion())
        let legs = [0, 1, 2, 4, 5, 7, 8, 10, 11]
        let legDistance = jointDistance(a, b, joints: legs), armDistance = jointDistance(a, b, joints: [16, 18, 20, 17, 19, 21])
        print("edit arms: leg joints within \(legDistance) m, arm joints move up to \(armDistance) m")
        XCTAssertLessThan(legDistance, 0.01)
        XCTAssertGreaterThan(armDistance, 0.05)
        // Hands and face stay absent.
        let mask = out.mask.scalars
        for f in 0..<40 { for part in BodyPart.allCases { XCTAssertEqual(mask[f * 10 + part.rawValue], LMMPipeline.generatedParts.contains(part) ? 1 : 0) } }
        XCTAssertEqual(difference(out, source, parts: [.leftHand, .rightHand, .face], frames: 0..<40, 0..<40), 0)
    }

    func testEditingOnlyTheLeftArmRegeneratesSMPLsLeftArm() throws {
        let p = try Self.pipeline()
        let source = try Self.clip(frames: 12)
        let larm = try BodyPart.parseList("LArm", available: LMMPipeline.generatedParts)
        XCTAssertEqual(larm, [.leftArm])
        XCTAssertEqual(BodyPart.leftArm.joints, [13, 16, 18, 20])  // SMPL's left collar, shoulder, elbow, wrist
        let out = try p.edit(motion: source, parts: larm, text: "a person raises the left arm", options: Self.fast)
        let (a, b) = (try out.motion(), try source.motion())
        XCTAssertLessThan(jointDistance(a, b, joints: [14, 17, 19, 21]), 1e-3, "the right arm is kept")
        XCTAssertGreaterThan(jointDistance(a, b, joints: [16, 18, 20]), 0.05, "the left arm is regenerated")
    }

    func testPredictionAndInbetweenKeepTheGivenFrames() throws {
        let p = try Self.pipeline()
        let prefix = try Self.clip(frames: 10)
        let pred = try p.predict(prefix, frames: 12, text: "a person keeps walking", options: Self.fast)
        XCTAssertEqual(pred.frameCount, 22)
        let parts = LMMPipeline.generatedParts
        XCTAssertEqual(difference(pred, prefix, parts: parts, frames: 0..<10, 0..<10), 0)
        XCTAssertGreaterThan(difference(pred, prefix, parts: parts, frames: 10..<11, 9..<10), 0, "new frames are sampled")
        XCTAssertEqual(try pred.motion().frameCount, 22)

        let a = try Self.clip("02_09_00", frames: 8), b = try Self.clip("03_02_00", frames: 9)
        let mid = try p.inbetween(a, b, gap: 20, text: nil, options: Self.fast)  // 37 frames: 3 windows
        XCTAssertEqual(mid.frameCount, 37)
        XCTAssertEqual(difference(mid, a, parts: parts, frames: 0..<8, 0..<8), 0)
        XCTAssertEqual(difference(mid, b, parts: parts, frames: 28..<37, 0..<9), 0)
        XCTAssertTrue(mid.features.scalars.allSatisfy(\.isFinite))
    }

    func testTrajectoryControlKeepsTheRoot() throws {
        let p = try Self.pipeline()
        let source = try Self.clip("03_02_00", frames: 30)
        let out = try p.followTrajectory(of: source, text: "a person dances", options: Self.fast)
        XCTAssertEqual(difference(out, source, parts: [.root], frames: 0..<30, 0..<30), 0)
        XCTAssertGreaterThan(difference(out, source, parts: [.stem, .leftLeg], frames: 0..<30, 0..<30), 0.05)
        // The pelvis follows the same path.
        XCTAssertLessThan(jointDistance(try out.motion(), try source.motion(), joints: [0]), 1e-4)
        XCTAssertEqual(try BodyPart.parseList("body", available: LMMPipeline.generatedParts), LMMPipeline.generatedParts.filter { $0 != .root })
    }

    func testLongMotionsAreSampledInOverlappingWindows() throws {
        let p = try Self.pipeline()
        XCTAssertEqual(p.window, 16)
        XCTAssertEqual(p.overlap, 4)
        XCTAssertEqual(p.windows(frames: 16), [0..<16])
        XCTAssertEqual(p.windows(frames: 40), [0..<16, 12..<28, 24..<40])
        XCTAssertEqual(p.windows(frames: 29), [0..<16, 12..<28, 24..<29])
        XCTAssertEqual(p.maxFrames, 16 + 9 * 12)
        for n in [17, 28, 29, 77, p.maxFrames] {
            let w = p.windows(frames: n)
            XCTAssertEqual(w.first?.lowerBound, 0); XCTAssertEqual(w.last?.upperBound, n)
            XCTAssertTrue(w.allSatisfy { $0.count <= 16 && $0.count > 4 })
            XCTAssertTrue(zip(w, w.dropFirst()).allSatisfy { $0.upperBound - $1.lowerBound == 4 }, "\(n): \(w)")
        }

        var seen: [(Int, Int)] = []
        let long = try p.generate(text: "a person walks in a circle", frames: 40, options: Self.fast) { s in
            seen.append((s.step, s.totalSteps)); return .proceed
        }
        XCTAssertEqual(long.frameCount, 40)
        XCTAssertEqual(seen.map(\.0), Array(1...12))
        XCTAssertTrue(seen.allSatisfy { $0.1 == 12 })
        // The first window draws the same noise as a one-window motion with the seed, and the next
        // window takes the shared frames as given: the first 16 frames are the short motion's exactly.
        let short = try p.generate(text: "a person walks in a circle", frames: 16, options: Self.fast)
        let parts = LMMPipeline.generatedParts
        XCTAssertLessThanOrEqual(difference(long, short, parts: parts, frames: 0..<16, 0..<16), 1e-5)
        // The joined motion goes back to joints and HumanML3D features whole.
        XCTAssertEqual(try long.humanML3DFeatures().shape, [40, 263])
        XCTAssertTrue(try long.motion().positions.joined().allSatisfy { $0.x.isFinite && $0.y.isFinite && $0.z.isFinite })
    }

    func testSamplingIsSeededAndGuidanceChangesTheResult() throws {
        let p = try Self.pipeline()
        let a = try p.generate(text: "a person jumps", frames: 10, options: Self.fast)
        let b = try p.generate(text: "a person jumps", frames: 10, options: Self.fast)
        XCTAssertEqual(a.features.maxAbsDifference(b.features), 0)
        var other = Self.fast; other.seed = 4
        XCTAssertGreaterThan(try p.generate(text: "a person jumps", frames: 10, options: other).features.maxAbsDifference(a.features), 1e-3)
        var unguided = Self.fast; unguided.guidance = 0
        XCTAssertGreaterThan(try p.generate(text: "a person jumps", frames: 10, options: unguided).features.maxAbsDifference(a.features), 1e-4)
        XCTAssertGreaterThan(try p.generate(text: "a person sits down", frames: 10, options: Self.fast).features.maxAbsDifference(a.features), 1e-6, "the text reaches the result")
        // Unconditional sampling works with and without a text condition in the model.
        XCTAssertEqual(try p.generate(text: nil, frames: 10, options: Self.fast).frameCount, 10)
        let plain = try Self.pipeline(text: false)
        var at30 = Self.fast; at30.fps = 30
        let u = try plain.generate(text: nil, frames: 7, options: at30)
        XCTAssertEqual(u.fps, 30)
        XCTAssertEqual(try plain.frames(seconds: 2, options: at30), 60)
        XCTAssertEqual(try plain.frames(seconds: 2), 40)
    }

    /// Several seeds in one batch give each seed's one-at-a-time sample (up to batched rounding).
    func testBatchedSeedsEqualOneAtATime() throws {
        let p = try Self.pipeline()
        let batch = try p.generate(text: "a person jumps", frames: 12, seeds: [3, 9], options: Self.fast)
        for (i, seed) in [UInt64(3), 9].enumerated() {
            var o = Self.fast; o.seed = seed
            let one = try p.generate(text: "a person jumps", frames: 12, options: o)
            XCTAssertLessThan(batch[i].features.maxAbsDifference(one.features), 1e-4, "seed \(seed)")
        }
        XCTAssertGreaterThan(batch[0].features.maxAbsDifference(batch[1].features), 1e-3)
    }

    /// The protocol evaluation scores an LMM's samples (t2m) as it scores MotionGPT's: a table with the
    /// real row and the model's, every sample usable.
    func testProtocolEvaluationScoresAnLMM() throws {
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.numCondLayers = 1; c.textInputDim = 384
        let m = try LargeMotionModel(config: c, seed: 5)
        var rng = SeededRNG(seed: 6)
        for (_, p) in m.namedParameters() { p.assign(Tensor.randn(p.shape, std: 0.1, rng: &rng)) }
        m.train(false)
        let base = try Self.pipeline()
        let model = try LMMModel(denoiser: m, normalizer: base.model.normalizer, textEncoder: base.model.textEncoder)
        let clips = Array(try HeldOutEvaluation.clips(Self.data, split: "test").prefix(4))
        let evaluator = try MotionTextEvaluator.load(directory: Self.root.appendingPathComponent("Models/evaluator"))
        var s = ProtocolEvaluation.Settings()
        s.repeats = 1; s.minimumVectors = 8
        let e = try ProtocolEvaluation(embedder: evaluator, clips: clips, data: "cmu", split: "test", settings: s)
        let r = try e.run(.t2m, generator: LMMTextToMotion(model: model, options: LMMSampling(steps: 2)), modelName: "tiny LMM")
        XCTAssertEqual(r.table.rows.map(\.name), ["Real motion", "tiny LMM"])
        let fid = try XCTUnwrap(r.table.rows[1][.fid]?.mean)
        XCTAssertTrue(fid.isFinite && fid > 0, "\(fid)")
        XCTAssertNotNil(r.table.rows[1][.top1]?.mean)
        XCTAssertTrue(r.table.notes.contains { $0.hasPrefix("0 of 8 samples") }, "\(r.table.notes)")
        XCTAssertThrowsError(try e.run(.m2t, generator: LMMTextToMotion(model: model))) { XCTAssertTrue("\($0)".contains("MotionGPT"), "\($0)") }
    }

    /// The bundled model (Models/lmm, trained here) loads with its text encoder, follows a text, and an
    /// arm edit of a real clip keeps the root and the leg joints.
    func testTheBundledLMMGeneratesAndEdits() throws {
        let model = try LMMModel.load(directory: Self.root.appendingPathComponent("Models/lmm"))
        XCTAssertNotNil(model.textEncoder)
        let p = LMMPipeline(model: model)
        var o = LMMSampling(steps: 10, seed: 1)
        let walk = try p.generate(text: "a person walks forward", frames: 60, options: o).motion()
        XCTAssertEqual(walk.frameCount, 60)
        XCTAssertTrue(walk.positions.allSatisfy { $0.allSatisfy { ($0 * $0).sum().isFinite } })
        let clip = try Self.clip(frames: 60)
        o.seed = 2
        let edited = try p.edit(motion: clip, parts: [.leftArm, .rightArm], text: "a person waves", options: o)
        XCTAssertLessThan(difference(edited, clip, parts: [.root, .head, .stem, .leftLeg, .rightLeg], frames: 0..<60, 0..<60), 1e-4)
        let legs = [1, 2, 4, 5, 7, 8, 10, 11]
        XCTAssertLessThan(jointDistance(try edited.motion(), try clip.motion(), joints: legs), 0.01)
        XCTAssertGreaterThan(difference(edited, clip, parts: [.leftArm, .rightArm], frames: 0..<60, 0..<60), 1e-2)
    }

    func testStoppingFromTheProgressCallbackThrows() throws {
        let p = try Self.pipeline()
        XCTAssertThrowsError(try p.generate(text: "a person walks", frames: 10, options: Self.fast) { $0.step == 2 ? .stop : .proceed }) {
            XCTAssertEqual($0 as? LMMSamplingStopped, LMMSamplingStopped(step: 2, totalSteps: 4))
            XCTAssertEqual("\($0)", "sampling was stopped after step 2 of 4")
        }
        // In the second window.
        XCTAssertThrowsError(try p.generate(text: nil, frames: 20, options: Self.fast) { $0.step == 6 ? .stop : .proceed }) {
            XCTAssertEqual($0 as? LMMSamplingStopped, LMMSamplingStopped(step: 6, totalSteps: 8))
        }
    }

    func testBadInputsAreOneLineErrors() throws {
        let p = try Self.pipeline()
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try p.generate(text: "  ", frames: 10) }, "the text is empty")
        XCTAssertTrue(message { try p.generate(text: "walk", frames: 0) }.contains("at least 1 frame"))
        let huge = message { try p.generate(text: "walk", frames: p.maxFrames + 1) }
        XCTAssertTrue(huge.contains("above this model's limit of 124"), huge)
        do { _ = try p.generate(text: "walk", frames: 1000); XCTFail("1000 frames sampled") } catch { XCTAssertEqual(ErrorKind.of(error), .tooLarge) }
        var bad = Self.fast; bad.steps = 0
        XCTAssertTrue(message { try p.generate(text: "walk", frames: 5, options: bad) }.contains("steps must be in 1...1000"))
        bad = Self.fast; bad.fps = -1
        XCTAssertTrue(message { try p.generate(text: "walk", frames: 5, options: bad) }.contains("fps"))
        XCTAssertTrue(message { try p.sample(frames: 5, text: nil, known: Tensor.zeros([5, 669])) }.contains("go together"))
        XCTAssertTrue(message { try p.sample(frames: 5, text: nil, known: Tensor.zeros([4, 669]), knownCells: Tensor.zeros([5, 10])) }.contains("[5, 669]"))
        XCTAssertTrue(message { try Self.pipeline(text: false).generate(text: "walk", frames: 5) }.contains("reads no text"))
        let long = String(repeating: "a person walks and ", count: 10)
        XCTAssertTrue(message { try p.generate(text: long, frames: 5) }.contains("tokens; this model reads at most 32 (text_max_tokens)"))
        do { _ = try p.generate(text: long, frames: 5); XCTFail("a too long text sampled") } catch { XCTAssertEqual(ErrorKind.of(error), .tooLarge) }
        let clip = try Self.clip(frames: 6)
        var at30 = Self.fast; at30.fps = 30
        XCTAssertTrue(message { try p.edit(motion: clip, parts: [.leftArm], text: "wave", options: at30) }.contains("20.0 fps"))
        XCTAssertTrue(message { try p.edit(motion: clip, parts: [.leftHand], text: "wave") }.contains("no hands"))
        XCTAssertTrue(message { try p.edit(motion: clip, parts: [], text: "wave") }.contains("no body parts"))
        XCTAssertTrue(message { try p.predict(clip, frames: 0) }.contains("at least 1"))
        // Part names.
        XCTAssertTrue(message { try BodyPart.parseList("larm, wing") }.contains("unknown body part \"wing\""))
        XCTAssertTrue(message { try BodyPart.parseList(" , ") }.contains("no body parts given"))
        XCTAssertTrue(message { try BodyPart.parseList("lhand", available: LMMPipeline.generatedParts) }.contains("no lhand part"))
        XCTAssertEqual(try BodyPart.parseList("lhand,face"), [.leftHand, .face])
        XCTAssertEqual(try BodyPart.parseList("upper", available: LMMPipeline.generatedParts), [.head, .stem, .rightArm, .leftArm])
        XCTAssertEqual(try BodyPart.parseList("upper"), [.head, .stem, .rightArm, .leftArm, .leftHand, .rightHand])
        XCTAssertEqual(try BodyPart.parseList("lower,lleg,root"), [.root, .rightLeg, .leftLeg])
        XCTAssertEqual(BodyPart.allCases.map(\.userName), ["root", "head", "stem", "rarm", "larm", "rleg", "lleg", "lhand", "rhand", "face"])
    }
}
