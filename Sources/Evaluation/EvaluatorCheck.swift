import Foundation
import MotionData
import TensorEngine

/// Held-out checks of a learned evaluator (`MotionTextEmbedder`) on real motion: does a caption
/// find its own clip among the others? These are the numbers of `Models/evaluator/README.md` and of
/// `MotionTextEvaluatorTests`, computed one way in one place.
///
/// Retrieval follows the HumanML3D protocol's arithmetic on one pool: row `i` of the texts is
/// matched with row `i` of the motions; R-precision top-k is the fraction of texts whose motion is
/// among the k nearest motions of the pool (Euclidean distance, ranked as `ProtocolMetrics.rPrecision` ranks);
/// MM-Dist is the mean distance of the matched pairs. The pool is the whole set (N clips), so chance
/// for top-k is k/N.
public enum EvaluatorCheck {
    /// Retrieval numbers of one pool, or their mean over several caption draws or shuffles.
    public struct Retrieval: Codable, Equatable, Sendable {
        /// R-precision top-1, top-2, ... top-k.
        public var topK: [Double]
        /// Mean Euclidean distance of matched text and motion embeddings.
        public var mmDist: Double
        /// Clips in the pool.
        public var pool: Int
        /// How many pools were averaged (caption draws, times shuffles for a control).
        public var samples: Int
    }

    /// Retrieval of texts `[N, D]` against motions `[N, D]`, row `i` with row `i`.
    public static func retrieval(texts: Tensor, motions: Tensor, topK: Int = 3) throws -> Retrieval {
        guard texts.rank == 2, motions.rank == 2, texts.shape[1] == motions.shape[1] else {
            throw EvaluationError.shapeMismatch(argument: "texts, motions", detail: "expected [N, D] each, got \(texts.shape) and \(motions.shape)")
        }
        let n = texts.shape[0], d = texts.shape[1]
        guard n > 0 else { throw EvaluationError.empty(argument: "texts") }
        guard motions.shape[0] == n else { throw EvaluationError.countMismatch(argument: "motions", expected: n, got: motions.shape[0]) }
        guard topK > 0 else { throw EvaluationError.invalidValue(argument: "topK", detail: "must be positive, got \(topK)") }
        // One pool, the protocol's arithmetic (ProtocolMetrics: ranks as a stable argsort, MM-Dist).
        let top = try ProtocolMetrics.rPrecision(texts: texts, motions: motions, topK: min(topK, n))
        let padded = top + Array(repeating: 1.0, count: topK - top.count)
        return Retrieval(topK: padded, mmDist: try ProtocolMetrics.matchingScore(texts: texts, motions: motions), pool: n, samples: 1)
    }

    /// The element-wise mean of retrievals over pools of one size.
    public static func mean(_ rs: [Retrieval]) -> Retrieval {
        guard let first = rs.first else { return Retrieval(topK: [], mmDist: .nan, pool: 0, samples: 0) }
        let n = Double(rs.count)
        return Retrieval(topK: first.topK.indices.map { k in rs.reduce(0) { $0 + $1.topK[k] } / n },
                         mmDist: rs.reduce(0) { $0 + $1.mmDist } / n, pool: first.pool, samples: rs.reduce(0) { $0 + $1.samples })
    }

    /// Chance R-precision top-1 ... top-k in a pool of `n`: k/n.
    public static func chance(pool n: Int, topK: Int = 3) -> [Double] { (1...topK).map { min(1, Double($0) / Double(n)) } }

    // MARK: Real motion of a split

    /// A held-out split's numbers: matched captions, one per clip, and the shuffled-caption control.
    public struct HeldOutReport: Codable, Sendable {
        public var clips: [String]
        /// Each clip with its first whole-clip caption.
        public var firstCaption: Retrieval
        /// Mean over `captionDraws` draws of one whole-clip caption per clip, uniformly among its own.
        public var matched: Retrieval
        /// The control: the same draws with the captions permuted among the clips (`shuffles` seeded
        /// permutations per draw), so a text meets a random clip's motion. A perfect evaluator with
        /// distinct captions scores chance here.
        public var shuffled: Retrieval
        public var chance: [Double]
        public var captionDraws: Int
        public var shuffles: Int
    }

    /// Retrieval on `clips` (each with its whole-clip captions), pool = all of them.
    public static func heldOut(_ evaluator: MotionTextEmbedder, clips: [HeldOutEvaluation.Clip], captionDraws: Int = 20,
                               shuffles: Int = 50, seed: UInt64 = 1, topK: Int = 3) throws -> HeldOutReport {
        guard !clips.isEmpty else { throw EvaluationError.empty(argument: "clips") }
        guard captionDraws > 0, shuffles > 0 else { throw EvaluationError.invalidValue(argument: "captionDraws, shuffles", detail: "must be positive") }
        if let c = clips.first(where: { $0.captions.isEmpty }) {
            throw EvaluationError.empty(argument: "captions of clip \(c.name)")
        }
        let motions = try evaluator.embed(motions: clips.map(\.features))                       // [N, D]
        // Every caption embedded once; a draw picks rows of this table.
        var texts: [String] = [], rowOf: [String: Int] = [:]
        for c in clips { for t in c.captions where rowOf[t] == nil { rowOf[t] = texts.count; texts.append(t) } }
        let table = try evaluator.embed(captions: texts.map { MotionCaption(text: $0, tokens: [], start: 0, end: 0) })   // [U, D]
        func rows(_ captions: [String]) -> Tensor { table.indexSelect(dim: 0, captions.map { rowOf[$0]! }) }

        let first = try retrieval(texts: rows(clips.map { $0.captions[0] }), motions: motions, topK: topK)
        var rng = SeededRNG(seed: seed)
        var matched: [Retrieval] = [], shuffled: [Retrieval] = []
        for _ in 0..<captionDraws {
            let drawn = clips.map { $0.captions[rng.nextInt($0.captions.count)] }
            matched.append(try retrieval(texts: rows(drawn), motions: motions, topK: topK))
            for _ in 0..<shuffles {
                var order = Array(drawn.indices)
                order.shuffle(using: &rng)
                shuffled.append(try retrieval(texts: rows(order.map { drawn[$0] }), motions: motions, topK: topK))
            }
        }
        return HeldOutReport(clips: clips.map(\.name), firstCaption: first, matched: mean(matched), shuffled: mean(shuffled),
                             chance: chance(pool: clips.count, topK: topK), captionDraws: captionDraws, shuffles: shuffles)
    }

    // MARK: Rephrased captions

    /// A caption written for a held-out clip in other words than the dataset's.
    public struct RephrasedCaption: Codable, Equatable, Sendable {
        /// Clip id (`new_joint_vecs/<clip>.npy`).
        public var clip: String
        /// The split the clip is in (never `train`).
        public var split: String
        public var caption: String
    }

    /// A file of rephrased captions: `{"note": "...", "captions": [{"clip", "split", "caption"}]}`.
    public struct RephrasedFile: Codable, Sendable {
        public var note: String?
        public var captions: [RephrasedCaption]

        public static func read(_ url: URL) throws -> RephrasedFile {
            guard let data = FileManager.default.contents(atPath: url.path) else { throw DatasetError.missingFile(url.path) }
            do { return try JSONDecoder().decode(RephrasedFile.self, from: data) }
            catch { throw DatasetError.corruptFile(url.path, "not a rephrased-caption file (\(error))") }
        }
    }

    /// Rephrased captions against their clips, beside the same clips with their own first caption and
    /// the shuffled control; and how many of the rephrasings' words the training captions lack.
    public struct RephrasedReport: Codable, Sendable {
        public var clips: [String]
        public var rephrased: Retrieval
        /// The same clips, each with its first whole-clip caption from the dataset.
        public var original: Retrieval
        /// Rephrased captions permuted among the clips (`shuffles` seeded permutations).
        public var shuffled: Retrieval
        public var chance: [Double]
        /// Distinct words of the rephrased captions, and those no training caption has.
        public var words: Int
        public var unseenWords: [String]
    }

    /// Runs the rephrased captions of `file` against their clips in `data` (a HumanML3D-layout
    /// folder); `vocabulary` is the training captions' words (`trainingVocabulary`).
    public static func rephrased(_ evaluator: MotionTextEmbedder, captions: [RephrasedCaption], data: URL, vocabulary: Set<String>,
                                 shuffles: Int = 200, seed: UInt64 = 1, topK: Int = 3) throws -> RephrasedReport {
        guard !captions.isEmpty else { throw EvaluationError.empty(argument: "captions") }
        var bySplit: [String: [String: HeldOutEvaluation.Clip]] = [:]
        var clips: [HeldOutEvaluation.Clip] = []
        for c in captions {
            guard c.split != "train" else { throw EvaluationError.invalidValue(argument: "captions", detail: "clip \(c.clip) is a training clip") }
            if bySplit[c.split] == nil {
                bySplit[c.split] = Dictionary(try HeldOutEvaluation.clips(data, split: c.split).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            }
            guard let clip = bySplit[c.split]?[c.clip] else {
                throw EvaluationError.invalidValue(argument: "captions", detail: "no clip \(c.clip) with a whole-clip caption in the \(c.split) split of \(data.path)")
            }
            clips.append(clip)
        }
        let motions = try evaluator.embed(motions: clips.map(\.features))
        let asCaptions = { (texts: [String]) in texts.map { MotionCaption(text: $0, tokens: [], start: 0, end: 0) } }
        let rephrasedTexts = try evaluator.embed(captions: asCaptions(captions.map(\.caption)))
        let originalTexts = try evaluator.embed(captions: asCaptions(clips.map { $0.captions[0] }))
        var rng = SeededRNG(seed: seed)
        var shuffled: [Retrieval] = []
        for _ in 0..<max(1, shuffles) {
            var order = Array(captions.indices)
            order.shuffle(using: &rng)
            shuffled.append(try retrieval(texts: rephrasedTexts.indexSelect(dim: 0, order), motions: motions, topK: topK))
        }
        let words = Set(captions.flatMap { Self.words($0.caption) })
        return RephrasedReport(clips: clips.map(\.name), rephrased: try retrieval(texts: rephrasedTexts, motions: motions, topK: topK),
                               original: try retrieval(texts: originalTexts, motions: motions, topK: topK), shuffled: mean(shuffled),
                               chance: chance(pool: clips.count, topK: topK), words: words.count, unseenWords: words.subtracting(vocabulary).sorted())
    }

    // MARK: Words

    /// Lower-cased runs of letters and digits: the unit of "a word the training captions lack".
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// The words of every caption (whole-clip and sub-range) of the clips of `split` in `data`.
    public static func trainingVocabulary(_ data: URL, split: String = "train") throws -> Set<String> {
        var out = Set<String>()
        for id in try MotionDataset.readSplit(data.appendingPathComponent("\(split).txt")) {
            let url = data.appendingPathComponent("texts/\(id).txt")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            for c in try MotionDataset.readCaptions(url) { out.formUnion(words(c.text)) }
        }
        return out
    }
}
