/// Text normalisation as the model's `NormalizerSpec` prescribes, in the two flavours the tokenizer needs:
/// sentencepiece's own (normalizer.cc) and the one Hugging Face's `Precompiled` normalizer applies.
struct Normalizer {
    let spec: SentencePieceModel.NormalizerSpec
    let charsMap: CharsMap?
    /// User-defined pieces pass through unnormalised (sentencepiece's PrefixMatcher).
    let userDefined: ByteTrie
    let treatWhitespaceAsSuffix: Bool

    /// One step of sentencepiece's NormalizePrefix: (replacement bytes, consumed input bytes).
    private func normalizePrefix(_ input: [UInt8], _ pos: Int) -> (ArraySlice<UInt8>, Int) {
        let end = input.count
        if let m = userDefined.longestPrefix(input, from: pos, to: end) {
            return (input[pos..<(pos + m.length)], m.length)
        }
        if let map = charsMap, let (length, replacement) = map.longestMatch(input, from: pos, to: end) {
            return (replacement, length)
        }
        let (valid, length) = UTF8Util.decodeOne(input, at: pos, end: end)
        if !valid { return (UTF8Util.replacementCharacter[...], 1) }
        return (input[pos..<(pos + length)], length)
    }

    /// sentencepiece's Normalizer::Normalize: rewrite through the charsmap (longest match), drop leading,
    /// trailing and repeated spaces, add the dummy prefix, and escape spaces as U+2581.
    func normalizeSentencePiece(_ input: [UInt8]) -> [UInt8] {
        var pos = 0
        if input.isEmpty { return [] }
        if spec.removeExtraWhitespaces {
            while pos < input.count {
                let (s, n) = normalizePrefix(input, pos)
                if !(s.count == 1 && s.first == 0x20) { break }
                pos += n
            }
        }
        if pos >= input.count { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3)
        let space: [UInt8] = spec.escapeWhitespaces ? UTF8Util.spaceSymbol : [0x20]
        if !treatWhitespaceAsSuffix && spec.addDummyPrefix { out.append(contentsOf: space) }
        var isPrevSpace = spec.removeExtraWhitespaces
        while pos < input.count {
            var (s, n) = normalizePrefix(input, pos)
            // A replacement that starts with spaces right after a space contributes no new space.
            while isPrevSpace, s.first == 0x20 { s = s.dropFirst() }
            if !s.isEmpty {
                for b in s {
                    if spec.escapeWhitespaces && b == 0x20 { out.append(contentsOf: UTF8Util.spaceSymbol) } else { out.append(b) }
                }
                isPrevSpace = s.last == 0x20
            }
            pos += n
            if !spec.removeExtraWhitespaces { isPrevSpace = false }
        }
        if spec.removeExtraWhitespaces {
            while out.count >= space.count && Array(out.suffix(space.count)) == space {
                out.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && spec.addDummyPrefix { out.append(contentsOf: space) }
        return out
    }

    /// Hugging Face tokenizers' `Precompiled` normaliser: per grapheme cluster, a cluster shorter than 6
    /// bytes is replaced whole by the first (shortest) charsmap key that prefixes it; otherwise each scalar
    /// is looked up alone. (This can drop a combining mark after a rewritten character, e.g. "ﬁ" + U+0301
    /// becomes "fi"; that is what `T5Tokenizer` does, so it is reproduced.) No whitespace handling here:
    /// the pre-tokenizer does that.
    func normalizeHuggingFace(_ text: Substring) -> [UInt8] {
        guard let map = charsMap else { return Array(text.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for cluster in text {
            let bytes = Array(cluster.utf8)
            if bytes.count < 6, let r = map.firstMatch(bytes, from: 0, to: bytes.count) {
                out.append(contentsOf: r)
                continue
            }
            for scalar in cluster.unicodeScalars {
                let sb = Array(String(scalar).utf8)
                if let r = map.firstMatch(sb, from: 0, to: sb.count) { out.append(contentsOf: r) } else { out.append(contentsOf: sb) }
            }
        }
        return out
    }
}
