import Foundation
import XCTest
@testable import NeuralNetwork
import TensorEngine

/// The tiny network of Tools/fixtures/make_nn_fixtures.py, with the same keys as its PyTorch twin.
final class TinyNet: Module {
    let fc1: Linear
    let ln: LayerNorm
    let fc2: Linear

    init(rng: inout SeededRNG) {
        fc1 = Linear(8, 16, rng: &rng)
        ln = LayerNorm(16)
        fc2 = Linear(16, 4, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { fc2(ln(fc1(x)).gelu()) }
}

/// max|a - b| / max(max|b|, 1): relative to the reference's scale, absolute near zero.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    XCTAssertEqual(a.shape, b.shape)
    let scale = max(b.scalars.map { abs($0) }.max() ?? 0, 1)
    return a.maxAbsDifference(b) / scale
}

final class NeuralNetworkTests: XCTestCase {
    lazy var fixture: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("nn.safetensors")
        return try! SafeTensorsFile(url: url)
    }()

    func state(_ prefix: String) throws -> [String: Tensor] {
        var s: [String: Tensor] = [:]
        for name in fixture.names where name.hasPrefix(prefix) { s[String(name.dropFirst(prefix.count))] = try fixture.tensor(name) }
        return s
    }

    func testTinyNetworkLossGradientsAndAdamWMatchPyTorch() throws {
        var rng = SeededRNG(seed: 1)
        let net = TinyNet(rng: &rng)
        try net.load(state: state("param."))
        let x = try fixture.tensor("input")
        let targets = try fixture.tensor("targets").scalars.map { Int($0) }
        let losses = try fixture.tensor("losses").scalars
        let opt = AdamW(parameters: net.parameters(), learningRate: 1e-2, weightDecay: 0.1)
        for step in 0..<3 {
            opt.zeroGrad()
            let loss = net(x).crossEntropy(targets: targets, ignoreIndex: -100)
            XCTAssertEqual(loss.item, losses[step], accuracy: 1e-4 * abs(losses[step]), "loss at step \(step)")
            loss.backward()
            if step == 0 {
                for (key, p) in net.namedParameters() {
                    let ref = try fixture.tensor("grad." + key)
                    XCTAssertLessThan(relativeError(p.grad!, ref), 1e-4, "gradient of \(key)")
                }
            }
            opt.update()
            if step == 0 || step == 2 {
                for (key, p) in net.namedTensors() {
                    let ref = try fixture.tensor("step\(step + 1)." + key)
                    XCTAssertLessThan(relativeError(p, ref), 1e-4, "\(key) after AdamW step \(step + 1)")
                }
            }
        }
    }

    func testMultiHeadAttentionMatchesPyTorch() throws {
        var rng = SeededRNG(seed: 2)
        let mha = MultiHeadAttention(dim: 16, heads: 4, rng: &rng)
        // Weights are "mha.query.weight" etc.; "mha.input", "mha.grad.*" are data, not state.
        try mha.load(state: state("mha.").filter { !$0.key.hasPrefix("grad.") && $0.key.contains(".") })
        let x = try fixture.tensor("mha.input")
        x.requiresGrad = true
        let bias = causalMask(queryLength: 5, keyLength: 5).reshaped([1, 1, 5, 5]) + paddingMask(lengths: [5, 3], keyLength: 5)
        let y = mha(x, bias: bias)
        XCTAssertLessThan(relativeError(y, try fixture.tensor("mha.output")), 1e-4)
        (y * (try fixture.tensor("mha.upstream"))).sum().backward()
        XCTAssertLessThan(relativeError(x.grad!, try fixture.tensor("mha.grad.input")), 1e-4)
        for (key, p) in mha.namedParameters() {
            XCTAssertLessThan(relativeError(p.grad!, try fixture.tensor("mha.grad." + key)), 1e-4, key)
        }
    }

    func testKVCacheDecodingEqualsFullCausalPass() {
        var rng = SeededRNG(seed: 3)
        let mha = MultiHeadAttention(dim: 32, heads: 4, rng: &rng)
        let context = Tensor.randn([2, 7, 32], rng: &rng)
        let x = Tensor.randn([2, 6, 32], rng: &rng)
        Tensor.withNoGrad {
            let full = mha(x, bias: causalMask(queryLength: 6, keyLength: 6))
            let fullCross = mha(x, context: context)
            let selfCache = KVCache(), crossCache = KVCache()
            for t in 0..<6 {
                let step = x.slice(dim: 1, t, t + 1)
                let y = mha(step, cache: selfCache)   // attends to all cached steps: causal by construction
                XCTAssertLessThan(y.maxAbsDifference(full.slice(dim: 1, t, t + 1)), 1e-5, "self step \(t)")
                let yc = mha(step, context: context, cache: crossCache)
                XCTAssertLessThan(yc.maxAbsDifference(fullCross.slice(dim: 1, t, t + 1)), 1e-5, "cross step \(t)")
            }
            XCTAssertEqual(selfCache.length, 6)
            XCTAssertEqual(crossCache.length, 7)
        }
    }

    func testStateKeysFollowPropertyPaths() {
        var rng = SeededRNG(seed: 4)
        let stack = TransformerStack(depth: 2, dim: 8, heads: 2, mlpDim: 16, rng: &rng)
        let keys = stack.namedTensors().map { $0.0 }
        XCTAssertTrue(keys.contains("layers.1.attention.query.weight"))
        XCTAssertTrue(keys.contains("layers.0.norm2.bias"))
        XCTAssertEqual(Set(keys).count, keys.count, "keys are unique")
        let seq = Sequential([Linear(3, 4, rng: &rng), Activation(.relu), Conv1d(4, 2, kernelSize: 3, rng: &rng)])
        XCTAssertEqual(seq.namedTensors().map { $0.0 }, ["0.weight", "0.bias", "2.weight", "2.bias"])
        let net = TinyNet(rng: &rng)
        XCTAssertEqual(net.namedTensors().map { $0.0 },
                       ["fc1.weight", "fc1.bias", "ln.weight", "ln.bias", "fc2.weight", "fc2.bias"])
        XCTAssertEqual(net.parameterCount, 8 * 16 + 16 + 16 + 16 + 16 * 4 + 4)
    }

    func testLoadNamesMissingUnexpectedAndMisshapenKeys() {
        var rng = SeededRNG(seed: 5)
        let net = TinyNet(rng: &rng)
        let before = net.fc1.weight.scalars
        var state = Dictionary(uniqueKeysWithValues: net.namedTensors().map { ($0.0, $0.1.copy()) })
        state["fc2.bias"] = nil
        state["fc3.weight"] = Tensor.zeros([2])
        state["ln.weight"] = Tensor.zeros([15])
        state["fc1.weight"] = Tensor.zeros([16, 8])
        XCTAssertThrowsError(try net.load(state: state)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing keys: fc2.bias"), text)
            XCTAssertTrue(text.contains("unexpected keys: fc3.weight"), text)
            XCTAssertTrue(text.contains("ln.weight (model [16], file [15])"), text)
        }
        XCTAssertEqual(net.fc1.weight.scalars, before, "a failed load writes nothing")
    }

    func testScheduleAndGradientClipping() {
        let s = WarmupCosineSchedule(peak: 1, floor: 0.1, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(s.learningRate(at: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(at: 9), 1, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(at: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(at: 60), 0.55, accuracy: 1e-5)
        XCTAssertEqual(s.learningRate(at: 110), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(at: 500), 0.1, accuracy: 1e-6)
        let a = Tensor.zeros([2], requiresGrad: true), b = Tensor.zeros([1], requiresGrad: true)
        a.grad = Tensor([3, 0]); b.grad = Tensor([4])
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.scalars[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(b.grad!.scalars[0], 0.8, accuracy: 1e-5)
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 2), 1, accuracy: 1e-5)
        XCTAssertEqual(b.grad!.scalars[0], 0.8, accuracy: 1e-5, "under the limit nothing changes")
    }

    func testSmallTransformerLearnsToCopyAndLossFalls() {
        // Predict each token's own id through an embedding, a transformer block and a readout.
        var rng = SeededRNG(seed: 6)
        let vocab = 10, dim = 16
        let emb = Embedding(vocab, dim, rng: &rng)
        let block = TransformerBlock(dim: dim, heads: 2, mlpDim: 32, rng: &rng)
        let head = Linear(dim, vocab, rng: &rng)
        let params = emb.parameters() + block.parameters() + head.parameters()
        let opt = AdamW(parameters: params, learningRate: 1e-2, weightDecay: 0)
        let ids = (0..<32).map { _ in rng.nextInt(vocab) }
        var losses: [Float] = []
        for _ in 0..<40 {
            opt.zeroGrad()
            let logits = head(block(emb(ids, shape: [4, 8]))).reshaped([32, vocab])
            let loss = logits.crossEntropy(targets: ids)
            loss.backward()
            clipGradientNorm(params, maxNorm: 1)
            opt.update()
            losses.append(loss.item)
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.2, "loss \(losses.first!) -> \(losses.last!)")
    }

    func testCheckpointSaveLoadRoundTrip() throws {
        var rng = SeededRNG(seed: 7)
        let a = TinyNet(rng: &rng), b = TinyNet(rng: &rng)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nn-roundtrip-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try a.save(to: url, metadata: ["note": "test"])
        XCTAssertNotEqual(a.fc1.weight.scalars, b.fc1.weight.scalars)
        try b.load(from: url)
        for ((ka, ta), (kb, tb)) in zip(a.namedTensors(), b.namedTensors()) {
            XCTAssertEqual(ka, kb)
            XCTAssertEqual(ta.scalars, tb.scalars, ka)
        }
        // A file for another architecture is refused with the keys named.
        let other = Sequential([Linear(2, 2, rng: &rng)])
        XCTAssertThrowsError(try other.load(from: url)) { XCTAssertTrue("\($0)".contains("missing keys: 0.weight")) }
    }
}
