import Foundation
import TensorEngine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C `write`, named apart from `CheckpointIO.write`.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}

/// Errors of checkpoint files; each names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The stored checksum does not match the contents: the file was damaged or cut short.
    case checksumMismatch(path: String, stored: String, computed: String)
    /// The file has no checksum although one is required (not written by this project, or damaged).
    case missingChecksum(path: String)
    /// The file is not a readable checkpoint (bad safetensors, missing entries, bad metadata).
    case unreadable(path: String, reason: String)
    /// Writing failed (disk full, permissions, folder missing).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .checksumMismatch(path, stored, computed):
            return "\(path): checksum mismatch (stored \(stored), computed \(computed)); the file is damaged or incomplete"
        case .missingChecksum(let path):
            return "\(path): no checksum in the metadata; not a checkpoint written by motiongpt"
        case let .unreadable(path, reason):
            return "\(path): not a usable checkpoint: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}

/// Checkpoint files: safetensors with a CRC-32 in `__metadata__`, written atomically.
///
/// Writing goes to a temporary file in the same folder (`.NAME.tmp-PID`), which is flushed to disk
/// (`fsync`) and then renamed over `NAME`, and the folder is synced; a reader therefore sees either the
/// old file or the complete new one, never a mix, even if the process dies or the machine loses power
/// mid-write. The checksum (key `motiongpt.checksum`, value `crc32:XXXXXXXX`) covers every tensor's
/// name, shape and bytes and every other metadata entry, so any damage to what a loader uses is caught.
public enum CheckpointIO {
    /// The metadata key holding the checksum.
    public static let checksumKey = "motiongpt.checksum"

    /// CRC-32 over the canonical content: tensors sorted by name (`name NUL dims NUL` then the F32 bytes),
    /// then metadata sorted by key (`key NUL value NUL`), the checksum entry itself excluded.
    static func checksum(tensors: [(String, Tensor)], metadata: [String: String]) -> UInt32 {
        var crc: UInt32 = 0
        func add(_ s: String) {
            var bytes = Array(s.utf8)
            bytes.append(0)
            crc = bytes.withUnsafeBytes { CRC32.checksum($0, continuing: crc) }
        }
        for (name, t) in tensors.sorted(by: { $0.0 < $1.0 }) {
            add(name)
            add(t.shape.map(String.init).joined(separator: ","))
            crc = CRC32.checksum(UnsafeRawBufferPointer(start: t.storage.pointer, count: t.count * 4), continuing: crc)
        }
        for key in metadata.keys.sorted() where key != checksumKey {
            add(key)
            add(metadata[key]!)
        }
        return crc
    }

    static func checksumText(_ crc: UInt32) -> String {
        let hex = String(crc, radix: 16)
        return "crc32:" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The bytes of a checkpoint file: F32 safetensors with the checksum added to `metadata`.
    public static func data(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var meta = metadata
        meta[checksumKey] = checksumText(checksum(tensors: tensors, metadata: metadata))
        return try safeTensorsData(tensors, metadata: meta)
    }

    /// Writes `tensors` and `metadata` to `url` atomically, with a checksum.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try writeAtomically(try data(tensors, metadata: metadata), to: url)
    }

    /// Reads a checkpoint and verifies its checksum. A file without a checksum (from another program) is
    /// accepted unless `requireChecksum`.
    public static func read(_ url: URL, requireChecksum: Bool = true) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch {
            throw CheckpointError.unreadable(path: url.path, reason: "\(error)")
        }
        var tensors: [String: Tensor] = [:]
        do {
            // tensor(_:) copies out of the memory-mapped file, so a later replacement of the file cannot change them.
            for name in file.names { tensors[name] = try file.tensor(name) }
        } catch {
            throw CheckpointError.unreadable(path: url.path, reason: "\(error)")
        }
        try verify(tensors: tensors, metadata: file.metadata, path: url.path, requireChecksum: requireChecksum)
        var metadata = file.metadata
        metadata[checksumKey] = nil
        return (tensors, metadata)
    }

    static func verify(tensors: [String: Tensor], metadata: [String: String], path: String, requireChecksum: Bool) throws {
        guard let stored = metadata[checksumKey] else {
            if requireChecksum { throw CheckpointError.missingChecksum(path: path) }
            return
        }
        let computed = checksumText(checksum(tensors: tensors.map { ($0.key, $0.value) }, metadata: metadata))
        guard stored == computed else { throw CheckpointError.checksumMismatch(path: path, stored: stored, computed: computed) }
    }

    /// Writes `data` to `url` through a synced temporary file in the same folder and a rename.
    /// The temporary file is removed if writing fails.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        try writeAtomically(data, to: url, crashAfterHalf: false)
    }

    /// `crashAfterHalf` is the test hook of `CheckpointStore`: write half of the temporary file, sync it,
    /// and end the process with status 137 (as if killed), leaving the temporary file behind.
    static func writeAtomically(_ data: Data, to url: URL, crashAfterHalf: Bool) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError.writeFailed(path: tmp.path, reason: String(cString: strerror(errno))) }
        var failure: String?
        let total = crashAfterHalf ? data.count / 2 : data.count
        data.withUnsafeBytes { raw in
            var done = 0
            while done < total {
                let n = posixWrite(fd, raw.baseAddress! + done, total - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                done += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = "fsync: " + String(cString: strerror(errno)) }
        close(fd)
        if crashAfterHalf {
            FileHandle.standardError.write(Data("MOTIONGPT_CRASH_DURING_CHECKPOINT: stopping the process halfway through writing \(tmp.path)\n".utf8))
            _exit(137)
        }
        if let failure {
            unlink(tmp.path)
            throw CheckpointError.writeFailed(path: url.path, reason: failure)
        }
        guard rename(tmp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp.path)
            throw CheckpointError.writeFailed(path: url.path, reason: "rename: \(reason)")
        }
        // The rename itself lives in the folder's entry table; sync it too so it survives a power cut.
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

extension Module {
    /// Writes every state tensor under its key to a safetensors file (F32), with optional metadata,
    /// atomically and with a checksum (see `CheckpointIO`).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try CheckpointIO.write(namedTensors(), metadata: metadata, to: url)
    }

    /// Reads a safetensors file and loads it through `load(state:strict:)`, so missing, unexpected
    /// and mis-shaped keys are reported together and nothing is written on failure. A file written by
    /// `save(to:)` has its checksum verified; files from elsewhere (Hugging Face, PyTorch) carry none.
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> [String] {
        let file = try SafeTensorsFile(url: url)
        var state: [String: Tensor] = [:]
        for name in file.names { state[name] = try file.tensor(name) }
        try CheckpointIO.verify(tensors: state, metadata: file.metadata, path: url.path, requireChecksum: false)
        return try load(state: state, strict: strict)
    }
}

extension CheckpointError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .checksumMismatch, .missingChecksum, .unreadable: return .badInput
        case .writeFailed: return .modelFault
        }
    }
}
