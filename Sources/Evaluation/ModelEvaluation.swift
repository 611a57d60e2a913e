import Foundation
import Generation
import ModelHub
import MotionData
import MotionVQ
import TensorEngine

/// Held-out evaluation of a MotionGPT model on a HumanML3D-layout split: the numbers that need no
/// learned evaluator (tokenizer MPJPE, captioning BLEU/ROUGE-L/CIDEr against every reference caption
/// of a clip, prediction and in-between ADE/FDE). Text-to-motion R-precision, FID, MM-Dist and
/// Diversity need the T2M evaluator's embeddings and are not computed here.
public enum HeldOutEvaluation {
    /// One clip of the split: raw features and every caption of the whole clip.
    public struct Clip {
        public var name: String
        public var features: Tensor
        public var captions: [String]
        /// The same captions with their `word/POS` tokens (what the T2M evaluator reads).
        public var taggedCaptions: [MotionCaption]

        public init(name: String, features: Tensor, captions: [MotionCaption]) {
            self.name = name; self.features = features
            taggedCaptions = captions; self.captions = captions.map(\.text)
        }
    }

    /// Whole clips of `split` (sub-range captions are items of their own in the dataset reader; here
    /// only whole-clip items count, each with all of its whole-clip captions).
    public static func clips(_ root: URL, split: String) throws -> [Clip] {
        var o = MotionDataset.Options(); o.split = split
        let ds = try MotionDataset(root: root, options: o)
        return ds.items.filter { $0.frames.lowerBound == 0 && !$0.mirrored && $0.name == $0.clip }.map {
            Clip(name: $0.name, features: $0.features, captions: $0.captions.filter(\.isWholeClip))
        }
    }

    /// Tokenizer reconstruction: root-aligned MPJPE (MotionGPT's MRMetrics) and plain MPJPE, in
    /// millimetres, over the frames the codes cover, every clip's frames pooled.
    public struct Reconstruction: Codable, Sendable {
        public var rootAlignedMPJPE: Double
        public var mpjpe: Double
        public var clips: Int
        public var frames: Int
    }

    public static func reconstruction(_ tokenizer: MotionTokenizer, clips: [Clip]) throws -> Reconstruction {
        var aligned = 0.0, plain = 0.0, frames = 0
        for c in clips {
            let codes = try tokenizer.encode(features: c.features)
            let rec = try tokenizer.decodeMotion(codes)
            let orig = try Motion(features: c.features.slice(dim: 0, 0, rec.frameCount))
            aligned += try rootAlignedMPJPE(predicted: rec, groundTruth: orig) * Double(rec.frameCount)
            plain += try mpjpe(predicted: rec, groundTruth: orig) * Double(rec.frameCount)
            frames += rec.frameCount
        }
        guard frames > 0 else { throw EvaluationError.empty(argument: "clips") }
        return Reconstruction(rootAlignedMPJPE: aligned / Double(frames) * 1000, mpjpe: plain / Double(frames) * 1000, clips: clips.count, frames: frames)
    }

    /// Captioning scores (pycocoevalcap's arithmetic on `captionTokens` of each text) with the
    /// captions the model wrote.
    public struct Captioning: Codable, Sendable {
        public var bleu1: Double, bleu4: Double, rougeL: Double, cider: Double
        public var clips: Int
        public var captions: [String: String]
    }

    public static func captioning(_ model: MotionGPTModel, clips: [Clip], options: GenerationOptions) throws -> Captioning {
        var candidates: [String] = [], references: [[String]] = [], written: [String: String] = [:]
        for c in clips where !c.captions.isEmpty {
            let motion = try Motion(features: c.features)
            let text = try model.caption(motion, options: options)
            written[c.name] = text
            candidates.append(captionTokens(text))
            references.append(c.captions.map(captionTokens))
        }
        guard !candidates.isEmpty else { throw EvaluationError.empty(argument: "captioned clips") }
        let b = try bleu(candidates: candidates, references: references)
        return Captioning(bleu1: b.corpus[0], bleu4: b.corpus[3], rougeL: try rougeL(candidates: candidates, references: references).corpus,
                          cider: try cider(candidates: candidates, references: references).corpus, clips: candidates.count, captions: written)
    }

    /// Mean ADE/FDE (metres, MotionGPT's per-frame pose norm) over clips and seeds.
    public struct Displacement: Codable, Sendable {
        public var ade: Double, fde: Double
        /// Samples that count.
        public var samples: Int
        /// Samples whose answer was too short to hold a generated frame (the model stopped early);
        /// they are left out of the means and counted here, never silently.
        public var tooShort: Int
    }

    /// One prediction sample: the first 20% of `clip` is given (at the codes' resolution), the model
    /// continues; its errors over the generated frames and the whole answer's codes.
    public static func predictionSample(_ model: MotionGPTModel, clip c: Clip, seed: UInt64, options: GenerationOptions) throws -> (errors: DisplacementErrors, codes: [Int]) {
        let truth = try Motion(features: c.features)
        let given = max(model.motionTokenizer.framesPerCode, Int(Double(truth.frameCount) * MotionGPTGivenRatio.prediction))
        let prefix = try Motion(features: c.features.slice(dim: 0, 0, min(given + 1, c.features.shape[0])))
        var o = options; o.seed = seed
        let out = try model.predict(prefix, options: o)
        // The frames the prefix's codes cover are what the model was given.
        let e = try predictionDisplacementErrors(predicted: out.motions[0], groundTruth: truth, givenFrames: model.motionTokenizer.coveredFrames(given))
        return (e, out.codes[0])
    }

    /// One in-between sample: the first and last 25% of `clip` are given, the model fills the middle.
    public static func inbetweenSample(_ model: MotionGPTModel, clip c: Clip, seed: UInt64, options: GenerationOptions) throws -> (errors: DisplacementErrors, codes: [Int]) {
        let truth = try Motion(features: c.features)
        let t = truth.frameCount, keep = Int(Double(t) * MotionGPTGivenRatio.inbetween)
        let a = try Motion(features: c.features.slice(dim: 0, 0, keep + 1))
        let b = try Motion(features: c.features.slice(dim: 0, t - keep - 1, t))
        var o = options; o.seed = seed
        let out = try model.inbetween(a, b, gapFrames: max(model.motionTokenizer.framesPerCode, t - 2 * keep), options: o)
        let covered = model.motionTokenizer.coveredFrames(keep)
        let e = try inbetweenDisplacementErrors(predicted: out.motions[0], groundTruth: truth, givenPrefix: covered, givenSuffix: covered)
        return (e, out.codes[0])
    }

    /// Whether an error is a sample whose answer was too short to hold a generated frame (counted,
    /// never silently dropped).
    public static func isTooShort(_ error: Error) -> Bool {
        if case EvaluationError.invalidValue(let argument, _) = error, argument.hasPrefix("given") { return true }
        return false
    }

    /// Prediction: the first 20% of each clip is given (at the codes' resolution), the model continues.
    public static func prediction(_ model: MotionGPTModel, clips: [Clip], seeds: [UInt64], options: GenerationOptions) throws -> Displacement {
        try displacement(clips: clips, seeds: seeds) { c, seed in try predictionSample(model, clip: c, seed: seed, options: options).errors }
    }

    /// In-between: the first and last 25% are given, the model fills the middle.
    public static func inbetween(_ model: MotionGPTModel, clips: [Clip], seeds: [UInt64], options: GenerationOptions) throws -> Displacement {
        try displacement(clips: clips, seeds: seeds) { c, seed in try inbetweenSample(model, clip: c, seed: seed, options: options).errors }
    }

    static func displacement(clips: [Clip], seeds: [UInt64], _ one: (Clip, UInt64) throws -> DisplacementErrors) throws -> Displacement {
        var all: [DisplacementErrors] = [], short = 0
        for c in clips {
            for s in seeds {
                do { all.append(try one(c, s)) }
                catch where isTooShort(error) { short += 1 }
            }
        }
        guard !all.isEmpty else { return Displacement(ade: .nan, fde: .nan, samples: 0, tooShort: short) }
        let m = try DisplacementErrors.mean(all)
        return Displacement(ade: m.ade, fde: m.fde, samples: all.count, tooShort: short)
    }
}

extension EvaluationError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}
