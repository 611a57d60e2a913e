/// Bad input to a metric. Each case names the argument at fault, so a caller (the CLI, a trainer's
/// validation loop) can report it without knowing which metric ran.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// An argument that must hold at least one element is empty (`candidates`, `references[3]`, ...).
    case empty(argument: String)
    /// Two arguments that must have one element each per item have different counts.
    case countMismatch(argument: String, expected: Int, got: Int)
    /// An array or tensor does not have the shape the metric needs.
    case shapeMismatch(argument: String, detail: String)
    /// A value outside the metric's domain (a frame count larger than the motion, a non-finite position).
    case invalidValue(argument: String, detail: String)

    public var description: String {
        switch self {
        case .empty(let a): return "\(a) is empty"
        case .countMismatch(let a, let e, let g): return "\(a) has \(g) elements, expected \(e)"
        case .shapeMismatch(let a, let d): return "\(a): \(d)"
        case .invalidValue(let a, let d): return "\(a): \(d)"
        }
    }
}
