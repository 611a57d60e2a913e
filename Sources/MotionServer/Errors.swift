import Foundation
import Hummingbird
import Logging
import TensorEngine

/// An error as the server answers it: a status, a one-line message sent as `{"error": message}`, and
/// extra headers (Retry-After on 503, Allow on 405, WWW-Authenticate on 401).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status; self.message = message; self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    /// The one place library errors get status codes: the typed kinds of the architecture
    /// (`ErrorKind`) map to 422 / 404 / 413 / 500; JSON that does not parse is 400, JSON of the wrong
    /// shape 422; Hummingbird's own errors keep their status.
    public static func from(_ error: Error) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as DecodingError:
            return decoding(e)
        case let e as HTTPError:
            return APIError(e.status, e.body ?? defaultMessage(e.status), headers: e.headers)
        case let e as any HTTPResponseError:
            return APIError(e.status, defaultMessage(e.status))
        case let e as ClassifiedError:
            return APIError(status(of: e.kind), e.description)
        case is CancellationError:
            return APIError(.serviceUnavailable, "the request was cancelled")
        default:
            return APIError(.internalServerError, "\(error)")
        }
    }

    /// A field above the server's limit (text length, seconds, frames, max_tokens, counts). 422, not
    /// 413: the limits are the OpenAPI document's `maximum`/`maxLength`, so such a request is invalid
    /// input like any other schema violation; 413 is kept for bodies over the byte limit and for the
    /// library's own size limits (`ErrorKind.tooLarge`).
    static func aboveLimit(_ message: String) -> APIError { APIError(.unprocessableContent, message) }

    /// `ErrorKind` to HTTP status.
    public static func status(of kind: ErrorKind) -> HTTPResponse.Status {
        switch kind {
        case .badInput: return .unprocessableContent
        case .notFound: return .notFound
        case .tooLarge: return .contentTooLarge
        case .modelFault: return .internalServerError
        }
    }

    static func defaultMessage(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: return "no such route"
        case 413: return "the request body is larger than the limit"
        default: return status.reasonPhrase.isEmpty ? "HTTP \(status.code)" : status.reasonPhrase.lowercased()
        }
    }

    /// Syntax errors (no coding path) are 400; values of the wrong type, missing or out of range are 422
    /// and name the field as a path like `motion.joints[3][5]`.
    static func decoding(_ e: DecodingError) -> APIError {
        switch e {
        case .dataCorrupted(let c) where c.codingPath.isEmpty:
            return APIError(.badRequest, "the body is not valid JSON: \(oneLine(c.underlyingError.map { "\($0)" } ?? c.debugDescription))")
        case .dataCorrupted(let c):
            return APIError(.unprocessableContent, "\(fieldPath(c.codingPath)): \(oneLine(c.debugDescription))")
        case .typeMismatch(let type, let c):
            if c.codingPath.isEmpty { return APIError(.unprocessableContent, "the body must be a JSON object") }
            return APIError(.unprocessableContent, "\(fieldPath(c.codingPath)) must be \(typeName(type))")
        case .valueNotFound(let type, let c):
            return APIError(.unprocessableContent, "\(fieldPath(c.codingPath)) must be \(typeName(type)), not null")
        case .keyNotFound(let k, let c):
            return APIError(.unprocessableContent, "missing field \"\(fieldPath(c.codingPath + [k]))\"")
        @unknown default:
            return APIError(.unprocessableContent, oneLine("\(e)"))
        }
    }

    /// A coding path as the API's messages name a field: `motion.joints[3][5]`.
    static func fieldPath(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            return name.hasPrefix("Dictionary") || name.hasPrefix("MotionInput") || name.hasPrefix("ChatMessage") ? "an object" : "a \(name)"
        }
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The JSON response.
    func response() -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = (try? JSONEncoder().encode(ErrorBody(error: message))) ?? Data("{\"error\":\"internal error\"}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every thrown error into a JSON error body, and a path that exists under another method into
/// 405 with Allow (the router alone says 404 for both).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Methods of each route path.
    let methods: [String: [HTTPRequest.Method]]
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var e = APIError.from(error)
            if e.status == .notFound, error is HTTPError, let allowed = methods[request.uri.path], !allowed.contains(request.method) {
                e = APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path) (use \(allowed.map(\.rawValue).joined(separator: ", ")))",
                             headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
            }
            // A full queue or a time limit (503) is load, not a fault: logged at debug so a busy server's log stays readable.
            if e.status == .serviceUnavailable { logger.debug("\(request.method) \(request.uri.path): \(e.message)") }
            else if e.status.code >= 500 { logger.error("\(request.method) \(request.uri.path): \(e.message)") }
            return e.response()
        }
    }
}

/// With a key configured, every `/v1` route needs `Authorization: Bearer <key>`.
struct BearerKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" else { return try await next(request, context) }
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer"]
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "this server needs an API key: send Authorization: Bearer <key>", headers: challenge)
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.equal(Array(header.dropFirst(prefix.count).utf8), Array(key.utf8)) else {
            throw APIError(.unauthorized, "the API key is wrong", headers: challenge)
        }
        return try await next(request, context)
    }

    /// Compares in time independent of where the first difference is, so the key cannot be guessed byte by byte.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }
}
