import Foundation
import TensorEngine

/// PNG writer: 8-bit RGB, filter type 0, one zlib stream (DEFLATE with the fixed Huffman code and LZ77
/// matches, `Deflate` below) with its Adler-32, chunks with CRC-32. A 480x400 frame of the renderer
/// packs to a few kilobytes instead of the 576 KB of raw pixels.
public enum PNGEncoder {
    public static func encode(_ image: IndexedImage) -> Data {
        let w = image.width, h = image.height, rgb = image.rgb
        var raw = [UInt8](); raw.reserveCapacity(h * (1 + 3 * w))
        for y in 0..<h { raw.append(0); raw += rgb[(y * w * 3)..<((y + 1) * w * 3)] }   // filter type 0 per row
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.appendBE32(UInt32(w)); ihdr.appendBE32(UInt32(h)); ihdr += Data([8, 2, 0, 0, 0])
        chunk(&out, "IHDR", ihdr)
        chunk(&out, "IDAT", zlib(raw))
        chunk(&out, "IEND", Data())
        return out
    }

    static func chunk(_ out: inout Data, _ type: String, _ body: Data) {
        out.appendBE32(UInt32(body.count))
        let typed = Data(type.utf8) + body
        out += typed
        out.appendBE32(CRC32.checksum(typed))
    }

    /// zlib stream (RFC 1950): header (deflate, 32 KB window, no dictionary), DEFLATE data, Adler-32.
    static func zlib(_ bytes: [UInt8]) -> Data {
        var out = Data([0x78, 0x01])                 // (0x78 << 8 | 0x01) % 31 == 0, as the header check needs
        out += Deflate.compress(bytes)
        out.appendBE32(adler32(bytes))
        return out
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        // 5552 is the most bytes that cannot overflow b before the modulo (zlib's NMAX).
        for chunkStart in stride(from: 0, to: bytes.count, by: 5552) {
            for v in bytes[chunkStart..<min(chunkStart + 5552, bytes.count)] { a += UInt32(v); b += a }
            a %= 65521; b %= 65521
        }
        return b << 16 | a
    }
}

/// A DEFLATE (RFC 1951) compressor: one final block with the fixed Huffman code, greedy LZ77 matches
/// found through hash chains over the 32 KB window. Rendered frames are mostly long runs of a few colours,
/// which matches of up to 258 bytes take in a handful of bits, so dynamic tables would add little.
public enum Deflate {
    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                  2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let window = 32768, minMatch = 3, maxMatch = 258, maxChain = 64

    /// Raw DEFLATE data (no zlib wrapper) of `bytes`.
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var w = BitWriter()
        w.write(1, 1)                          // BFINAL
        w.write(1, 2)                          // BTYPE 01: fixed Huffman
        let n = bytes.count
        let hashBits = 15, hashSize = 1 << hashBits
        var head = [Int](repeating: -1, count: hashSize)       // newest position with a given 3-byte hash
        var prev = [Int](repeating: -1, count: window)         // older position with the same hash, by pos % window
        func hash(_ i: Int) -> Int {
            (Int(bytes[i]) << 10 ^ Int(bytes[i + 1]) << 5 ^ Int(bytes[i + 2])) & (hashSize - 1)
        }
        func insert(_ i: Int) {
            guard i + minMatch <= n else { return }
            let h = hash(i)
            prev[i & (window - 1)] = head[h]
            head[h] = i
        }
        var i = 0
        while i < n {
            var bestLen = 0, bestDist = 0
            if i + minMatch <= n {
                var candidate = head[hash(i)], chain = maxChain
                let limit = min(maxMatch, n - i)
                while candidate >= 0, i - candidate <= window, chain > 0 {
                    var l = 0
                    while l < limit && bytes[candidate + l] == bytes[i + l] { l += 1 }
                    if l > bestLen { bestLen = l; bestDist = i - candidate; if l == limit { break } }
                    let older = prev[candidate & (window - 1)]
                    // A slot can be reused by a newer position once the window has moved past it.
                    guard older < candidate else { break }
                    candidate = older; chain -= 1
                }
            }
            if bestLen >= minMatch {
                writeLength(&w, bestLen)
                writeDistance(&w, bestDist)
                for k in i..<(i + bestLen) { insert(k) }
                i += bestLen
            } else {
                writeLiteral(&w, Int(bytes[i]))
                insert(i)
                i += 1
            }
        }
        writeLiteral(&w, 256)                  // end of block
        return w.finish()
    }

    /// The fixed literal/length code (RFC 1951 3.2.6); Huffman codes go out most significant bit first.
    static func writeLiteral(_ w: inout BitWriter, _ symbol: Int) {
        switch symbol {
        case 0...143: w.writeHuffman(0x30 + symbol, 8)
        case 144...255: w.writeHuffman(0x190 + symbol - 144, 9)
        case 256...279: w.writeHuffman(symbol - 256, 7)
        default: w.writeHuffman(0xC0 + symbol - 280, 8)
        }
    }

    static func writeLength(_ w: inout BitWriter, _ length: Int) {
        // The last base not above `length` (258 has its own code 285 with no extra bits).
        var k = lengthBase.count - 1
        while lengthBase[k] > length { k -= 1 }
        writeLiteral(&w, 257 + k)
        if lengthExtra[k] > 0 { w.write(length - lengthBase[k], lengthExtra[k]) }
    }

    static func writeDistance(_ w: inout BitWriter, _ distance: Int) {
        var k = distBase.count - 1
        while distBase[k] > distance { k -= 1 }
        w.writeHuffman(k, 5)
        if distExtra[k] > 0 { w.write(distance - distBase[k], distExtra[k]) }
    }
}

/// Bits packed least significant first, as DEFLATE stores them.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var buffer: UInt64 = 0, count = 0

    mutating func write(_ value: Int, _ bits: Int) {
        buffer |= UInt64(value) << UInt64(count); count += bits
        while count >= 8 { bytes.append(UInt8(buffer & 0xFF)); buffer >>= 8; count -= 8 }
    }

    /// A Huffman code, whose first bit is its most significant.
    mutating func writeHuffman(_ code: Int, _ bits: Int) {
        var reversed = 0
        for b in 0..<bits where code & (1 << b) != 0 { reversed |= 1 << (bits - 1 - b) }
        write(reversed, bits)
    }

    mutating func finish() -> [UInt8] {
        if count > 0 { bytes.append(UInt8(buffer & 0xFF)); buffer = 0; count = 0 }
        return bytes
    }
}

/// Animated GIF89a writer: the renderer's 16-colour palette as the global colour table, LZW with
/// variable-width codes and a clear code when the table fills, NETSCAPE2.0 looping.
public enum GIFEncoder {
    public static func encode(_ frames: [IndexedImage], fps: Float) throws -> Data {
        guard let first = frames.first else { throw RenderError.badInput("no frames to write") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else { throw RenderError.badInput("frames differ in size") }
        guard first.width <= 65535, first.height <= 65535 else { throw RenderError.badInput("GIF frames are at most 65535 pixels a side") }
        let colours = RenderPalette.colors.count
        for (k, f) in frames.enumerated() where f.pixels.contains(where: { Int($0) >= colours }) {
            throw RenderError.badInput("frame \(k) uses a colour index outside the \(colours)-colour palette")
        }
        var out = Data("GIF89a".utf8)
        out.appendLE16(UInt16(first.width)); out.appendLE16(UInt16(first.height))
        out += Data([0xF3, 0, 0])                                   // global table of 2^(3+1) = 16 colours
        for c in RenderPalette.colors { out += Data([c.0, c.1, c.2]) }
        out += Data([0x21, 0xFF, 0x0B]) + Data("NETSCAPE2.0".utf8) + Data([3, 1, 0, 0, 0])   // loop forever
        let delay = UInt16(max(1, min(65535, Int((100 / max(fps, 0.01)).rounded()))))      // hundredths of a second
        for f in frames {
            out += Data([0x21, 0xF9, 4, 0]); out.appendLE16(delay); out += Data([0, 0])
            out.append(0x2C); out.appendLE16(0); out.appendLE16(0); out.appendLE16(UInt16(f.width)); out.appendLE16(UInt16(f.height)); out.append(0)
            let minCodeSize: UInt8 = 4
            out.append(minCodeSize)
            let lzw = compress(f.pixels, minCodeSize: Int(minCodeSize))
            var i = 0
            while i < lzw.count { let n = min(255, lzw.count - i); out.append(UInt8(n)); out += lzw[i..<(i + n)]; i += n }
            out.append(0)
        }
        out.append(0x3B)
        return out
    }

    /// GIF's LZW: codes LSB-first, width growing from minCodeSize+1 to 12 bits, clear code on a full table.
    /// Pixels must be below 2^minCodeSize.
    static func compress(_ pixels: [UInt8], minCodeSize: Int) -> [UInt8] {
        let clear = 1 << minCodeSize, end = clear + 1, symbols = 1 << minCodeSize
        var out = [UInt8](), bitBuffer: UInt32 = 0, bitCount = 0
        var width = minCodeSize + 1, next = end + 1
        // table[prefix * symbols + pixel] = code of the string prefix+pixel, or 0 when absent (no string
        // gets code 0: codes below `end` are single pixels and the clear/end codes).
        var table = [UInt16](repeating: 0, count: 4096 * symbols)
        func emit(_ code: Int) {
            bitBuffer |= UInt32(code) << UInt32(bitCount); bitCount += width
            while bitCount >= 8 { out.append(UInt8(bitBuffer & 0xFF)); bitBuffer >>= 8; bitCount -= 8 }
        }
        emit(clear)
        guard var prefix = pixels.first.map(Int.init) else { emit(end); if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }; return out }
        for p in pixels.dropFirst() {
            let key = prefix * symbols + Int(p)
            let code = Int(table[key])
            if code != 0 { prefix = code; continue }
            emit(prefix)
            if next < 4096 {
                table[key] = UInt16(next)
                // The decoder adds each entry one code later than we do, so it widens when our `next`
                // passes 2^width, not when it reaches it.
                if next == (1 << width) && width < 12 { width += 1 }
                next += 1
            } else {
                emit(clear)
                for k in table.indices { table[k] = 0 }
                width = minCodeSize + 1; next = end + 1
            }
            prefix = Int(p)
        }
        emit(prefix)
        emit(end)
        if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }
        return out
    }
}

extension Data {
    mutating func appendBE32(_ v: UInt32) { append(contentsOf: [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]) }
    mutating func appendLE16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
}
