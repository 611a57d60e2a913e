import Foundation
import XCTest
@testable import TensorEngine

/// Ops against PyTorch: forward outputs and input gradients for a fixed upstream gradient, from
/// `Fixtures/ops.safetensors` (made by `Tools/fixtures/make_op_fixtures.py`, computed in float64).
final class OpReferenceTests: XCTestCase {
    /// Loaded once for the whole class.
    static let fixtures: [String: Tensor] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("ops.safetensors")
        do { return try readF32Safetensors(url) } catch { fatalError("ops.safetensors: \(error)") }
    }()

    /// Largest difference relative to the reference's largest magnitude (floored at 1e-6), so small
    /// gradients are held to the same relative accuracy as large outputs.
    static var worst: (error: Float, name: String) = (0, "")

    override class func tearDown() {
        print(String(format: "OpReference: worst relative error %.3e (%@)", worst.error, worst.name))
        super.tearDown()
    }

    func fixture(_ key: String, file: StaticString = #filePath, line: UInt = #line) -> Tensor {
        guard let t = Self.fixtures[key] else { XCTFail("fixture key \(key) missing", file: file, line: line); return Tensor.zeros([0]) }
        // A fresh copy: tests set requiresGrad and must not share autodiff state.
        return t.copy()
    }

    func assertClose(_ got: Tensor?, _ key: String, tol: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        let want = fixture(key, file: file, line: line)
        guard let got else { XCTFail("\(key): no value (gradient missing?)", file: file, line: line); return }
        XCTAssertEqual(got.shape, want.shape, "\(key): shape", file: file, line: line)
        guard got.shape == want.shape else { return }
        let scale = Swift.max(want.scalars.map { Swift.abs($0) }.max() ?? 0, 1e-6)
        let err = got.maxAbsDifference(want) / scale
        if err > Self.worst.error { Self.worst = (err, key) }
        XCTAssertLessThanOrEqual(err, tol, "\(key): max |diff| / max |ref| = \(err)", file: file, line: line)
    }

    /// Runs `op` on the named inputs of `prefix`, back-propagates `<prefix>.grad_out` and compares the
    /// output and the gradient of every input in `grads`.
    func checkOp(_ prefix: String, inputs names: [String], grads: [String]? = nil,
                 file: StaticString = #filePath, line: UInt = #line, _ op: ([Tensor]) -> Tensor) {
        let inputs = names.map { fixture("\(prefix).\($0)", file: file, line: line) }
        for t in inputs { t.requiresGrad = true }
        let out = op(inputs)
        assertClose(out, "\(prefix).out", file: file, line: line)
        out.backward(fixture("\(prefix).grad_out", file: file, line: line))
        for (name, t) in zip(names, inputs) where grads?.contains(name) ?? true {
            assertClose(t.grad, "\(prefix).grad_\(name)", file: file, line: line)
        }
    }

    func targets(_ key: String) -> [Int] { fixture(key).scalars.map { Int($0) } }

    // MARK: - Ops

    func testMatmulBatched() {
        checkOp("matmul", inputs: ["a", "b"]) { $0[0].matmul($0[1]) }
    }

    func testMatmulBroadcastTransposed() {
        // a [2, 3, 4, 5] @ b [3, 6, 5]ᵀ
        checkOp("matmul_bcast", inputs: ["a", "b"]) { $0[0].matmul($0[1], transposeB: true) }
    }

    func testLinear() {
        checkOp("linear", inputs: ["x", "weight", "bias"]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    func testSoftmax() {
        checkOp("softmax", inputs: ["x"]) { $0[0].softmax() }
    }

    func testLogSoftmax() {
        checkOp("log_softmax", inputs: ["x"]) { $0[0].logSoftmax() }
    }

    func testLayerNorm() {
        checkOp("layer_norm", inputs: ["x", "weight", "bias"]) { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    func testT5RMSNorm() {
        checkOp("rms_norm", inputs: ["x", "weight"]) { $0[0].rmsNorm(weight: $0[1], eps: 1e-6) }
    }

    func testActivations() {
        checkOp("gelu", inputs: ["x"]) { $0[0].gelu() }
        checkOp("gelu_tanh", inputs: ["x"]) { $0[0].geluTanh() }
        checkOp("silu", inputs: ["x"]) { $0[0].silu() }
    }

    func testConv1dStridePaddingDilationBias() {
        checkOp("conv1d", inputs: ["input", "weight", "bias"]) {
            $0[0].conv1d(weight: $0[1], bias: $0[2], stride: 2, padding: 1, dilation: 2)
        }
    }

    func testUpsampleNearest() {
        checkOp("upsample", inputs: ["x"]) { $0[0].upsampleNearest1d(scale: 2) }
    }

    func testCrossEntropyIgnoreIndexAndLabelSmoothing() {
        let t = targets("cross_entropy.targets")
        XCTAssertEqual(t.filter { $0 == -100 }.count, 2)
        checkOp("cross_entropy", inputs: ["logits"]) { $0[0].crossEntropy(targets: t, ignoreIndex: -100, labelSmoothing: 0.1) }
        let plain = targets("cross_entropy_plain.targets")
        checkOp("cross_entropy_plain", inputs: ["logits"]) { $0[0].crossEntropy(targets: plain) }
    }

    func testSmoothL1() {
        checkOp("smooth_l1", inputs: ["input", "target"]) { $0[0].smoothL1Loss($0[1], beta: 1) }
        checkOp("smooth_l1_beta05", inputs: ["input", "target"]) { $0[0].smoothL1Loss($0[1], beta: 0.5) }
    }
}

// MARK: - A minimal safetensors reader (F32 only)

/// Reads every tensor of a safetensors file: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}`, then the raw data. Kept private to the tests so they do
/// not depend on the engine's own IO code, which they may one day be used to check.
private func readF32Safetensors(_ url: URL) throws -> [String: Tensor] {
    let data = try Data(contentsOf: url)
    guard data.count >= 8 else { throw TensorError.io("\(url.path): too short for a safetensors header") }
    let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    guard 8 + headerLength <= data.count,
          let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any]
    else { throw TensorError.io("\(url.path): bad header") }
    let base = 8 + headerLength
    var result: [String: Tensor] = [:]
    for (name, value) in header where name != "__metadata__" {
        guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
              let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
        else { throw TensorError.io("\(url.path): bad entry \(name)") }
        guard dtype == "F32" else { throw TensorError.io("\(url.path): \(name) is \(dtype), only F32 is read") }
        let count = shape.reduce(1, *)
        guard offsets[1] - offsets[0] == 4 * count, base + offsets[1] <= data.count
        else { throw TensorError.io("\(url.path): \(name) offsets \(offsets) do not fit shape \(shape)") }
        let t = Tensor.zeros(shape)
        data.withUnsafeBytes { raw in
            for i in 0..<count {
                let bits = raw.loadUnaligned(fromByteOffset: base + offsets[0] + 4 * i, as: UInt32.self)
                t.storage.pointer[i] = Float(bitPattern: UInt32(littleEndian: bits))
            }
        }
        result[name] = t
    }
    return result
}
