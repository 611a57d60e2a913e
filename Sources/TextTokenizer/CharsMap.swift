/// SentencePiece's `precompiled_charsmap`: `<uint32 LE trie size><Darts double array><NUL-terminated
/// replacement strings>`. The double array maps a UTF-8 prefix of the input to an offset into the strings.
/// Every array access is bounds-checked so that a corrupt table only stops matching.
struct CharsMap {
    private let units: [UInt32]
    private let strings: [UInt8]

    init(blob: [UInt8]) throws {
        guard blob.count > 4 else {
            throw TokenizerError.malformed(field: "normalizer_spec.precompiled_charsmap", offset: 0,
                                           reason: "blob of \(blob.count) bytes is too short")
        }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize < blob.count - 4 + 1, trieSize % 4 == 0, trieSize >= 4 else {
            throw TokenizerError.malformed(field: "normalizer_spec.precompiled_charsmap", offset: 0,
                                           reason: "trie size \(trieSize) does not fit a \(blob.count)-byte blob")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<units.count {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        self.units = units
        self.strings = Array(blob[(4 + trieSize)...])
    }

    // Darts unit layout: bit 8 = has leaf, low 31 bits = value (leaf units), label = low byte plus bit 31
    // (so a leaf never equals a byte label), offset = bits 10... shifted by 8 more when bit 9 is set.
    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ u: UInt32) -> Int { Int(u & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & 0x8000_00FF }
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// Calls `body(length, value)` for each key that is a prefix of `bytes[start..<end]`, shortest first,
    /// as Darts' commonPrefixSearch does. `body` returns false to stop.
    func forEachPrefix(_ bytes: [UInt8], from start: Int, to end: Int, _ body: (Int, Int) -> Bool) {
        guard !units.isEmpty else { return }
        var node = Self.offset(units[0])
        var i = start
        while i < end {
            let c = bytes[i]
            node ^= Int(c)
            guard node >= 0, node < units.count else { return }
            let unit = units[node]
            guard Self.label(unit) == UInt32(c) else { return }
            node ^= Self.offset(unit)
            guard node >= 0, node < units.count else { return }
            if Self.hasLeaf(unit) {
                if !body(i + 1 - start, Self.value(units[node])) { return }
            }
            i += 1
        }
    }

    /// The replacement string at `offset` (up to its NUL), or nil when the offset is outside the table.
    func replacement(at offset: Int) -> ArraySlice<UInt8>? {
        guard offset >= 0, offset <= strings.count else { return nil }
        var e = offset
        while e < strings.count && strings[e] != 0 { e += 1 }
        return strings[offset..<e]
    }

    /// sentencepiece's rule (normalizer.cc): the longest matching key wins. Returns (consumed, replacement).
    func longestMatch(_ bytes: [UInt8], from start: Int, to end: Int) -> (Int, ArraySlice<UInt8>)? {
        var best: (Int, Int)?
        var seen = 0
        forEachPrefix(bytes, from: start, to: end) { length, value in
            // normalizer.cc keeps only the first kMaxTrieResultsSize (32) matches.
            seen += 1
            if best == nil || length > best!.0 { best = (length, value) }
            return seen < 32
        }
        guard let (length, value) = best, let r = replacement(at: value) else { return nil }
        return (length, r)
    }

    /// Hugging Face tokenizers' `Precompiled::transform`: the first (shortest) matching key wins.
    func firstMatch(_ bytes: [UInt8], from start: Int, to end: Int) -> ArraySlice<UInt8>? {
        var found: Int?
        forEachPrefix(bytes, from: start, to: end) { _, value in
            found = value
            return false
        }
        guard let v = found else { return nil }
        return replacement(at: v)
    }
}
