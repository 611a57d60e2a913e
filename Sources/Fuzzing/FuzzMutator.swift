import Foundation
import TensorEngine

/// Seeded structure-unaware mutations of a file's bytes, in the spirit of libFuzzer's mutators: bit
/// flips, random bytes, insertions, deletions, truncation, chunk duplication, splicing with another
/// corpus file, fixed-width integer fields overwritten with boundary values (both byte orders), and for
/// text formats numbers replaced by boundary numerals and format keywords inserted. The same seed gives
/// the same sequence of inputs on every machine.
public struct FuzzMutator {
    /// Integers that sit on the edges parsers get wrong: zero, one, -1, sign and width boundaries,
    /// and sizes far beyond any real file.
    public static let interestingIntegers: [UInt64] = [
        0, 1, 2, 7, 8, 16, 64, 127, 128, 255, 256, 1024, 4096, 0x7fff, 0x8000, 0xffff, 0x1_0000,
        0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 1 << 40, 0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000, UInt64.max, UInt64.max - 1,
        // IEEE specials: float32 +-inf, NaN, largest, smallest subnormal; float64 +-inf, NaN, largest.
        0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7f7f_ffff, 0x0000_0001,
        0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000, 0x7fef_ffff_ffff_ffff,
    ]

    /// Numerals for text formats (BVH, JSON, the `.npy` header): overflowing integers, tiny and huge
    /// doubles, non-finite spellings, negative counts.
    public static let interestingNumerals: [String] = [
        "0", "-1", "1", "-0", "2", "6", "7", "255", "65536", "2147483647", "-2147483648", "4294967296",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999",
        "1e308", "1e309", "-1e308", "1e-308", "4.9e-324", "1e-320", "nan", "NaN", "inf", "-inf",
        "0.0", "0.5", "1.5", "1e10", "1e6", "100000000", "0x10", "1_000",
    ]

    /// Keywords of the format being fuzzed, inserted at random places (empty for binary formats).
    public var dictionary: [[UInt8]]
    /// Whether numeral and keyword mutations apply (the format is text, or has a text header).
    public var textual: Bool
    /// Largest input produced; mutations that would grow past it are skipped.
    public var maxLength: Int

    public init(dictionary: [String] = [], textual: Bool = false, maxLength: Int = 1 << 20) {
        self.dictionary = dictionary.map { Array($0.utf8) }
        self.textual = textual
        self.maxLength = maxLength
    }

    /// One input derived from `base`: one to several stacked mutations. `others` feeds splicing.
    public func mutate(_ base: [UInt8], others: [[UInt8]], rng: inout SeededRNG) -> [UInt8] {
        var bytes = base
        // Mostly one mutation (keeps inputs close to valid so parsing gets deep); sometimes a burst.
        var count = 1
        while count < 8 && rng.nextInt(3) == 0 { count += 1 }
        for _ in 0..<count { mutateOnce(&bytes, others: others, rng: &rng) }
        return bytes
    }

    private func mutateOnce(_ b: inout [UInt8], others: [[UInt8]], rng: inout SeededRNG) {
        let kinds = textual ? 13 : 10
        switch rng.nextInt(kinds) {
        case 0:  // flip one bit
            guard !b.isEmpty else { return insertRandom(&b, rng: &rng) }
            b[rng.nextInt(b.count)] ^= UInt8(1) << UInt8(rng.nextInt(8))
        case 1:  // random byte, or one of the bytes that mean "end", "sign" or "all ones"
            guard !b.isEmpty else { return insertRandom(&b, rng: &rng) }
            let specials: [UInt8] = [0, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x0a]
            b[rng.nextInt(b.count)] = rng.nextInt(2) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : specials[rng.nextInt(specials.count)]
        case 2: insertRandom(&b, rng: &rng)
        case 3:  // delete a range
            guard !b.isEmpty else { return }
            let at = rng.nextInt(b.count)
            let n = 1 + rng.nextInt(min(b.count - at, rng.nextInt(4) == 0 ? 4096 : 16))
            b.removeSubrange(at..<at + n)
        case 4:  // truncate
            guard !b.isEmpty else { return }
            b.removeSubrange(rng.nextInt(b.count)...)
        case 5:  // duplicate a chunk somewhere else
            guard !b.isEmpty else { return }
            let from = rng.nextInt(b.count)
            let n = 1 + rng.nextInt(min(b.count - from, 256))
            guard b.count + n <= maxLength else { return }
            let chunk = Array(b[from..<from + n])
            b.insert(contentsOf: chunk, at: rng.nextInt(b.count + 1))
        case 6:  // splice: our head, another file's tail
            guard let other = others.isEmpty ? nil : others[rng.nextInt(others.count)], !other.isEmpty, !b.isEmpty else { return }
            let cut = rng.nextInt(b.count), from = rng.nextInt(other.count)
            let spliced = Array(b[..<cut]) + other[from...]
            if spliced.count <= maxLength { b = spliced }
        case 7, 8:  // a 1/2/4/8-byte field set to a boundary integer (twice as likely: finds size checks)
            let width = [1, 2, 4, 8][rng.nextInt(4)]
            guard b.count >= width else { return }
            let at = rng.nextInt(b.count - width + 1)
            var v = Self.interestingIntegers[rng.nextInt(Self.interestingIntegers.count)]
            if rng.nextInt(4) == 0 { v = v &+ UInt64(bitPattern: Int64(rng.nextInt(5) - 2)) }  // off by up to two
            let bigEndian = rng.nextInt(3) == 0
            for k in 0..<width {
                let shift = UInt64(8 * (bigEndian ? width - 1 - k : k))
                b[at + k] = UInt8(truncatingIfNeeded: v >> shift)
            }
        case 9:  // add a small delta to one byte (lengths and counts off by a little)
            guard !b.isEmpty else { return }
            let i = rng.nextInt(b.count)
            b[i] = b[i] &+ UInt8(truncatingIfNeeded: rng.nextInt(33) - 16)
        case 10, 11:  // a numeral in the text replaced by a boundary numeral
            replaceNumeral(&b, rng: &rng)
        default:  // a keyword of the format, or a copy of a whole line
            if !dictionary.isEmpty && rng.nextInt(3) != 0 {
                let word = dictionary[rng.nextInt(dictionary.count)]
                guard b.count + word.count <= maxLength else { return }
                b.insert(contentsOf: word, at: rng.nextInt(b.count + 1))
            } else {
                duplicateLine(&b, rng: &rng)
            }
        }
    }

    private func insertRandom(_ b: inout [UInt8], rng: inout SeededRNG) {
        let n = 1 + rng.nextInt(rng.nextInt(4) == 0 ? 128 : 8)
        guard b.count + n <= maxLength else { return }
        let fill = UInt8(truncatingIfNeeded: rng.next())
        let run = rng.nextInt(2) == 0
        let bytes = (0..<n).map { _ in run ? fill : UInt8(truncatingIfNeeded: rng.next()) }
        b.insert(contentsOf: bytes, at: rng.nextInt(b.count + 1))
    }

    private func replaceNumeral(_ b: inout [UInt8], rng: inout SeededRNG) {
        guard !b.isEmpty else { return }
        func isNumeric(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2e || c == 0x2b || c == 0x65 || c == 0x45 }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        // Look for a digit from a random point; wrap once.
        let start = rng.nextInt(b.count)
        var i = start
        var found = false
        for _ in 0..<b.count {
            if isDigit(b[i]) { found = true; break }
            i = (i + 1) % b.count
        }
        guard found else { return }
        var lo = i, hi = i + 1
        while lo > 0 && isNumeric(b[lo - 1]) { lo -= 1 }
        while hi < b.count && isNumeric(b[hi]) { hi += 1 }
        let numeral = Array(Self.interestingNumerals[rng.nextInt(Self.interestingNumerals.count)].utf8)
        guard b.count - (hi - lo) + numeral.count <= maxLength else { return }
        b.replaceSubrange(lo..<hi, with: numeral)
    }

    private func duplicateLine(_ b: inout [UInt8], rng: inout SeededRNG) {
        guard !b.isEmpty else { return }
        var lo = rng.nextInt(b.count)
        while lo > 0 && b[lo - 1] != 0x0a { lo -= 1 }
        var hi = lo
        while hi < b.count && b[hi] != 0x0a { hi += 1 }
        if hi < b.count { hi += 1 }
        guard hi > lo, b.count + (hi - lo) <= maxLength else { return }
        let line = Array(b[lo..<hi])
        let copies = rng.nextInt(8) == 0 ? 1 + rng.nextInt(64) : 1
        guard b.count + copies * line.count <= maxLength else { return }
        for _ in 0..<copies { b.insert(contentsOf: line, at: hi) }
    }
}
