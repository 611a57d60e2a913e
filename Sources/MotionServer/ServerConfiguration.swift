import Foundation

/// What the server binds to and the limits it holds every request to. The defaults keep one request
/// on the bundled model within a few seconds on a laptop CPU.
public struct ServerConfiguration: Sendable {
    /// Address to bind; loopback unless told otherwise, so a fresh start is not reachable from the network.
    public var host = "127.0.0.1"
    public var port = 8080
    /// Requests that need a model, running and waiting together; one more gets 503 with Retry-After.
    public var maxQueue = 8
    /// When set, every `/v1` route requires `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Largest request body in bytes (413 above).
    public var maxBodyBytes = 4 * 1024 * 1024
    /// Longest text (characters) in any request: motion descriptions are a sentence or two, and 200
    /// characters keep any text's prompt within the bundled model's 256 tokens.
    public var maxTextLength = 200
    /// Longest motion asked for or sent, in seconds and in frames (at 20 fps: 10 s = 200 frames).
    public var maxSeconds: Double = 10
    public var maxFrames = 200
    /// Frames of a motion sent in (captioning, prediction, in-between; BVH files are resampled to 20 fps first).
    public var maxInputFrames = 2000
    /// Most tokens one request may generate.
    public var maxTokens = 256
    /// Most texts in one `/v1/embed` request.
    public var maxEmbedTexts = 64
    /// Most messages in one `/v1/chat` request.
    public var maxMessages = 32
    /// Wall-clock limit of one request's model work, waiting in the queue included.
    public var timeLimit: Duration = .seconds(60)
    /// What a 503 tells the client to wait before trying again.
    public var retryAfterSeconds = 1

    public init() {}
}
