import Foundation
import Generation
import ModelHub
import MotionData
import MotionT5
import MotionVQ
import TensorEngine
import TextTokenizer

/// T5's span corruption (`random_spans_noise_mask` of the T5 paper's code, as MotionGPT uses it):
/// about `density` of the tokens, in spans of mean length `meanSpan`, are replaced in the input by
/// one sentinel each and become the target, each span behind its sentinel.
public enum SpanCorruption {
    /// Noise mask of `length` tokens (true = corrupted). Needs `length >= 2`.
    public static func noiseMask(length n: Int, density: Double = 0.15, meanSpan: Double = 3, rng: inout SeededRNG) -> [Bool] {
        precondition(n >= 2)
        let noise = min(max(Int((Double(n) * density).rounded(.toNearestOrEven)), 1), n - 1)
        let spans = max(Int((Double(noise) / meanSpan).rounded(.toNearestOrEven)), 1)
        let noiseLengths = segmentation(noise, spans, rng: &rng)
        let keepLengths = segmentation(n - noise, spans, rng: &rng)
        var mask: [Bool] = []
        for (k, z) in zip(keepLengths, noiseLengths) {
            mask += Array(repeating: false, count: k)
            mask += Array(repeating: true, count: z)
        }
        return mask
    }

    /// `items` split into `segments` non-empty parts at uniformly random cut points.
    static func segmentation(_ items: Int, _ segments: Int, rng: inout SeededRNG) -> [Int] {
        let segs = min(segments, items)
        var cuts = Array(repeating: false, count: items - 1)
        for i in 0..<(segs - 1) { cuts[i] = true }
        cuts.shuffle(using: &rng)
        var lengths: [Int] = [], run = 1
        for c in cuts { if c { lengths.append(run); run = 1 } else { run += 1 } }
        lengths.append(run)
        // A segmentation with fewer items than segments cannot happen for valid inputs; pad for safety.
        while lengths.count < segments { lengths.append(0) }
        return lengths
    }

    /// Corrupts `ids` (no EOS): returns (input, target), sentinel `k` being `sentinel(k)`.
    public static func corrupt(_ ids: [Int], sentinel: (Int) -> Int, density: Double = 0.15, meanSpan: Double = 3,
                               rng: inout SeededRNG) -> (input: [Int], target: [Int]) {
        guard ids.count >= 2 else { return (ids, []) }
        let mask = noiseMask(length: ids.count, density: density, meanSpan: meanSpan, rng: &rng)
        var input: [Int] = [], target: [Int] = [], k = 0
        for (i, id) in ids.enumerated() {
            if mask[i] {
                if i == 0 || !mask[i - 1] { input.append(sentinel(k)); target.append(sentinel(k)); k += 1 }
                target.append(id)
            } else {
                input.append(id)
            }
        }
        return (input, target)
    }
}

/// One motion with one caption, as tokens: the training unit of stages 2 and 3.
public struct MotionTextExample: Sendable {
    public var name: String
    public var codes: [Int]
    /// Frames the codes cover.
    public var frames: Int
    public var caption: String

    public init(name: String, codes: [Int], frames: Int, caption: String) {
        self.name = name; self.codes = codes; self.frames = frames; self.caption = caption
    }
}

/// Motion-text examples from a HumanML3D-layout folder: `MotionDataset`'s items (the official loader's
/// rules: whole clips of 40 ..< 200 frames with all their whole-clip captions, sub-range captions as
/// their own items, optional mirrors with left/right swapped in the captions), tokenised with the motion
/// tokenizer, one example per caption.
public enum MotionTextDataset {
    public struct Options: Sendable {
        public var split = "train"
        public var minFrames = 40
        public var maxFrames = 200
        /// Also add each item's left-right mirror.
        public var mirror = false
        public init() {}
    }

    /// Examples of `folder`'s split, tokenised with `tokenizer`.
    public static func load(_ folder: URL, tokenizer: MotionTokenizer, options: Options = Options()) throws -> [MotionTextExample] {
        var o = MotionDataset.Options()
        o.split = options.split; o.minFrames = options.minFrames; o.maxFrames = options.maxFrames
        o.featureDimension = tokenizer.config.nfeats; o.mirror = options.mirror
        let data = try MotionDataset(root: folder, options: o)
        var out: [MotionTextExample] = []
        for item in data.items where item.frameCount >= tokenizer.framesPerCode {
            let codes = try tokenizer.encode(features: item.features)
            for caption in item.captions {
                out.append(MotionTextExample(name: item.name, codes: codes, frames: tokenizer.coveredFrames(item.frameCount), caption: caption.text))
            }
        }
        guard !out.isEmpty else {
            throw MotionSourceError.bad("\(folder.path): no \(options.split) motion between \(options.minFrames) and \(options.maxFrames) frames with a caption")
        }
        return out
    }
}

/// Turns examples into tokenised training pairs for stage 2 (pretraining) and stage 3 (instructions).
public struct MotionLanguageTasks {
    public let model: MotionGPTModel
    public let templates: TaskTemplates
    public let renderer: TemplateRenderer

    /// MotionGPT's pretraining pairs (`template_pretrain.json`): caption -> motion, motion -> caption, prediction.
    public static let pretrainTemplates = TaskTemplates(tasks: [
        TaskTemplate(group: "Text-to-Motion", name: "t2m", taskClass: "t2m", inputs: ["<Caption_Placeholder>"], outputs: ["<Motion_Placeholder>"]),
        TaskTemplate(group: "Motion-to-Text", name: "m2t", taskClass: "m2t", inputs: ["<Motion_Placeholder>"], outputs: ["<Caption_Placeholder>"]),
        TaskTemplate(group: "Motion Prediction", name: "pred", taskClass: "predict", inputs: ["Predict motion: <Motion_Placeholder_s1>"], outputs: ["<Motion_Placeholder_s2>"]),
    ])

    public init(model: MotionGPTModel, templates: TaskTemplates) {
        self.model = model
        self.templates = templates
        var r = TemplateRenderer(codebookSize: model.vocabulary.codebookSize)
        r.framerate = model.settings.framerate
        r.predictRatio = model.settings.predictRatio
        r.inbetweenRatio = model.settings.inbetweenRatio
        renderer = r
    }

    /// Token ids with EOS; a prompt over the model's length limit is an error, never cut.
    public func encode(_ text: String) throws -> [Int] {
        let ids = model.textTokenizer.encode(text)
        guard ids.count <= model.settings.maxLength else {
            throw MotionGPTError.badInput("a training text is \(ids.count) tokens, over the model's \(model.settings.maxLength): \(text.prefix(80))...")
        }
        return ids
    }

    func values(_ e: MotionTextExample) -> TemplateValues { TemplateValues(caption: e.caption, codes: e.codes, frames: e.frames) }

    /// A stage-2 pair: 30% caption -> motion, 30% motion -> caption, 10% prediction, 15% span corruption of
    /// the caption, 15% of the motion span. (MotionGPT's code keeps only the supervised pairs active;
    /// the paper's pretraining also corrupts spans, which is what the issue asks for.)
    public func pretrainPair(_ e: MotionTextExample, rng: inout SeededRNG) throws -> LMExample {
        let u = rng.nextFloat()
        if u < 0.7 {
            let task = Self.pretrainTemplates.tasks[u < 0.3 ? 0 : (u < 0.6 ? 1 : 2)]
            let (i, o) = try renderer.pair(task, values(e), rng: &rng)
            return LMExample(inputIDs: try encode(i), labels: try encode(o))
        }
        let text = u < 0.85 ? e.caption : renderer.span(e.codes)
        var ids = try encode(text)
        let eos = ids.removeLast()
        let tok = model.textTokenizer
        let (input, target) = SpanCorruption.corrupt(ids, sentinel: { tok.id(of: "<extra_id_\($0)>") ?? (tok.baseVocabularySize + tok.extraIDs - 1 - $0) }, rng: &rng)
        return LMExample(inputIDs: input + [eos], labels: target + [eos])
    }

    /// A stage-3 pair: a task of the template set uniformly, a phrasing uniformly, filled with the example.
    public func instructPair(_ e: MotionTextExample, rng: inout SeededRNG) throws -> LMExample {
        let task = templates.tasks[rng.nextInt(templates.tasks.count)]
        let (i, o) = try renderer.pair(task, values(e), rng: &rng)
        return LMExample(inputIDs: try encode(i), labels: try encode(o))
    }

    /// Prompts the pipeline should use with a model trained on `templates`: the first phrasing of each task.
    public static func prompts(from templates: TaskTemplates) -> TaskPrompts {
        var p = TaskPrompts()
        if let t = templates.task("Text-to-Motion/caption") { p.textToMotion = t.inputs[0] }
        if let t = templates.task("Text-to-Motion/caption_framelen") { p.textToMotionFrames = t.inputs[0] }
        if let t = templates.task("Text-to-Motion/caption_seclen") { p.textToMotionSeconds = t.inputs[0] }
        if let t = templates.task("Motion-to-Text/caption") { p.caption = t.inputs[0] }
        if let t = templates.task("Motion-to-Motion/motion_prediction") { p.predict = t.inputs[0] }
        if let t = templates.task("Motion-to-Motion/motion_inbetween") { p.inbetween = t.inputs[0] }
        return p
    }
}
