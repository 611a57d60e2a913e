import Foundation
import Generation
import ModelHub
import MotionData
import TensorEngine

/// The tasks of `motiongpt evaluate`: each makes a table with a "Real motion" row (from `gt`) and,
/// except `gt`, the model's row.
public enum ProtocolTask: String, Codable, Sendable, CaseIterable {
    case gt, t2m, m2t, pred, inbetween, vq

    /// The columns its table prints.
    public var columns: [ProtocolMetric] {
        switch self {
        case .gt: return [.top1, .top2, .top3, .fid, .mmDist, .diversity, .footSkating, .jitter]
        case .t2m: return [.top1, .top2, .top3, .fid, .mmDist, .diversity, .multimodality, .footSkating, .jitter]
        case .m2t: return [.top1, .top3, .mmDist, .bleu1, .bleu4, .rougeL, .cider]
        case .pred, .inbetween: return [.fid, .diversity, .ade, .fde]
        case .vq: return [.mpjpe, .rootAlignedMPJPE, .fid, .diversity]
        }
    }
}

/// The HumanML3D protocol's evaluation of a MotionGPT model on a split of a HumanML3D-layout folder,
/// in the space of a learned evaluator (`MotionTextEmbedder`), computed as the official T2M code does
/// with the changes a small test split forces, each named in the table's notes:
///
/// - R-precision pools are min(32, N) items (one caption and its motion each, the others of the
///   pool its mismatches); a shuffled split is cut into pools and the remainder dropped.
/// - FID and Diversity need many vectors; a 16-clip split has 16. Each side draws `k = ceil(100 / N)`
///   random windows per real clip and `k` samples per caption (per clip for prediction, in-between and
///   reconstruction), so a side has at least 100 vectors.
/// - MultiModality uses those `k` samples per caption (the official protocol: 30 samples of 100
///   texts); it needs sampling, never greedy decoding.
///
/// Pitfalls avoided: generation is asked for the ground-truth length (the protocol compares
/// motions of the real lengths); generated features are de-normalised with the model's statistics
/// (the tokenizer's decoder output) and the evaluator normalises them with its own; lengths go to the
/// evaluator in frames and are divided by its unit length once (MotionGPT's t2m/m2t metric code
/// divides by the unit length twice); checkpoints are chosen on the val split by the recipes, never on
/// the split evaluated here.
public final class ProtocolEvaluation {
    /// How much to draw and how.
    public struct Settings: Sendable {
        public var repeats = 3
        public var seed: UInt64 = 0
        public var poolSize = 32
        /// Vectors wanted on each side of FID and Diversity.
        public var minimumVectors = 100
        public var diversityTimes = 300
        public var multimodalityTimes = 10
        /// Shortest real window, in frames (HumanML3D's minimum motion length).
        public var windowMinimumFrames = 40
        /// Decoding for motion tasks (sampling, as MultiModality needs).
        public var sampling: GenerationOptions = { var o = GenerationOptions(); o.doSample = true; o.maxNewTokens = 256; return o }()
        /// Decoding for captions (greedy, as MotionGPT's m2t evaluation).
        public var captioning: GenerationOptions = { var o = GenerationOptions(); o.maxNewTokens = 64; return o }()
        /// Real/generated pairs to keep for a report.
        public var examples = 0
        public init() {}
    }

    /// A real clip and what the model made of its caption (or its given part), for reports.
    public struct Example {
        public var caption: String
        public var real: Motion
        public var generated: Motion?
    }

    public struct Result {
        public var table: ProtocolTable
        public var examples: [Example]
        /// m2t: the caption written for each clip.
        public var captions: [String: String]
    }

    public let embedder: MotionTextEmbedder
    public let clips: [HeldOutEvaluation.Clip]
    public let settings: Settings
    public let data: String
    public let split: String

    /// `clips` must each have a whole-clip caption and at least the evaluator's (and the windows')
    /// shortest length; clips that do not are an error naming them, never silently left out.
    public init(embedder: MotionTextEmbedder, clips: [HeldOutEvaluation.Clip], data: String, split: String, settings: Settings = Settings()) throws {
        guard !clips.isEmpty else { throw EvaluationError.empty(argument: "clips of the \(split) split") }
        guard settings.repeats >= 1, settings.poolSize >= 2, settings.minimumVectors >= 2 else {
            throw EvaluationError.invalidValue(argument: "settings", detail: "repeats must be >= 1, pool size and vectors >= 2")
        }
        if let c = clips.first(where: { $0.taggedCaptions.isEmpty }) { throw EvaluationError.invalidValue(argument: c.name, detail: "has no whole-clip caption") }
        if let c = clips.first(where: { $0.features.shape[0] < embedder.minimumFrames }) {
            throw EvaluationError.invalidValue(argument: c.name, detail: "has \(c.features.shape[0]) frames, fewer than the evaluator's \(embedder.minimumFrames)")
        }
        self.embedder = embedder; self.clips = clips; self.settings = settings; self.data = data; self.split = split
    }

    var n: Int { clips.count }
    /// Windows per clip and samples per caption: enough for `minimumVectors` a side.
    public var perClip: Int { (settings.minimumVectors + n - 1) / n }
    public var poolSize: Int { min(settings.poolSize, n) }

    // MARK: - Real motion

    /// What a repeat shares between the real row and the model's row.
    struct Draw {
        var rng: SeededRNG
        /// One whole-clip caption per clip.
        var captions: [MotionCaption]
        var captionEmbeddings: Tensor
        /// `perClip` random windows per clip, and their embeddings.
        var windows: [Tensor]
        var windowEmbeddings: Tensor
    }

    private var cachedClipEmbeddings: Tensor?
    /// Embeddings of the whole real clips (fixed across repeats).
    func clipEmbeddings() throws -> Tensor {
        if let e = cachedClipEmbeddings { return e }
        let e = try embedder.embed(motions: clips.map(\.features))
        cachedClipEmbeddings = e
        return e
    }

    func draw(repeat r: Int) throws -> Draw {
        var rng = SeededRNG(seed: settings.seed &* 0x9E37_79B9 &+ UInt64(r) &+ 1)
        let captions = clips.map { $0.taggedCaptions[Int.random(in: 0..<$0.taggedCaptions.count, using: &rng)] }
        let windows = randomWindows(&rng)
        return Draw(rng: rng, captions: captions, captionEmbeddings: try embedder.embed(captions: captions),
                    windows: windows, windowEmbeddings: try embedder.embed(motions: windows))
    }

    /// `perClip` windows of every clip: a length uniform in [max(40, evaluator minimum), T] rounded
    /// down to the 4-frame unit, a start uniform over the clip.
    func randomWindows(_ rng: inout SeededRNG) -> [Tensor] {
        var out: [Tensor] = []
        for c in clips {
            let t = c.features.shape[0]
            let lo = min(t, max(settings.windowMinimumFrames, embedder.minimumFrames))
            for _ in 0..<perClip {
                var len = Int.random(in: lo...t, using: &rng)
                len = max(lo, len / 4 * 4)
                let start = Int.random(in: 0...(t - len), using: &rng)
                out.append(c.features.slice(dim: 0, start, start + len))
            }
        }
        return out
    }

    /// R-precision top-1/2/3 and MM-Dist over pools of `poolSize` (row i of `texts` matches row i of
    /// `motions`), the rows shuffled with `rng`.
    func retrieval(texts: Tensor, motions: Tensor, rng: inout SeededRNG) throws -> (top: [Double], mmDist: Double, pools: Int) {
        let rows = texts.shape[0]
        guard min(poolSize, rows) >= 3 else { return ([.nan, .nan, .nan], .nan, 0) }
        let r = try ProtocolMetrics.rPrecisionPools(texts: texts, motions: motions, poolSize: poolSize, topK: 3,
                                                    order: Array(0..<rows).shuffled(using: &rng))
        return (r.topK, r.mmDist, r.pools)
    }

    /// Foot skating and jitter of raw-feature motions, averaged.
    func motionQuality(_ features: [Tensor]) throws -> (skating: Double, jitter: Double) {
        var s = 0.0, j = 0.0
        for f in features {
            let m = try Motion(features: f)
            s += try ProtocolMetrics.footSkating(m)
            j += try ProtocolMetrics.jitter(m)
        }
        return (s / Double(features.count), j / Double(features.count))
    }

    /// The real-motion row's values of one repeat.
    func realMetrics(_ d: inout Draw) throws -> [ProtocolMetric: Double] {
        let clipsE = try clipEmbeddings()
        let r = try retrieval(texts: d.captionEmbeddings, motions: clipsE, rng: &d.rng)
        // Real-vs-real FID: a second independent draw of windows, as the official ground-truth row
        // compares two random-crop passes over the test set.
        let other = try embedder.embed(motions: randomWindows(&d.rng))
        var out: [ProtocolMetric: Double] = [
            .top1: r.top[0], .top2: r.top[1], .top3: r.top[2], .mmDist: r.mmDist,
            .fid: try ProtocolMetrics.frechetDistance(d.windowEmbeddings, other),
            .diversity: try ProtocolMetrics.diversity(d.windowEmbeddings, times: settings.diversityTimes, seed: d.rng.next()),
        ]
        let q = try realQuality()
        out[.footSkating] = q.skating; out[.jitter] = q.jitter
        return out
    }

    private var cachedRealQuality: (skating: Double, jitter: Double)?
    /// Foot skating and jitter of the whole real clips (fixed across repeats).
    func realQuality() throws -> (skating: Double, jitter: Double) {
        if let q = cachedRealQuality { return q }
        let q = try motionQuality(clips.map(\.features))
        cachedRealQuality = q
        return q
    }

    // MARK: - Running a task

    /// Whether the model answered without motion tokens (a sample that counts as a failure).
    static func isNoMotion(_ error: Error) -> Bool {
        if case MotionGPTError.badInput(let m) = error, m.contains("without a motion") { return true }
        return false
    }

    /// Runs `task` with a text-to-motion model of another family (the Large Motion Model): only `gt`
    /// and `t2m`, scored exactly as a MotionGPT model's samples.
    public func run(_ task: ProtocolTask, generator: any TextToMotionGenerator, modelName: String = "model", progress: (String) -> Void = { _ in }) throws -> Result {
        guard task == .gt || task == .t2m else {
            throw EvaluationError.invalidValue(argument: "task", detail: "\(task.rawValue) needs a MotionGPT model; this model is evaluated on gt and t2m")
        }
        return try run(task, model: nil, generator: generator, modelName: modelName, progress: progress)
    }

    /// Runs `task` (`model` is required for every task but `gt`). `progress` gets one line at a time.
    public func run(_ task: ProtocolTask, model: MotionGPTModel?, modelName: String = "model", progress: (String) -> Void = { _ in }) throws -> Result {
        try run(task, model: model, generator: nil, modelName: modelName, progress: progress)
    }

    func run(_ task: ProtocolTask, model: MotionGPTModel?, generator: (any TextToMotionGenerator)?, modelName: String, progress: (String) -> Void) throws -> Result {
        if task != .gt && model == nil && !(task == .t2m && generator != nil) {
            throw EvaluationError.invalidValue(argument: "model", detail: "task \(task.rawValue) needs a model")
        }
        var real: [ProtocolMetric: [Double]] = [:], mine: [ProtocolMetric: [Double]] = [:]
        var notes: [String] = [], examples: [Example] = [], captions: [String: String] = [:]
        var pools = n / poolSize
        var failures = 0, attempts = 0
        var m2tEmbeddings: Tensor?
        if embedder.readsPartOfSpeech, clips.allSatisfy({ $0.taggedCaptions.allSatisfy { $0.tokens.allSatisfy { $0.hasSuffix("/X") } } }) {
            notes.append("the captions carry no part-of-speech tags (all X) and this evaluator reads them: its text embeddings, R-precision and MM-Dist are not meaningful on this data")
        }
        if task == .vq, let model {
            progress("vq: encoding and decoding \(n) clips")
            let r = try HeldOutEvaluation.reconstruction(model.motionTokenizer, clips: clips)
            mine[.mpjpe] = Array(repeating: r.mpjpe, count: settings.repeats)
            mine[.rootAlignedMPJPE] = Array(repeating: r.rootAlignedMPJPE, count: settings.repeats)
            notes.append("MPJPE is deterministic (encode + decode of the whole clips) and the same in every repeat")
        }
        if task == .m2t, let model {
            let c = try HeldOutEvaluation.captioning(model, clips: clips, options: settings.captioning)
            captions = c.captions
            let written = clips.map { MotionCaption(text: c.captions[$0.name] ?? "", tokens: captionTokens(c.captions[$0.name] ?? "").split(separator: " ").map { "\($0)/X" }, start: 0, end: 0) }
            m2tEmbeddings = try embedder.embed(captions: written)
            for (k, v) in [(ProtocolMetric.bleu1, c.bleu1), (.bleu4, c.bleu4), (.rougeL, c.rougeL), (.cider, c.cider)] { mine[k] = Array(repeating: v, count: settings.repeats) }
            notes.append("captions are greedy, hence the same in every repeat; BLEU/ROUGE-L/CIDEr score them against every whole-clip reference caption (pycocoevalcap's arithmetic)")
        }
        for r in 0..<settings.repeats {
            progress("\(task.rawValue): repeat \(r + 1)/\(settings.repeats): real motion")
            var d = try draw(repeat: r)
            for (k, v) in try realMetrics(&d) { real[k, default: []].append(v) }
            guard model != nil || generator != nil else { continue }
            var generated: [[Tensor]] = Array(repeating: [], count: n)
            var displacement: [DisplacementErrors] = []
            switch task {
            case .gt: break
            case .m2t:
                let x = try retrieval(texts: m2tEmbeddings!, motions: try clipEmbeddings(), rng: &d.rng)
                for (i, k) in [ProtocolMetric.top1, .top2, .top3].enumerated() { mine[k, default: []].append(x.top[i]) }
                mine[.mmDist, default: []].append(x.mmDist)
            case .vq:
                guard let model else { continue }
                progress("vq: repeat \(r + 1)/\(settings.repeats): reconstructing \(d.windows.count) windows")
                let rec = try d.windows.map { w -> Tensor in try model.motionTokenizer.decode(try model.motionTokenizer.encode(features: w)) }
                let e = try embedder.embed(motions: rec)
                mine[.fid, default: []].append(try ProtocolMetrics.frechetDistance(d.windowEmbeddings, e))
                mine[.diversity, default: []].append(try ProtocolMetrics.diversity(e, times: settings.diversityTimes, seed: d.rng.next()))
            case .t2m, .pred, .inbetween:
                for (i, clip) in clips.enumerated() {
                    // Another family's sampler draws all samples of a caption in one batch.
                    var batch: [Tensor] = []
                    if let generator {
                        progress("\(task.rawValue): repeat \(r + 1)/\(settings.repeats): samples \(i * perClip + 1)-\((i + 1) * perClip)/\(n * perClip)")
                        let seeds = (0..<perClip).map { settings.seed &* 1_000_003 &+ UInt64(r * 1_000_000 + i * 1000 + $0) }
                        batch = try generator.generateFeatures(d.captions[i].text, frames: clip.features.shape[0], seeds: seeds)
                        guard batch.count == perClip else {
                            throw EvaluationError.invalidValue(argument: "model", detail: "gave \(batch.count) samples for \(perClip) seeds")
                        }
                    }
                    for j in 0..<perClip {
                        let seed = settings.seed &* 1_000_003 &+ UInt64(r * 1_000_000 + i * 1000 + j)
                        attempts += 1
                        if generator == nil { progress("\(task.rawValue): repeat \(r + 1)/\(settings.repeats): sample \(i * perClip + j + 1)/\(n * perClip)") }
                        do {
                            let f: Tensor
                            if generator != nil {
                                f = batch[j]
                            } else if let model {
                                let codes: [Int]
                                switch task {
                                case .t2m:
                                    var o = settings.sampling; o.seed = seed
                                    codes = try model.generateMotion(d.captions[i].text, frames: clip.features.shape[0], options: o).codes[0]
                                case .pred:
                                    let s = try HeldOutEvaluation.predictionSample(model, clip: clip, seed: seed, options: settings.sampling)
                                    displacement.append(s.errors); codes = s.codes
                                default:
                                    let s = try HeldOutEvaluation.inbetweenSample(model, clip: clip, seed: seed, options: settings.sampling)
                                    displacement.append(s.errors); codes = s.codes
                                }
                                f = try model.motionTokenizer.decode(codes)
                            } else { continue }
                            guard f.shape[0] >= embedder.minimumFrames else { failures += 1; continue }
                            generated[i].append(f)
                        } catch where HeldOutEvaluation.isTooShort(error) || Self.isNoMotion(error) {
                            // The model answered without a motion, or too short a one: counted below.
                            failures += 1
                        }
                    }
                }
                let flat = generated.flatMap { $0 }
                guard flat.count >= 2 else { throw EvaluationError.invalidValue(argument: "model", detail: "produced \(flat.count) usable motions of \(n * perClip)") }
                let e = try embedder.embed(motions: flat)
                mine[.fid, default: []].append(try ProtocolMetrics.frechetDistance(d.windowEmbeddings, e))
                mine[.diversity, default: []].append(try ProtocolMetrics.diversity(e, times: settings.diversityTimes, seed: d.rng.next()))
                if task == .t2m {
                    // Per caption: its first usable sample for R-precision, all of them for MultiModality.
                    var firstRow: [Int] = [], groups: [Tensor] = [], row = 0, items: [Int] = []
                    for i in 0..<n {
                        if !generated[i].isEmpty { firstRow.append(row); items.append(i) }
                        if generated[i].count >= 2 { groups.append(e.slice(dim: 0, row, row + generated[i].count)) }
                        row += generated[i].count
                    }
                    let x = try retrieval(texts: d.captionEmbeddings.indexSelect(dim: 0, items), motions: e.indexSelect(dim: 0, firstRow), rng: &d.rng)
                    pools = x.pools
                    for (i, k) in [ProtocolMetric.top1, .top2, .top3].enumerated() { mine[k, default: []].append(x.top[i]) }
                    mine[.mmDist, default: []].append(x.mmDist)
                    mine[.multimodality, default: []].append(groups.isEmpty ? .nan : try ProtocolMetrics.multimodality(groups, times: settings.multimodalityTimes, seed: d.rng.next()))
                    let q = try motionQuality(flat)
                    mine[.footSkating, default: []].append(q.skating); mine[.jitter, default: []].append(q.jitter)
                } else {
                    let m = displacement.isEmpty ? (ade: Double.nan, fde: Double.nan) : try DisplacementErrors.mean(displacement)
                    mine[.ade, default: []].append(m.ade); mine[.fde, default: []].append(m.fde)
                }
                if r == 0 {
                    for i in 0..<min(settings.examples, n) {
                        examples.append(Example(caption: d.captions[i].text, real: try Motion(features: clips[i].features),
                                                generated: try generated[i].first.map { try Motion(features: $0) }))
                    }
                }
            }
        }
        if task == .t2m || task == .pred || task == .inbetween {
            notes.append("\(failures) of \(attempts) samples gave no usable motion (no motion tokens, or fewer than \(embedder.minimumFrames) frames) and are left out")
            notes.append("generated side: \(perClip) sample\(perClip == 1 ? "" : "s") per \(task == .t2m ? "caption" : "clip") with sampling; real side: \(perClip) random window\(perClip == 1 ? "" : "s") per clip")
        }
        if task == .t2m { notes.append("MultiModality: \(settings.multimodalityTimes) random pairs among the \(perClip) samples of each caption (the official protocol draws 30 samples of 100 texts)") }
        if task == .pred || task == .inbetween {
            notes.append(task == .pred ? "prediction: the first 20% of each clip given" : "in-between: the first and last 25% of each clip given"
                         + "; ADE/FDE in metres over the generated frames, MotionGPT's per-frame pose norm")
        }
        if examples.isEmpty && settings.examples > 0 {
            for i in 0..<min(settings.examples, n) { examples.append(Example(caption: clips[i].captions[0], real: try Motion(features: clips[i].features), generated: nil)) }
        }
        var rows = [ProtocolRow(name: "Real motion", metrics: real)]
        if task != .gt { rows.append(ProtocolRow(name: modelName, metrics: mine)) }
        let table = ProtocolTable(task: task.rawValue, data: data, split: split, clips: n, poolSize: poolSize, pools: pools,
                                  repeats: settings.repeats, seed: settings.seed, vectorsPerSide: n * perClip,
                                  evaluator: embedder.evaluatorName, columns: task.columns, rows: rows, notes: notes)
        return Result(table: table, examples: examples, captions: captions)
    }
}


/// A text-to-motion model of any family (the Large Motion Model's sampler), as the protocol evaluation
/// asks it for samples: one caption, the ground truth's length, one sample per seed (a sampler may draw
/// them in one batch).
public protocol TextToMotionGenerator {
    /// Raw (not normalised) HumanML3D features `[T, 263]` of one sample of `caption` with `frames` frames
    /// per seed, in the seeds' order.
    func generateFeatures(_ caption: String, frames: Int, seeds: [UInt64]) throws -> [Tensor]
}
