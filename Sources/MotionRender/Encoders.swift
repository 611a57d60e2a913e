import Foundation
import TensorEngine

/// PNG writer: 8-bit RGB, one zlib stream of stored (uncompressed) DEFLATE blocks with its Adler-32,
/// chunks with CRC-32. Plain and exact; frames are small.
public enum PNGEncoder {
    public static func encode(_ image: IndexedImage) -> Data {
        let w = image.width, h = image.height, rgb = image.rgb
        var raw = [UInt8](); raw.reserveCapacity(h * (1 + 3 * w))
        for y in 0..<h { raw.append(0); raw += rgb[(y * w * 3)..<((y + 1) * w * 3)] }   // filter type 0 per row
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.appendBE32(UInt32(w)); ihdr.appendBE32(UInt32(h)); ihdr += Data([8, 2, 0, 0, 0])
        chunk(&out, "IHDR", ihdr)
        chunk(&out, "IDAT", zlibStored(raw))
        chunk(&out, "IEND", Data())
        return out
    }

    static func chunk(_ out: inout Data, _ type: String, _ body: Data) {
        out.appendBE32(UInt32(body.count))
        let typed = Data(type.utf8) + body
        out += typed
        out.appendBE32(CRC32.checksum(typed))
    }

    /// zlib header, stored blocks of at most 65535 bytes, Adler-32.
    static func zlibStored(_ bytes: [UInt8]) -> Data {
        var out = Data([0x78, 0x01])
        var i = 0
        repeat {
            let n = min(65535, bytes.count - i)
            out.append(i + n == bytes.count ? 1 : 0)
            out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8))
            out.append(UInt8(~n & 0xFF)); out.append(UInt8((~n >> 8) & 0xFF))
            out += bytes[i..<(i + n)]
            i += n
        } while i < bytes.count
        out.appendBE32(adler32(bytes))
        return out
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for chunkStart in stride(from: 0, to: bytes.count, by: 5552) {
            for v in bytes[chunkStart..<min(chunkStart + 5552, bytes.count)] { a += UInt32(v); b += a }
            a %= 65521; b %= 65521
        }
        return b << 16 | a
    }
}

/// Animated GIF89a writer: the renderer's 16-colour palette as the global colour table, LZW with
/// variable-width codes and a clear code when the table fills, NETSCAPE2.0 looping.
public enum GIFEncoder {
    public static func encode(_ frames: [IndexedImage], fps: Float) throws -> Data {
        guard let first = frames.first else { throw RenderError.badInput("no frames to write") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else { throw RenderError.badInput("frames differ in size") }
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
    static func compress(_ pixels: [UInt8], minCodeSize: Int) -> [UInt8] {
        let clear = 1 << minCodeSize, end = clear + 1
        var out = [UInt8](), bitBuffer: UInt32 = 0, bitCount = 0
        var width = minCodeSize + 1, next = end + 1
        var table: [Int: Int] = [:]       // (prefix code << 8 | byte) -> code
        func emit(_ code: Int) {
            bitBuffer |= UInt32(code) << UInt32(bitCount); bitCount += width
            while bitCount >= 8 { out.append(UInt8(bitBuffer & 0xFF)); bitBuffer >>= 8; bitCount -= 8 }
        }
        emit(clear)
        guard var prefix = pixels.first.map(Int.init) else { emit(end); if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }; return out }
        for p in pixels.dropFirst() {
            let key = prefix << 8 | Int(p)
            if let code = table[key] { prefix = code; continue }
            emit(prefix)
            if next < 4096 {
                table[key] = next
                // The decoder widens when its next free code reaches 2^width.
                if next == (1 << width) && width < 12 { width += 1 }
                next += 1
            } else {
                emit(clear)
                table.removeAll(keepingCapacity: true)
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
