import Foundation
import TensorEngine

/// Errors reading task templates; each names the file and the task.
public enum TaskTemplateError: Error, CustomStringConvertible {
    case badFile(String, String)
    case missingValue(String)

    public var description: String {
        switch self {
        case .badFile(let f, let s): return "\(f): \(s)"
        case .missingValue(let s): return s
        }
    }
}

/// One task of the instruction set: phrasings of the request and of the answer with placeholders
/// (`<Caption_Placeholder>`, `<Motion_Placeholder>`, `<Motion_Placeholder_s1>`, `<Motion_Placeholder_s2>`,
/// `<Motion_Placeholder_Masked>`, `<Frame_Placeholder>`, `<Second_Placeholder>`).
public struct TaskTemplate: Equatable, Sendable {
    /// Group and task name as in the file, e.g. `Text-to-Motion` / `caption_framelen`.
    public var group: String
    public var name: String
    /// MotionGPT's class: t2m, l2m, n2m, m2t, m2l, t2t, n2t, predict, inbetween.
    public var taskClass: String
    public var inputs: [String]
    public var outputs: [String]

    public init(group: String, name: String, taskClass: String, inputs: [String], outputs: [String]) {
        self.group = group; self.name = name; self.taskClass = taskClass; self.inputs = inputs; self.outputs = outputs
    }

    /// `group/name`, the key the pipeline and trainers use.
    public var key: String { "\(group)/\(name)" }

    /// Whether the answer is a motion (otherwise text).
    public var answersWithMotion: Bool { outputs.contains { $0.contains("<Motion_Placeholder") } }

    /// Whether the request carries a motion.
    public var needsMotion: Bool { inputs.contains { $0.contains("<Motion_Placeholder") } }

    /// Whether the request or answer carries a caption.
    public var needsCaption: Bool { (inputs + outputs).contains { $0.contains("<Caption_Placeholder>") } }
}

/// The instruction set: MotionGPT's JSON format (`{group: {task: {class, input: [...], output: [...]}}}`).
/// The project ships its own file (`TaskTemplates.bundled`, our phrasings of MotionGPT's 18 tasks);
/// `load(_:)` also reads MotionGPT's `template_instructions.json` and `template_pretrain.json`, and users'
/// files in the same format.
public struct TaskTemplates: Sendable {
    public var tasks: [TaskTemplate]
    /// Phrasings left out when loading because they use a placeholder nothing can fill (MotionGPT's own
    /// file has 53 with `<Framelen_Placeholder>`, which its code would have sent to the model verbatim).
    public private(set) var skipped: [String] = []

    /// The placeholders a renderer fills.
    public static let placeholders: Set<String> = ["<Caption_Placeholder>", "<Motion_Placeholder>", "<Motion_Placeholder_s1>",
                                                   "<Motion_Placeholder_s2>", "<Motion_Placeholder_Masked>", "<Frame_Placeholder>",
                                                   "<Second_Placeholder>"]

    public init(tasks: [TaskTemplate]) { self.tasks = tasks }

    /// Placeholder-looking tags (`<..._Placeholder...>`) of a phrasing that no renderer fills.
    static func unknownPlaceholders(_ s: String) -> [String] {
        var out: [String] = []
        var rest = Substring(s)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let tag = String(rest[open...close])
            if tag.contains("Placeholder") && !placeholders.contains(tag) { out.append(tag) }
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// Parses the JSON format; `source` names the file in errors.
    public init(data: Data, source: String) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TaskTemplateError.badFile(source, "not a JSON object of task groups")
        }
        var tasks: [TaskTemplate] = []
        for group in root.keys.sorted() {
            guard let entries = root[group] as? [String: Any] else { throw TaskTemplateError.badFile(source, "group \(group) is not an object of tasks") }
            for name in entries.keys.sorted() {
                guard let t = entries[name] as? [String: Any], let inputs = t["input"] as? [String], let outputs = t["output"] as? [String] else {
                    throw TaskTemplateError.badFile(source, "task \(group)/\(name) needs input and output lists of strings")
                }
                var keptInputs: [String] = [], keptOutputs: [String] = []
                for (list, isInput) in [(inputs, true), (outputs, false)] {
                    for phrasing in list {
                        if Self.unknownPlaceholders(phrasing).isEmpty { if isInput { keptInputs.append(phrasing) } else { keptOutputs.append(phrasing) } }
                        else { skipped.append("\(group)/\(name): \(phrasing)") }
                    }
                }
                guard !keptInputs.isEmpty, !keptOutputs.isEmpty else {
                    throw TaskTemplateError.badFile(source, "task \(group)/\(name) has no usable input or output phrasing")
                }
                tasks.append(TaskTemplate(group: group, name: name, taskClass: t["class"] as? String ?? "", inputs: keptInputs, outputs: keptOutputs))
            }
        }
        guard !tasks.isEmpty else { throw TaskTemplateError.badFile(source, "no tasks") }
        self.tasks = tasks
    }

    /// Reads a template file.
    public static func load(_ url: URL) throws -> TaskTemplates {
        guard let data = try? Data(contentsOf: url) else { throw TaskTemplateError.badFile(url.path, "cannot read the file") }
        return try TaskTemplates(data: data, source: url.path)
    }

    /// The project's own instruction set (Resources/motion_templates.json).
    public static func bundled() throws -> TaskTemplates {
        guard let url = Bundle.module.url(forResource: "motion_templates", withExtension: "json") else {
            throw TaskTemplateError.badFile("motion_templates.json", "missing from the MotionT5 resources")
        }
        return try load(url)
    }

    /// The task with key `group/name`.
    public func task(_ key: String) -> TaskTemplate? { tasks.first { $0.key == key } }
}

/// Values that fill a template's placeholders.
public struct TemplateValues: Sendable {
    public var caption: String?
    /// Motion codes (not token ids).
    public var codes: [Int]?
    /// Length of the motion in frames.
    public var frames: Int?

    public init(caption: String? = nil, codes: [Int]? = nil, frames: Int? = nil) {
        self.caption = caption
        self.codes = codes
        self.frames = frames
    }
}

/// Fills placeholders as MotionGPT's `placeholder_fulfill` does: motion spans written
/// `<motion_id_K><motion_id_c>...<motion_id_K+1>` with no spaces; `_s1` is the first
/// `floor(n * predictRatio)` codes (at least one) and `_s2` the rest; `_Masked` replaces the middle
/// `floor(n * inbetweenRatio) ..< floor(n * (1 - inbetweenRatio))` codes with the pad token; seconds are
/// written with one decimal; during training a caption is put in double quotes with probability
/// `quoteRatio`.
public struct TemplateRenderer: Sendable {
    public var codebookSize: Int
    public var framerate: Float = 20
    public var predictRatio: Float = 0.2
    public var inbetweenRatio: Float = 0.25
    public var quoteRatio: Float = 0.5

    public init(codebookSize: Int) { self.codebookSize = codebookSize }

    func token(_ n: Int) -> String { "<motion_id_\(n)>" }

    /// `<motion_id_K>` codes `<motion_id_K+1>`.
    public func span(_ codes: [Int]) -> String {
        token(codebookSize) + codes.map(token).joined() + token(codebookSize + 1)
    }

    /// Split point of motion prediction for `n` codes.
    public func predictionSplit(_ n: Int) -> Int { min(max(1, Int(Float(n) * predictRatio)), max(n - 1, 1)) }

    /// Masked range of in-betweening for `n` codes.
    public func maskedRange(_ n: Int) -> Range<Int> {
        let a = max(1, Int(Float(n) * inbetweenRatio)), b = max(a + 1, min(n - 1, Int(Float(n) * (1 - inbetweenRatio))))
        return a..<min(b, n)
    }

    /// Fills `template`; a placeholder without its value is an error naming it. `rng` (training) picks
    /// whether to quote the caption; without it captions are used as given.
    public func render(_ template: String, _ v: TemplateValues, rng: inout SeededRNG?) throws -> String {
        var s = template
        func need<T>(_ value: T?, _ what: String) throws -> T {
            guard let value else { throw TaskTemplateError.missingValue("the template needs \(what): \(template)") }
            return value
        }
        if s.contains("<Caption_Placeholder>") {
            var c = try need(v.caption, "a caption")
            if var r = rng { if r.nextFloat() < quoteRatio { c = "\"\(c)\"" }; rng = r }
            s = s.replacingOccurrences(of: "<Caption_Placeholder>", with: c)
        }
        if s.contains("<Frame_Placeholder>") { s = s.replacingOccurrences(of: "<Frame_Placeholder>", with: String(try need(v.frames, "a frame count"))) }
        if s.contains("<Second_Placeholder>") {
            s = s.replacingOccurrences(of: "<Second_Placeholder>", with: String(format: "%.1f", Float(try need(v.frames, "a length")) / framerate))
        }
        if s.contains("<Motion_Placeholder") {
            let codes = try need(v.codes, "a motion")
            guard !codes.isEmpty else { throw TaskTemplateError.missingValue("the motion has no codes") }
            let split = predictionSplit(codes.count), masked = maskedRange(codes.count)
            var m = codes.map(token)
            for i in masked where i < m.count { m[i] = token(codebookSize + 2) }
            s = s.replacingOccurrences(of: "<Motion_Placeholder_s1>", with: span(Array(codes[..<split])))
                .replacingOccurrences(of: "<Motion_Placeholder_s2>", with: span(Array(codes[split...])))
                .replacingOccurrences(of: "<Motion_Placeholder_Masked>", with: token(codebookSize) + m.joined() + token(codebookSize + 1))
                .replacingOccurrences(of: "<Motion_Placeholder>", with: span(codes))
        }
        return s
    }

    /// A training pair for `task`: a random phrasing of request and answer, filled with `values`.
    public func pair(_ task: TaskTemplate, _ values: TemplateValues, rng: inout SeededRNG) throws -> (input: String, output: String) {
        let i = task.inputs[rng.nextInt(task.inputs.count)], o = task.outputs[rng.nextInt(task.outputs.count)]
        var r: SeededRNG? = rng
        let input = try render(i, values, rng: &r)
        let output = try render(o, values, rng: &r)
        rng = r!
        return (input, output)
    }
}

extension TaskTemplateError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}
