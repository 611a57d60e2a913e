import ArgumentParser
import Evaluation
import Foundation
import ModelHub
import MotionRender

/// `motiongpt evaluate`: the HumanML3D protocol's tables for a MotionGPT model on a split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The paper-style evaluation tables of a model on a HumanML3D-layout split (Real motion row, then the model's).",
        discussion: """
        --task gt: the real-motion row alone. t2m: text to motion at the ground-truth length, R-precision \
        top-1/2/3 and MM-Dist in pools of min(32, N), FID, Diversity, MultiModality (sampling), foot \
        skating, jitter. m2t: greedy captions, R-precision and MM-Dist of the written captions against \
        the real motions, BLEU-1/4, ROUGE-L, CIDEr. pred (first 20% given) and inbetween (first and \
        last 25% given): FID, Diversity, ADE, FDE. vq: tokenizer MPJPE and reconstruction FID. all: every \
        task but gt. Each number is the mean over --repeat draws with its 95% interval; every table says \
        its N, pool size and vectors per side. The learned evaluator is --evaluator DIR (a \
        motion-text-evaluator folder, or the official T2M evaluator's folder), else the bundled \
        Models/evaluator. Progress goes to standard error. A Large Motion Model folder (--model DIR of \
        model_type lmm) is scored on gt and t2m, the samples of a caption in one batch (--steps, \
        --guidance, --fps as generate).

        Example: motiongpt evaluate --task t2m --data Data/cmu-mocap-h3d --split test --repeat 3 --json t2m.json
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable { case gt, t2m, m2t, pred, inbetween, vq, all }

    @Option(name: .long, help: "gt, t2m, m2t, pred, inbetween, vq or all.") var task: Task = .all
    @Option(name: .long, help: "HumanML3D-layout folder.") var data: String
    @Option(name: .long, help: "Split to evaluate on (recipes choose checkpoints on val; evaluate on test).") var split: String = "test"
    @Option(name: .long, help: ArgumentHelp("Evaluator folder (default: the bundled Models/evaluator).", valueName: "dir")) var evaluator: String?
    @Option(name: .long, help: "Repeats of the random draws (windows, samples, pools).") var `repeat`: Int = 3
    @Option(name: .long, help: "Vectors wanted on each side of FID and Diversity.") var vectors: Int = 100
    @Option(name: .long, help: "Evaluate only the first N clips of the split (quick runs; the table says N).") var limit: Int?
    @Option(name: .long, help: "Also write the tables as JSON here.") var json: String?
    @Option(name: .long, help: "Also write a self-contained HTML page: tables, and real beside generated motion for a few captions.") var report: String?
    @Flag(name: .long, help: "Overwrite the JSON and report files.") var force = false
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var lmmOptions: LMMOptions

    func run() throws {
        guard (1...100).contains(self.repeat) else { throw UserError("--repeat must be between 1 and 100, got \(self.repeat)") }
        guard (2...100_000).contains(vectors) else { throw UserError("--vectors must be between 2 and 100000, got \(vectors)") }
        if let limit, limit < 2 { throw UserError("--limit must be at least 2, got \(limit)") }
        let jsonURL = try json.map { try checkOutput($0, force: force) }
        let reportURL = try report.map { try checkOutput($0, force: force) }
        let embedder = try loadEvaluator()
        var clips = try HeldOutEvaluation.clips(URL(fileURLWithPath: data), split: split)
        if let limit { clips = Array(clips.prefix(limit)) }
        var tasks: [ProtocolTask] = task == .all ? [.t2m, .m2t, .pred, .inbetween, .vq] : [ProtocolTask(rawValue: task.rawValue)!]
        let needsModel = tasks != [.gt]
        let dir = needsModel ? try model.url() : nil
        // A Large Motion Model folder is scored on text to motion (its other tasks have no protocol row here).
        let lmm = try dir.flatMap { isLMMFolder($0) ? try loadLMM($0) : nil }
        if lmm != nil {
            try sampling.refuseForLMM()
            if task == .all { tasks = [.t2m] }
            guard tasks.allSatisfy({ $0 == .t2m || $0 == .gt }) else {
                throw UserError("--task \(task.rawValue) needs a MotionGPT model; a Large Motion Model folder is evaluated on gt and t2m")
            }
        } else if let dir { try lmmOptions.refuse(for: dir) }
        let m = try lmm == nil ? dir.map { try model.loadMotionGPT(at: $0) } : nil
        let generator = try lmm.map { LMMTextToMotion(model: $0.model, options: try lmmOptions.sampling(seed: sampling.seed)) }

        var settings = ProtocolEvaluation.Settings()
        settings.repeats = self.repeat
        settings.seed = sampling.seed
        settings.minimumVectors = vectors
        settings.sampling = try sampling.generation(sampleByDefault: true)
        guard lmm != nil || settings.sampling.doSample else { throw UserError("evaluate samples (MultiModality and the repeats need it): drop --greedy and --beams") }
        settings.examples = reportURL == nil ? 0 : 4
        let evaluation = try ProtocolEvaluation(embedder: embedder, clips: clips, data: data, split: split, settings: settings)

        var tables: [ProtocolTable] = [], pages: [String] = []
        // A terminal gets one line rewritten in place; a log gets a line every few seconds.
        let terminal = isatty(2) != 0
        var lastLine = Date.distantPast
        for t in tasks {
            let progress: (String) -> Void = { line in
                if terminal { FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8)) }
                else if Date().timeIntervalSince(lastLine) >= 5 { lastLine = Date(); FileHandle.standardError.write(Data((line + "\n").utf8)) }
            }
            let r = try generator.map { g in
                try evaluation.run(t, generator: g, modelName: dir.map { "LMM (\($0.lastPathComponent), \(g.options.steps) DDIM steps)" } ?? "model", progress: progress)
            } ?? evaluation.run(t, model: m, modelName: dir.map { "MotionGPT (\($0.lastPathComponent))" } ?? "model", progress: progress)
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            print("== \(t.rawValue) ==")
            print(r.table.formatted())
            for (name, text) in r.captions.sorted(by: { $0.key < $1.key }) { print("  \(name): \(text)") }
            print()
            tables.append(r.table)
            if reportURL != nil { pages.append(ProtocolReport.section(r.table, examples: r.examples.map { ($0.caption, $0.real, $0.generated) })) }
        }
        if let jsonURL {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let body = ProtocolReport.JSONBody(model: dir?.path, evaluator: embedder.evaluatorName, tables: tables)
            try enc.encode(body).write(to: jsonURL, options: .atomic)
            print("wrote \(jsonURL.path)")
        }
        if let reportURL {
            try Data(ProtocolReport.page(title: "motiongpt evaluate: \(data) (\(split))", sections: pages).utf8).write(to: reportURL, options: .atomic)
            print("wrote \(reportURL.path)")
        }
    }

    /// The evaluator: a model folder with `config.json` through the registry, else the official T2M
    /// evaluator's layout.
    func loadEvaluator() throws -> MotionTextEmbedder {
        let url: URL
        do { url = try ModelLocator.resolve(evaluator, bundled: "evaluator", environment: [:]) }
        catch let e as ModelHubError { throw UserError("\(e.description); pass --evaluator DIR") }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) {
            let loaded = try ModelHub.load(url)
            guard let e = loaded.model as? MotionTextEmbedder else {
                throw UserError("\(url.path) holds a \(loaded.family.modelType) model, not an evaluator (motion-text-evaluator, or the official T2M evaluator's folder)")
            }
            return e
        }
        return try T2MEvaluator(folder: url)
    }
}
