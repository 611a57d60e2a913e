/// UTF-8 helpers that follow sentencepiece's own rules (util.h / util.cc) byte for byte, because the
/// tokenizer works on UTF-8 offsets exactly as the reference does.
enum UTF8Util {
    /// sentencepiece's OneCharLen: the sequence length a lead byte announces (1 for stray continuation bytes).
    @inline(__always) static func oneCharLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    @inline(__always) private static func isTrail(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
    @inline(__always) private static func isValidCodepoint(_ c: UInt32) -> Bool {
        c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF)
    }

    /// sentencepiece's IsValidDecodeUTF8: (valid, length). Invalid input consumes one byte. Like the
    /// reference, an encoded U+FFFD counts as valid.
    static func decodeOne(_ b: [UInt8], at i: Int, end: Int) -> (valid: Bool, length: Int) {
        let len = end - i
        let b0 = b[i]
        if b0 < 0x80 { return (true, 1) }
        if len >= 2 && b0 & 0xE0 == 0xC0 {
            let cp = UInt32(b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F)
            if isTrail(b[i + 1]) && cp >= 0x80 && isValidCodepoint(cp) { return (true, 2) }
        } else if len >= 3 && b0 & 0xF0 == 0xE0 {
            let cp = UInt32(b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F)
            if isTrail(b[i + 1]) && isTrail(b[i + 2]) && cp >= 0x800 && isValidCodepoint(cp) { return (true, 3) }
        } else if len >= 4 && b0 & 0xF8 == 0xF0 {
            let cp = UInt32(b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6
                | UInt32(b[i + 3] & 0x3F)
            if isTrail(b[i + 1]) && isTrail(b[i + 2]) && isTrail(b[i + 3]) && cp >= 0x10000 && isValidCodepoint(cp) {
                return (true, 4)
            }
        }
        return (false, 1)
    }

    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581, sentencepiece's escaped space

    /// Decodes bytes as sentencepiece's decoder does for byte pieces: each structurally invalid byte
    /// becomes U+FFFD.
    static func lossyString(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let (valid, n) = decodeOne(bytes, at: i, end: bytes.count)
            if valid { out.append(contentsOf: bytes[i..<(i + n)]) } else { out.append(contentsOf: replacementCharacter) }
            i += n
        }
        return String(decoding: out, as: UTF8.self)
    }
}
