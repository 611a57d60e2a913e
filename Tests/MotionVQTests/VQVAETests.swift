import Foundation
import NeuralNetwork
import TensorEngine
import XCTest
@testable import MotionVQ

/// The VQ-VAE against an independent PyTorch implementation of MotionGPT's architecture
/// (`Tools/fixtures/make_vq_fixtures.py`) on windows of the real HumanML3D sample clip.
final class VQVAETests: XCTestCase {
    static let fixture: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "Fixtures/vq", withExtension: "safetensors")!
        return try! SafeTensorsFile(url: url)
    }()

    static var tinyConfig: VQVAEConfig {
        var c = VQVAEConfig.tiny(nfeats: 263, codes: 16, width: 16)
        c.depth = 2
        return c
    }

    func t(_ name: String) throws -> Tensor { try Self.fixture.tensor(name) }

    func loadedModel() throws -> VQVAE {
        let model = try VQVAE(config: Self.tinyConfig, seed: 99)
        var state: [String: Tensor] = [:]
        let keys = Set(model.namedTensors().map { $0.0 })
        for name in Self.fixture.names where keys.contains(name) { state[name] = try t(name) }
        try model.loadWeights(state)
        return model
    }

    func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(1, b.scalars.map { Swift.abs($0) }.max() ?? 1)
        XCTAssertLessThanOrEqual(a.reshaped(b.shape).maxAbsDifference(b) / scale, tol, what, file: file, line: line)
    }

    func testKeysAreMotionGPTs() throws {
        let model = try VQVAE(config: VQVAEConfig(), seed: 0)
        let keys = Set(model.namedTensors().map { $0.0 })
        // Keys of MotionGPT's released tokenizer (without the `vae.` prefix), spot-checked.
        for k in ["encoder.model.0.weight", "encoder.model.2.0.weight", "encoder.model.2.1.model.0.conv1.weight",
                  "encoder.model.3.1.model.2.conv2.bias", "encoder.model.4.weight", "quantizer.codebook",
                  "decoder.model.0.weight", "decoder.model.2.0.model.0.conv1.weight", "decoder.model.2.2.weight",
                  "decoder.model.3.2.bias", "decoder.model.4.weight", "decoder.model.6.weight"] {
            XCTAssertTrue(keys.contains(k), k)
        }
        XCTAssertEqual(model.namedTensors().first { $0.0 == "quantizer.codebook" }?.1.shape, [512, 512])
        XCTAssertFalse(model.parameters().contains { $0 === model.quantizer.codebook }, "the codebook is a buffer")
        // Trainable weights of the default (MotionGPT) configuration, counted by PyTorch on the same module tree.
        XCTAssertEqual(model.parameterCount, 19_436_807)
    }

    func testInferenceMatchesPyTorch() throws {
        let model = try loadedModel()
        model.train(false)
        let x = try t("input")                                    // [2, 32, 263]
        let enc = Tensor.withNoGrad { model.encodeContinuous(x) }
        assertClose(enc, try t("enc"), 1e-4, "encoder output")
        let codes = model.quantizer.nearestCodes(enc.reshaped([16, 16]))
        XCTAssertEqual(codes, try t("codes").scalars.map { Int($0) })
        let dec = try model.decode(Array(codes[0..<8]))
        assertClose(dec, try t("dec"), 1e-4, "decoder output")
        // The public encode path gives the same codes for one window.
        XCTAssertEqual(try model.encode(x.slice(dim: 0, 0, 1).reshaped([32, 263])), Array(codes[0..<8]))
    }

    func testTrainingStepMatchesPyTorch() throws {
        let model = try loadedModel()
        model.train(true)
        var rng = SeededRNG(seed: 1)
        let out = model.trainingStep(try t("input"), rng: &rng)
        XCTAssertEqual(out.loss.item, try t("loss").item, accuracy: 1e-5)
        XCTAssertEqual(out.featureLoss, try t("loss_feature").item, accuracy: 1e-5)
        XCTAssertEqual(out.velocityLoss, try t("loss_velocity").item, accuracy: 1e-5)
        XCTAssertEqual(out.commitLoss, try t("loss_commit").item, accuracy: 1e-5)
        XCTAssertEqual(out.perplexity, try t("perplexity").item, accuracy: 1e-4)
        assertClose(model.quantizer.codebook, try t("codebook_after"), 1e-5, "EMA-updated codebook with reset")
        let params = model.namedParameters()
        let opt = AdamW(parameters: params.map { $0.1 }, learningRate: 2e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0)
        opt.zeroGrad()
        out.loss.backward()
        for (key, p) in params {
            guard let g = p.grad else { XCTFail("no gradient for \(key)"); continue }
            assertClose(g, try t("grad." + key), 1e-4, "gradient of \(key)")
        }
        opt.update()
        let out2 = model.trainingStep(try t("input"), rng: &rng)
        XCTAssertEqual(out2.loss.item, try t("loss_step2").item, accuracy: 1e-5)
    }

    func testLengthsAreHandledOrRefused() throws {
        let model = try VQVAE(config: .tiny(codes: 8, width: 8), seed: 3)
        var rng = SeededRNG(seed: 4)
        model.train(true)
        _ = model.trainingStep(.randn([1, 16, 263], rng: &rng), rng: &rng)   // initialise the codebook
        model.train(false)
        for (frames, codes) in [(4, 1), (7, 1), (8, 2), (13, 3), (64, 16), (2001, 500)] {
            let x = Tensor.randn([frames, 263], rng: &rng)
            let c = try model.encode(x)
            XCTAssertEqual(c.count, codes, "\(frames) frames")
            XCTAssertEqual(try model.decode(c).shape, [codes * 4, 263])
        }
        for frames in [0, 1, 3] {
            XCTAssertThrowsError(try model.encode(Tensor.zeros([frames, 263]))) { e in
                XCTAssertTrue("\(e)".contains("too short"), "\(e)")
            }
        }
        XCTAssertThrowsError(try model.encode(Tensor.zeros([8, 251])))
        XCTAssertThrowsError(try model.encode(Tensor([Float](repeating: .nan, count: 8 * 263), shape: [8, 263])))
        XCTAssertThrowsError(try model.decode([]))
        XCTAssertThrowsError(try model.decode([0, 8])) { e in XCTAssertTrue("\(e)".contains("outside the codebook")) }
        XCTAssertThrowsError(try model.decode([-1]))
    }

    func testConfigReadsMotionGPTFieldsAndRejectsBadOnes() throws {
        let json = #"{"code_num": 256, "code_dim": 128, "output_emb_width": 128, "width": 64, "down_t": 3, "activation": "silu"}"#
        let c = try JSONDecoder().decode(VQVAEConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.codeNum, 256); XCTAssertEqual(c.framesPerCode, 8); XCTAssertEqual(c.depth, 3); XCTAssertEqual(c.nfeats, 263)
        let back = try JSONDecoder().decode(VQVAEConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
        var bad = VQVAEConfig(); bad.codeDim = 100
        XCTAssertThrowsError(try VQVAE(config: bad)) { XCTAssertTrue("\($0)".contains("code_dim")) }
        bad = VQVAEConfig(); bad.activation = "swish"
        XCTAssertThrowsError(try VQVAE(config: bad)) { XCTAssertTrue("\($0)".contains("activation")) }
        bad = VQVAEConfig(); bad.width = 1_000_000_000
        XCTAssertThrowsError(try VQVAE(config: bad)) { XCTAssertTrue("\($0)".contains("beyond")) }
        XCTAssertEqual(VQVAEConfig.tiny(nfeats: 251).jointCount, 21)
    }
}
