import ArgumentParser
import Evaluation
import Foundation
import MotionData
import TensorEngine

/// `motiongpt metric`: one metric on files, the number on standard output. The learned evaluators make
/// the embeddings (`evaluate`); these commands only score them, so any evaluator's `.npy` output works.
struct Metric: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute one metric from files: FID, Diversity, MultiModality, R-precision, BLEU, ROUGE-L, CIDEr, foot skating, jitter.",
        discussion: """
        Embeddings are .npy files of shape [N, D] (any float dtype, read as float32), one row per motion or text. Each \
        command prints its number (several numbers space-separated on one line) on standard output; notes \
        go to standard error.

        Example: motiongpt metric fid gt_motions.npy generated_motions.npy
        """,
        subcommands: [MetricFID.self, MetricDiversity.self, MetricMultimodality.self, MetricRPrecision.self,
                      MetricBleu.self, MetricRouge.self, MetricCider.self, MetricSkating.self, MetricJitter.self])
}

struct MetricFID: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fid",
        abstract: "Fréchet distance between two sets of embeddings.",
        discussion: """
        |mu_A - mu_B|^2 + Tr(S_A + S_B - 2 (S_A S_B)^(1/2)) with numpy's covariance (N - 1), as the \
        T2M/MotionGPT code; A and B may have different row counts (at least 2 each), not widths.

        Example: motiongpt metric fid gt_motions.npy generated_motions.npy
        """)

    @Argument(help: "Embeddings [N, D] (.npy).") var a: String
    @Argument(help: "Embeddings [M, D] (.npy).") var b: String

    func run() throws {
        let x = try readEmbeddings(a), y = try readEmbeddings(b)
        print(try metricCall(["a": a, "b": b]) { try ProtocolMetrics.frechetDistance(x, y) })
    }
}

struct MetricDiversity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diversity",
        abstract: "Mean distance between random pairs of embeddings.",
        discussion: """
        --times pairs, each of two rows drawn uniformly and independently from --seed (the official code \
        draws without replacement and needs more rows than pairs; each pair has the same distribution).

        Example: motiongpt metric diversity generated_motions.npy --times 300 --seed 1
        """)

    @Argument(help: "Embeddings [N, D] (.npy).") var embeddings: String
    @Option(name: .long, help: "Pairs to draw.") var times: Int = 300
    @Option(name: .long, help: "Seed for the pairs.") var seed: UInt64 = 0

    func run() throws {
        let x = try readEmbeddings(embeddings)
        print(try metricCall(["x": embeddings, "times": "--times"]) { try ProtocolMetrics.diversity(x, times: times, seed: seed) })
    }
}

struct MetricMultimodality: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multimodality",
        abstract: "Mean distance between motions generated for the same text.",
        discussion: """
        The .npy holds [T, S, D]: T texts, S generated motions each (S >= 2), D wide, the official \
        layout; --times pairs per text drawn from --seed, averaged over texts.

        Example: motiongpt metric multimodality mm_motions.npy --times 10 --seed 1
        """)

    @Argument(help: "Embeddings [T, S, D] (.npy).") var embeddings: String
    @Option(name: .long, help: "Pairs per text.") var times: Int = 10
    @Option(name: .long, help: "Seed for the pairs.") var seed: UInt64 = 0

    func run() throws {
        let x = try readNpyFile(embeddings)
        guard x.rank == 3, x.shape.allSatisfy({ $0 > 0 }) else {
            throw UserError("\(embeddings): embeddings must be [texts, samples, D], got \(x.shape)")
        }
        let (t, s, d) = (x.shape[0], x.shape[1], x.shape[2]), v = x.scalars
        let groups = (0..<t).map { Tensor(Array(v[(($0 * s) * d)..<((($0 + 1) * s) * d)]), shape: [s, d]) }
        var names = ["times": "--times"]
        for i in 0..<t { names["groups[\(i)]"] = "\(embeddings) text \(i)" }
        print(try metricCall(names) { try ProtocolMetrics.multimodality(groups, times: times, seed: seed) })
    }
}

struct MetricRPrecision: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rprecision",
        abstract: "R-precision (top 1..k) and MM-Dist of matched text and motion embeddings.",
        discussion: """
        Row i of TEXTS belongs with row i of MOTIONS. The rows are shuffled from --seed and cut into pools \
        of --pool (all rows when fewer); the rest is dropped, as the official loader does. Prints the top-1 \
        ... top-k shares and MM-Dist on one line; the pools used go to standard error. With fewer than 32 \
        rows in a pool, chance is higher than in published tables.

        Example: motiongpt metric rprecision texts.npy motions.npy --pool 32 --seed 1
        """)

    @Argument(help: "Text embeddings [N, D] (.npy).") var texts: String
    @Argument(help: "Motion embeddings [N, D] (.npy).") var motions: String
    @Option(name: .long, help: "Rows per pool.") var pool: Int = 32
    @Option(name: .long, help: "Largest k of top-k.") var topK: Int = 3
    @Option(name: .long, help: "Seed for the shuffle.") var seed: UInt64 = 0

    func run() throws {
        let t = try readEmbeddings(texts), m = try readEmbeddings(motions)
        let r = try metricCall(["texts": texts, "motions": motions, "poolSize": "--pool", "topK": "--top-k"]) {
            try ProtocolMetrics.rPrecisionPools(texts: t, motions: m, poolSize: pool, topK: topK, seed: seed)
        }
        let n = t.shape[0]
        warn("rprecision: \(r.pools) pool\(r.pools == 1 ? "" : "s") of \(r.poolSize) rows, \(n - r.pools * r.poolSize) of \(n) rows dropped; printed: top-1..top-\(topK), MM-Dist")
        print((r.topK + [r.mmDist]).map { "\($0)" }.joined(separator: " "))
    }
}

/// `--hyp` and `--ref` for the caption metrics.
struct CaptionFiles: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Candidate captions, one per line.", valueName: "file")) var hyp: String
    @Option(name: .long, help: ArgumentHelp("References, one per line aligned with --hyp; repeat for more references per item.", valueName: "file"))
    var ref: [String] = []

    /// Candidates and references as the scorers take them (`captionTokens` of each line).
    ///
    /// Line `i` of the hypothesis file is item `i`'s candidate; line `i` of every reference file is one of
    /// its references, and an empty line there means that file has no reference for the item (so items may
    /// have different numbers of references). Every file must have as many lines as the hypothesis file;
    /// a final newline does not start a line, and `\r\n` endings are accepted.
    func corpus() throws -> (candidates: [String], references: [[String]]) {
        guard !ref.isEmpty else { throw UserError("no references: pass --ref FILE (once per reference of each item)") }
        let hyps = try lines(hyp)
        guard !hyps.isEmpty else { throw UserError("\(hyp): no captions") }
        var references = [[String]](repeating: [], count: hyps.count)
        for file in ref {
            let r = try lines(file)
            guard r.count == hyps.count else { throw UserError("\(file): \(r.count) lines, \(hyp) has \(hyps.count)") }
            for (i, line) in r.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty { references[i].append(captionTokens(line)) }
        }
        if let i = references.firstIndex(where: { $0.isEmpty }) {
            throw UserError("line \(i + 1) of \(hyp) has no reference (every --ref file's line \(i + 1) is empty)")
        }
        return (hyps.map(captionTokens), references)
    }

    private func lines(_ path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { throw UserError("\(path): no such file") }
        guard let text = String(data: try Data(contentsOf: URL(fileURLWithPath: path)), encoding: .utf8) else {
            throw UserError("\(path): not UTF-8 text")
        }
        var l = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        if l.last == "" { l.removeLast() }
        return l
    }
}

struct MetricBleu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bleu",
        abstract: "Corpus BLEU-1..4 of captions (pycocoevalcap's scorer).",
        discussion: """
        Captions are tokenised PTB-style (lower case, punctuation dropped) as pycocoevalcap's wrapper \
        does. Prints BLEU-1 to BLEU-4 on one line. Line i of --hyp is scored against line i of every --ref \
        file (an empty line: no reference from that file).

        Example: motiongpt metric bleu --hyp captions.txt --ref refs1.txt --ref refs2.txt
        """)

    @OptionGroup var files: CaptionFiles

    func run() throws {
        let c = try files.corpus()
        print(try metricCall([:]) { try bleu(candidates: c.candidates, references: c.references) }.corpus.map { "\($0)" }.joined(separator: " "))
    }
}

struct MetricRouge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rouge",
        abstract: "Corpus ROUGE-L of captions (pycocoevalcap's scorer).",
        discussion: """
        Same files and tokenisation as bleu.

        Example: motiongpt metric rouge --hyp captions.txt --ref refs1.txt --ref refs2.txt
        """)

    @OptionGroup var files: CaptionFiles

    func run() throws {
        let c = try files.corpus()
        print(try metricCall([:]) { try rougeL(candidates: c.candidates, references: c.references) }.corpus)
    }
}

struct MetricCider: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cider",
        abstract: "Corpus CIDEr(-D) of captions (pycocoevalcap's scorer).",
        discussion: """
        Same files and tokenisation as bleu. Document frequencies come from the given references only, \
        so the score depends on the whole corpus (a one-line corpus scores 0).

        Example: motiongpt metric cider --hyp captions.txt --ref refs1.txt --ref refs2.txt
        """)

    @OptionGroup var files: CaptionFiles

    func run() throws {
        let c = try files.corpus()
        print(try metricCall([:]) { try cider(candidates: c.candidates, references: c.references) }.corpus)
    }
}

struct MetricSkating: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skating",
        abstract: "Foot-skating ratio of a motion (guided-motion-diffusion's definition).",
        discussion: """
        The share of frame steps in which a foot (HumanML3D joints 10 and 11) is below 5 cm in both frames \
        and moves faster than 0.5 m/s horizontally, on its own and averaged over 5 steps. The motion is \
        .npy joints [T, 22, 3] (20 fps), .bvh or .json, in metres with y up and the floor at 0.

        Example: motiongpt metric skating walk.bvh
        """)

    @Argument(help: "Motion file (.npy, .bvh, .json).") var motion: String

    func run() throws {
        let m = try readMotion(motion)
        guard m.skeleton.jointCount == 22 else {
            throw UserError("\(motion): \(m.skeleton.jointCount) joints; foot skating reads HumanML3D's 22-joint feet (10, 11)")
        }
        print(try metricCall(["positions": motion]) { try ProtocolMetrics.footSkating(m) })
    }
}

struct MetricJitter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitter",
        abstract: "Mean jerk magnitude of a motion's joints, m/s^3 (AGRoL's jitter).",
        discussion: """
        The third finite difference of every joint's position times fps^3, its length averaged over frames \
        and joints. The motion is .npy joints [T, J, 3] (20 fps), .bvh or .json, in metres.

        Example: motiongpt metric jitter walk.bvh
        """)

    @Argument(help: "Motion file (.npy, .bvh, .json).") var motion: String

    func run() throws {
        let m = try readMotion(motion)
        print(try metricCall(["positions": motion]) { try ProtocolMetrics.jitter(m) })
    }
}

/// A `.npy` file as a tensor, with one-line errors naming the file.
private func readNpyFile(_ path: String) throws -> Tensor {
    guard FileManager.default.fileExists(atPath: path) else { throw UserError("\(path): no such file") }
    guard path.lowercased().hasSuffix(".npy") else { throw UserError("\(path): embeddings must be a .npy file") }
    return try readNpy(URL(fileURLWithPath: path))
}

/// A `.npy` file of embeddings `[N, D]`.
private func readEmbeddings(_ path: String) throws -> Tensor {
    let t = try readNpyFile(path)
    guard t.rank == 2 else { throw UserError("\(path): embeddings must be [N, D], got \(t.shape)") }
    return t
}

/// Runs a library metric; its errors name arguments (`a`, `texts`, `poolSize`), which become the file or
/// flag the user gave (`names`), so the one line says what to fix.
private func metricCall<T>(_ names: [String: String], _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as EvaluationError {
        func name(_ a: String) -> String { names[a] ?? a }
        switch e {
        case .empty(let a): throw UserError(EvaluationError.empty(argument: name(a)).description)
        case .countMismatch(let a, let x, let g):
            if a == "motions" { throw UserError("\(name(a)) has \(g) rows, \(name("texts")) has \(x)") }
            throw UserError(EvaluationError.countMismatch(argument: name(a), expected: x, got: g).description)
        case .shapeMismatch(let a, var d):
            // The detail names the other argument too ("..., a has 2").
            for (k, v) in names { d = d.replacingOccurrences(of: ", \(k) has", with: ", \(v) has").replacingOccurrences(of: ", \(k) have", with: ", \(v) has") }
            throw UserError(EvaluationError.shapeMismatch(argument: name(a), detail: d).description)
        case .invalidValue(let a, let d): throw UserError(EvaluationError.invalidValue(argument: name(a), detail: d).description)
        }
    }
}
