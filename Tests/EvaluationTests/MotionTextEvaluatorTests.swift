import Foundation
import XCTest
import ModelHub
import MotionData
import NeuralNetwork
import TensorEngine
import TextEncoder
import Training
@testable import Evaluation

/// Our text-motion evaluator: the bundled folder (`Models/evaluator`) through ModelHub, its
/// embeddings, a short training run, and its held-out retrieval on real CMU motion.
final class MotionTextEvaluatorTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bundledFolder = packageRoot.appendingPathComponent("Models/evaluator")
    static let data = packageRoot.appendingPathComponent("Data/cmu-mocap-h3d")
    static let rephrasedFile = Fixtures.folder.appendingPathComponent("rephrased_captions.json")

    // Loaded once (the sentence encoder is 45 MB); the tests only read it.
    nonisolated(unsafe) static var cached: MotionTextEvaluator?
    static func bundled() throws -> MotionTextEvaluator {
        if let cached { return cached }
        let registry = ModelRegistry(families: ModelRegistry.builtInFamilies + [MotionTextEvaluator.family])
        let e = try ModelHub.load(bundledFolder, as: MotionTextEvaluator.self, expected: MotionTextEvaluator.modelType, registry: registry)
        cached = e
        return e
    }

    static func testClips() throws -> [HeldOutEvaluation.Clip] { try HeldOutEvaluation.clips(data, split: "test") }

    // MARK: The folder

    func testBundledFolderLoadsThroughModelHub() throws {
        let registry = ModelRegistry(families: ModelRegistry.builtInFamilies + [MotionTextEvaluator.family])
        XCTAssertTrue(registry.modelTypes.contains("motion-text-evaluator"))
        let e = try Self.bundled()
        XCTAssertEqual(e.config.modelType, "motion-text-evaluator")
        XCTAssertEqual(e.config.textEncoder, "../text-encoder")
        XCTAssertEqual(e.embeddingDimension, 256)
        XCTAssertEqual(e.sentenceEncoder?.dimension, 384)
        XCTAssertFalse(e.readsPartOfSpeech)
        XCTAssertTrue(e.evaluatorName.hasSuffix("Models/evaluator"), e.evaluatorName)
        // F16 weights, a few MB.
        let weights = Self.bundledFolder.appendingPathComponent("model.safetensors")
        let size = try FileManager.default.attributesOfItem(atPath: weights.path)[.size] as! Int
        XCTAssertLessThan(size, 4_000_000)
        let weightCount = e.namedTensors().reduce(0) { $0 + $1.1.count }
        XCTAssertTrue((0..<8_000).contains(size - 2 * weightCount), "\(size) bytes for \(weightCount) weights: 2 bytes a weight (F16) plus the header")
        // The family answers only to its model_type; a folder of another family is named as such.
        XCTAssertThrowsError(try MotionTextEvaluator.load(directory: Self.packageRoot.appendingPathComponent("Models/text-encoder"), registry: registry)) { error in
            XCTAssertTrue("\(error)".contains("not a motion-text-evaluator model"), "\(error)")
        }
    }

    func testBrokenFoldersGiveOneLineErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evaluator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["config.json", "model.safetensors", "mean.npy", "std.npy"] {
            try FileManager.default.copyItem(at: Self.bundledFolder.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let registry = ModelRegistry(families: [MotionTextEvaluator.family])
        // The text encoder path is relative to the folder: from a temporary folder it is not there.
        XCTAssertThrowsError(try ModelHub.load(dir, registry: registry)) { error in
            let s = "\(error)"
            XCTAssertTrue(s.contains("text_encoder ../text-encoder") && !s.contains("\n"), s)
        }
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        json["hidden_size"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir, registry: registry)) { error in
            XCTAssertTrue("\(error)".contains("hidden_size"), "\(error)")
        }
    }

    // MARK: Embeddings

    func testEmbeddingsAreUnitNormWithTheRightShape() throws {
        let e = try Self.bundled()
        let clips = Array(try Self.testClips().prefix(4))
        let m = try e.embed(motions: clips.map(\.features))
        let t = try e.embed(captions: clips.map { MotionCaption(text: $0.captions[0], tokens: [], start: 0, end: 0) })
        XCTAssertEqual(m.shape, [4, 256])
        XCTAssertEqual(t.shape, [4, 256])
        for x in [m, t] {
            let v = x.scalars
            for i in 0..<4 {
                let norm = (0..<256).reduce(Float(0)) { $0 + v[i * 256 + $1] * v[i * 256 + $1] }.squareRoot()
                XCTAssertEqual(norm, 1, accuracy: 1e-5)
            }
        }
        // Raw features in: the evaluator applies its own statistics, so feeding normalised features
        // gives other vectors.
        let normalized = try e.normalizer.normalize(clips[0].features)
        let wrong = try e.embed(motions: [normalized])
        XCTAssertGreaterThan(wrong.maxAbsDifference(m.slice(dim: 0, 0, 1)), 0.05)
        // Bad input: one line naming the motion.
        XCTAssertThrowsError(try e.embed(motions: [Tensor.zeros([3, 263])])) { XCTAssertTrue("\($0)".contains("motions[0]: 3 frames"), "\($0)") }
        XCTAssertThrowsError(try e.embed(motions: [clips[0].features, Tensor.zeros([50, 251])])) { XCTAssertTrue("\($0)".contains("motions[1]"), "\($0)") }
        XCTAssertThrowsError(try e.embed(motions: [])) { XCTAssertEqual("\($0)", "motions is empty") }
    }

    func testPaddedBatchEqualsOneAtATime() throws {
        let e = try Self.bundled()
        // Lengths 45 ... 196, several not a multiple of 4 (trailing frames are not read either way).
        let clips = try Self.testClips().filter { ["08_01_00", "03_02_00", "06_07_00", "05_10_00", "14_08_00", "13_42_00"].contains($0.name) }
        XCTAssertEqual(clips.count, 6)
        let together = try e.embed(motions: clips.map(\.features))
        var worst: Float = 0
        for (i, c) in clips.enumerated() {
            let alone = try e.embed(motions: [c.features])
            worst = max(worst, alone.maxAbsDifference(together.slice(dim: 0, i, i + 1)))
        }
        print("padded batch of \(clips.count) (frames \(clips.map { $0.features.shape[0] })) vs one at a time: worst abs difference \(worst)")
        XCTAssertLessThan(worst, 1e-5)
        // Padding that is really read would show: a clip padded by a longer neighbour in a batch of 2.
        let pair = try e.embed(motions: [clips[0].features, clips[4].features], batchSize: 2)
        XCTAssertLessThan(pair.slice(dim: 0, 0, 1).maxAbsDifference(together.slice(dim: 0, 0, 1)), 1e-5)
    }

    // MARK: Training

    func testShortTrainingRunLowersTheLoss() throws {
        let encoder = try XCTUnwrap(try Self.bundled().sentenceEncoder)
        let normalizer = try FeatureNormalizer(directory: Self.data)
        var table: [String] = []
        let clips = try EvaluatorTrainer.loadClips(Self.data, split: "train", normalizer: normalizer, mirror: true, table: &table)
        XCTAssertEqual(clips.count, 68)
        let vectors = Tensor(try encoder.embed(table).flatMap(\.vector), shape: [table.count, encoder.dimension])
        var config = MotionTextEvaluatorConfig()
        config.hiddenSize = 32; config.numLayers = 1; config.intermediateSize = 64; config.embeddingDimension = 32; config.dropout = 0
        let model = try MotionTextEvaluator(config: config, normalizer: normalizer, sentenceEncoder: encoder, seed: 3)
        var options = EvaluatorTrainingOptions()
        options.batchSize = 16; options.learningRate = 2e-3; options.warmupSteps = 0; options.cosineFloor = nil; options.maxWindow = 96; options.seed = 3
        let trainer = try EvaluatorTrainer(evaluator: model, clips: clips, sentenceVectors: vectors, options: options, steps: 30)
        // Loss on fixed whole clips (the training clips: this is about optimisation, not generalisation).
        let probe = Array(clips.prefix(24))
        let before = try trainer.loss(on: probe)
        var lines: [String] = []
        for _ in 0..<30 { lines.append(try trainer.trainStep().line) }
        let after = try trainer.loss(on: probe)
        print("30 steps: loss on 24 training clips \(before) -> \(after); last step: \(lines.last!)")
        XCTAssertTrue(before.isFinite && after.isFinite)
        XCTAssertLessThan(after, before * 0.85)
    }

    func testTrainEvaluatorWritesAFolderThatLoadsAndResumesBitForBit() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("evaluator-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        func parameters(_ name: String) throws -> EvaluatorTrainingParameters {
            var p = EvaluatorTrainingParameters(data: Self.data, output: tmp.appendingPathComponent(name),
                                                textEncoder: Self.packageRoot.appendingPathComponent("Models/text-encoder"), steps: 4)
            p.sentenceEncoder = try Self.bundled().sentenceEncoder
            p.config.hiddenSize = 16; p.config.numLayers = 1; p.config.intermediateSize = 32; p.config.embeddingDimension = 16
            p.options.batchSize = 8; p.options.maxWindow = 64; p.options.warmupSteps = 0; p.mirror = true
            p.loop.checkpointEvery = 2; p.loop.validateEvery = 2; p.loop.logEvery = 2
            return p
        }
        // Uninterrupted.
        var p = try parameters("whole")
        XCTAssertEqual(try trainEvaluator(p) { _ in .proceed }, .finished(output: p.output))
        XCTAssertThrowsError(try trainEvaluator(p) { _ in .proceed }) { XCTAssertTrue("\($0)".contains("already exists"), "\($0)") }
        // Stopped after the checkpoint of step 2, then resumed to the end.
        p = try parameters("resumed")
        var validations: [Int] = []
        let first = try trainEvaluator(p) { event in
            if case .validation(let step, _, _, _) = event { validations.append(step) }
            if case .checkpoint(let step, _) = event, step == 2 { return .stop }
            return .proceed
        }
        guard case .stopped(step: 2, _) = first else { return XCTFail("expected a stop at step 2, got \(first)") }
        p.loop.resume = true
        let second = try trainEvaluator(p) { event in
            if case .validation(let step, _, _, _) = event { validations.append(step) }
            return .proceed
        }
        XCTAssertEqual(second, .finished(output: p.output))
        XCTAssertEqual(validations, [2, 4])
        let a = try SafeTensorsFile(url: tmp.appendingPathComponent("whole/model.safetensors"))
        let b = try SafeTensorsFile(url: p.output.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(a.names.sorted(), b.names.sorted())
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
        // The folder names its text encoder relative to itself and loads through the family.
        let config = try JSONDecoder().decode(MotionTextEvaluatorConfig.self, from: Data(contentsOf: p.output.appendingPathComponent("config.json")))
        XCTAssertTrue(config.textEncoder.hasPrefix("../") && config.textEncoder.hasSuffix("Models/text-encoder"), config.textEncoder)
        let loaded = try MotionTextEvaluator.load(directory: p.output, registry: ModelRegistry(families: [MotionTextEvaluator.family]))
        XCTAssertEqual(try loaded.embed(motions: [try Self.testClips()[0].features]).shape, [1, 16])
    }

    // MARK: Retrieval arithmetic

    func testRetrievalCountsRanksAndDistances() throws {
        // Texts 0 and 1 sit on their motions; text 2 is nearer motion 0 (distance 0.5) than its own (1).
        let motions = Tensor([0, 0, 2, 0, 0, 2], shape: [3, 2])
        let texts = Tensor([0, 0, 2, 0, 0.5, 0], shape: [3, 2])
        let r = try EvaluatorCheck.retrieval(texts: texts, motions: motions)
        XCTAssertEqual(r.topK, [2.0 / 3, 2.0 / 3, 1])
        // Distance of text 2 to its motion (0, 2): sqrt(0.25 + 4).
        XCTAssertEqual(r.mmDist, (0 + 0 + (0.25 + 4.0).squareRoot()) / 3, accuracy: 1e-9)
        // A tie ranks as a stable argsort does (the lower motion index first): both texts sit halfway
        // between the two motions, so text 0 finds motion 0 first (a hit) and text 1 does too (a miss).
        let tie = try EvaluatorCheck.retrieval(texts: Tensor([1, 0, 1, 0], shape: [2, 2]), motions: Tensor([0, 0, 2, 0], shape: [2, 2]))
        XCTAssertEqual(tie.topK[0], 0.5)
        XCTAssertEqual(EvaluatorCheck.chance(pool: 16), [1.0 / 16, 2.0 / 16, 3.0 / 16])
        XCTAssertThrowsError(try EvaluatorCheck.retrieval(texts: texts, motions: Tensor.zeros([2, 2]))) { XCTAssertEqual("\($0)", "motions has 2 elements, expected 3") }
        XCTAssertEqual(EvaluatorCheck.words("Walk-forward, then 2 hops!"), ["walk", "forward", "then", "2", "hops"])
    }

    // MARK: Held-out numbers

    /// The model card's test-split table. The margins: the shuffled-caption control sits at chance
    /// (top-1 0.063, top-3 0.192 against 1/16 and 3/16); the bundled evaluator's captions find their
    /// clips at top-1 0.675 and top-3 0.953 (mean of 20 caption draws). Asking for top-3 0.5 and top-1
    /// 0.35 above the control leaves four and five clips of slack (one clip is 1/16 = 0.0625) for
    /// rounding on other machines, and fails an evaluator that ignores its input (matched = control),
    /// one fed normalised features twice, or a half-trained one (val top-3 0.25 before training).
    func testBundledEvaluatorFindsTestClipsFarAboveShuffledCaptions() throws {
        let e = try Self.bundled()
        let clips = try Self.testClips()
        XCTAssertEqual(clips.count, 16)
        let r = try EvaluatorCheck.heldOut(e, clips: clips)
        func row(_ name: String, _ x: EvaluatorCheck.Retrieval) -> String {
            String(format: "%@  top-1 %.3f  top-2 %.3f  top-3 %.3f  MM-Dist %.3f  (%d pools)", name, x.topK[0], x.topK[1], x.topK[2], x.mmDist, x.samples)
        }
        print("test split, pool = \(clips.count) clips, chance \(r.chance.map { String(format: "%.3f", $0) })")
        print(row("first caption   ", r.firstCaption))
        print(row("random caption  ", r.matched))
        print(row("shuffled control", r.shuffled))
        XCTAssertEqual(r.shuffled.topK[2], 3.0 / 16, accuracy: 0.08, "the control sits near chance")
        XCTAssertGreaterThan(r.matched.topK[2], r.shuffled.topK[2] + 0.5)
        XCTAssertGreaterThan(r.matched.topK[0], r.shuffled.topK[0] + 0.35)
        XCTAssertGreaterThan(r.firstCaption.topK[2], r.shuffled.topK[2] + 0.5)
        XCTAssertLessThan(r.matched.mmDist, r.shuffled.mmDist)
    }

    /// Captions in other words find their clips too: the evaluator reads the sentence encoder's
    /// meaning, not the training captions' word identities. Measured: top-3 0.60 against the
    /// control's 0.145 (chance 3/20); 0.3 above the control leaves three clips of slack (1/20 each).
    func testRephrasedCaptionsInUnseenWordsFindTheirClips() throws {
        let e = try Self.bundled()
        let file = try EvaluatorCheck.RephrasedFile.read(Self.rephrasedFile)
        XCTAssertEqual(file.captions.count, 20)
        XCTAssertEqual(Set(file.captions.map(\.clip)).count, 20)
        let vocabulary = try EvaluatorCheck.trainingVocabulary(Self.data)
        let r = try EvaluatorCheck.rephrased(e, captions: file.captions, data: Self.data, vocabulary: vocabulary)
        func row(_ name: String, _ x: EvaluatorCheck.Retrieval) -> String {
            String(format: "%@  top-1 %.3f  top-2 %.3f  top-3 %.3f  MM-Dist %.3f", name, x.topK[0], x.topK[1], x.topK[2], x.mmDist)
        }
        print("rephrased captions: \(r.words) distinct words, \(r.unseenWords.count) not in the \(vocabulary.count) words of the training captions; pool = \(r.clips.count) clips, chance \(r.chance.map { String(format: "%.3f", $0) })")
        print(row("rephrased       ", r.rephrased))
        print(row("dataset caption ", r.original))
        print(row("shuffled control", r.shuffled))
        XCTAssertGreaterThanOrEqual(r.unseenWords.count, 80, "the rephrasings are in new words")
        XCTAssertEqual(r.shuffled.topK[2], 3.0 / 20, accuracy: 0.06)
        XCTAssertGreaterThan(r.rephrased.topK[2], r.shuffled.topK[2] + 0.3)
    }
}
