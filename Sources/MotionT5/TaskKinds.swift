import Foundation

/// The values a phrasing (or a whole task) needs filled in, read from its placeholders.
public struct TaskValueNeeds: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `<Caption_Placeholder>`.
    public static let caption = TaskValueNeeds(rawValue: 1 << 0)
    /// `<Motion_Placeholder>`: the whole motion span.
    public static let motion = TaskValueNeeds(rawValue: 1 << 1)
    /// `<Motion_Placeholder_s1>` / `_s2`: the motion split for prediction.
    public static let splitMotion = TaskValueNeeds(rawValue: 1 << 2)
    /// `<Motion_Placeholder_Masked>`: the motion with its middle masked for in-betweening.
    public static let maskedMotion = TaskValueNeeds(rawValue: 1 << 3)
    /// `<Frame_Placeholder>`: the length in frames.
    public static let frames = TaskValueNeeds(rawValue: 1 << 4)
    /// `<Second_Placeholder>`: the length in seconds (rendered from the frame count and the frame rate).
    public static let seconds = TaskValueNeeds(rawValue: 1 << 5)

    /// Any of the motion placeholders (all are filled from the motion's codes).
    public static let anyMotion: TaskValueNeeds = [.motion, .splitMotion, .maskedMotion]

    static let byPlaceholder: [(String, TaskValueNeeds)] = [
        ("<Caption_Placeholder>", .caption), ("<Motion_Placeholder>", .motion), ("<Motion_Placeholder_s1>", .splitMotion),
        ("<Motion_Placeholder_s2>", .splitMotion), ("<Motion_Placeholder_Masked>", .maskedMotion),
        ("<Frame_Placeholder>", .frames), ("<Second_Placeholder>", .seconds),
    ]

    /// The needs of one phrasing.
    public init(phrasing: String) {
        self = []
        for (tag, need) in Self.byPlaceholder where phrasing.contains(tag) { insert(need) }
    }

    /// Whether `values` holds everything these needs ask for (seconds come from `frames`).
    public func isSatisfied(by values: TemplateValues) -> Bool {
        if contains(.caption) && values.caption == nil { return false }
        if !isDisjoint(with: .anyMotion) && (values.codes ?? []).isEmpty { return false }
        if !isDisjoint(with: [.frames, .seconds]) && values.frames == nil { return false }
        return true
    }

    public var description: String {
        let names: [(TaskValueNeeds, String)] = [(.caption, "caption"), (.motion, "motion"), (.splitMotion, "split motion"),
                                                (.maskedMotion, "masked motion"), (.frames, "frames"), (.seconds, "seconds")]
        let s = names.filter { contains($0.0) }.map(\.1)
        return s.isEmpty ? "nothing" : s.joined(separator: ", ")
    }
}

/// MotionGPT's task classes (the `class` field of its template files).
public enum TaskKind: String, CaseIterable, Sendable {
    /// Text (and maybe a length) to motion.
    case textToMotion = "t2m"
    /// A length to motion.
    case lengthToMotion = "l2m"
    /// Nothing to motion (a random motion).
    case randomMotion = "n2m"
    /// Motion (and maybe a length) to text.
    case motionToText = "m2t"
    /// Motion to its length, as text.
    case motionToLength = "m2l"
    /// Text to text: caption to length, length to caption.
    case textToText = "t2t"
    /// Nothing to text (a random caption).
    case randomText = "n2t"
    /// The first part of a motion to the rest.
    case prediction = "predict"
    /// A motion with a masked middle to the whole motion.
    case inbetween = "inbetween"

    /// Whether the answer of this kind is a motion span (otherwise text).
    public var answersWithMotion: Bool {
        switch self {
        case .textToMotion, .lengthToMotion, .randomMotion, .prediction, .inbetween: return true
        case .motionToText, .motionToLength, .textToText, .randomText: return false
        }
    }
}

extension TaskTemplate {
    /// The task's class, nil for a class this code does not know (users' files may add their own;
    /// `answersWithMotion` still tells the answer's kind from the output phrasings).
    public var kind: TaskKind? { TaskKind(rawValue: taskClass) }

    /// Everything any of the task's phrasings (requests and answers) needs: what `TemplateValues` must
    /// hold for every phrasing pair to render.
    public var valueNeeds: TaskValueNeeds {
        (inputs + outputs).reduce(into: TaskValueNeeds()) { $0.formUnion(TaskValueNeeds(phrasing: $1)) }
    }

    /// What the requests need (the user supplies these at inference).
    public var requestNeeds: TaskValueNeeds {
        inputs.reduce(into: TaskValueNeeds()) { $0.formUnion(TaskValueNeeds(phrasing: $1)) }
    }

    /// What the answers carry (the model produces these; needed as training targets).
    public var answerNeeds: TaskValueNeeds {
        outputs.reduce(into: TaskValueNeeds()) { $0.formUnion(TaskValueNeeds(phrasing: $1)) }
    }
}
