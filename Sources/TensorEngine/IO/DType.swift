import Foundation

/// Element types stored in the files the readers understand (safetensors, NumPy, PyTorch).
/// Floating types convert to Float32 tensors; integer and boolean types also read as `[Int]`.
public enum DType: String, CaseIterable, Sendable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8
    case uint64, uint32, uint16, uint8
    case bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether the type holds floating-point values (so `integers` refuses it).
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// The safetensors spelling ("F32", "BF16", "I64", "BOOL", ...).
    public var safetensorsName: String {
        switch self {
        case .float64: return "F64"
        case .float32: return "F32"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .int64: return "I64"
        case .int32: return "I32"
        case .int16: return "I16"
        case .int8: return "I8"
        case .uint64: return "U64"
        case .uint32: return "U32"
        case .uint16: return "U16"
        case .uint8: return "U8"
        case .bool: return "BOOL"
        }
    }

    /// The type with the given safetensors spelling, or nil when it is not supported (e.g. F8 types).
    public init?(safetensorsName: String) {
        guard let t = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = t
    }
}

// MARK: - Element decoding shared by every reader

/// A strided view of typed elements inside a byte buffer: what each file format reduces to before
/// conversion. Offsets and strides count elements, not bytes. Everything has been validated against
/// the buffer length by `init` so the conversion loops cannot read out of bounds.
struct IOArrayView {
    let dtype: DType
    let shape: [Int]
    let strides: [Int]
    let offset: Int
    let bigEndian: Bool
    let bytes: Data
    /// For error messages: the file, member or key this came from.
    let origin: String

    /// Checks that every element the view can address lies inside `bytes`.
    init(dtype: DType, shape: [Int], strides: [Int]? = nil, offset: Int = 0, bigEndian: Bool = false,
         bytes: Data, origin: String) throws {
        let count = try ioElementCount(shape, origin: origin)
        let strides = strides ?? contiguousStrides(shape)
        guard strides.count == shape.count else {
            throw TensorError.io("\(origin): \(strides.count) strides for \(shape.count) dimensions")
        }
        guard offset >= 0 else { throw TensorError.io("\(origin): negative storage offset \(offset)") }
        let available = bytes.count / dtype.byteSize
        if count > 0 {
            // Highest element index addressed; overflow-checked because strides come from the file.
            var last = offset
            for (n, s) in zip(shape, strides) {
                guard s >= 0 else { throw TensorError.io("\(origin): negative stride \(s)") }
                let (span, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(span)
                guard !o1, !o2 else { throw TensorError.io("\(origin): strides \(strides) overflow") }
                last = sum
            }
            guard last < available else {
                throw TensorError.io("\(origin): shape \(shape) needs element \(last) but the data holds \(available) \(dtype.rawValue) elements")
            }
            // Zero strides (torch's expand) let a tiny record describe a huge array: 1 stored float with
            // shape [2^34] would make the reader allocate 64 GB. Real checkpoints expand little; the output
            // may be at most 16 times the stored elements, or 1M elements.
            guard count <= Swift.max(available * 16, 1 << 20) else {
                throw TensorError.io("\(origin): shape \(shape) with strides \(strides) expands \(available) stored elements to \(count); refusing more than 16x")
            }
        }
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.bigEndian = bigEndian
        self.bytes = bytes
        self.origin = origin
    }

    var count: Int { shape.reduce(1, *) }
    var isContiguous: Bool { strides == contiguousStrides(shape) || count <= 1 }

    /// Visits the logical array as runs along its last dimension: the output position of the run's
    /// first element, its element index in the buffer, its length and its stride. A contiguous view
    /// is a single run, so the per-element work stays in tight inner loops.
    func forEachRun(_ body: (_ out: Int, _ start: Int, _ length: Int, _ stride: Int) -> Void) {
        let n = count
        if n == 0 { return }
        if isContiguous || shape.isEmpty {
            body(0, offset, n, 1)
            return
        }
        let last = shape.count - 1
        let length = shape[last], step = strides[last]
        var index = [Int](repeating: 0, count: last)
        var pos = offset
        for run in 0..<(n / length) {
            body(run * length, pos, length, step)
            // Odometer increment over the outer dimensions, innermost first.
            var d = last - 1
            while d >= 0 {
                index[d] += 1
                pos += strides[d]
                if index[d] < shape[d] { break }
                pos -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Visits the buffer element index of every logical element, in row-major order.
    func forEachIndex(_ body: (Int, Int) -> Void) {
        forEachRun { out, start, length, step in
            for j in 0..<length { body(out + j, start + j * step) }
        }
    }

    /// The values as a Float32 tensor (integers and booleans convert; float64 rounds).
    func tensor() -> Tensor {
        let t = Tensor.empty(shape)
        let out = t.storage.pointer
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            if dtype == .float32 && !bigEndian {
                // The common case: straight copies out of the (possibly memory-mapped) file.
                forEachRun { o, start, length, step in
                    if step == 1 {
                        UnsafeMutableRawPointer(out + o).copyMemory(from: raw.baseAddress! + start * 4, byteCount: length * 4)
                    } else {
                        for j in 0..<length { out[o + j] = raw.loadUnaligned(fromByteOffset: (start + j * step) * 4, as: Float.self) }
                    }
                }
                return
            }
            let load = ioFloatLoader(dtype, bigEndian: bigEndian)
            let size = dtype.byteSize
            forEachRun { o, start, length, step in
                for j in 0..<length { out[o + j] = load(raw, (start + j * step) * size) }
            }
        }
        return t
    }

    /// The values as integers; floating-point types are refused rather than silently truncated.
    func integers() throws -> [Int] {
        guard !dtype.isFloatingPoint else {
            throw TensorError.invalidArgument("\(origin): dtype \(dtype.rawValue) is not an integer type")
        }
        var result = [Int](repeating: 0, count: count)
        var overflow = false
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let size = dtype.byteSize
            let dtype = self.dtype, big = bigEndian
            result.withUnsafeMutableBufferPointer { out in
                forEachIndex { i, e in
                    let bits = ioLoadBits(raw, e * size, size: size, bigEndian: big)
                    switch dtype {
                    case .int64: out[i] = Int(Int64(bitPattern: bits))
                    case .int32: out[i] = Int(Int32(truncatingIfNeeded: bits))
                    case .int16: out[i] = Int(Int16(truncatingIfNeeded: bits))
                    case .int8: out[i] = Int(Int8(truncatingIfNeeded: bits))
                    case .uint64:
                        if bits > UInt64(Int.max) { overflow = true }
                        out[i] = Int(truncatingIfNeeded: bits)
                    case .bool: out[i] = bits != 0 ? 1 : 0
                    default: out[i] = Int(bits)
                    }
                }
            }
        }
        if overflow { throw TensorError.io("\(origin): uint64 value does not fit in Int") }
        return result
    }
}

/// Element count of a shape read from a file, refusing negative or overflowing dimensions.
func ioElementCount(_ shape: [Int], origin: String) throws -> Int {
    var n = 1
    // The product of the non-zero dimensions is bounded too: a shape like (0, 2^62, 2^62) holds no
    // elements, yet its row-major strides overflow and trap in contiguousStrides.
    var nonZero = 1
    for d in shape {
        guard d >= 0 else { throw TensorError.io("\(origin): negative dimension in shape \(shape)") }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        let (q, o2) = nonZero.multipliedReportingOverflow(by: Swift.max(d, 1))
        guard !o, !o2, p <= Int(Int32.max) * 64, q <= Int(Int32.max) * 64 else {
            throw TensorError.io("\(origin): shape \(shape) is too large")
        }
        n = p
        nonZero = q
    }
    return n
}

/// Reads `size` bytes at `at` as an unsigned integer of that width.
@inline(__always)
func ioLoadBits(_ raw: UnsafeRawBufferPointer, _ at: Int, size: Int, bigEndian: Bool) -> UInt64 {
    switch size {
    case 8:
        let v = raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
        return bigEndian ? v.byteSwapped : v
    case 4:
        let v = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return UInt64(bigEndian ? v.byteSwapped : v)
    case 2:
        let v = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return UInt64(bigEndian ? v.byteSwapped : v)
    default:
        return UInt64(raw[at])
    }
}

/// A function converting the element at a byte offset to Float.
func ioFloatLoader(_ dtype: DType, bigEndian: Bool) -> (UnsafeRawBufferPointer, Int) -> Float {
    let size = dtype.byteSize
    switch dtype {
    case .float32: return { Float(bitPattern: UInt32(ioLoadBits($0, $1, size: 4, bigEndian: bigEndian))) }
    case .float64: return { Float(Double(bitPattern: ioLoadBits($0, $1, size: 8, bigEndian: bigEndian))) }
    case .float16: return { ioHalfToFloat(UInt16(ioLoadBits($0, $1, size: 2, bigEndian: bigEndian))) }
    // bfloat16 is the top half of a float32.
    case .bfloat16: return { Float(bitPattern: UInt32(ioLoadBits($0, $1, size: 2, bigEndian: bigEndian)) << 16) }
    case .int64: return { Float(Int64(bitPattern: ioLoadBits($0, $1, size: 8, bigEndian: bigEndian))) }
    case .int32: return { Float(Int32(truncatingIfNeeded: ioLoadBits($0, $1, size: 4, bigEndian: bigEndian))) }
    case .int16: return { Float(Int16(truncatingIfNeeded: ioLoadBits($0, $1, size: 2, bigEndian: bigEndian))) }
    case .int8: return { Float(Int8(truncatingIfNeeded: $0[$1])) }
    case .bool: return { $0[$1] != 0 ? 1 : 0 }
    case .uint8, .uint16, .uint32, .uint64:
        return { Float(ioLoadBits($0, $1, size: size, bigEndian: bigEndian)) }
    }
}

/// IEEE 754 binary16 to Float, exact for every value including subnormals, infinities and NaN.
@inline(__always)
func ioHalfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1f)
    let mant = UInt32(h & 0x3ff)
    if exp == 0 {
        // Subnormal or zero: value = mant * 2^-24, exactly representable in Float.
        let v = Float(mant) * 0x1p-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (mant << 13))
}

/// Reads a whole file, memory-mapped where the platform allows, so large checkpoints are not copied.
func ioReadFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw TensorError.io("\(url.path): cannot read: \(error.localizedDescription)")
    }
}

/// Writes bytes through a temporary file and a rename (Foundation's `.atomic`), so an interrupted
/// write never leaves a half file under the name; names the file on failure.
func ioWriteFile(_ data: Data, to url: URL) throws {
    do {
        try data.write(to: url, options: .atomic)
    } catch {
        throw TensorError.io("\(url.path): cannot write: \(error.localizedDescription)")
    }
}

/// Bounds-checked little-endian cursor over bytes; every read that would pass the end throws.
struct IOByteReader {
    let data: Data
    var position: Int
    let origin: String

    init(_ data: Data, origin: String, position: Int = 0) {
        self.data = data
        self.origin = origin
        self.position = position
    }

    var remaining: Int { data.count - position }

    func need(_ n: Int, _ what: String) throws {
        guard n >= 0, position >= 0, n <= data.count - position else {
            throw TensorError.io("\(origin): truncated while reading \(what)")
        }
    }

    mutating func u8(_ what: String = "a byte") throws -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return data[data.startIndex + position]
    }

    mutating func uint(_ size: Int, _ what: String) throws -> UInt64 {
        try need(size, what)
        let at = position
        position += size
        return data.withUnsafeBytes { ioLoadBits($0, at, size: size, bigEndian: false) }
    }

    mutating func u16(_ what: String) throws -> UInt16 { UInt16(try uint(2, what)) }
    mutating func u32(_ what: String) throws -> UInt32 { UInt32(try uint(4, what)) }
    mutating func u64(_ what: String) throws -> UInt64 { try uint(8, what) }

    mutating func bytes(_ n: Int, _ what: String) throws -> Data {
        try need(n, what)
        defer { position += n }
        let start = data.startIndex + position
        return data[start..<start + n]
    }
}
