import Foundation

/// One array from a NumPy `.npy` file (format versions 1, 2 and 3), or from a member of an `.npz`.
///
/// Supported dtypes: `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1`, little- or big-endian. Fortran-ordered
/// arrays are read in their logical (row-major) order. Structured and object arrays are refused.
public struct NpyArray {
    /// The stored element type.
    public let dtype: DType
    /// The array's shape (`[]` for a 0-d array).
    public let shape: [Int]
    /// Whether the file stored the data column-major (the values are still returned row-major).
    public let fortranOrder: Bool
    private let view: IOArrayView

    /// Reads the `.npy` file at `url` (memory-mapped).
    public init(url: URL) throws {
        try self.init(data: try ioReadFile(url), name: url.path)
    }

    /// Parses `.npy` bytes; `name` is used in error messages.
    public init(data: Data, name: String = "<npy data>") throws {
        var r = IOByteReader(data, origin: name)
        let magic = try r.bytes(6, "the magic string")
        guard Array(magic) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else { throw TensorError.io("\(name): not a .npy file (bad magic)") }
        let major = try r.u8("the format version")
        _ = try r.u8("the minor version")
        let headerLength: Int
        switch major {
        case 1: headerLength = Int(try r.u16("the header length"))
        case 2, 3: headerLength = Int(try r.u32("the header length"))
        default: throw TensorError.io("\(name): unsupported .npy format version \(major)")
        }
        let headerBytes = try r.bytes(headerLength, "the header")
        // Versions 1 and 2 are latin-1, version 3 UTF-8; the keys we read are ASCII either way.
        let header = major == 3 ? String(decoding: headerBytes, as: UTF8.self)
                                : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        guard case .dict(let items) = try IOPyLiteral.parse(header, origin: name) else {
            throw TensorError.io("\(name): header is not a dictionary")
        }
        func value(_ key: String) throws -> IOPyLiteral {
            guard let v = items.first(where: { $0.0 == .string(key) })?.1 else { throw TensorError.io("\(name): header lacks '\(key)'") }
            return v
        }
        guard case .string(let descr) = try value("descr") else {
            throw TensorError.io("\(name): structured dtypes are not supported")
        }
        guard case .bool(let fortran) = try value("fortran_order") else { throw TensorError.io("\(name): 'fortran_order' is not a boolean") }
        guard case .tuple(let dims) = try value("shape") else { throw TensorError.io("\(name): 'shape' is not a tuple") }
        let shape: [Int] = try dims.map {
            guard case .int(let d) = $0 else { throw TensorError.io("\(name): 'shape' holds a non-integer") }
            return d
        }
        let (dtype, bigEndian) = try NpyArray.parseDescr(descr, origin: name)
        let count = try ioElementCount(shape, origin: name)
        let body = data[(data.startIndex + r.position)...]
        guard count <= body.count / dtype.byteSize else {
            throw TensorError.io("\(name): truncated data: shape \(shape) of \(descr) needs \(count * dtype.byteSize) bytes, \(body.count) present")
        }
        var strides: [Int]? = nil
        if fortran {
            // Column-major: the first index varies fastest.
            var s = [Int](repeating: 1, count: shape.count)
            for i in shape.indices.dropFirst() { s[i] = s[i - 1] * shape[i - 1] }
            strides = s
        }
        view = try IOArrayView(dtype: dtype, shape: shape, strides: strides, bigEndian: bigEndian, bytes: body, origin: name)
        self.dtype = dtype
        self.shape = shape
        self.fortranOrder = fortran
    }

    static func parseDescr(_ descr: String, origin: String) throws -> (DType, Bool) {
        let chars = Array(descr)
        guard chars.count >= 3, "<>|=".contains(chars[0]), let size = Int(String(chars[2...])) else {
            throw TensorError.io("\(origin): unsupported dtype '\(descr)'")
        }
        let bigEndian = chars[0] == ">"
        let table: [String: DType] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let t = table["\(chars[1])\(size)"] else { throw TensorError.io("\(origin): unsupported dtype '\(descr)'") }
        return (t, bigEndian)
    }

    /// The values as a Float32 tensor (row-major whatever the file's order).
    public func tensor() throws -> Tensor { view.tensor() }

    /// The values as integers (integer and boolean dtypes only).
    public func integers() throws -> [Int] { try view.integers() }
}

/// Reads a `.npy` file straight into a Float32 tensor.
public func readNpy(_ url: URL) throws -> Tensor { try NpyArray(url: url).tensor() }

/// The bytes of a version-1 `.npy` file holding `tensor` as little-endian float32, with the header
/// laid out exactly as `numpy.save` writes it (sorted keys, growth padding, 64-byte alignment).
public func npyData(_ tensor: Tensor) -> Data {
    let shapeText: String
    switch tensor.shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(tensor.shape[0]),)"
    default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
    }
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    // numpy leaves room for the first dimension to grow to 21 digits so headers can be rewritten in place.
    if let first = tensor.shape.first { header += String(repeating: " ", count: max(0, 21 - String(first).count)) }
    var bytes = Array(header.utf8)
    let prefix = bytes.count + 1 + 10 > 65535 ? 12 : 10
    // numpy pads a full 64 bytes when already aligned; copied for byte-identical output.
    let pad = 64 - (prefix + bytes.count + 1) % 64
    bytes += [UInt8](repeating: 0x20, count: pad) + [0x0a]
    var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, prefix == 10 ? 1 : 2, 0])
    if prefix == 10 {
        withUnsafeBytes(of: UInt16(bytes.count).littleEndian) { out.append(contentsOf: $0) }
    } else {
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { out.append(contentsOf: $0) }
    }
    out.append(contentsOf: bytes)
    out.append(UnsafeBufferPointer(start: tensor.storage.pointer, count: tensor.count))
    return out
}

/// Writes `tensor` as a `.npy` file of float32 (see `npyData`).
public func writeNpy(_ tensor: Tensor, to url: URL) throws {
    try ioWriteFile(npyData(tensor), to: url)
}

/// A NumPy `.npz` archive (from `np.savez` or `np.savez_compressed`): a ZIP of `.npy` members.
public struct NpzFile {
    private let archive: IOZipArchive
    /// Array names, i.e. member names without the `.npy` suffix, in archive order.
    public let names: [String]

    /// Opens the archive at `url` (memory-mapped; members are read when asked for).
    public init(url: URL) throws {
        try self.init(archive: IOZipArchive(url: url))
    }

    /// Opens an archive held in memory; `name` is used in error messages.
    public init(data: Data, name: String = "<npz data>") throws {
        try self.init(archive: IOZipArchive(data: data, origin: name))
    }

    /// Without CRC checks, for fuzz tests that want corrupted members to reach the `.npy` parser.
    init(data: Data, name: String, checksCRC: Bool) throws {
        try self.init(archive: IOZipArchive(data: data, origin: name, checksCRC: checksCRC))
    }

    private init(archive: IOZipArchive) throws {
        self.archive = archive
        names = archive.names.map { $0.hasSuffix(".npy") ? String($0.dropLast(4)) : $0 }
    }

    /// Array `name` (with or without the `.npy` suffix), read and CRC-checked.
    public func array(_ name: String) throws -> NpyArray {
        let member = archive.contains(name + ".npy") ? name + ".npy" : name
        guard archive.contains(member) else { throw TensorError.io("\(archive.origin): no array named '\(name)'") }
        return try NpyArray(data: try archive.read(member), name: "\(archive.origin): member \(member)")
    }

    /// Array `name` as a Float32 tensor.
    public func tensor(_ name: String) throws -> Tensor { try array(name).tensor() }

    /// Array `name` as integers.
    public func integers(_ name: String) throws -> [Int] { try array(name).integers() }
}

// MARK: - Python literals (the .npy header)

/// The subset of Python literal syntax that `repr` of a NumPy header dictionary produces.
indirect enum IOPyLiteral: Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([IOPyLiteral])
    case dict([(IOPyLiteral, IOPyLiteral)])

    static func == (a: IOPyLiteral, b: IOPyLiteral) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.none, .none): return true
        case (.tuple(let x), .tuple(let y)): return x == y
        case (.dict(let x), .dict(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    static func parse(_ text: String, origin: String) throws -> IOPyLiteral {
        var p = Parser(chars: Array(text.unicodeScalars), origin: origin)
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.chars.count else { throw p.fail("trailing characters") }
        return v
    }

    private struct Parser {
        let chars: [Unicode.Scalar]
        let origin: String
        var i = 0

        func fail(_ what: String) -> TensorError { TensorError.io("\(origin): bad header at character \(i): \(what)") }

        mutating func skipSpace() {
            while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "\r" { i += 1 }
        }

        mutating func value(depth: Int) throws -> IOPyLiteral {
            guard depth < 32 else { throw fail("nested too deeply") }
            skipSpace()
            guard i < chars.count else { throw fail("unexpected end") }
            let c = chars[i]
            switch c {
            case "'", "\"":
                i += 1
                var s = String.UnicodeScalarView()
                while true {
                    guard i < chars.count else { throw fail("unterminated string") }
                    let d = chars[i]
                    i += 1
                    if d == c { break }
                    if d == "\\" {
                        guard i < chars.count else { throw fail("unterminated escape") }
                        s.append(chars[i])
                        i += 1
                    } else {
                        s.append(d)
                    }
                }
                return .string(String(s))
            case "(", "[":
                let close: Unicode.Scalar = c == "(" ? ")" : "]"
                i += 1
                var items: [IOPyLiteral] = []
                while true {
                    skipSpace()
                    guard i < chars.count else { throw fail("unterminated sequence") }
                    if chars[i] == close { i += 1; return .tuple(items) }
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < chars.count else { throw fail("unterminated sequence") }
                    if chars[i] == "," { i += 1 } else if chars[i] != close { throw fail("expected ',' or '\(close)'") }
                }
            case "{":
                i += 1
                var items: [(IOPyLiteral, IOPyLiteral)] = []
                while true {
                    skipSpace()
                    guard i < chars.count else { throw fail("unterminated dictionary") }
                    if chars[i] == "}" { i += 1; return .dict(items) }
                    let key = try value(depth: depth + 1)
                    skipSpace()
                    guard i < chars.count, chars[i] == ":" else { throw fail("expected ':'") }
                    i += 1
                    items.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < chars.count else { throw fail("unterminated dictionary") }
                    if chars[i] == "," { i += 1 } else if chars[i] != "}" { throw fail("expected ',' or '}'") }
                }
            default:
                var word = ""
                while i < chars.count, chars[i].properties.isAlphabetic || ("0"..."9").contains(chars[i]) || chars[i] == "-" || chars[i] == "_" {
                    word.unicodeScalars.append(chars[i])
                    i += 1
                }
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .none
                default:
                    // Python 2 wrote long integers with an L suffix.
                    let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
                    guard let v = Int(digits) else { throw fail("unexpected '\(word)'") }
                    return .int(v)
                }
            }
        }
    }
}
