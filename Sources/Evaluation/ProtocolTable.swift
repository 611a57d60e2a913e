import Foundation

/// One number measured over the repeats of an evaluation: the mean and the 95% interval
/// `1.96 * sigma / sqrt(R)`, with sigma the population standard deviation (`np.std`, ddof 0), as the
/// official T2M evaluation's `get_metric_statistics` computes it.
public struct RepeatedMetric: Codable, Sendable, Equatable {
    public var mean: Double
    public var interval: Double
    /// The value of every repeat, in order.
    public var values: [Double]

    public init(_ values: [Double]) {
        self.values = values
        let n = Double(max(values.count, 1))
        let mean = values.reduce(0, +) / n
        self.mean = mean
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
        interval = values.count > 1 ? 1.96 * variance.squareRoot() / n.squareRoot() : 0
    }
}

/// The metrics of the protocol, in the order tables print them. Raw values are the JSON keys.
public enum ProtocolMetric: String, Codable, Sendable, CaseIterable {
    case top1, top2, top3, fid, mmDist = "mm_dist", diversity, multimodality
    case bleu1, bleu4, rougeL = "rouge_l", cider
    case ade, fde, mpjpe = "mpjpe_mm", rootAlignedMPJPE = "mpjpe_root_aligned_mm"
    case footSkating = "foot_skating", jitter

    /// Column heading, with the direction that is better (as the papers' tables mark it).
    public var heading: String {
        switch self {
        case .top1: return "Top-1 ↑"
        case .top2: return "Top-2 ↑"
        case .top3: return "Top-3 ↑"
        case .fid: return "FID ↓"
        case .mmDist: return "MM-Dist ↓"
        case .diversity: return "Diversity →"
        case .multimodality: return "MModality ↑"
        case .bleu1: return "BLEU-1 ↑"
        case .bleu4: return "BLEU-4 ↑"
        case .rougeL: return "ROUGE-L ↑"
        case .cider: return "CIDEr ↑"
        case .ade: return "ADE ↓"
        case .fde: return "FDE ↓"
        case .mpjpe: return "MPJPE mm ↓"
        case .rootAlignedMPJPE: return "MPJPE-RA mm ↓"
        case .footSkating: return "Skate ↓"
        case .jitter: return "Jitter ↓"
        }
    }
}

/// One row of a table: "Real motion" or the model's, each metric over the repeats.
public struct ProtocolRow: Codable, Sendable {
    public var name: String
    public var metrics: [String: RepeatedMetric]

    public init(name: String, metrics: [ProtocolMetric: [Double]]) {
        self.name = name
        self.metrics = Dictionary(uniqueKeysWithValues: metrics.map { ($0.key.rawValue, RepeatedMetric($0.value)) })
    }

    public subscript(_ m: ProtocolMetric) -> RepeatedMetric? { metrics[m.rawValue] }
}

/// A paper-style table: its rows, the columns of its task, and every count a reader needs to judge
/// it (clips N, pool size, vectors per side of FID/Diversity, repeats, evaluator).
public struct ProtocolTable: Codable, Sendable {
    public var task: String
    public var data: String
    public var split: String
    /// Clips of the split that took part.
    public var clips: Int
    /// R-precision pool size used: min(32, N).
    public var poolSize: Int
    /// Pools per repeat (the remainder of a shuffled split is dropped, as the official loader's
    /// `drop_last` does).
    public var pools: Int
    public var repeats: Int
    public var seed: UInt64
    /// Embeddings on each side of FID and Diversity, per repeat.
    public var vectorsPerSide: Int
    public var evaluator: String
    public var columns: [ProtocolMetric]
    public var rows: [ProtocolRow]
    /// What the numbers mean and where they depart from the papers' protocol.
    public var notes: [String]

    /// The table as text: rows of `mean ±interval`, then the counts and notes.
    public func formatted() -> String {
        let name = max(12, rows.map(\.name.count).max() ?? 0)
        let width = 17
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var lines = [pad("", name) + "  " + columns.map { pad($0.heading, width) }.joined()]
        for r in rows {
            let cells = columns.map { m -> String in
                guard let v = r[m], v.mean.isFinite else { return pad("-", width) }
                let digits = (m == .mpjpe || m == .rootAlignedMPJPE) ? 1 : 3
                return pad(String(format: "%.\(digits)f", v.mean) + (repeats > 1 ? String(format: " ±%.\(digits)f", v.interval) : ""), width)
            }
            lines.append(pad(r.name, name) + "  " + cells.joined())
        }
        lines.append("N = \(clips) clips of \(data) (\(split) split); R-precision pools of \(poolSize) (\(pools) per repeat); "
                     + "FID/Diversity over \(vectorsPerSide) vectors a side; \(repeats) repeat\(repeats == 1 ? "" : "s") from seed \(seed), ± is the 95% interval; evaluator: \(evaluator)")
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }
}
