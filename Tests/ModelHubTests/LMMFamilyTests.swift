import Foundation
@testable import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The `lmm` model family: a folder written by `save` loads through the registry to the same denoiser.
final class LMMFamilyTests: XCTestCase {
    func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lmm-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    func smallModel() throws -> LargeMotionModel {
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 2; c.maxSeqLen = 8; c.textInputDim = 5; c.numCondLayers = 1
        c.datasetNames = ["all", "cmu_mocap"]
        let m = try LargeMotionModel(config: c, seed: 11)
        var rng = SeededRNG(seed: 12)
        // Non-zero read-out, so the outputs compare something.
        for (_, p) in m.namedParameters() { p.assign(Tensor.randn(p.shape, std: 0.2, rng: &rng)) }
        m.train(false)
        return m
    }

    func output(_ m: LargeMotionModel) throws -> Tensor {
        var rng = SeededRNG(seed: 13)
        let x = Tensor.randn([2, 6, 669], rng: &rng)
        let inp = LMMInputs(timesteps: [400, 400], partMask: Tensor.ones([2, 6, 10]), lengths: [6, 5], fps: [20, 20], datasetIndex: [1, 0],
                            conditions: ["text": ConditionTokens(words: Tensor.randn([2, 3, 5], rng: &rng), present: [1, 0])])
        return try Tensor.withNoGrad { try m(x, inp, guidance: 3) }
    }

    func testSaveThenLoadThroughTheRegistry() throws {
        let m = try smallModel()
        let dir = tempDir()
        let stats = try FeatureNormalizer(mean: (0..<669).map { Float($0) / 669 }, std: (0..<669).map { 1 + Float($0) / 100 })
        try LMMModel(denoiser: m, normalizer: stats, textEncoder: nil).save(directory: dir)
        XCTAssertTrue(ModelRegistry.shared.modelTypes.contains("lmm"))
        let bundle = try ModelHub.load(dir, as: LMMModel.self, expected: "lmm")
        XCTAssertEqual(bundle.normalizer.mean, stats.mean)
        XCTAssertEqual(bundle.normalizer.std, stats.std)
        XCTAssertNil(bundle.textEncoder)
        let loaded = bundle.denoiser
        XCTAssertEqual(loaded.config, m.config)
        XCTAssertEqual(loaded.namedTensors().map(\.0), m.namedTensors().map(\.0))
        XCTAssertEqual(try output(loaded).maxAbsDifference(try output(m)), 0)
        // Existing folders are refused without force; F16 loads within F16 rounding.
        XCTAssertThrowsError(try m.save(directory: dir)) { XCTAssertTrue("\($0)".contains("config.json"), "\($0)") }
        XCTAssertThrowsError(try LMMModel(denoiser: m, normalizer: stats, textEncoder: nil).save(directory: dir)) { XCTAssertTrue("\($0)".contains("exists"), "\($0)") }
        try m.save(directory: dir, force: true, dtype: .float16)
        let half = try LargeMotionModel.load(directory: dir)
        let (a, b) = (try output(half), try output(m))
        XCTAssertLessThan(a.maxAbsDifference(b) / max(b.scalars.map(abs).max()!, 1), 2e-2)
    }

    func testOfficialCheckpointKeysAreSanitized() throws {
        let m = try smallModel()
        var state: [String: Tensor] = [:]
        for (k, t) in m.namedTensors() { state["model." + k] = t }
        state["model.temporal_decoder_blocks.0.ca_block.motion_moe.model._num_global_experts"] = Tensor(scalar: 1)
        let fresh = try LargeMotionModel(config: m.config, seed: 99)
        try loadWeights(state, into: fresh, sanitize: LMMFamily.sanitize, source: "official")
        fresh.train(false)
        XCTAssertEqual(try output(fresh).maxAbsDifference(try output(m)), 0)
    }

    func testBadFoldersAreClearErrors() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type": "lmm", "latent_part_dim": 4, "num_experts": 8, "topk": 9}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertTrue("\($0)".contains("topk 9"), "\($0)") }
        try Data(#"{"model_type": "lmm", "latent_part_dim": 4, "time_embed_dim": 8, "num_layers": 1}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertTrue("\($0)".contains("model.safetensors"), "\($0)") }
        let m = try smallModel()
        try writeSafeTensors(Array(m.namedTensors().dropFirst()), to: dir.appendingPathComponent("model.safetensors"))
        try JSONEncoder().encode(m.config).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertTrue("\($0)".contains("missing keys: mask_token"), "\($0)") }
        try writeSafeTensors(m.namedTensors(), to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertTrue("\($0)".contains("mean.npy"), "\($0)") }
    }

    /// HumanML3D statistics put in the unified layout: the values move, the absent parts get 0 / 1.
    func testUnifiedStatisticsFromHumanML3D() throws {
        let h = try FeatureNormalizer(mean: (0..<263).map { Float($0) }, std: (0..<263).map { 2 + Float($0) })
        let u = try LMMModel.unifiedNormalizer(humanML3D: h)
        XCTAssertEqual(u.mean.count, 669)
        XCTAssertEqual(u.mean[0], 0); XCTAssertEqual(u.mean[3], 3); XCTAssertEqual(u.std[3], 5)
        XCTAssertEqual(u.mean[4], 4)                                  // joint 1's position, 263 index 4
        XCTAssertEqual(u.std[UnifiedMotion.faceRange.lowerBound], 1)  // face: absent
        XCTAssertEqual(u.mean[UnifiedMotion.faceRange.lowerBound], 0)
    }
}
