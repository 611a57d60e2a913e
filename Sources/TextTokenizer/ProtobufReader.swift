import Foundation

/// A minimal reader for the protobuf wire format: just what `sentencepiece_model.proto` needs (varints,
/// length-delimited fields, fixed32 floats), bounds-checked at every step so that hostile bytes end in a
/// `TokenizerError` instead of a trap.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    /// The whole buffer; `position` and `end` index into it so sub-messages share storage.
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// Names the message being read, for error messages ("ModelProto.pieces[12].score").
    let context: String

    init(bytes: [UInt8], range: Range<Int>? = nil, context: String) {
        self.bytes = bytes
        let r = range ?? 0..<bytes.count
        self.position = r.lowerBound
        self.end = r.upperBound
        self.context = context
    }

    var isAtEnd: Bool { position >= end }

    /// Reads a field key; returns the field number and wire type.
    mutating func readKey() throws -> (field: Int, wireType: WireType) {
        let start = position
        let key = try readVarint(field: "\(context) field key")
        let raw = UInt8(key & 7)
        guard let wire = WireType(rawValue: raw) else {
            throw TokenizerError.malformed(field: "\(context) field key", offset: start,
                                           reason: "unknown wire type \(raw)")
        }
        let number = key >> 3
        guard number >= 1, number <= (1 << 29) - 1 else {
            throw TokenizerError.malformed(field: "\(context) field key", offset: start,
                                           reason: "invalid field number \(number)")
        }
        return (Int(number), wire)
    }

    mutating func readVarint(field: String) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw TokenizerError.truncated(field: field, offset: start) }
            let byte = bytes[position]
            position += 1
            // The tenth byte may only carry the top bit of a 64-bit value.
            if shift == 63 && byte > 1 {
                throw TokenizerError.malformed(field: field, offset: start, reason: "varint overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 {
                throw TokenizerError.malformed(field: field, offset: start, reason: "varint longer than 10 bytes")
            }
        }
    }

    /// Reads the payload range of a length-delimited field (the bytes themselves stay in `bytes`).
    mutating func readLengthDelimited(field: String) throws -> Range<Int> {
        let start = position
        let length = try readVarint(field: field)
        guard length <= UInt64(end - position) else {
            throw TokenizerError.truncated(field: field, offset: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readFixed32(field: String) throws -> UInt32 {
        guard end - position >= 4 else { throw TokenizerError.truncated(field: field, offset: position) }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    mutating func readString(field: String) throws -> String {
        let start = position
        let range = try readLengthDelimited(field: field)
        // proto2 `string` must be UTF-8; a piece that is not could never match text, and would make ids
        // ambiguous, so it is rejected rather than repaired.
        guard let s = String(validating: bytes[range], as: UTF8.self) else {
            throw TokenizerError.malformed(field: field, offset: start, reason: "string is not valid UTF-8")
        }
        return s
    }

    mutating func readBytes(field: String) throws -> [UInt8] {
        Array(bytes[try readLengthDelimited(field: field)])
    }

    mutating func readBool(field: String) throws -> Bool { try readVarint(field: field) != 0 }

    /// proto `int32` travels as a sign-extended varint: negative ids (-1 = disabled) take ten bytes.
    mutating func readInt32(field: String) throws -> Int {
        Int(Int32(truncatingIfNeeded: Int64(bitPattern: try readVarint(field: field))))
    }

    /// Skips a field of a type this reader does not need, so newer model files still load.
    mutating func skip(wireType: WireType, field: String) throws {
        switch wireType {
        case .varint: _ = try readVarint(field: field)
        case .fixed64:
            guard end - position >= 8 else { throw TokenizerError.truncated(field: field, offset: position) }
            position += 8
        case .lengthDelimited: _ = try readLengthDelimited(field: field)
        case .fixed32:
            guard end - position >= 4 else { throw TokenizerError.truncated(field: field, offset: position) }
            position += 4
        case .startGroup, .endGroup:
            // Groups are deprecated and absent from sentencepiece_model.proto.
            throw TokenizerError.malformed(field: field, offset: position, reason: "unsupported group wire type")
        }
    }

    /// Throws unless `actual` is the wire type the schema gives the field.
    func expect(_ actual: WireType, _ expected: WireType, field: String) throws {
        guard actual == expected else {
            throw TokenizerError.malformed(field: field, offset: position,
                                           reason: "wire type \(actual.rawValue), expected \(expected.rawValue)")
        }
    }
}
