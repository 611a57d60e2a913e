import Foundation

/// CRC-32 (ISO-HDLC: the ZIP, PNG and zlib polynomial), the checksum the project stores in its own
/// checkpoint files. Slicing-by-8, several GB/s, so checking a checkpoint costs little next to reading it.
public enum CRC32 {
    /// CRC-32 of `bytes`, continuing from `crc` (0 to start), so a stream can be checked in pieces.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        ioCRC32(bytes, crc: crc)
    }

    /// CRC-32 of `data`, continuing from `crc`.
    public static func checksum(_ data: Data, continuing crc: UInt32 = 0) -> UInt32 {
        data.withUnsafeBytes { ioCRC32($0, crc: crc) }
    }
}
