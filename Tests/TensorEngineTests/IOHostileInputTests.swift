import Foundation
import XCTest
@testable import TensorEngine

/// Hostile files from the fuzzing work (issue 7), kept as regression tests.
final class IOHostileInputTests: XCTestCase {
    /// A shape with a zero dimension holds no data, but huge other dimensions overflowed the row-major
    /// strides (a trap in `contiguousStrides`) once the reader built its view.
    func testEmptyShapeWithHugeDimensionsIsRefused() {
        let shape = "(0, 4611686018427387904, 4611686018427387904)"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: 64 - (10 + header.utf8.count + 1) % 64) + "\n"
        var npy = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count), 0])
        npy.append(contentsOf: Array(header.utf8))
        XCTAssertThrowsError(try NpyArray(data: npy, name: "zero.npy").tensor()) { XCTAssertTrue("\($0)".contains("too large"), "\($0)") }

        let json = #"{"x":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#
        var st = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { st.append(contentsOf: $0) }
        st.append(contentsOf: Array(json.utf8))
        XCTAssertThrowsError(try SafeTensorsFile(data: st, name: "zero.safetensors").tensor("x")) {
            XCTAssertTrue("\($0)".contains("too large"), "\($0)")
        }
        // An ordinary empty array still reads.
        let ok = try? SafeTensorsFile(data: st.replacingOccurrences(of: "4611686018427387904", with: "3"), name: "ok")
        XCTAssertEqual(try ok?.tensor("x").shape, [0, 3, 3])
    }
}

extension IOHostileInputTests {
    /// torch.save of `torch.zeros(1).expand(2**34)` is a 1.8 KB file whose tensor reads as 64 GB.
    func testZeroStrideExpansionIsBounded() throws {
        XCTAssertThrowsError(try IOArrayView(dtype: .float32, shape: [1 << 34], strides: [0], bytes: Data(count: 4), origin: "w")) {
            XCTAssertTrue("\($0)".contains("expands 1 stored elements"), "\($0)")
        }
        // torch.arange(4.).expand(3, 4), as Hugging Face stores position ids, still reads.
        let four = Data([Float(0), 1, 2, 3].flatMap { withUnsafeBytes(of: $0) { Array($0) } })
        let view = try IOArrayView(dtype: .float32, shape: [3, 4], strides: [0, 1], bytes: four, origin: "p")
        XCTAssertEqual(view.tensor().scalars, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    }
}

private extension Data {
    func replacingOccurrences(of a: String, with b: String) -> Data {
        // Keeps the 8-byte length prefix consistent with the new header.
        let header = String(decoding: self.dropFirst(8), as: UTF8.self).replacingOccurrences(of: a, with: b)
        var out = Data()
        Swift.withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        return out
    }
}
