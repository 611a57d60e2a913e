import Foundation

/// A read-only ZIP archive (PKWARE APPNOTE): central directory with ZIP64 extensions, members
/// stored or deflated. Used for `.npz` files and PyTorch checkpoints. Stored members are returned
/// as slices of the (memory-mapped) archive, without copying.
final class IOZipArchive {
    struct Member {
        let name: String
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let data: Data
    let origin: String
    /// Members in central-directory order.
    let members: [Member]
    private let byName: [String: Int]
    /// Stored members whose CRC has been checked, so shared torch storages are checked once.
    private var verified = Set<String>()
    /// Off only in fuzz tests, so that corrupted bytes reach the parsers behind the archive.
    let checksCRC: Bool

    init(data: Data, origin: String, checksCRC: Bool = true) throws {
        self.data = data
        self.origin = origin
        self.checksCRC = checksCRC
        let n = data.count
        // The end-of-central-directory record is at least 22 bytes and ends with a comment of at most
        // 65535 bytes; scan backwards for its signature.
        guard n >= 22 else { throw TensorError.io("\(origin): too short to be a ZIP archive") }
        var eocd = -1
        data.withUnsafeBytes { raw in
            var i = n - 22
            let lowest = max(0, n - 22 - 65535)
            while i >= lowest {
                if raw.loadUnaligned(fromByteOffset: i, as: UInt32.self) == 0x0605_4b50 { eocd = i; break }
                i -= 1
            }
        }
        guard eocd >= 0 else { throw TensorError.io("\(origin): not a ZIP archive (no end of central directory)") }
        var r = IOByteReader(data, origin: origin, position: eocd + 4)
        _ = try r.u16("disk number")
        _ = try r.u16("central directory disk")
        _ = try r.u16("entries on disk")
        var entryCount = Int(try r.u16("entry count"))
        var cdSize = Int(try r.u32("central directory size"))
        var cdOffset = Int(try r.u32("central directory offset"))

        // ZIP64: a locator 20 bytes before the EOCD points at the ZIP64 end record with 64-bit fields.
        if eocd >= 20 {
            var loc = IOByteReader(data, origin: origin, position: eocd - 20)
            if try loc.u32("ZIP64 locator") == 0x0706_4b50 {
                _ = try loc.u32("ZIP64 disk")
                let recordOffset = try loc.u64("ZIP64 record offset")
                guard recordOffset < UInt64(n) else { throw TensorError.io("\(origin): ZIP64 end record offset beyond the file") }
                var z = IOByteReader(data, origin: origin, position: Int(recordOffset))
                guard try z.u32("ZIP64 end record") == 0x0606_4b50 else { throw TensorError.io("\(origin): bad ZIP64 end record signature") }
                _ = try z.u64("ZIP64 record size")
                _ = try z.u16("version made by")
                _ = try z.u16("version needed")
                _ = try z.u32("disk number")
                _ = try z.u32("central directory disk")
                _ = try z.u64("entries on disk")
                let count64 = try z.u64("entry count")
                let size64 = try z.u64("central directory size")
                let offset64 = try z.u64("central directory offset")
                guard count64 <= UInt64(n), size64 <= UInt64(n), offset64 <= UInt64(n) else {
                    throw TensorError.io("\(origin): ZIP64 directory fields exceed the file size")
                }
                entryCount = Int(count64)
                cdSize = Int(size64)
                cdOffset = Int(offset64)
            }
        }
        guard cdOffset <= n, cdSize <= n - cdOffset else {
            throw TensorError.io("\(origin): central directory (offset \(cdOffset), size \(cdSize)) lies outside the file")
        }
        // Every central record is at least 46 bytes; this bounds the loop and the allocation.
        guard entryCount <= cdSize / 46 else {
            throw TensorError.io("\(origin): \(entryCount) entries cannot fit a \(cdSize)-byte central directory")
        }
        var members: [Member] = []
        members.reserveCapacity(entryCount)
        var c = IOByteReader(data, origin: origin, position: cdOffset)
        for _ in 0..<entryCount {
            guard try c.u32("central directory entry") == 0x0201_4b50 else {
                throw TensorError.io("\(origin): bad central directory entry signature")
            }
            _ = try c.u16("version made by")
            _ = try c.u16("version needed")
            let flags = try c.u16("flags")
            let method = try c.u16("method")
            _ = try c.u32("modification time")
            let crc = try c.u32("crc")
            var csize = UInt64(try c.u32("compressed size"))
            var usize = UInt64(try c.u32("uncompressed size"))
            let nameLength = Int(try c.u16("name length"))
            let extraLength = Int(try c.u16("extra length"))
            let commentLength = Int(try c.u16("comment length"))
            _ = try c.u16("disk")
            _ = try c.u16("internal attributes")
            _ = try c.u32("external attributes")
            var offset = UInt64(try c.u32("local header offset"))
            let nameBytes = try c.bytes(nameLength, "member name")
            let extra = try c.bytes(extraLength, "extra field")
            _ = try c.bytes(commentLength, "member comment")
            let name = String(decoding: nameBytes, as: UTF8.self)
            // ZIP64 extended information: only the fields whose 32-bit slot is 0xFFFFFFFF, in order.
            var e = IOByteReader(extra, origin: "\(origin): \(name)")
            while e.remaining >= 4 {
                let id = try e.u16("extra id")
                let size = Int(try e.u16("extra size"))
                let body = try e.bytes(size, "extra body")
                guard id == 0x0001 else { continue }
                var z = IOByteReader(body, origin: "\(origin): \(name) ZIP64 field")
                if usize == 0xFFFF_FFFF { usize = try z.u64("ZIP64 uncompressed size") }
                if csize == 0xFFFF_FFFF { csize = try z.u64("ZIP64 compressed size") }
                if offset == 0xFFFF_FFFF { offset = try z.u64("ZIP64 offset") }
            }
            guard csize <= UInt64(n), offset <= UInt64(n), usize <= UInt64(Int.max / 2) else {
                throw TensorError.io("\(origin): member \(name) has sizes or offset beyond the file")
            }
            members.append(Member(name: name, method: method, flags: flags, crc32: crc, compressedSize: Int(csize),
                                  uncompressedSize: Int(usize), localHeaderOffset: Int(offset)))
        }
        self.members = members
        var byName: [String: Int] = [:]
        for (i, m) in members.enumerated() where byName[m.name] == nil { byName[m.name] = i }
        self.byName = byName
    }

    convenience init(url: URL) throws {
        try self.init(data: try ioReadFile(url), origin: url.path)
    }

    var names: [String] { members.map(\.name) }

    func contains(_ name: String) -> Bool { byName[name] != nil }

    /// The uncompressed bytes of member `name`, CRC-checked. Stored members are slices of the archive.
    func read(_ name: String) throws -> Data {
        guard let i = byName[name] else { throw TensorError.io("\(origin): no member named \(name)") }
        let m = members[i]
        let whereName = "\(origin): member \(name)"
        guard m.flags & 1 == 0 else { throw TensorError.io("\(whereName): encrypted members are not supported") }
        var r = IOByteReader(data, origin: whereName, position: m.localHeaderOffset)
        guard try r.u32("local header") == 0x0403_4b50 else { throw TensorError.io("\(whereName): bad local header signature") }
        r.position += 22
        let nameLength = Int(try r.u16("local name length"))
        let extraLength = Int(try r.u16("local extra length"))
        try r.need(nameLength + extraLength, "local header name and extra")
        r.position += nameLength + extraLength
        let compressed = try r.bytes(m.compressedSize, "member data")
        let out: Data
        switch m.method {
        case 0:
            guard m.compressedSize == m.uncompressedSize else {
                throw TensorError.io("\(whereName): stored member sizes differ (\(m.compressedSize) vs \(m.uncompressedSize))")
            }
            out = compressed
            if verified.contains(name) { return out }
        case 8:
            // DEFLATE cannot expand more than 1032:1; a larger claim is a corrupt size field.
            guard m.uncompressedSize <= m.compressedSize * 1032 + 1024 else {
                throw TensorError.io("\(whereName): claims \(m.uncompressedSize) bytes from \(m.compressedSize) compressed")
            }
            out = try ioInflate(compressed, expectedSize: m.uncompressedSize, origin: whereName)
        default:
            throw TensorError.io("\(whereName): unsupported compression method \(m.method)")
        }
        if !checksCRC { return out }
        let crc = ioCRC32(out)
        guard crc == m.crc32 else {
            throw TensorError.io("\(whereName): CRC-32 mismatch (stored \(String(m.crc32, radix: 16)), computed \(String(crc, radix: 16)))")
        }
        if m.method == 0 { verified.insert(name) }
        return out
    }
}
