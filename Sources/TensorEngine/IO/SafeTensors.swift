import Foundation

/// A safetensors file (Hugging Face format): an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the raw little-endian data.
///
/// The file is memory-mapped; tensors are converted only when asked for, so opening a large file is
/// cheap and reading one tensor copies only that tensor's bytes.
public struct SafeTensorsFile {
    /// What the header says about one tensor.
    public struct Entry: Equatable, Sendable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section (after the header).
        public let byteRange: Range<Int>
    }

    /// Tensor names in the order their data appears in the file.
    public let names: [String]
    /// The `__metadata__` string map (empty when the file has none).
    public let metadata: [String: String]
    /// Header entries by name.
    public let entries: [String: Entry]
    /// The file or buffer name used in error messages.
    public let origin: String
    private let body: Data

    /// Opens and validates the header of the file at `url` (memory-mapped, data read lazily).
    public init(url: URL) throws {
        try self.init(data: try ioReadFile(url), name: url.path)
    }

    /// Parses a safetensors file held in memory; `name` is used in error messages.
    public init(data: Data, name: String = "<safetensors data>") throws {
        origin = name
        var reader = IOByteReader(data, origin: name)
        let headerLength = try reader.u64("the header length")
        guard headerLength <= UInt64(reader.remaining) else {
            throw TensorError.io("\(name): header length \(headerLength) exceeds the \(data.count)-byte file")
        }
        let headerBytes = try reader.bytes(Int(headerLength), "the JSON header")
        body = data[(data.startIndex + reader.position)...]
        guard case .object(let items) = try IOJSON.parse(headerBytes, origin: name) else {
            throw TensorError.io("\(name): the header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in items {
            if key == "__metadata__" {
                guard case .object(let pairs) = value else { throw TensorError.io("\(name): __metadata__ is not an object") }
                for (k, v) in pairs {
                    guard case .string(let s) = v else { throw TensorError.io("\(name): __metadata__ value '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard entries[key] == nil else { throw TensorError.io("\(name): tensor '\(key)' appears twice in the header") }
            entries[key] = try Self.entry(key, value, bodyCount: body.count, origin: name)
        }
        self.entries = entries
        self.metadata = metadata
        names = entries.keys.sorted { (entries[$0]!.byteRange.lowerBound, $0) < (entries[$1]!.byteRange.lowerBound, $1) }
    }

    private static func entry(_ key: String, _ value: IOJSON, bodyCount: Int, origin: String) throws -> Entry {
        let where_ = "\(origin): tensor '\(key)'"
        guard case .object(let fields) = value else { throw TensorError.io("\(where_): header entry is not an object") }
        func field(_ f: String) throws -> IOJSON {
            guard let v = fields.first(where: { $0.0 == f })?.1 else { throw TensorError.io("\(where_): missing '\(f)'") }
            return v
        }
        func ints(_ v: IOJSON, _ what: String) throws -> [Int] {
            guard case .array(let a) = v else { throw TensorError.io("\(where_): '\(what)' is not an array") }
            return try a.map {
                guard case .int(let i) = $0 else { throw TensorError.io("\(where_): '\(what)' holds a non-integer") }
                return i
            }
        }
        guard case .string(let dtypeName) = try field("dtype") else { throw TensorError.io("\(where_): 'dtype' is not a string") }
        guard let dtype = DType(safetensorsName: dtypeName) else { throw TensorError.io("\(where_): unsupported dtype \(dtypeName)") }
        let shape = try ints(try field("shape"), "shape")
        let offsets = try ints(try field("data_offsets"), "data_offsets")
        guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bodyCount else {
            throw TensorError.io("\(where_): data_offsets \(offsets) outside the \(bodyCount)-byte data section")
        }
        let count = try ioElementCount(shape, origin: where_)
        guard offsets[1] - offsets[0] == count * dtype.byteSize else {
            throw TensorError.io("\(where_): \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)")
        }
        return Entry(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
    }

    /// The shape of tensor `name`, or nil when absent.
    public func shape(_ name: String) -> [Int]? { entries[name]?.shape }

    /// The stored dtype of tensor `name`, or nil when absent.
    public func dtype(_ name: String) -> DType? { entries[name]?.dtype }

    private func view(_ name: String) throws -> IOArrayView {
        guard let e = entries[name] else { throw TensorError.io("\(origin): no tensor named '\(name)'") }
        let start = body.startIndex + e.byteRange.lowerBound
        return try IOArrayView(dtype: e.dtype, shape: e.shape, bytes: body[start..<start + e.byteRange.count],
                               origin: "\(origin): tensor '\(name)'")
    }

    /// Tensor `name` as Float32, converting F16/BF16/F64 and integer types.
    public func tensor(_ name: String) throws -> Tensor { try view(name).tensor() }

    /// Tensor `name` as integers (integer and BOOL dtypes only), row-major.
    public func integers(_ name: String) throws -> [Int] { try view(name).integers() }
}

/// The bytes of a safetensors file holding `tensors` as F32 (or F16 with `dtype: .float16`, BF16 with
/// `.bfloat16`, rounded to nearest even as torch's `.half()` / `.bfloat16()` do; for bundled models, half the size). Keys are written sorted,
/// the header is padded with spaces to a multiple of 8 bytes, as the `safetensors` library does, so the
/// output is byte-identical to `safetensors.torch.save_file` for the same tensors.
public func safeTensorsData(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], dtype: DType = .float32) throws -> Data {
    guard dtype == .float32 || dtype == .float16 || dtype == .bfloat16 else {
        throw TensorError.invalidArgument("safetensors: writing \(dtype.safetensorsName) is not supported (F32, F16 or BF16)")
    }
    let sorted = tensors.sorted { $0.0 < $1.0 }
    for i in sorted.indices.dropFirst() where sorted[i].0 == sorted[i - 1].0 {
        throw TensorError.invalidArgument("safetensors: tensor name '\(sorted[i].0)' given twice")
    }
    if sorted.contains(where: { $0.0 == "__metadata__" }) {
        throw TensorError.invalidArgument("safetensors: '__metadata__' is reserved and cannot name a tensor")
    }
    if dtype == .float16, let (name, _) = sorted.first(where: { $0.1.scalars.contains { $0.isFinite && abs($0) > 65504 } }) {
        throw TensorError.invalidArgument("safetensors: tensor '\(name)' has values beyond F16's range (65504)")
    }
    var header: [(String, IOJSON)] = []
    if !metadata.isEmpty {
        header.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })))
    }
    let width = dtype == .float32 ? 4 : 2
    var offset = 0
    for (name, t) in sorted {
        let bytes = t.count * width
        header.append((name, .object([
            ("dtype", .string(dtype.safetensorsName)),
            ("shape", .array(t.shape.map { .int($0) })),
            ("data_offsets", .array([.int(offset), .int(offset + bytes)])),
        ])))
        offset += bytes
    }
    var json = Array(IOJSON.object(header).serialized.utf8)
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    var out = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: json)
    for (_, t) in sorted {
        // Float32 and Float16 in memory are little-endian on every platform Swift runs this package on.
        if dtype == .float16 {
            let half = UnsafeBufferPointer(start: t.storage.pointer, count: t.count).map { Float16($0).bitPattern }
            half.withUnsafeBufferPointer { out.append($0) }
        } else if dtype == .bfloat16 {
            let half = UnsafeBufferPointer(start: t.storage.pointer, count: t.count).map(bfloat16Bits)
            half.withUnsafeBufferPointer { out.append($0) }
        } else {
            out.append(UnsafeBufferPointer(start: t.storage.pointer, count: t.count))
        }
    }
    return out
}

/// The bfloat16 nearest to `x` (ties to even), as torch's `x.to(torch.bfloat16)` rounds; NaN stays NaN.
func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// Writes `tensors` as an F32 (or F16, BF16) safetensors file (see `safeTensorsData`).
public func writeSafeTensors(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], dtype: DType = .float32, to url: URL) throws {
    try ioWriteFile(try safeTensorsData(tensors, metadata: metadata, dtype: dtype), to: url)
}

/// Writes a dictionary of tensors as an F32 (or F16, BF16) safetensors file, keys sorted.
public func writeSafeTensors(_ tensors: [String: Tensor], metadata: [String: String] = [:], dtype: DType = .float32, to url: URL) throws {
    try writeSafeTensors(tensors.map { ($0.key, $0.value) }, metadata: metadata, dtype: dtype, to: url)
}
