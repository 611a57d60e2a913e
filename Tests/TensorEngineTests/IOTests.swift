import Foundation
import XCTest
@testable import TensorEngine

/// File IO against files written by the real libraries (`Tools/fixtures/make_io_fixtures.py`:
/// safetensors, numpy, torch), round trips of our writers, and hostile input.
final class IOTests: XCTestCase {
    struct Expect: Decodable {
        let shape: [Int]
        let bits: [UInt32]?
        let ints: [Int]?
    }

    static let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("io")
    static let expected: [String: [String: Expect]] = {
        let data = try! Data(contentsOf: dir.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode([String: [String: Expect]].self, from: data)
    }()

    func url(_ name: String) -> URL { IOTests.dir.appendingPathComponent(name) }

    func expectations(_ file: String) -> [String: Expect] {
        guard let e = IOTests.expected[file] else { XCTFail("no expectations for \(file)"); return [:] }
        return e
    }

    /// Exact comparison through bit patterns, so NaN payloads, signed zeros and infinities count too.
    func assertMatches(_ t: Tensor, _ e: Expect, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.shape, e.shape, "\(what): shape", file: file, line: line)
        if let bits = e.bits {
            XCTAssertEqual(t.scalars.map(\.bitPattern), bits, "\(what): values", file: file, line: line)
        } else if let ints = e.ints {
            XCTAssertEqual(t.scalars, ints.map { Float($0) }, "\(what): values", file: file, line: line)
        }
    }

    // MARK: - safetensors

    func testSafeTensorsReadsEveryDtypeWrittenByTheLibrary() throws {
        let f = try SafeTensorsFile(url: url("mixed.safetensors"))
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "mixed dtypes"])
        let exp = expectations("mixed.safetensors")
        XCTAssertEqual(Set(f.names), Set(exp.keys))
        for (name, e) in exp {
            assertMatches(try f.tensor(name), e, name)
            XCTAssertEqual(f.shape(name), e.shape)
            if let ints = e.ints { XCTAssertEqual(try f.integers(name), ints, name) }
        }
        XCTAssertEqual(f.dtype("f16"), .float16)
        XCTAssertEqual(f.dtype("bf16"), .bfloat16)
        XCTAssertEqual(f.dtype("i64"), .int64)
        XCTAssertEqual(f.dtype("bool"), .bool)
        XCTAssertNil(f.dtype("missing"))
        XCTAssertThrowsError(try f.integers("f32"))
        XCTAssertThrowsError(try f.tensor("missing")) { XCTAssertTrue("\($0)".contains("missing")) }
    }

    func testBF16WritingRoundsToNearestEvenAndReadsBack() throws {
        let values: [Float] = [1, 1 + 1 / 256, 1 + 3 / 256, -0.0, .infinity, -2.5, 3.0e38, 1e-40]
        // torch.tensor(values).bfloat16().view(torch.int16): ties go to the even neighbour.
        let bits: [UInt16] = [0x3F80, 0x3F80, 0x3F82, 0x8000, 0x7F80, 0xC020, 0x7F62, 0x0001]
        let t = Tensor(values, shape: [values.count])
        let data = try safeTensorsData([("x", t)], dtype: .bfloat16)
        let raw = data.suffix(values.count * 2)
        XCTAssertEqual(stride(from: raw.startIndex, to: raw.endIndex, by: 2).map { UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8 }, bits)
        let f = try SafeTensorsFile(data: data)
        XCTAssertEqual(f.dtype("x"), .bfloat16)
        XCTAssertEqual(try f.tensor("x").scalars[0...2], [1, 1, 1.015625])
    }

    func testSafeTensorsWriterIsByteIdenticalToTheLibrary() throws {
        let reference = try Data(contentsOf: url("f32.safetensors"))
        let f = try SafeTensorsFile(data: reference)
        // Given in an order the writer must sort.
        let tensors = try ["c", "b.weight", "a.bias"].map { ($0, try f.tensor($0)) }
        XCTAssertEqual(try safeTensorsData(tensors, metadata: f.metadata), reference)
        for (name, e) in expectations("f32.safetensors") { assertMatches(try f.tensor(name), e, name) }
    }

    func testSafeTensorsRoundTrip() throws {
        var rng = SeededRNG(seed: 7)
        let tensors: [String: Tensor] = [
            "w": Tensor.randn([4, 5], rng: &rng), "s": Tensor(scalar: 3), "e": Tensor.zeros([0, 2]),
            "q\"uote\\d\u{e9}": Tensor([1, 2]),
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("io-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: path) }
        try writeSafeTensors(tensors, metadata: ["k": "v"], to: path)
        let back = try SafeTensorsFile(url: path)
        XCTAssertEqual(back.metadata, ["k": "v"])
        XCTAssertEqual(back.names, tensors.keys.sorted())
        for (k, t) in tensors {
            let r = try back.tensor(k)
            XCTAssertEqual(r.shape, t.shape)
            XCTAssertEqual(r.scalars, t.scalars)
        }
        XCTAssertThrowsError(try safeTensorsData([("a", Tensor([1])), ("a", Tensor([2]))]))
    }

    // MARK: - npy / npz

    func testNpyFilesFromNumpy() throws {
        let npyNames = IOTests.expected.keys.filter { $0.hasSuffix(".npy") }.sorted()
        XCTAssertEqual(npyNames.count, 16)
        for name in npyNames {
            let a = try NpyArray(url: url(name))
            let e = expectations(name)[""]!
            assertMatches(try a.tensor(), e, name)
            if let ints = e.ints { XCTAssertEqual(try a.integers(), ints, name) }
        }
        XCTAssertTrue(try NpyArray(url: url("fortran.npy")).fortranOrder)
        XCTAssertEqual(try NpyArray(url: url("f2.npy")).dtype, .float16)
        XCTAssertEqual(try NpyArray(url: url("b1.npy")).dtype, .bool)
        XCTAssertEqual(try NpyArray(url: url("f4_scalar.npy")).shape, [])
        XCTAssertEqual(try readNpy(url("f4_be.npy")).scalars, try readNpy(url("f4.npy")).scalars)
    }

    func testNpyWriterIsByteIdenticalToNumpy() throws {
        for name in ["f4.npy", "f4_1d.npy", "f4_scalar.npy"] {
            let reference = try Data(contentsOf: url(name))
            XCTAssertEqual(npyData(try NpyArray(data: reference).tensor()), reference, name)
        }
    }

    func testNpyRoundTrip() throws {
        var rng = SeededRNG(seed: 11)
        for shape in [[2, 3, 4], [7], [], [0, 5], [1000]] {
            let t = Tensor.randn(shape, rng: &rng)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("io-\(UUID().uuidString).npy")
            defer { try? FileManager.default.removeItem(at: path) }
            try writeNpy(t, to: path)
            let back = try readNpy(path)
            XCTAssertEqual(back.shape, shape)
            XCTAssertEqual(back.scalars, t.scalars)
        }
    }

    func testNpzStoredCompressedAndZip64() throws {
        // stored.npz: np.savez; compressed.npz: np.savez_compressed (fixed and dynamic Huffman);
        // levels.npz: deflate levels 0/1/9 (stored blocks too); zip64.npz: ZIP64 directory records.
        for file in ["stored.npz", "compressed.npz", "levels.npz", "zip64.npz"] {
            let z = try NpzFile(url: url(file))
            let exp = expectations(file)
            XCTAssertEqual(Set(z.names), Set(exp.keys), file)
            for (name, e) in exp {
                assertMatches(try z.tensor(name), e, "\(file) \(name)")
                if let ints = e.ints { XCTAssertEqual(try z.integers(name), ints, "\(file) \(name)") }
            }
        }
        XCTAssertNoThrow(try NpzFile(url: url("stored.npz")).array("a.npy"))
        XCTAssertThrowsError(try NpzFile(url: url("stored.npz")).array("zzz"))
    }

    func testCRCMismatchIsReported() throws {
        var bytes = [UInt8](try Data(contentsOf: url("stored.npz")))
        // Flip one bit of the last data byte of member "a" (stored): only the CRC can notice.
        let z = try IOZipArchive(data: Data(bytes), origin: "x")
        let m = z.members.first { $0.name == "a.npy" }!
        let dataStart = m.localHeaderOffset + 30 + m.name.utf8.count
        bytes[dataStart + m.compressedSize - 1] ^= 1
        XCTAssertThrowsError(try NpzFile(data: Data(bytes), name: "bad.npz").tensor("a")) {
            XCTAssertTrue("\($0)".contains("bad.npz: member a.npy: CRC-32 mismatch"), "\($0)")
        }
    }

    // MARK: - torch.save

    func testTorchStateDictWithViewsAndDtypes() throws {
        let ck = try TorchCheckpoint(url: url("state_dict.pt"))
        let exp = expectations("state_dict.pt")
        XCTAssertEqual(Set(ck.tensorNames), Set(exp.keys))
        XCTAssertEqual(ck.tensorNames.first, "0.weight")
        for (name, e) in exp {
            assertMatches(try ck.tensor(name), e, name)
            if let ints = e.ints { XCTAssertEqual(try ck.integers(name), ints, name) }
        }
        let transposed = ck.tensorRefs["extra.transposed"]!
        XCTAssertEqual(transposed.strides, [1, 5])
        let view = ck.tensorRefs["extra.shared_view"]!, base = ck.tensorRefs["extra.base"]!
        XCTAssertEqual(view.storage.key, base.storage.key)
        XCTAssertEqual(view.storageOffset, 2)
        XCTAssertEqual(ck.tensorRefs["extra.strided"]!.storage.key, transposed.storage.key)
        XCTAssertEqual(ck.tensorRefs["extra.bf16"]!.dtype, .bfloat16)
        XCTAssertEqual(try ck.stateDict().count, exp.count)
    }

    func testLightningCheckpointNestedDictsAndOpaqueObjects() throws {
        let ck = try TorchCheckpoint(url: url("lightning.ckpt"))
        for (name, e) in expectations("lightning.ckpt") { assertMatches(try ck.tensor(name), e, name) }
        XCTAssertEqual(ck.root["epoch"]?.intValue, 3)
        XCTAssertEqual(ck.root["global_step"]?.intValue, 120)
        XCTAssertEqual(ck.root["pytorch-lightning_version"]?.stringValue, "2.1.0")
        let hp = ck.root["hyper_parameters"]!
        XCTAssertEqual(hp["lr"]?.doubleValue, 1e-3)
        XCTAssertEqual(hp["name"]?.stringValue, "tiny")
        guard case .none? = hp["dropout"], case .bool(true)? = hp["flag"], case .list(let dims)? = hp["dims"] else {
            return XCTFail("hyper_parameters: \(hp)")
        }
        XCTAssertEqual(dims.compactMap(\.intValue), [4, 3])
        let callbacks = ck.root["callbacks"]!
        guard case .object(let type, _, let state)? = callbacks["custom"] else { return XCTFail("custom: \(callbacks)") }
        XCTAssertEqual(type, "__main__.Custom")
        XCTAssertEqual(state?["name"]?.stringValue, "custom")
        guard case .object("torch.device", let args, _)? = callbacks["device"] else { return XCTFail("device") }
        XCTAssertEqual(args.first?.stringValue, "cpu")
        guard case .object? = callbacks["np_scalar"] else { return XCTFail("np_scalar") }
        guard case .bytes(let blob)? = callbacks["blob"] else { return XCTFail("blob: \(String(describing: callbacks["blob"]))") }
        XCTAssertEqual([UInt8](blob), [0, 1] + Array("bytes".utf8))
        guard case .set(let tags)? = callbacks["tags"] else { return XCTFail("tags") }
        XCTAssertEqual(Set(tags.compactMap(\.stringValue)), ["a", "b"])

        let sd = try ck.stateDict()
        XCTAssertEqual(Set(sd.keys), ["model.0.weight", "model.0.bias", "model.1.weight", "model.1.bias"])
        XCTAssertEqual(sd["model.0.weight"]!.scalars, try ck.tensor("state_dict.model.0.weight").scalars)
    }

    func testLegacyTorchFormatIsRefusedClearly() {
        XCTAssertThrowsError(try TorchCheckpoint(url: url("legacy.pt"))) {
            XCTAssertTrue("\($0)".contains("legacy (non-zip) torch.save format"), "\($0)")
        }
    }

    // MARK: - Hostile input

    /// Opens a file with the reader its name calls for and converts everything in it.
    func readEverything(_ data: Data, _ name: String, checksCRC: Bool = true) throws {
        switch (name as NSString).pathExtension {
        case "safetensors":
            let f = try SafeTensorsFile(data: data, name: name)
            for n in f.names {
                _ = try f.tensor(n)
                if f.dtype(n)?.isFloatingPoint == false { _ = try f.integers(n) }
            }
        case "npy":
            let a = try NpyArray(data: data, name: name)
            _ = try a.tensor()
            if !a.dtype.isFloatingPoint { _ = try a.integers() }
        case "npz":
            let z = try NpzFile(data: data, name: name, checksCRC: checksCRC)
            for n in z.names {
                let a = try z.array(n)
                _ = try a.tensor()
                if !a.dtype.isFloatingPoint { _ = try a.integers() }
            }
        default:
            let ck = try TorchCheckpoint(data: data, name: name, checksCRC: checksCRC)
            for n in ck.tensorNames {
                _ = try ck.tensor(n)
                if ck.tensorRefs[n]?.dtype.isFloatingPoint == false { _ = try ck.integers(n) }
            }
        }
    }

    var fixtureFiles: [String] {
        (try! FileManager.default.contentsOfDirectory(atPath: IOTests.dir.path)).filter { $0 != "expected.json" && $0 != "legacy.pt" }.sorted()
    }

    func testTruncatedFilesThrow() throws {
        for name in fixtureFiles {
            let data = try Data(contentsOf: url(name))
            XCTAssertNoThrow(try readEverything(data, name), name)
            // Every length for small files, about 300 spread over the larger ones.
            let step = max(1, data.count / 300)
            for length in stride(from: 0, to: data.count, by: step) {
                XCTAssertThrowsError(try readEverything(data.prefix(length), name), "\(name) cut to \(length) bytes")
            }
        }
    }

    func testRandomCorruptionsNeverCrash() throws {
        var rng = SeededRNG(seed: 2024)
        var outcomes = [0, 0]
        for name in fixtureFiles {
            let original = [UInt8](try Data(contentsOf: url(name)))
            for trial in 0..<300 {
                var bytes = original
                for _ in 0...Int(rng.next() % 4) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    if trial % 2 == 0 { bytes[i] ^= UInt8(1) << (rng.next() % 8) } else { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                do {
                    // Without CRC checks half the time, so the corruption reaches the decoders behind the ZIP.
                    try readEverything(Data(bytes), name, checksCRC: trial % 3 != 0)
                    outcomes[0] += 1
                } catch let e as TensorError {
                    outcomes[1] += 1
                    if case .io(let message) = e { XCTAssertTrue(message.hasPrefix(name), message) }
                }
            }
        }
        // Both outcomes happen: corruptions inside data are accepted, in structure refused.
        XCTAssertGreaterThan(outcomes[0], 100)
        XCTAssertGreaterThan(outcomes[1], 100)
    }

    func testCorruptedPicklesNeverCrash() throws {
        // Straight at the unpickler: through the archive, a CRC check would stop most of these.
        var rng = SeededRNG(seed: 99)
        for file in ["state_dict.pt", "lightning.ckpt"] {
            let archive = try IOZipArchive(url: url(file))
            let pkl = [UInt8](try archive.read(archive.names.first { $0.hasSuffix("/data.pkl") }!))
            for trial in 0..<600 {
                var bytes = pkl
                for _ in 0...Int(rng.next() % 3) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes[i] = trial % 2 == 0 ? bytes[i] ^ (UInt8(1) << (rng.next() % 8)) : UInt8(truncatingIfNeeded: rng.next())
                }
                _ = try? unpickle(Data(bytes), origin: file)
                _ = try? unpickle(Data(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))), origin: file)
            }
        }
    }

    func testPicklesOfHostileShapeFinishQuickly() throws {
        func pickle(_ body: [UInt8]) -> Data { Data([0x80, 0x02] + body + [0x2e]) }
        // A list nested 100 000 deep: refused, not a stack overflow.
        let deep = [UInt8](repeating: 0x5d, count: 100_000) + [UInt8](repeating: 0x61, count: 99_999)
        XCTAssertThrowsError(try unpickle(pickle(deep)))
        // 60 levels of a list holding its predecessor twice: 2^60 paths, converted once per node.
        var dag: [UInt8] = [0x5d, 0x71, 0]
        for i in 1...60 { dag += [0x28, 0x68, UInt8(i - 1), 0x68, UInt8(i - 1), 0x6c, 0x71, UInt8(i)] + [0x30] }
        dag += [0x68, 60]
        let value = try unpickle(pickle(dag))
        guard case .list(let top) = value else { return XCTFail("\(value)") }
        XCTAssertEqual(top.count, 2)
        // A list containing itself.
        let cyclic: [UInt8] = [0x5d, 0x71, 0, 0x68, 0, 0x61]
        guard case .list(let c) = try unpickle(pickle(cyclic)) else { return XCTFail() }
        XCTAssertEqual(c.count, 1)
        // Lengths far beyond the data, missing memo entries, stack underflow, unknown opcodes.
        XCTAssertThrowsError(try unpickle(pickle([0x58, 0xff, 0xff, 0xff, 0x7f])))
        XCTAssertThrowsError(try unpickle(pickle([0x8e] + [UInt8](repeating: 0xff, count: 8))))
        XCTAssertThrowsError(try unpickle(pickle([0x68, 5])))
        XCTAssertThrowsError(try unpickle(pickle([0x61])))
        XCTAssertThrowsError(try unpickle(pickle([0xfe])))
        XCTAssertThrowsError(try unpickle(Data([0x80, 0x02, 0x4e])))  // no STOP
    }

    func testAbsurdSizesAreRefusedBeforeAllocating() throws {
        // safetensors: a header claiming an enormous tensor inside a tiny file.
        let header = #"{"x":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#
        var st = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { st.append(contentsOf: $0) }
        st.append(contentsOf: Array(header.utf8) + [0, 0, 0, 0])
        XCTAssertThrowsError(try SafeTensorsFile(data: st, name: "huge.safetensors"))
        var lengthOnly = Data()
        withUnsafeBytes(of: UInt64.max.littleEndian) { lengthOnly.append(contentsOf: $0) }
        XCTAssertThrowsError(try SafeTensorsFile(data: lengthOnly))
        // npy: a shape of 10^11 elements with 16 bytes of data.
        let npyHeader = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }\n"
        var npy = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(npyHeader.utf8.count), 0])
        npy.append(contentsOf: Array(npyHeader.utf8) + [UInt8](repeating: 0, count: 16))
        XCTAssertThrowsError(try NpyArray(data: npy, name: "huge.npy")) { XCTAssertTrue("\($0)".hasPrefix("huge.npy: truncated data")) }
        // deflate: a member claiming 4 GB out of 10 compressed bytes.
        XCTAssertThrowsError(try ioInflate(Data([0x03, 0x00]), expectedSize: 1, origin: "x"))
    }

    func testInflateRejectsGarbageWithoutHanging() {
        var rng = SeededRNG(seed: 5)
        for _ in 0..<2000 {
            let n = Int(rng.next() % 64)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? ioInflate(Data(bytes), expectedSize: Int(rng.next() % 4096), origin: "fuzz")
        }
        // The empty stored and fixed blocks zlib writes for empty input.
        XCTAssertEqual(try ioInflate(Data([0x03, 0x00]), expectedSize: 0, origin: "x"), Data())
        XCTAssertEqual(try ioInflate(Data([0x01, 0x00, 0x00, 0xff, 0xff]), expectedSize: 0, origin: "x"), Data())
    }
}
