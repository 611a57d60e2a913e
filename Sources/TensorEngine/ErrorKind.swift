/// What kind of failure a library error is, so a caller can answer it without parsing messages:
/// the CLI says one line and exits 1 for all of them; the server maps them to HTTP status codes
/// (bad input 400/422, not found 404, too large 413, model fault 500) in one place.
public enum ErrorKind: String, Sendable, CaseIterable {
    /// The caller's input is wrong: a malformed file, a bad value, an empty text.
    case badInput = "bad input"
    /// A file, model or key that was asked for does not exist.
    case notFound = "not found"
    /// The request is larger than a limit (lengths, sizes, token counts).
    case tooLarge = "too large"
    /// The model or its files are broken or inconsistent, or the library failed.
    case modelFault = "model fault"

    /// The kind of any error: its own when it says, else a model fault (an error nobody classified
    /// is the library's problem, not the caller's).
    public static func of(_ error: Error) -> ErrorKind { (error as? ClassifiedError)?.kind ?? .modelFault }
}

/// A library error that says what kind of failure it is. Messages name the file, key or value, and
/// never a command-line flag: the CLI and the server add their own words.
public protocol ClassifiedError: Error, CustomStringConvertible {
    var kind: ErrorKind { get }
}

extension TensorError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .shapeMismatch, .invalidArgument, .io: return .badInput
        }
    }
}
