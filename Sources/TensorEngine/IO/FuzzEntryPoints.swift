import Foundation

/// Entry points for the fuzz harness (`Sources/Fuzzing`) into readers that are internal or that a
/// checksum would otherwise shield: a corrupted `.npz` member or torch record is stopped by its CRC-32
/// before it reaches the `.npy` or pickle parser, so these let the fuzzer switch that check off.
/// Reached with `@_spi(Fuzzing) import TensorEngine`; not part of the ordinary API.
@_spi(Fuzzing)
public enum IOFuzzEntry {
    /// The safetensors-header JSON parser on raw bytes.
    public static func parseJSON(_ bytes: Data) throws {
        _ = try IOJSON.parse(bytes, origin: "<fuzz json>")
    }

    /// An `.npz` archive, optionally without CRC checks on its members.
    public static func npz(_ data: Data, checksCRC: Bool) throws -> NpzFile {
        try NpzFile(data: data, name: "<fuzz npz>", checksCRC: checksCRC)
    }

    /// A torch zip checkpoint, optionally without CRC checks on its records.
    public static func torch(_ data: Data, checksCRC: Bool) throws -> TorchCheckpoint {
        try TorchCheckpoint(data: data, name: "<fuzz torch>", checksCRC: checksCRC)
    }

    /// The raw DEFLATE decoder with a declared output size.
    public static func inflate(_ data: Data, expectedSize: Int) throws -> Data {
        try ioInflate(data, expectedSize: expectedSize, origin: "<fuzz deflate>")
    }
}
