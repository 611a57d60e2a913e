import Foundation

/// The parts of SentencePiece's `ModelProto` (`sentencepiece_model.proto`) that tokenization needs, decoded
/// from a `spiece.model` file by a built-in protobuf reader. Fields the file leaves out take the schema's
/// defaults; unknown fields are skipped.
public struct SentencePieceModel: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// One vocabulary entry; its id is its index in `pieces`.
    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        public var type: PieceType

        public init(piece: String, score: Float, type: PieceType) {
            self.piece = piece
            self.score = score
            self.type = type
        }
    }

    /// `TrainerSpec` fields that affect encoding and decoding (defaults as in the schema).
    public struct TrainerSpec: Sendable {
        /// 1 unigram, 2 BPE, 3 word, 4 char. Only unigram models are supported by the tokenizer.
        public var modelType = 1
        public var vocabSize = 8000
        public var treatWhitespaceAsSuffix = false
        public var byteFallback = false
        public var unkID = 0
        public var bosID = 1
        public var eosID = 2
        public var padID = -1
        public var unkPiece = "<unk>"
        public var bosPiece = "<s>"
        public var eosPiece = "</s>"
        public var padPiece = "<pad>"
        /// What `decodeSentencePiece` writes for an unknown piece (" ⁇ " by default).
        public var unkSurface = " \u{2047} "

        public init() {}
    }

    /// `NormalizerSpec`: the NFKC-style rewrite table and the whitespace rules.
    public struct NormalizerSpec: Sendable {
        public var name = ""
        /// Darts double-array trie plus the replacement strings; empty means "no rewriting".
        public var precompiledCharsmap: [UInt8] = []
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true

        public init() {}
    }

    public var pieces: [Piece] = []
    public var trainerSpec = TrainerSpec()
    public var normalizerSpec = NormalizerSpec()

    /// A model assembled from its parts (a `tokenizer.json`'s Unigram model, say).
    public init(pieces: [Piece], trainerSpec: TrainerSpec, normalizerSpec: NormalizerSpec) {
        self.pieces = pieces
        self.trainerSpec = trainerSpec
        self.normalizerSpec = normalizerSpec
    }

    /// Decodes a serialized `ModelProto`.
    public init(data: Data) throws {
        try self.init(bytes: [UInt8](data))
    }

    public init(bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { throw TokenizerError.invalidModel("the model file is empty") }
        var reader = ProtobufReader(bytes: bytes, context: "ModelProto")
        while !reader.isAtEnd {
            let (field, wire) = try reader.readKey()
            switch field {
            case 1:
                let name = "ModelProto.pieces[\(pieces.count)]"
                try reader.expect(wire, .lengthDelimited, field: name)
                let range = try reader.readLengthDelimited(field: name)
                pieces.append(try Self.readPiece(bytes: bytes, range: range, name: name))
            case 2:
                try reader.expect(wire, .lengthDelimited, field: "ModelProto.trainer_spec")
                let range = try reader.readLengthDelimited(field: "ModelProto.trainer_spec")
                trainerSpec = try Self.readTrainerSpec(bytes: bytes, range: range)
            case 3:
                try reader.expect(wire, .lengthDelimited, field: "ModelProto.normalizer_spec")
                let range = try reader.readLengthDelimited(field: "ModelProto.normalizer_spec")
                normalizerSpec = try Self.readNormalizerSpec(bytes: bytes, range: range)
            default:
                try reader.skip(wireType: wire, field: "ModelProto field \(field)")
            }
        }
        // A file that is not a model at all (text, an image) rarely survives the reader, but a stray byte
        // sequence can decode as an empty message; say so plainly.
        guard !pieces.isEmpty else {
            throw TokenizerError.invalidModel("no vocabulary pieces found (is this a spiece.model file?)")
        }
    }

    private static func readPiece(bytes: [UInt8], range: Range<Int>, name: String) throws -> Piece {
        var r = ProtobufReader(bytes: bytes, range: range, context: name)
        var piece = Piece(piece: "", score: 0, type: .normal)
        while !r.isAtEnd {
            let (field, wire) = try r.readKey()
            switch field {
            case 1:
                try r.expect(wire, .lengthDelimited, field: "\(name).piece")
                piece.piece = try r.readString(field: "\(name).piece")
            case 2:
                try r.expect(wire, .fixed32, field: "\(name).score")
                piece.score = Float(bitPattern: try r.readFixed32(field: "\(name).score"))
            case 3:
                try r.expect(wire, .varint, field: "\(name).type")
                let raw = try r.readVarint(field: "\(name).type")
                guard raw <= 6, let type = PieceType(rawValue: Int(raw)) else {
                    throw TokenizerError.malformed(field: "\(name).type", offset: r.position,
                                                   reason: "unknown piece type \(raw)")
                }
                piece.type = type
            default:
                try r.skip(wireType: wire, field: "\(name) field \(field)")
            }
        }
        return piece
    }

    private static func readTrainerSpec(bytes: [UInt8], range: Range<Int>) throws -> TrainerSpec {
        let name = "ModelProto.trainer_spec"
        var r = ProtobufReader(bytes: bytes, range: range, context: name)
        var spec = TrainerSpec()
        while !r.isAtEnd {
            let (field, wire) = try r.readKey()
            let f = "\(name) field \(field)"
            switch field {
            case 3: try r.expect(wire, .varint, field: f); spec.modelType = try r.readInt32(field: f)
            case 4: try r.expect(wire, .varint, field: f); spec.vocabSize = try r.readInt32(field: f)
            case 24: try r.expect(wire, .varint, field: f); spec.treatWhitespaceAsSuffix = try r.readBool(field: f)
            case 35: try r.expect(wire, .varint, field: f); spec.byteFallback = try r.readBool(field: f)
            case 40: try r.expect(wire, .varint, field: f); spec.unkID = try r.readInt32(field: f)
            case 41: try r.expect(wire, .varint, field: f); spec.bosID = try r.readInt32(field: f)
            case 42: try r.expect(wire, .varint, field: f); spec.eosID = try r.readInt32(field: f)
            case 43: try r.expect(wire, .varint, field: f); spec.padID = try r.readInt32(field: f)
            case 44: try r.expect(wire, .lengthDelimited, field: f); spec.unkSurface = try r.readString(field: f)
            case 45: try r.expect(wire, .lengthDelimited, field: f); spec.unkPiece = try r.readString(field: f)
            case 46: try r.expect(wire, .lengthDelimited, field: f); spec.bosPiece = try r.readString(field: f)
            case 47: try r.expect(wire, .lengthDelimited, field: f); spec.eosPiece = try r.readString(field: f)
            case 48: try r.expect(wire, .lengthDelimited, field: f); spec.padPiece = try r.readString(field: f)
            default: try r.skip(wireType: wire, field: f)
            }
        }
        return spec
    }

    private static func readNormalizerSpec(bytes: [UInt8], range: Range<Int>) throws -> NormalizerSpec {
        let name = "ModelProto.normalizer_spec"
        var r = ProtobufReader(bytes: bytes, range: range, context: name)
        var spec = NormalizerSpec()
        while !r.isAtEnd {
            let (field, wire) = try r.readKey()
            let f = "\(name) field \(field)"
            switch field {
            case 1: try r.expect(wire, .lengthDelimited, field: f); spec.name = try r.readString(field: f)
            case 2:
                try r.expect(wire, .lengthDelimited, field: "\(name).precompiled_charsmap")
                spec.precompiledCharsmap = try r.readBytes(field: "\(name).precompiled_charsmap")
            case 3: try r.expect(wire, .varint, field: f); spec.addDummyPrefix = try r.readBool(field: f)
            case 4: try r.expect(wire, .varint, field: f); spec.removeExtraWhitespaces = try r.readBool(field: f)
            case 5: try r.expect(wire, .varint, field: f); spec.escapeWhitespaces = try r.readBool(field: f)
            default: try r.skip(wireType: wire, field: f)
            }
        }
        return spec
    }
}
