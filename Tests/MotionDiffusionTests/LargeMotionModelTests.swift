import Foundation
@testable import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The denoiser against the official LMM code (Fixtures/lmm_denoiser.safetensors, made by
/// Tools/fixtures/make_lmm_fixtures.py, which runs the official `LargeMotionModel` and `ArtAttention`
/// with random weights under their own keys): outputs within 1e-4 and every parameter's gradient within
/// 1e-3, relative to the reference's largest magnitude.
final class LargeMotionModelTests: XCTestCase {
    static let fixture: SafeTensorsFile = try! SafeTensorsFile(url: LMMTestData.fixture("lmm_denoiser.safetensors"))

    func tensor(_ key: String) throws -> Tensor { try Self.fixture.tensor(key).copy() }
    func ints(_ key: String) throws -> [Int] { try tensor(key).scalars.map { Int($0.rounded()) } }

    /// max |a - b| over max(|b|, 1): the error relative to the reference's scale.
    func scaledError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        let bm = b.scalars.map(abs).max() ?? 0
        return a.maxAbsDifference(b) / max(bm, 1)
    }

    func makeModel() throws -> LargeMotionModel {
        var c = LMMConfig()
        c.latentPartDim = try ints("config.latent_part_dim")[0]
        c.numLayers = try ints("config.num_layers")[0]
        c.timeEmbedDim = try ints("config.time_embed_dim")[0]
        c.maxSeqLen = try ints("config.max_seq_len")[0]
        c.textInputDim = try ints("config.text_input_dim")[0]
        c.numCondLayers = 1
        c.datasetNames = ["all", "cmu_mocap", "humanml3d_t2m"]
        XCTAssertEqual(c.datasetNames.count, try ints("config.num_datasets")[0])
        c.guidanceScale = try tensor("config.guidance_scale").scalars[0]
        c.gateType = "top"  // the fixture's one-expert stand-in for tutel carries a `top` gate
        let model = try LargeMotionModel(config: c, seed: 1)
        var state: [String: Tensor] = [:]
        for k in Self.fixture.names where k.hasPrefix("param.") { state[String(k.dropFirst(6))] = try tensor(k) }
        // Strict: our keys are exactly the official state dict's.
        try model.load(state: state)
        return model
    }

    func checkGradients(_ params: [(String, Tensor)], prefix: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var worst: (Float, String) = (0, "")
        for (key, p) in params {
            let ref = try tensor(prefix + key)
            guard let g = p.grad else {
                XCTAssertEqual(ref.scalars.map(abs).max() ?? 0, 0, "\(key): no gradient here, the reference has one", file: file, line: line)
                continue
            }
            let e = scaledError(g, ref)
            if e > worst.0 { worst = (e, key) }
            XCTAssertLessThan(e, 1e-3, "gradient of \(key)", file: file, line: line)
        }
        print("\(prefix): \(params.count) parameter gradients, worst scaled error \(worst.0) (\(worst.1))")
    }

    func testDenoiserMatchesOfficialWithMasksConditionsAndGuidance() throws {
        let model = try makeModel()
        model.train(false)
        let motion = try tensor("in.motion")
        let b = motion.shape[0]
        let inputs = LMMInputs(
            timesteps: try tensor("in.timesteps").scalars, partMask: try tensor("in.motion_mask"),
            lengths: try ints("in.motion_length"), fps: try tensor("in.duration").scalars.map { 1 / $0 },
            datasetIndex: try ints("in.dataset_idx"), rotationIndex: try ints("in.rotation_idx"),
            conditions: ["text": ConditionTokens(words: try tensor("in.text_word_feat"), present: try tensor("in.text_cond").scalars)])
        XCTAssertEqual(inputs.lengths.count, b)
        let out = try Tensor.withGrad { try model(motion, inputs, guidance: model.config.guidanceScale) }
        let e = scaledError(out, try tensor("out"))
        print("denoiser: output scaled error \(e)")
        XCTAssertLessThan(e, 1e-4)
        (out * (try tensor("grad_out"))).sum().backward()
        try checkGradients(model.namedParameters(), prefix: "grad.")
    }

    func testArtAttentionLayerMatchesOfficial() throws {
        let model = try makeModel()
        model.train(false)
        let block = model.temporalDecoderBlocks[0].caBlock
        let x = try tensor("layer.x")
        x.requiresGrad = true
        let duration = try tensor("in.duration").scalars
        let context = ArtAttentionContext(
            sourceMask: try tensor("layer.src_mask"), lengths: try tensor("in.motion_length").scalars, duration: duration,
            datasetIndex: try ints("in.dataset_idx"), rotationIndex: try ints("in.rotation_idx"),
            conditions: ["text": ConditionTokens(words: try tensor("layer.text_word_out"), present: try tensor("in.text_cond").scalars)])
        let y = Tensor.withGrad { block(x, emb: try! tensor("layer.emb"), context: context) }
        let e = scaledError(y, try tensor("layer.out"))
        print("ArtAttention: output scaled error \(e)")
        XCTAssertLessThan(e, 1e-4)
        (y * (try tensor("layer.grad_out"))).sum().backward()
        XCTAssertLessThan(scaledError(x.grad!, try tensor("layer.grad_x")), 1e-3, "gradient of x")
        try checkGradients(block.namedParameters(), prefix: "layer.grad.")
    }

    /// Several experts against the official model with the real tutel (Fixtures/lmm_experts.safetensors):
    /// 4 experts, top-2, cosine gate, capacity 1.5 with batch-prioritised routing, the load-balancing loss.
    func testSeveralExpertsMatchTutel() throws {
        let f = try SafeTensorsFile(url: LMMTestData.fixture("lmm_experts.safetensors"))
        func t(_ k: String) throws -> Tensor { try f.tensor(k).copy() }
        var c = LMMConfig()
        c.latentPartDim = try ints("config.latent_part_dim")[0]
        c.numLayers = 1
        c.timeEmbedDim = try ints("config.time_embed_dim")[0]
        c.maxSeqLen = try ints("config.max_seq_len")[0]
        c.textInputDim = try ints("config.text_input_dim")[0]
        c.numCondLayers = 1
        c.datasetNames = ["all", "cmu_mocap", "humanml3d_t2m"]
        c.numExperts = 4; c.topk = 2; c.gateType = "cosine_top"; c.gateNoise = 1
        let model = try LargeMotionModel(config: c, seed: 1)
        var state: [String: Tensor] = [:]
        for k in f.names where k.hasPrefix("param.") { state[String(k.dropFirst(6))] = try t(k) }
        try model.load(state: state)
        model.train(false)
        let inputs = LMMInputs(
            timesteps: try t("in.timesteps").scalars, partMask: try t("in.motion_mask"),
            lengths: try t("in.motion_length").scalars.map { Int($0) }, fps: try t("in.duration").scalars.map { 1 / $0 },
            datasetIndex: try t("in.dataset_idx").scalars.map { Int($0) }, rotationIndex: try t("in.rotation_idx").scalars.map { Int($0) },
            conditions: ["text": ConditionTokens(words: try t("in.text_word_feat"), present: try t("in.text_cond").scalars)])
        let (out, routing) = try Tensor.withGrad { () throws -> (Tensor, Tensor) in
            let o = try model(try t("in.motion"), inputs, guidance: 2.5)
            return (o, try XCTUnwrap(model.routingLoss))
        }
        let block = model.temporalDecoderBlocks[0].caBlock
        print("experts: dropped \(block.motionMoe._dropped) motion and \(block.condMoe!._dropped) condition token choices")
        let e = scaledError(out, try t("out"))
        print("experts: output scaled error \(e), routing loss \(routing.item) vs \(try t("routing").item)")
        XCTAssertLessThan(e, 1e-4)
        XCTAssertEqual(routing.item, try t("routing").item, accuracy: 1e-4 * max(abs(try t("routing").item), 1e-3))
        ((out * (try t("grad_out"))).sum() + routing * 0.5).backward()
        var worst: (Float, String) = (0, "")
        for (key, p) in model.namedParameters() {
            let ref = try t("grad." + key)
            guard let g = p.grad else {
                XCTAssertEqual(ref.scalars.map(abs).max() ?? 0, 0, "\(key): no gradient here, the reference has one")
                continue
            }
            let err = scaledError(g, ref)
            if err > worst.0 { worst = (err, key) }
            XCTAssertLessThan(err, 1e-3, "gradient of \(key)")
        }
        print("experts: \(model.namedParameters().count) parameter gradients, worst scaled error \(worst.0) (\(worst.1))")
    }

    /// The MOE projection alone against the official `MOE` over the real tutel, with a gate skewed towards one
    /// expert so that its capacity (2 x int(1.5 x ceil(N / 4))) drops tokens.
    func testCapacityDropsTokensAsTutel() throws {
        let f = try SafeTensorsFile(url: LMMTestData.fixture("lmm_experts.safetensors"))
        func t(_ k: String) throws -> Tensor { try f.tensor(k).copy() }
        let x = try t("moe.x")
        let l = x.shape[3]
        var rng = SeededRNG(seed: 1)
        let moe = MixtureOfExperts(inputDim: l, ffnDim: 4 * l, outputDim: 5 * l, heads: 10, maxSeqLen: try ints("config.max_seq_len")[0],
                                   embedding: true, experts: 4, topk: 2, gateType: "cosine_top", gateNoise: 1, rng: &rng)
        var state: [String: Tensor] = [:]
        for k in f.names where k.hasPrefix("moe.param.") { state[String(k.dropFirst(10))] = try t(k) }
        try moe.load(state: state)
        moe.train(false)
        x.requiresGrad = true
        let y = Tensor.withGrad { moe(x) }
        let aux = try XCTUnwrap(moe._auxLoss)
        print("MOE alone: \(moe._dropped) of \(x.count / l * 2) token choices dropped; output scaled error \(scaledError(y, try t("moe.out"))); aux \(aux.item) vs \(try t("moe.aux").item)")
        XCTAssertGreaterThan(moe._dropped, 0, "the skewed gate must overflow an expert")
        XCTAssertLessThan(scaledError(y, try t("moe.out")), 1e-4)
        XCTAssertEqual(aux.item, try t("moe.aux").item, accuracy: 1e-4 * max(abs(try t("moe.aux").item), 1e-2))
        ((y * (try t("moe.grad_out"))).sum() + aux).backward()
        XCTAssertLessThan(scaledError(x.grad!, try t("moe.grad_x")), 1e-3, "gradient of x")
        for (key, p) in moe.namedParameters() {
            XCTAssertLessThan(scaledError(try XCTUnwrap(p.grad, key), try t("moe.grad." + key)), 1e-3, "gradient of \(key)")
        }
    }

    func testTemplateKLMatchesOfficialInTrainingMode() throws {
        let model = try makeModel()
        let block = model.temporalDecoderBlocks[0].caBlock
        let context = ArtAttentionContext(
            sourceMask: try tensor("layer.src_mask"), lengths: try tensor("in.motion_length").scalars,
            duration: try tensor("in.duration").scalars, datasetIndex: try ints("in.dataset_idx"), rotationIndex: try ints("in.rotation_idx"),
            conditions: ["text": ConditionTokens(words: try tensor("layer.text_word_out"), present: try tensor("in.text_cond").scalars)])
        model.train(false)
        _ = Tensor.withNoGrad { block(try! tensor("layer.x"), emb: try! tensor("layer.emb"), context: context) }
        XCTAssertNil(block._templateKL, "no KL in inference mode")
        model.train(true)  // dropout is 0 here, so training mode differs only by the loss
        let kl = try Tensor.withGrad { () throws -> Tensor in
            _ = block(try tensor("layer.x"), emb: try tensor("layer.emb"), context: context)
            return try XCTUnwrap(block._templateKL)
        }
        let ref = try tensor("layer.kl").item
        print("template KL \(kl.item) vs official \(ref)")
        XCTAssertEqual(kl.item, ref, accuracy: 1e-4 * max(abs(ref), 1))
        kl.backward()
        try checkGradients(block.namedParameters(), prefix: "layer.kl_grad.")
    }

    func testUntrainedModelPredictsZeroAndBadInputIsAClearError() throws {
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.maxSeqLen = 8; c.textInputDim = 5
        let model = try LargeMotionModel(config: c)
        let inputs = LMMInputs(timesteps: [10], partMask: Tensor.ones([1, 6, 10]), lengths: [6], fps: [20], datasetIndex: [0])
        // The read-out starts at zero, as the official zero_module.
        let y = try Tensor.withNoGrad { try model(Tensor.ones([1, 6, 669]), inputs) }
        XCTAssertEqual(y.scalars.map(abs).max(), 0)
        XCTAssertThrowsError(try model(Tensor.ones([1, 9, 669]), inputs)) { XCTAssertTrue("\($0)".contains("max_seq_len"), "\($0)") }
        XCTAssertThrowsError(try model(Tensor.ones([1, 6, 263]), inputs)) { XCTAssertTrue("\($0)".contains("669"), "\($0)") }
        var bad = inputs; bad.conditions = ["music": ConditionTokens(words: Tensor.ones([1, 2, 3]), present: [1])]
        XCTAssertThrowsError(try model(Tensor.ones([1, 6, 669]), bad)) { XCTAssertTrue("\($0)".contains("no music condition"), "\($0)") }
        c.numExperts = 4; c.topk = 5
        XCTAssertThrowsError(try LargeMotionModel(config: c)) { XCTAssertTrue("\($0)".contains("topk 5"), "\($0)") }
        c.topk = 2; c.gateNoise = 0
        XCTAssertThrowsError(try LargeMotionModel(config: c)) { XCTAssertTrue("\($0)".contains("gate_noise"), "\($0)") }
    }

    func testConfigDecodesOfficialFieldNames() throws {
        let json = #"{"model_type": "lmm", "latent_part_dim": 16, "num_layers": 3, "time_embed_dim": 64, "max_seq_len": 200, "dataset_names": ["all", "cmu_mocap"], "text_input_dim": 384, "guidance_scale": 4.5}"#
        let c = try JSONDecoder().decode(LMMConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.latentDim, 160)
        XCTAssertEqual(c.numLayers, 3)
        XCTAssertEqual(c.textInputDim, 384)
        XCTAssertNil(c.musicInputDim)
        XCTAssertEqual(c.guidanceScale, 4.5)
        let again = try JSONDecoder().decode(LMMConfig.self, from: try JSONEncoder().encode(c))
        XCTAssertEqual(again, c)
    }
}
