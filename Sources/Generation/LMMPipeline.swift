import Foundation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import TextEncoder

/// How the Large Motion Model samples: the DDIM chain, classifier-free guidance, the seed and the rate.
public struct LMMSampling: Sendable, Equatable {
    /// Classifier-free guidance scale `s` (`w(t) = 1 + s t / 1000`); nil: the model's `guidance_scale`;
    /// 0 or less: no guidance (one unguided pass a step instead of a conditional + unconditional batch).
    /// Without a text there is nothing to guide by and it is off whatever is asked.
    public var guidance: Float?
    /// DDIM steps: 50 is the official respacing (`15,15,8,6,6`), any other count one evenly strided section.
    public var steps: Int
    /// Seed of the starting noise (every window draws from the one generator in turn).
    public var seed: UInt64
    /// Frames per second to generate at (the model's duration condition); nil: the model's `fps`. Tasks
    /// on a given motion sample at that motion's rate.
    public var fps: Float?

    public init(guidance: Float? = nil, steps: Int = 50, seed: UInt64 = 0, fps: Float? = nil) {
        self.guidance = guidance
        self.steps = steps
        self.seed = seed
        self.fps = fps
    }

    /// The respacing sections for `steps`.
    public var sections: [Int] { steps == 50 ? NoiseSchedule.officialSections : [steps] }

    /// Checks the values; a bad one is a one-line error naming it.
    public func validate() throws {
        guard (1...1000).contains(steps) else { throw GenerationError.invalidOptions("steps must be in 1...1000, got \(steps)") }
        if let g = guidance, !g.isFinite { throw GenerationError.invalidOptions("guidance must be a finite number, got \(g)") }
        if let f = fps, !(f > 0 && f <= 1000) { throw GenerationError.invalidOptions("fps must be in (0, 1000], got \(f)") }
    }
}

/// Sampling was stopped (the progress callback answered `.stop`, or the task was cancelled) before the
/// motion was complete; no partial motion is returned, as a part-denoised one is noise.
public struct LMMSamplingStopped: Error, CustomStringConvertible, Equatable {
    /// Steps that ran, over all windows.
    public let step: Int
    /// Steps the whole motion needed.
    public let totalSteps: Int
    public init(step: Int, totalSteps: Int) {
        self.step = step
        self.totalSteps = totalSteps
    }
    public var description: String { "sampling was stopped after step \(step) of \(totalSteps)" }
}

extension BodyPart {
    /// The name a user gives the part: `root`, `head`, `stem`, `larm`, `rarm`, `lleg`, `rleg`, `lhand`,
    /// `rhand`, `face`. `larm` is SMPL's left arm (`.leftArm`, joints 13/16/18/20), which the official
    /// code keeps in its slot *named* `rarm`: user names follow the body, not the official slot names.
    public var userName: String {
        switch self {
        case .root: return "root"
        case .head: return "head"
        case .stem: return "stem"
        case .leftArm: return "larm"
        case .rightArm: return "rarm"
        case .leftLeg: return "lleg"
        case .rightLeg: return "rleg"
        case .leftHand: return "lhand"
        case .rightHand: return "rhand"
        case .face: return "face"
        }
    }

    /// Names for several parts at once:
    /// - `upper`: head, stem, both arms and both hands (everything above the hips but the root);
    /// - `lower`: both legs. The root (the trajectory: heading, ground velocity and height) is not in it,
    ///   so editing `lower` keeps the path and regenerates the stepping; add `root` to change the path too;
    /// - `body`: every part but the root (the whole pose regenerated along the same trajectory, i.e.
    ///   trajectory control).
    public static let groups: [(name: String, parts: [BodyPart])] = [
        ("upper", [.head, .stem, .leftArm, .rightArm, .leftHand, .rightHand]),
        ("lower", [.leftLeg, .rightLeg]),
        ("body", BodyPart.allCases.filter { $0 != .root }),
    ]

    /// Parts from a comma-separated list of part and group names (case and spaces ignored), in slot
    /// order without repeats. A part named on its own must be in `available` (HumanML3D motions have no
    /// hands or face); groups take only their available parts. Unknown names are a one-line error.
    public static func parseList(_ list: String, available: [BodyPart] = BodyPart.allCases) throws -> [BodyPart] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw GenerationError.invalidInput("no body parts given; name some of \(knownNames)") }
        var chosen = Set<BodyPart>()
        for name in names {
            if let p = allCases.first(where: { $0.userName == name }) {
                guard available.contains(p) else {
                    throw GenerationError.invalidInput("the motion has no \(name) part (HumanML3D motions have no hands or face); its parts are \(available.map(\.userName).joined(separator: ", "))")
                }
                chosen.insert(p)
            } else if let g = groups.first(where: { $0.name == name }) {
                chosen.formUnion(g.parts.filter(available.contains))
            } else {
                throw GenerationError.invalidInput("unknown body part \"\(name)\"; name some of \(knownNames)")
            }
        }
        return allCases.filter(chosen.contains)
    }

    static var knownNames: String { (allCases.map(\.userName) + groups.map(\.name)).joined(separator: ", ") }
}

/// Sampling motions with a Large Motion Model (`LMMModel`), and the tasks built on it.
///
/// Every task is one call of `sample`: the motion's length, an optional text, and the cells (frame,
/// part) that are given. The model's part mask says which parts *exist*: the 7 parts HumanML3D holds
/// (`BodyPart.humanML3DParts`) are 1, the hands and the face 0 (as the official code, masked parts are
/// swapped for `mask_token`; the model was trained to predict every present part, masked or not, so an
/// absent part must be masked, while a part to generate is present and noisy). Given cells go through
/// the DDIM sampler's known values (`known`/`knownMask`, spread over their values by
/// `UnifiedMotion.valueMask`): put back each step, and pasted exactly into the result.
///
/// Motions longer than `max_seq_len` frames are sampled in overlapping windows of `max_seq_len` frames:
/// each next window starts `overlap` (`max_seq_len / 4`) frames before the previous one ends, and those
/// shared frames are given to it as known (every part) from the previous window's result, so the joins
/// carry on the motion already made and the shared frames are the same in both. Every window sees the
/// whole text; the caller's own given cells apply in whichever windows hold them. At most `maxWindows`
/// windows are sampled.
///
/// Inputs and outputs are `UnifiedMotion`s; HumanML3D motions go in with `UnifiedMotion(motion:)` or
/// `UnifiedMotion(humanML3D:)` and come out with `motion()` or `humanML3DFeatures()`.
public struct LMMPipeline {
    public let model: LMMModel
    /// The most windows one motion takes (which caps its length: `maxFrames`).
    public static let maxWindows = 10

    public init(model: LMMModel) { self.model = model }

    /// The parts the pipeline generates: HumanML3D's 7 (no hands, no face).
    public static let generatedParts = BodyPart.humanML3DParts

    /// Frames one window holds (`max_seq_len`).
    public var window: Int { model.config.maxSeqLen }
    /// Frames a window shares with the next.
    public var overlap: Int { window >= 2 ? Swift.max(1, window / 4) : 0 }
    /// The longest motion: `maxWindows` windows joined.
    public var maxFrames: Int { overlap == 0 ? window : window + (Self.maxWindows - 1) * (window - overlap) }

    /// The windows (frame ranges) a motion of `frames` frames is sampled in, in order.
    public func windows(frames: Int) -> [Range<Int>] {
        guard frames > window else { return [0..<frames] }
        let stride = window - overlap
        var out: [Range<Int>] = []
        var start = 0
        while start + window < frames {
            out.append(start..<(start + window))
            start += stride
        }
        // The last window has more than `overlap` frames: the one before ended past `start + overlap`.
        out.append(start..<frames)
        return out
    }

    // MARK: the core

    /// Samples a motion of `frames` frames. `text`: the caption (nil: unconditional). `known` `[T, 669]`:
    /// raw (unnormalised) unified values, given where `knownCells` `[T, 10]` is 1 (both or neither; given
    /// cells of the hands or face, which the pipeline does not generate, are ignored). `progress` is called
    /// after every DDIM step (steps counted over all windows); `.stop` ends sampling with
    /// `LMMSamplingStopped`. The result has the 7 HumanML3D parts present in every frame, given cells equal
    /// to `known` exactly.
    public func sample(frames: Int, text: String?, known: Tensor? = nil, knownCells: Tensor? = nil, options: LMMSampling = LMMSampling(),
                       progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        try options.validate()
        let n = frames
        guard n >= 1 else { throw GenerationError.invalidInput("a motion needs at least 1 frame, got \(n)") }
        guard n <= maxFrames else {
            throw GenerationError.tooLarge("\(n) frames is above this model's limit of \(maxFrames) (\(Self.maxWindows) windows of \(window) frames overlapping by \(overlap))")
        }
        let fps = options.fps ?? model.config.fps
        let d = UnifiedMotion.dimension, np = BodyPart.allCases.count
        let present = Self.generatedPresence                       // [10]

        // Given values, normalised, and their cells restricted to generated parts. [T, 669], [T, 10]
        var givenValues = [Float](repeating: 0, count: n * d), givenCells = [Float](repeating: 0, count: n * np)
        var rawKnown: [Float]?
        switch (known, knownCells) {
        case (nil, nil): break
        case let (k?, c?):
            guard k.shape == [n, d] else { throw GenerationError.invalidInput("known values must be [\(n), \(d)], got \(k.shape)") }
            guard c.shape == [n, np] else { throw GenerationError.invalidInput("known cells must be [\(n), \(np)], got \(c.shape)") }
            let cs = c.scalars
            guard cs.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw GenerationError.invalidInput("known cells must be 0 or 1") }
            let ks = k.scalars
            guard ks.allSatisfy(\.isFinite) else { throw GenerationError.invalidInput("known values are not all finite") }
            rawKnown = ks
            givenValues = try model.normalizer.normalize(k).scalars
            for i in 0..<(n * np) { givenCells[i] = cs[i] * present[i % np] }
        default:
            throw GenerationError.invalidInput("known values and known cells go together")
        }

        let conditions = try textConditions(text)
        let guidance = guidance(text: text, options: options)

        let ranges = windows(frames: n)
        let perWindow = options.sections.reduce(0, +)
        let total = perWindow * ranges.count
        var rng = SeededRNG(seed: options.seed)
        var result = [Float](repeating: 0, count: n * d)          // normalised, [T, 669]
        var done = 0                                               // frames of `result` already sampled

        try Tensor.withNoGrad {
            for (wi, range) in ranges.enumerated() {
                let len = range.count
                var values = [Float](repeating: 0, count: len * d), cells = [Float](repeating: 0, count: len * np)
                for (i, f) in range.enumerated() {
                    if f < done {
                        // Shared with the previous window: every generated part given from its result.
                        for k in 0..<d { values[i * d + k] = result[f * d + k] }
                        for p in 0..<np { cells[i * np + p] = present[p] }
                    } else {
                        for k in 0..<d { values[i * d + k] = givenValues[f * d + k] }
                        for p in 0..<np { cells[i * np + p] = givenCells[f * np + p] }
                    }
                }
                let noise = Tensor.randn([1, len, d], rng: &rng)
                let partMask = Tensor((0..<len).flatMap { _ in present }, shape: [1, len, np])
                let inputs = LMMInputs(timesteps: [0], partMask: partMask, lengths: [len], fps: [fps], datasetIndex: [sampleDataset], conditions: conditions)
                let anyGiven = cells.contains { $0 > 0 }
                var sampler = try model.denoiser.ddimSampler(
                    noise: noise, inputs: inputs, guidance: guidance, sections: options.sections,
                    known: anyGiven ? Tensor(values, shape: [1, len, d]) : nil,
                    knownMask: anyGiven ? UnifiedMotion.valueMask(Tensor(cells, shape: [1, len, np])) : nil)
                let offset = wi * perWindow
                let run = sampler.run { step in
                    var s = step
                    s.step += offset
                    s.totalSteps = total
                    return progress?(s) ?? .proceed
                }
                if let e = sampler.error { throw e }
                if run.stopped || run.latent == nil { throw LMMSamplingStopped(step: offset + run.stepsRun, totalSteps: total) }
                let out = run.latent!.scalars                       // [1, len, 669]
                for (i, f) in range.enumerated() where f >= done {
                    for k in 0..<d { result[f * d + k] = out[i * d + k] }
                }
                done = range.upperBound
            }
        }

        return try finish(Tensor(result, shape: [n, d]), fps: fps, given: rawKnown.map { ($0, givenCells) })
    }

    /// The parts generated, as one frame's part mask `[10]`.
    static let generatedPresence: [Float] = BodyPart.allCases.map { generatedParts.contains($0) ? 1 : 0 }

    /// The guidance scale of a sample: none without a text (the conditional and unconditional halves would
    /// be the same), none at 0 or less.
    func guidance(text: String?, options: LMMSampling) -> Float? {
        guard text != nil else { return nil }
        let g = options.guidance ?? model.config.guidanceScale
        return g > 0 ? g : nil
    }

    /// The sampled motion from normalised values `[T, 669]`: raw values, parts not generated zero, and given
    /// cells (`given.cells [T, 10]` 1) exactly as given (not through normalise and back).
    func finish(_ normalised: Tensor, fps: Float, given: (raw: [Float], cells: [Float])? = nil) throws -> UnifiedMotion {
        let n = normalised.shape[0], d = UnifiedMotion.dimension, np = BodyPart.allCases.count
        let present = Self.generatedPresence, owner = UnifiedMotion.partOfValue
        var raw = try model.normalizer.denormalize(normalised).scalars
        for f in 0..<n {
            for k in 0..<d {
                let p = owner[k]
                if present[p] == 0 { raw[f * d + k] = 0 }
                else if let given, given.cells[f * np + p] > 0 { raw[f * d + k] = given.raw[f * d + k] }
            }
        }
        let mask = Tensor((0..<n).flatMap { _ in present }, shape: [n, np])
        return try UnifiedMotion(features: Tensor(raw, shape: [n, d]), mask: mask, fps: fps)
    }

    /// The text condition of one sample: the caption's token features, or the condition absent (zeros,
    /// as the unconditional half of guidance) when there is no text. Empty when the model reads no text.
    func textConditions(_ text: String?) throws -> [String: ConditionTokens] {
        if let text, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw GenerationError.invalidInput("the text is empty")
        }
        guard let width = model.config.textInputDim else {
            if text != nil { throw GenerationError.invalidInput("this model reads no text (it has no text_input_dim); leave the text out") }
            return [:]
        }
        if let text {
            // Too long a caption is the caller's input, not a model fault: say so before encoding it.
            if let encoder = model.textEncoder {
                let (ids, truncated) = encoder.tokenize(text)
                if truncated || ids.count > model.config.textMaxTokens {
                    throw GenerationError.tooLarge("the text has \(truncated ? "more than \(ids.count)" : "\(ids.count)") tokens; this model reads at most \(model.config.textMaxTokens) (text_max_tokens)")
                }
            }
            return ["text": try Tensor.withNoGrad { try model.textCondition([text]) }]
        }
        return ["text": ConditionTokens(words: .zeros([1, model.config.textMaxTokens, width]), present: [0])]
    }

    // MARK: tasks

    /// The read-in/read-out set samples go through: the data's own set (index 1, what training feeds 90% of
    /// samples) when the model has one besides the shared `all` set (index 0, the other 10%).
    public var sampleDataset: Int { model.config.dataDatasetIndex }

    /// Text to motion for several seeds at once (one batch through the denoiser, the guided halves
    /// included): sample `i` equals `generate(text:frames:)` with `options.seed = seeds[i]` up to the
    /// rounding of batched products. Motions longer than one window are sampled one seed after another.
    public func generate(text: String?, frames: Int, seeds: [UInt64], options: LMMSampling = LMMSampling()) throws -> [UnifiedMotion] {
        guard !seeds.isEmpty else { return [] }
        guard frames <= window, seeds.count > 1 else {
            return try seeds.map { seed in var o = options; o.seed = seed; return try sample(frames: frames, text: text, options: o) }
        }
        try options.validate()
        guard frames >= 1 else { throw GenerationError.invalidInput("a motion needs at least 1 frame, got \(frames)") }
        let b = seeds.count, d = UnifiedMotion.dimension, np = BodyPart.allCases.count
        let fps = options.fps ?? model.config.fps
        let present = Self.generatedPresence
        var conditions = try textConditions(text)
        for (name, c) in conditions {
            conditions[name] = ConditionTokens(words: Tensor.concat([Tensor](repeating: c.words, count: b), dim: 0),
                                               present: [Float](repeating: c.present[0], count: b))
        }
        let guidance = guidance(text: text, options: options)
        // Each seed's noise exactly as the one-seed path draws it.
        let noise = Tensor.concat(seeds.map { seed -> Tensor in var rng = SeededRNG(seed: seed); return Tensor.randn([1, frames, d], rng: &rng) }, dim: 0)
        let partMask = Tensor((0..<(b * frames)).flatMap { _ in present }, shape: [b, frames, np])
        let inputs = LMMInputs(timesteps: [Float](repeating: 0, count: b), partMask: partMask, lengths: [Int](repeating: frames, count: b),
                               fps: [Float](repeating: fps, count: b), datasetIndex: [Int](repeating: sampleDataset, count: b), conditions: conditions)
        let out: Tensor = try Tensor.withNoGrad {
            var sampler = try model.denoiser.ddimSampler(noise: noise, inputs: inputs, guidance: guidance, sections: options.sections)
            let run = sampler.run { _ in .proceed }
            if let e = sampler.error { throw e }
            guard let latent = run.latent else { throw LMMSamplingStopped(step: run.stepsRun, totalSteps: sampler.totalSteps) }
            return latent
        }
        return try (0..<b).map { i in try finish(out.slice(dim: 0, i, i + 1).reshaped([frames, d]).copy(), fps: fps) }
    }

    /// Frames for `seconds` at the rate the options ask (the model's rate by default), at least 1.
    public func frames(seconds: Float, options: LMMSampling = LMMSampling()) throws -> Int {
        guard seconds > 0, seconds.isFinite else { throw GenerationError.invalidInput("seconds must be positive, got \(seconds)") }
        return Swift.max(1, Int((seconds * (options.fps ?? model.config.fps)).rounded()))
    }

    /// Text to motion: `frames` frames under `text` (nil: an unconditional motion).
    public func generate(text: String?, frames: Int, options: LMMSampling = LMMSampling(),
                         progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        try sample(frames: frames, text: text, options: options, progress: progress)
    }

    /// Motion prediction: `motion` is the beginning, `frames` more are generated after it (optionally
    /// under `text`). The result is the given frames then the new ones, at the motion's rate.
    public func predict(_ motion: UnifiedMotion, frames more: Int, text: String? = nil, options: LMMSampling = LMMSampling(),
                        progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        guard more >= 1 else { throw GenerationError.invalidInput("frames to predict must be at least 1, got \(more)") }
        let o = try taskOptions(for: [motion], options)
        let n = motion.frameCount + more
        let (values, cells) = try givenFrames([(motion, 0)], frames: n)
        return try sample(frames: n, text: text, known: values, knownCells: cells, options: o, progress: progress)
    }

    /// In-betweening: `gap` frames generated between the end of `first` and the start of `second`
    /// (optionally under `text`). The result is `first`, the gap, then `second`; both ends are given.
    /// (The unified root values are velocities and height, so `second` continues from where the gap
    /// leaves the body, on its own path relative to that.)
    public func inbetween(_ first: UnifiedMotion, _ second: UnifiedMotion, gap: Int, text: String? = nil, options: LMMSampling = LMMSampling(),
                          progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        guard gap >= 1 else { throw GenerationError.invalidInput("frames to fill must be at least 1, got \(gap)") }
        let o = try taskOptions(for: [first, second], options)
        let n = first.frameCount + gap + second.frameCount
        let (values, cells) = try givenFrames([(first, 0), (second, first.frameCount + gap)], frames: n)
        return try sample(frames: n, text: text, known: values, knownCells: cells, options: o, progress: progress)
    }

    /// Part editing: `parts` of `motion` regenerated (under `text`, or unconditionally when nil), every
    /// other generated part given in every frame. Editing the arms keeps the root, so the legs' joint
    /// positions, which hang on the root's path, are kept too.
    public func edit(motion: UnifiedMotion, parts: [BodyPart], text: String?, options: LMMSampling = LMMSampling(),
                     progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        guard !parts.isEmpty else { throw GenerationError.invalidInput("no body parts to edit") }
        if let bad = parts.first(where: { !Self.generatedParts.contains($0) }) {
            throw GenerationError.invalidInput("the \(bad.userName) part cannot be edited: HumanML3D motions have no hands or face")
        }
        let o = try taskOptions(for: [motion], options)
        let (values, cells) = try givenFrames([(motion, 0)], frames: motion.frameCount, except: parts)
        return try sample(frames: motion.frameCount, text: text, known: values, knownCells: cells, options: o, progress: progress)
    }

    /// Trajectory control: the root of `motion` (heading, ground velocity, height) given, the rest of the
    /// body generated along it (under `text`, or unconditionally when nil).
    public func followTrajectory(of motion: UnifiedMotion, text: String?, options: LMMSampling = LMMSampling(),
                                 progress: ((DenoisingStep) -> IterationControl)? = nil) throws -> UnifiedMotion {
        try edit(motion: motion, parts: Self.generatedParts.filter { $0 != .root }, text: text, options: options, progress: progress)
    }

    /// The options for tasks on given motions: sampled at their rate, which must agree (with each other
    /// and with an `fps` asked for).
    func taskOptions(for motions: [UnifiedMotion], _ options: LMMSampling) throws -> LMMSampling {
        let rate = motions[0].fps
        if let other = motions.first(where: { $0.fps != rate }) {
            throw GenerationError.invalidInput("the motions are at \(rate) and \(other.fps) fps; give them at one rate")
        }
        if let asked = options.fps, asked != rate {
            throw GenerationError.invalidInput("the motion is at \(rate) fps, not the \(asked) fps asked; resample it or leave fps out")
        }
        var o = options
        o.fps = rate
        return o
    }

    /// Known values `[T, 669]` and cells `[T, 10]` from motions placed at frame offsets: every generated
    /// part of their frames given, except `parts`. Each motion must hold the generated parts in every frame.
    func givenFrames(_ motions: [(UnifiedMotion, Int)], frames n: Int, except parts: [BodyPart] = []) throws -> (Tensor, Tensor) {
        let d = UnifiedMotion.dimension, np = BodyPart.allCases.count
        var values = [Float](repeating: 0, count: n * d), cells = [Float](repeating: 0, count: n * np)
        for (m, at) in motions {
            guard m.frameCount >= 1 else { throw GenerationError.invalidInput("a given motion has no frames") }
            let f = m.features.scalars, mk = m.mask.scalars
            for t in 0..<m.frameCount {
                for p in Self.generatedParts where mk[t * np + p.rawValue] < 0.5 {
                    throw GenerationError.invalidInput("the given motion lacks its \(p.userName) part in frame \(t)")
                }
                for k in 0..<d { values[(at + t) * d + k] = f[t * d + k] }
                for p in Self.generatedParts where !parts.contains(p) { cells[(at + t) * np + p.rawValue] = 1 }
            }
        }
        return (Tensor(values, shape: [n, d]), Tensor(cells, shape: [n, np]))
    }
}
