import Foundation
import ModelHub
import NeuralNetwork
import MotionData
import MotionT5
import MotionVQ
import TensorEngine
import TextTokenizer

/// What the model answered: its text (motion spans replaced by `<Motion_Placeholder>`), the codes of
/// each motion span, and the decoded motions.
public struct MotionGPTResponse {
    public var text: String
    public var codes: [[Int]]
    public var motions: [Motion]
    /// True when a motion span was still open when generation stopped (its codes are kept).
    public var unterminated: Bool
    /// The generated token ids.
    public var ids: [Int]
}

/// The prompts the pipeline sends for each task. They default to the phrasings MotionGPT's own
/// evaluation code uses; a model trained on another template file should use that file's phrasings
/// (`TaskPrompts(templates:)` in MotionT5's task templates).
public struct TaskPrompts: Sendable, Equatable {
    public var textToMotion = "Generate motion: <Caption_Placeholder>"
    public var textToMotionFrames = "Generate motion with <Frame_Placeholder> frames: <Caption_Placeholder>"
    public var textToMotionSeconds = "Generate a <Second_Placeholder>-second motion: <Caption_Placeholder>"
    public var caption = "Generate text: <Motion_Placeholder>"
    public var predict = "Predict motion: <Motion_Placeholder_s1>"
    public var inbetween = "Complete the masked motion: <Motion_Placeholder_Masked>"
    public init() {}
}

extension MotionGPTModel {
    /// A motion span as MotionGPT writes it: `<motion_id_K><motion_id_c1>...<motion_id_K+1>`, no spaces.
    public func motionString(_ codes: [Int]) -> String {
        vocabulary.startToken + codes.map { MotionVocabulary.token($0) }.joined() + vocabulary.endToken
    }

    /// Splits generated ids into text and motion spans (`MotionVocabulary.parse`: codes between a start
    /// and an end token form a span, pads are dropped, codes without a start token still form a span, a
    /// span still open at the end is kept and flagged). Empty spans carry no motion and are left out.
    public func parse(_ ids: [Int]) -> (text: String, codes: [[Int]], unterminated: Bool) {
        let p = vocabulary.parse(ids: ids, tokenizer: textTokenizer)
        return (p.text, p.codes.filter { !$0.isEmpty }, p.hasUnterminatedSpan)
    }

    /// `options` restricted to motion tokens (codes, start, end; the end token stops), so a motion
    /// answer is always a motion span, however weak the model.
    public func motionOnly(_ options: GenerationOptions) -> GenerationOptions {
        var o = options
        o.allowedTokens = [motionID(0)..<motionID(vocabulary.codebookSize + 2)]
        o.stopTokens.append(motionID(vocabulary.codebookSize + 1))
        return o
    }

    /// `options` restricted to text tokens.
    public func textOnly(_ options: GenerationOptions) -> GenerationOptions {
        var o = options
        o.allowedTokens = [0..<firstMotionID]
        return o
    }

    /// The answer to one task of a template set: a motion for tasks whose answer is a motion, text
    /// otherwise, decoded under the matching constraint.
    public enum TaskAnswer {
        case motion(codes: [Int], motion: Motion)
        case text(String)
    }

    /// Runs `task` with phrasing `phrasing` filled with `values`.
    public func perform(_ task: TaskTemplate, values: TemplateValues, phrasing: Int = 0, options: GenerationOptions) throws -> TaskAnswer {
        var renderer = TemplateRenderer(codebookSize: vocabulary.codebookSize)
        renderer.framerate = settings.framerate; renderer.predictRatio = settings.predictRatio; renderer.inbetweenRatio = settings.inbetweenRatio
        var none: SeededRNG? = nil
        let prompt = try renderer.render(task.inputs[min(max(phrasing, 0), task.inputs.count - 1)], values, rng: &none)
        if task.answersWithMotion {
            let r = try respond(to: prompt, options: motionOnly(options))
            guard let codes = r.codes.first else { throw MotionGPTError.badInput("the model answered without a motion") }
            return .motion(codes: codes, motion: r.motions[0])
        }
        return .text(try respond(to: prompt, options: textOnly(options)).text)
    }

    /// Runs any instruction (with motion spans already written in) and returns text and motions.
    /// `onToken` sees each generation step and may stop it (a server reports progress and stops when
    /// its client goes away); the tokens so far are then parsed as usual.
    public func respond(to prompt: String, options: GenerationOptions, onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> MotionGPTResponse {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw MotionGPTError.badInput("the instruction is empty") }
        let ids = textTokenizer.encode(prompt)
        guard ids.count <= settings.maxLength else {
            throw MotionGPTError.tooLarge("the prompt is \(ids.count) tokens; this model takes at most \(settings.maxLength)")
        }
        let out = try Generator(model: lm).generate([ids], options: options, onToken: onToken)[0]
        let (text, codes, open) = parse(out)
        let motions = try codes.map { try motionTokenizer.decodeMotion($0) }
        return MotionGPTResponse(text: text, codes: codes, motions: motions, unterminated: open, ids: out)
    }

    /// Text to motion. `frames` (or `seconds`) asks for a length through the matching task phrasing.
    public func generateMotion(_ caption: String, frames: Int? = nil, seconds: Float? = nil, prompts: TaskPrompts = TaskPrompts(),
                               options: GenerationOptions, onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> MotionGPTResponse {
        let caption = caption.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !caption.isEmpty else { throw MotionGPTError.badInput("the text is empty") }
        var prompt = prompts.textToMotion
        if let frames {
            guard frames <= 4000 else { throw MotionGPTError.tooLarge("a length of \(frames) frames is above the limit of 4000") }
            guard frames >= motionTokenizer.framesPerCode else { throw MotionGPTError.badInput("the length must be at least \(motionTokenizer.framesPerCode) frames, got \(frames)") }
            prompt = prompts.textToMotionFrames.replacingOccurrences(of: "<Frame_Placeholder>", with: String(frames))
        } else if let seconds {
            guard seconds <= 200 else { throw MotionGPTError.tooLarge("a length of \(seconds) seconds is above the limit of 200") }
            guard seconds > 0 else { throw MotionGPTError.badInput("the length in seconds must be positive, got \(seconds)") }
            prompt = prompts.textToMotionSeconds.replacingOccurrences(of: "<Second_Placeholder>", with: String(format: "%.1f", seconds))
        }
        let r = try respond(to: prompt.replacingOccurrences(of: "<Caption_Placeholder>", with: caption), options: motionOnly(options), onToken: onToken)
        guard !r.codes.isEmpty else { throw MotionGPTError.badInput("the model answered without a motion: \"\(r.text)\"") }
        return r
    }

    /// Codes of a motion (features computed from its joints).
    public func codes(of motion: Motion) throws -> [Int] { try motionTokenizer.encode(motion: motion) }

    /// Motion to text.
    public func caption(_ motion: Motion, prompts: TaskPrompts = TaskPrompts(), options: GenerationOptions, onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> String {
        let prompt = prompts.caption.replacingOccurrences(of: "<Motion_Placeholder>", with: motionString(try codes(of: motion)))
        return try respond(to: prompt, options: textOnly(options), onToken: onToken).text
    }

    /// Continues a motion: the given motion's codes are the prefix; returns prefix + continuation.
    public func predict(_ motion: Motion, prompts: TaskPrompts = TaskPrompts(), options: GenerationOptions, onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> MotionGPTResponse {
        let prefix = try codes(of: motion)
        let r = try respond(to: prompts.predict.replacingOccurrences(of: "<Motion_Placeholder_s1>", with: motionString(prefix)), options: motionOnly(options), onToken: onToken)
        guard let cont = r.codes.first else { throw MotionGPTError.badInput("the model answered without a motion: \"\(r.text)\"") }
        let all = prefix + cont
        return MotionGPTResponse(text: r.text, codes: [all], motions: [try motionTokenizer.decodeMotion(all)], unterminated: r.unterminated, ids: r.ids)
    }

    /// Fills `gapFrames` frames between two motions: the masked span is A's codes, pad tokens for the
    /// gap, B's codes (MotionGPT's in-between input); the answer is the whole motion.
    public func inbetween(_ a: Motion, _ b: Motion, gapFrames: Int, prompts: TaskPrompts = TaskPrompts(),
                          options: GenerationOptions, onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> MotionGPTResponse {
        let unit = motionTokenizer.framesPerCode
        guard gapFrames <= 2000 else { throw MotionGPTError.tooLarge("a gap of \(gapFrames) frames is above the limit of 2000") }
        guard gapFrames >= unit else { throw MotionGPTError.badInput("the gap must be at least \(unit) frames, got \(gapFrames)") }
        let ca = try codes(of: a), cb = try codes(of: b)
        let masked = vocabulary.startToken + ca.map { MotionVocabulary.token($0) }.joined()
            + String(repeating: vocabulary.padToken, count: gapFrames / unit) + cb.map { MotionVocabulary.token($0) }.joined() + vocabulary.endToken
        let r = try respond(to: prompts.inbetween.replacingOccurrences(of: "<Motion_Placeholder_Masked>", with: masked), options: motionOnly(options), onToken: onToken)
        guard !r.codes.isEmpty else { throw MotionGPTError.badInput("the model answered without a motion: \"\(r.text)\"") }
        return r
    }
}
