import Foundation
import Generation
import MotionData
import MotionRender

// Request and response bodies of the JSON API. Requests decode strictly: a field the API does not
// know is an error (422) naming it, so a typo ("temprature") never silently falls back to a default.
// Field names on the wire are snake_case.

/// A coding key for any name, to list the keys an object actually has.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

/// A request body whose keys are its `CodingKeys` and nothing else.
protocol StrictBody: Decodable, Sendable {
    associatedtype CodingKeys: CodingKey & CaseIterable & RawRepresentable where CodingKeys.RawValue == String
}

extension Decoder {
    /// Throws `unknownField` for a key of this object outside `Keys`.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable & RawRepresentable>(_: Keys.Type) throws where Keys.RawValue == String {
        let container = try self.container(keyedBy: AnyKey.self)
        let known = Set(Keys.allCases.map(\.rawValue))
        // null is not a value of any field (the document gives none a null type); leaving the field out is.
        if let key = container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }).first(where: { (try? container.decodeNil(forKey: $0)) == true }) {
            let path = APIError.fieldPath(codingPath + [key])
            throw APIError(.unprocessableContent, "\(path) must not be null (leave it out instead)")
        }
        if let bad = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            let path = APIError.fieldPath(codingPath + [AnyKey(stringValue: bad)])
            throw APIError(.unprocessableContent, "unknown field \"\(path)\" (known: \(Keys.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
    }
}

/// Decodes `T` after checking the top-level object's keys (nested objects check their own).
struct Strict<T: StrictBody>: Decodable {
    let value: T
    init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(T.CodingKeys.self)
        value = try T(from: decoder)
    }
}

/// An integer field. Foundation's decoder says only "not valid JSON", with no field, for an integer out
/// of its type's range (1e40, -1 for a seed, 20 digits); this names the field and the range instead.
public struct Integer<T: FixedWidthInteger & Decodable & Sendable>: Decodable, Sendable {
    /// The decoded integer.
    public var value: T
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        do { value = try c.decode(T.self) } catch {
            guard let d = try? c.decode(Double.self) else { throw error }
            let path = APIError.fieldPath(decoder.codingPath)
            throw APIError(.unprocessableContent, "\(path) must be an integer in \(T.min)...\(T.max), got \(d)")
        }
    }
}

/// How to pick tokens; every field optional. Motion answers sample by default (as MotionGPT does),
/// text answers are greedy unless a sampling field is given.
public struct SamplingFields: Sendable {
    public var seed: UInt64?
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var repetitionPenalty: Double?
    public var greedy: Bool?
    public var maxTokens: Int?
}

/// A motion sent in: joints (`[frames][joints][x, y, z]` in metres, y up, 22 HumanML3D joints or 21 KIT)
/// with an optional frame rate, or the text of a BVH file (retargeted to the 22-joint skeleton, resampled
/// to 20 fps).
public struct MotionInput: Decodable, Sendable {
    /// Positions `[frames][joints][x, y, z]` in metres.
    public var joints: [[[Double]]]?
    /// Frame rate of `joints` (only 20, the model's, is taken).
    public var fps: Double?
    /// Skeleton of `joints` (default: by the joint count).
    public var skeleton: String?
    /// The text of a BVH file.
    public var bvh: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case joints, fps, skeleton, bvh }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        joints = try c.decodeIfPresent([[[Double]]].self, forKey: .joints)
        fps = try c.decodeIfPresent(Double.self, forKey: .fps)
        skeleton = try c.decodeIfPresent(String.self, forKey: .skeleton)
        bvh = try c.decodeIfPresent(String.self, forKey: .bvh)
    }
}

/// `POST /v1/generate`: text to motion.
struct GenerateRequest: StrictBody {
    var text: String
    var seconds: Double?
    var frames: Integer<Int>?
    var model: String?
    var bvh: Bool?
    var gif: Bool?
    var codes: Bool?
    var score: Bool?
    var stream: Bool?
    var seed: Integer<UInt64>?, temperature: Double?, topK: Integer<Int>?, topP: Double?, repetitionPenalty: Double?, greedy: Bool?, maxTokens: Integer<Int>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case text, seconds, frames, model, bvh, gif, codes, score, stream
        case seed, temperature, topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", greedy, maxTokens = "max_tokens"
    }
    var sampling: SamplingFields { SamplingFields(seed: seed?.value, temperature: temperature, topK: topK?.value, topP: topP, repetitionPenalty: repetitionPenalty, greedy: greedy, maxTokens: maxTokens?.value) }
}

/// `POST /v1/caption`: motion to text.
struct CaptionRequest: StrictBody {
    var motion: MotionInput
    var model: String?
    var stream: Bool?
    var seed: Integer<UInt64>?, temperature: Double?, topK: Integer<Int>?, topP: Double?, repetitionPenalty: Double?, greedy: Bool?, maxTokens: Integer<Int>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case motion, model, stream
        case seed, temperature, topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", greedy, maxTokens = "max_tokens"
    }
    var sampling: SamplingFields { SamplingFields(seed: seed?.value, temperature: temperature, topK: topK?.value, topP: topP, repetitionPenalty: repetitionPenalty, greedy: greedy, maxTokens: maxTokens?.value) }
}

/// `POST /v1/predict`: continue a motion.
struct PredictRequest: StrictBody {
    var motion: MotionInput
    var model: String?
    var bvh: Bool?, gif: Bool?, codes: Bool?, stream: Bool?
    var seed: Integer<UInt64>?, temperature: Double?, topK: Integer<Int>?, topP: Double?, repetitionPenalty: Double?, greedy: Bool?, maxTokens: Integer<Int>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case motion, model, bvh, gif, codes, stream
        case seed, temperature, topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", greedy, maxTokens = "max_tokens"
    }
    var sampling: SamplingFields { SamplingFields(seed: seed?.value, temperature: temperature, topK: topK?.value, topP: topP, repetitionPenalty: repetitionPenalty, greedy: greedy, maxTokens: maxTokens?.value) }
}

/// `POST /v1/inbetween`: fill `frames` frames between two motions.
struct InbetweenRequest: StrictBody {
    var first: MotionInput
    var second: MotionInput
    var frames: Integer<Int>?
    var model: String?
    var bvh: Bool?, gif: Bool?, codes: Bool?, stream: Bool?
    var seed: Integer<UInt64>?, temperature: Double?, topK: Integer<Int>?, topP: Double?, repetitionPenalty: Double?, greedy: Bool?, maxTokens: Integer<Int>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case first, second, frames, model, bvh, gif, codes, stream
        case seed, temperature, topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", greedy, maxTokens = "max_tokens"
    }
    var sampling: SamplingFields { SamplingFields(seed: seed?.value, temperature: temperature, topK: topK?.value, topP: topP, repetitionPenalty: repetitionPenalty, greedy: greedy, maxTokens: maxTokens?.value) }
}

/// `POST /v1/edit`: regenerate body parts of a motion (needs a Large Motion Model).
struct EditRequest: StrictBody {
    var motion: MotionInput
    var parts: [String]
    var text: String
    var model: String?
    var seed: Integer<UInt64>?
    var steps: Integer<Int>?
    var guidance: Double?
    var bvh: Bool?, gif: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable { case motion, parts, text, model, seed, steps, guidance, bvh, gif }
}

/// One chat message; `<motion>` in `content` stands for the next of `motions`, in order.
public struct ChatMessage: Decodable, Sendable {
    /// system, user or assistant.
    public var role: String
    /// The text.
    public var content: String
    /// Motions the text refers to.
    public var motions: [MotionInput]?

    enum CodingKeys: String, CodingKey, CaseIterable { case role, content, motions }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        content = try c.decode(String.self, forKey: .content)
        motions = try c.decodeIfPresent([MotionInput].self, forKey: .motions)
    }
}

/// `POST /v1/chat`: free instructions. MotionGPT is a single-turn model: the last user message is
/// the instruction; earlier messages are checked but not sent to it.
struct ChatRequest: StrictBody {
    var messages: [ChatMessage]
    var model: String?
    var bvh: Bool?, gif: Bool?, codes: Bool?, stream: Bool?
    var seed: Integer<UInt64>?, temperature: Double?, topK: Integer<Int>?, topP: Double?, repetitionPenalty: Double?, greedy: Bool?, maxTokens: Integer<Int>?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case messages, model, bvh, gif, codes, stream
        case seed, temperature, topK = "top_k", topP = "top_p", repetitionPenalty = "repetition_penalty", greedy, maxTokens = "max_tokens"
    }
    var sampling: SamplingFields { SamplingFields(seed: seed?.value, temperature: temperature, topK: topK?.value, topP: topP, repetitionPenalty: repetitionPenalty, greedy: greedy, maxTokens: maxTokens?.value) }
}

/// `POST /v1/embed`: sentence vectors.
struct EmbedRequest: StrictBody {
    var texts: [String]
    var model: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case texts, model }
}

// MARK: responses (encoded with snake_case keys)

/// A motion answered: joints in metres `[frames][joints][x, y, z]` plus what a viewer needs to draw it.
public struct MotionAnswer: Encodable, Sendable {
    /// Frames per second (20).
    public var fps: Float
    /// Frame count.
    public var frames: Int
    /// The skeleton's name ("humanml3d").
    public var skeleton: String
    /// Joint names, in the order of each frame's joints.
    public var jointNames: [String]
    /// Parent of each joint (-1 for the root).
    public var parents: [Int]
    /// 0 centre, 1 left, 2 right, per joint (the viewer's colours).
    public var sides: [Int]
    /// Positions `[frames][joints][x, y, z]` in metres.
    public var joints: [[[Float]]]
    /// The motion tokens that decoded to it.
    public var codes: [Int]?
    /// The motion as a BVH file (our 22-joint skeleton with rotations), when asked for.
    public var bvh: String?
    /// An animated GIF of the stick figure, base64, when asked for.
    public var gif: String?
}

/// How tokens were picked.
/// (The fields are `GenerationOptions`' of the same names.)
public struct SamplerInfo: Encodable, Sendable {
    public var doSample: Bool
    public var seed: UInt64
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var repetitionPenalty: Float
    public var maxTokens: Int
}

struct GenerateResponse: Encodable, Sendable {
    var model: String
    var text: String
    var motion: MotionAnswer
    var sampler: SamplerInfo
    var tokens: Int
    var unterminated: Bool
    /// Cosine of the evaluator's text and motion embeddings (when asked for and an evaluator is loaded).
    var score: Float?
}

struct CaptionResponse: Encodable, Sendable {
    var model: String
    var text: String
    var sampler: SamplerInfo
}

struct MotionTaskResponse: Encodable, Sendable {
    var model: String
    var motion: MotionAnswer
    var sampler: SamplerInfo
    var tokens: Int
    var unterminated: Bool
}

struct EditResponse: Encodable, Sendable {
    var model: String
    var motion: MotionAnswer
    /// The parts regenerated, groups expanded (user names: `larm` is the body's left arm).
    var parts: [String]
    var steps: Int
    var seed: UInt64
}

struct ChatResponse: Encodable, Sendable {
    var model: String
    var text: String
    var motions: [MotionAnswer]
    var sampler: SamplerInfo
    var tokens: Int
}

struct EmbedResponse: Encodable, Sendable {
    var model: String
    var dimension: Int
    var vectors: [[Float]]
    var truncated: [Bool]
}

struct ModelInfo: Encodable, Sendable {
    var name: String
    var modelType: String
    var role: String
    var summary: String
    var path: String
}

struct ModelsResponse: Encodable, Sendable {
    var models: [ModelInfo]
    /// Whether a Large Motion Model is loaded, so `/v1/edit` answers.
    var partEditing: Bool
}

struct HealthResponse: Encodable, Sendable {
    var status: String
    var queueDepth: Int
    var maxQueue: Int
}

struct ErrorBody: Encodable, Sendable { var error: String }

/// A progress event of a streamed request.
struct ProgressEvent: Encodable, Sendable {
    var step: Int
    var maxTokens: Int
}
