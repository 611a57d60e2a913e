import Foundation
import TensorEngine

/// Everything that can go wrong while loading a tokenizer. Encoding and decoding never fail: text that the
/// vocabulary cannot represent becomes the unknown piece (or byte pieces), and unknown ids are skipped.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The model file could not be read from disk.
    case unreadableFile(path: String, reason: String)
    /// The protobuf data ends inside the named field.
    case truncated(field: String, offset: Int)
    /// The protobuf data is structurally wrong at the named field (bad wire type, impossible length, ...).
    case malformed(field: String, offset: Int, reason: String)
    /// The data decodes as protobuf but does not describe a usable SentencePiece model.
    case invalidModel(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read SentencePiece model '\(path)': \(reason)"
        case .truncated(let field, let offset):
            return "SentencePiece model is truncated: data ends inside \(field) (byte \(offset))"
        case .malformed(let field, let offset, let reason):
            return "SentencePiece model is corrupt at \(field) (byte \(offset)): \(reason)"
        case .invalidModel(let reason):
            return "invalid SentencePiece model: \(reason)"
        }
    }
}

extension TokenizerError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .unreadableFile: return .notFound
        case .truncated, .malformed, .invalidModel: return .badInput
        }
    }
}
