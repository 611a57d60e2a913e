import Foundation

// MARK: - CRC-32 (ISO-HDLC, the ZIP and PNG polynomial)

/// Slicing-by-8 tables: checksumming hundreds of megabytes of checkpoint data one byte at a time
/// would dominate load time.
private let ioCRCTables: [[UInt32]] = {
    var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        tables[0][i] = c
    }
    for i in 0..<256 {
        for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xff)] }
    }
    return tables
}()

/// CRC-32 of `bytes`, continuing from `crc` (start with 0).
func ioCRC32(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
    var c = ~crc
    let n = bytes.count
    var i = 0
    ioCRCTables.withUnsafeBufferPointer { tables in
        let t0 = tables[0], t1 = tables[1], t2 = tables[2], t3 = tables[3]
        let t4 = tables[4], t5 = tables[5], t6 = tables[6], t7 = tables[7]
        while i + 8 <= n {
            let lo = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
            let hi = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
            c = t7[Int(lo & 0xff)] ^ t6[Int((lo >> 8) & 0xff)] ^ t5[Int((lo >> 16) & 0xff)] ^ t4[Int(lo >> 24)]
                ^ t3[Int(hi & 0xff)] ^ t2[Int((hi >> 8) & 0xff)] ^ t1[Int((hi >> 16) & 0xff)] ^ t0[Int(hi >> 24)]
            i += 8
        }
        while i < n {
            c = t0[Int((c ^ UInt32(bytes[i])) & 0xff)] ^ (c >> 8)
            i += 1
        }
    }
    return ~c
}

/// CRC-32 of a Data value.
func ioCRC32(_ data: Data) -> UInt32 { data.withUnsafeBytes { ioCRC32($0) } }

// MARK: - DEFLATE (RFC 1951) decoder

/// Decompresses a raw DEFLATE stream (no zlib or gzip wrapper): stored, fixed-Huffman and
/// dynamic-Huffman blocks. `expectedSize` is the size the container promises; output beyond it is an
/// error, so a corrupt stream cannot make us allocate without bound.
func ioInflate(_ input: Data, expectedSize: Int, origin: String) throws -> Data {
    try input.withUnsafeBytes { raw in
        var inflater = IOInflater(input: raw, limit: expectedSize, origin: origin)
        try inflater.run()
        guard inflater.output.count == expectedSize else {
            throw TensorError.io("\(origin): inflated to \(inflater.output.count) bytes, expected \(expectedSize)")
        }
        return Data(inflater.output)
    }
}

/// Canonical Huffman code in the form of zlib's `puff`: the count of codes of each length and the
/// symbols ordered by code. Decoding walks lengths 1...15, so a malformed code ends after 15 bits.
private struct IOHuffman {
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [Int]
    /// Fast path: for every 9-bit prefix (bit-reversed as read), the symbol and its length, or
    /// length 0 when the code is longer than 9 bits.
    var fast = [UInt32](repeating: 0, count: 1 << 9)

    /// Builds from code lengths; returns nil for an over-subscribed set. Incomplete sets are allowed
    /// (RFC 1951 permits a single distance code), decoding then fails on an unused code.
    init?(lengths: [Int]) {
        symbols = [Int](repeating: 0, count: lengths.count)
        for l in lengths { counts[l] += 1 }
        var left = 1
        for len in 1...15 {
            left <<= 1
            left -= counts[len]
            if left < 0 { return nil }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
        for (sym, l) in lengths.enumerated() where l != 0 {
            symbols[offsets[l]] = sym
            offsets[l] += 1
        }
        // Fill the lookup table by enumerating canonical codes of length <= 9.
        var code = 0, index = 0
        for len in 1...15 {
            for _ in 0..<counts[len] {
                if len <= 9 {
                    // Codes are sent most-significant bit first; the reader sees them reversed.
                    var rev = 0
                    for b in 0..<len where (code >> b) & 1 != 0 { rev |= 1 << (len - 1 - b) }
                    var fill = rev
                    while fill < (1 << 9) {
                        fast[fill] = UInt32(symbols[index]) << 4 | UInt32(len)
                        fill += 1 << len
                    }
                }
                code += 1
                index += 1
            }
            code <<= 1
        }
    }
}

private struct IOInflater {
    let input: UnsafeRawBufferPointer
    let limit: Int
    let origin: String
    var output: [UInt8] = []
    var pos = 0
    var bitBuffer: UInt64 = 0
    var bitCount = 0

    init(input: UnsafeRawBufferPointer, limit: Int, origin: String) {
        self.input = input
        self.limit = limit
        self.origin = origin
        // The declared size may be a lie; reserve what typical ratios need and let the array grow.
        output.reserveCapacity(min(limit, max(1 << 20, input.count * 8)))
    }

    func fail(_ what: String) -> TensorError { TensorError.io("\(origin): corrupt deflate data: \(what)") }

    /// Tops up the bit buffer; past the end of input it pads with zeros, and `need` reports the
    /// truncation once those padding bits would actually be consumed.
    @inline(__always) mutating func refill() {
        while bitCount <= 56 {
            let byte: UInt64 = pos < input.count ? UInt64(input[pos]) : 0
            bitBuffer |= byte << UInt64(bitCount)
            pos += 1
            bitCount += 8
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws -> Int {
        if bitCount < n { refill() }
        // `pos` counts padding bytes too; consuming a padding bit means the stream was truncated.
        let consumedBits = pos * 8 - bitCount + n
        guard consumedBits <= input.count * 8 else { throw fail("truncated stream") }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    mutating func decode(_ h: IOHuffman) throws -> Int {
        if bitCount < 15 { refill() }
        let entry = h.fast[Int(bitBuffer & 0x1ff)]
        let len = Int(entry & 0xf)
        if len != 0 {
            _ = try bits(len)
            return Int(entry >> 4)
        }
        // Slow path (codes longer than 9 bits), bit by bit as in puff.
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try bits(1)
            let count = h.counts[len]
            if code - count < first { return h.symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw fail("invalid Huffman code")
    }

    mutating func run() throws {
        var last = 0
        while last == 0 {
            last = try bits(1)
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(IOInflater.fixedLength, IOInflater.fixedDistance)
            case 2:
                let (l, d) = try dynamicTables()
                try codes(l, d)
            default: throw fail("invalid block type 3")
            }
        }
    }

    mutating func stored() throws {
        // Discard to the byte boundary; what is left in the bit buffer are whole bytes.
        _ = try bits(bitCount % 8)
        let len = try bits(16)
        let nlen = try bits(16)
        guard len == (~nlen & 0xffff) else { throw fail("stored block length check failed") }
        guard output.count + len <= limit else { throw fail("more data than the declared size") }
        for _ in 0..<len { output.append(UInt8(try bits(8))) }
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let fixedLength: IOHuffman = {
        var l = [Int](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return IOHuffman(lengths: l)!
    }()
    static let fixedDistance = IOHuffman(lengths: [Int](repeating: 5, count: 30))!

    mutating func codes(_ lencode: IOHuffman, _ distcode: IOHuffman) throws {
        while true {
            let sym = try decode(lencode)
            if sym < 256 {
                guard output.count < limit else { throw fail("more data than the declared size") }
                output.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw fail("invalid length code \(sym)") }
                let len = IOInflater.lengthBase[li] + (try bits(IOInflater.lengthExtra[li]))
                let ds = try decode(distcode)
                guard ds < 30 else { throw fail("invalid distance code \(ds)") }
                let dist = IOInflater.distBase[ds] + (try bits(IOInflater.distExtra[ds]))
                guard dist <= output.count else { throw fail("distance \(dist) reaches before the start") }
                guard output.count + len <= limit else { throw fail("more data than the declared size") }
                // Byte by byte: the source may overlap what is being written (run-length copies).
                var from = output.count - dist
                for _ in 0..<len {
                    output.append(output[from])
                    from += 1
                }
            }
        }
    }

    mutating func dynamicTables() throws -> (IOHuffman, IOHuffman) {
        let nlen = try bits(5) + 257
        let ndist = try bits(5) + 1
        let ncode = try bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw fail("bad table sizes") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var lengths = [Int](repeating: 0, count: 19)
        for i in 0..<ncode { lengths[order[i]] = try bits(3) }
        guard let lencode = IOHuffman(lengths: lengths) else { throw fail("bad code-length code") }
        var all = [Int]()
        all.reserveCapacity(nlen + ndist)
        while all.count < nlen + ndist {
            let sym = try decode(lencode)
            if sym < 16 {
                all.append(sym)
                continue
            }
            var value = 0, repeatCount = 0
            switch sym {
            case 16:
                guard let prev = all.last else { throw fail("repeat with no previous length") }
                value = prev
                repeatCount = 3 + (try bits(2))
            case 17: repeatCount = 3 + (try bits(3))
            default: repeatCount = 11 + (try bits(7))
            }
            guard all.count + repeatCount <= nlen + ndist else { throw fail("too many code lengths") }
            all.append(contentsOf: repeatElement(value, count: repeatCount))
        }
        guard all[256] != 0 else { throw fail("no end-of-block code") }
        guard let l = IOHuffman(lengths: Array(all[0..<nlen])),
              let d = IOHuffman(lengths: Array(all[nlen...])) else { throw fail("over-subscribed Huffman code") }
        return (l, d)
    }
}
