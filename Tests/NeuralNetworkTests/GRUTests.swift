import Foundation
import XCTest
@testable import NeuralNetwork
import TensorEngine

/// `GRU` against `torch.nn.GRU` (Fixtures/gru.safetensors, made by Tools/fixtures/make_gru_fixtures.py):
/// outputs, final states and the gradients of every input and weight, for a bidirectional packed batch
/// in unsorted length order, a bias-free unpacked one and a packed one-direction one.
final class GRUTests: XCTestCase {
    static let fixture: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("gru.safetensors")
        return try! SafeTensorsFile(url: url)
    }()

    func tensor(_ key: String) throws -> Tensor { try Self.fixture.tensor(key).copy() }

    func runCase(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = Self.fixture
        let x = try tensor("\(name).x"), h0 = try tensor("\(name).h0")
        let lengths = f.names.contains("\(name).lengths") ? try tensor("\(name).lengths").scalars.map { Int($0) } : nil
        var params: [String: Tensor] = [:]
        for key in f.names where key.hasPrefix("\(name).param.") { params[String(key.dropFirst("\(name).param.".count))] = try tensor(key) }
        let w = params["weight_ih_l0"]!
        let hidden = w.shape[0] / 3
        var rng = SeededRNG(seed: 3)
        let gru = GRU(inputSize: w.shape[1], hiddenSize: hidden, bidirectional: params["weight_ih_l0_reverse"] != nil,
                      bias: params["bias_ih_l0"] != nil, rng: &rng)
        // Strict loading: the module's keys are exactly nn.GRU's.
        try gru.load(state: params)
        x.requiresGrad = true
        h0.requiresGrad = true
        let (out, hn) = gru(x, initialHidden: h0, lengths: lengths)
        XCTAssertLessThan(relativeError(out, try tensor("\(name).out")), 1e-5, "\(name): output", file: file, line: line)
        XCTAssertLessThan(relativeError(hn, try tensor("\(name).hn")), 1e-5, "\(name): h_n", file: file, line: line)
        ((out * (try tensor("\(name).grad_out"))).sum() + (hn * (try tensor("\(name).grad_hn"))).sum()).backward()
        XCTAssertLessThan(relativeError(x.grad!, try tensor("\(name).grad_x")), 1e-5, "\(name): grad x", file: file, line: line)
        XCTAssertLessThan(relativeError(h0.grad!, try tensor("\(name).grad_h0")), 1e-5, "\(name): grad h0", file: file, line: line)
        for (key, p) in gru.namedParameters() {
            guard let g = p.grad else { XCTFail("\(name): no gradient for \(key)", file: file, line: line); continue }
            XCTAssertLessThan(relativeError(g, try tensor("\(name).grad.\(key)")), 1e-5, "\(name): grad \(key)", file: file, line: line)
        }
        if let lengths {
            // Padded input steps take no part: their gradient is exactly zero, as PyTorch's.
            let gx = x.grad!
            for (b, l) in lengths.enumerated() where l < x.shape[1] {
                for s in l..<x.shape[1] { for j in 0..<x.shape[2] { XCTAssertEqual(gx[b, s, j], 0, "\(name): grad x[\(b), \(s)]") } }
            }
        }
    }

    func testBidirectionalPackedUnsortedMatchesPyTorch() throws { try runCase("bi") }

    func testUnidirectionalWithoutBiasMatchesPyTorch() throws { try runCase("uni") }

    func testUnidirectionalPackedMatchesPyTorch() throws { try runCase("uni_len") }

    func testKeysAreNNGRUs() {
        var rng = SeededRNG(seed: 1)
        let keys = GRU(inputSize: 3, hiddenSize: 2, bidirectional: true, rng: &rng).namedTensors().map(\.0).sorted()
        XCTAssertEqual(keys, ["bias_hh_l0", "bias_hh_l0_reverse", "bias_ih_l0", "bias_ih_l0_reverse",
                              "weight_hh_l0", "weight_hh_l0_reverse", "weight_ih_l0", "weight_ih_l0_reverse"])
        let uni = GRU(inputSize: 3, hiddenSize: 2, bias: false, rng: &rng).namedTensors().map(\.0).sorted()
        XCTAssertEqual(uni, ["weight_hh_l0", "weight_ih_l0"])
    }

    /// A padded batch gives each sequence what it gives alone, whatever the padding holds and
    /// whatever the order of the batch.
    func testPaddedBatchEqualsOneAtATime() {
        var rng = SeededRNG(seed: 9)
        let gru = GRU(inputSize: 4, hiddenSize: 5, bidirectional: true, rng: &rng)
        let lengths = [2, 7, 4]
        let x = Tensor.randn([3, 7, 4], rng: &rng)   // values beyond each length are junk, not zeros
        let h0 = Tensor.randn([2, 3, 5], rng: &rng)
        let (out, hn) = Tensor.withNoGrad { gru(x, initialHidden: h0, lengths: lengths) }
        for (b, l) in lengths.enumerated() {
            let xb = x.slice(dim: 0, b, b + 1).slice(dim: 1, 0, l)
            let (ob, hb) = Tensor.withNoGrad { gru(xb, initialHidden: h0.slice(dim: 1, b, b + 1)) }
            XCTAssertLessThan(out.slice(dim: 0, b, b + 1).slice(dim: 1, 0, l).maxAbsDifference(ob), 1e-6)
            XCTAssertLessThan(hn.slice(dim: 1, b, b + 1).maxAbsDifference(hb), 1e-6)
            if l < 7 { XCTAssertEqual(out.slice(dim: 0, b, b + 1).slice(dim: 1, l, 7).scalars.map(Swift.abs).max(), 0) }
        }
    }
}
