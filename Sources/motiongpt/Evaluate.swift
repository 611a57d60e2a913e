import ArgumentParser
import Evaluation
import Foundation
import ModelHub

/// `motiongpt evaluate`: held-out numbers of a MotionGPT model that need no learned evaluator.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Held-out numbers of a model on a HumanML3D-layout split: tokenizer MPJPE, captioning BLEU/ROUGE-L/CIDEr, prediction and in-between ADE/FDE.",
        discussion: """
        --task vq: root-aligned and plain MPJPE (mm) of encode+decode over whole clips. m2t: greedy captions \\
        against every reference caption of a clip (pycocoevalcap's BLEU, ROUGE-L, CIDEr on PTB-like tokens). \\
        pred: the first 20% given; inbetween: the first and last 25% given; ADE/FDE in metres over the \\
        generated frames, --seeds samples per clip. Text-to-motion R-precision, FID, MM-Dist and Diversity \\
        need the T2M evaluator and are not computed by this command. Every table says its N.

        Example: motiongpt evaluate --task all --data Data/cmu-mocap-h3d --split test --json test.json
        """)

    enum Task: String, ExpressibleByArgument, CaseIterable { case vq, m2t, pred, inbetween, all }

    @Option(name: .long, help: "vq, m2t, pred, inbetween or all.") var task: Task = .all
    @Option(name: .long, help: "HumanML3D-layout folder.") var data: String
    @Option(name: .long, help: "Split to evaluate on.") var split: String = "test"
    @Option(name: .long, help: "Samples per clip for pred and inbetween.") var seeds: Int = 3
    @Option(name: .long, help: "Also write the numbers as JSON here.") var json: String?
    @Flag(name: .long, help: "Overwrite the JSON file.") var force = false
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        guard (1...100).contains(seeds) else { throw UserError("--seeds must be between 1 and 100, got \(seeds)") }
        if let json, !force, FileManager.default.fileExists(atPath: json) { throw UserError("\(json) already exists (use --force to overwrite)") }
        let dir = try model.url()
        let m = try model.loadMotionGPT(at: dir)
        let clips = try HeldOutEvaluation.clips(URL(fileURLWithPath: data), split: split)
        print("\(clips.count) clips of \(data) (\(split) split), model \(dir.path)")
        var out: [String: Any] = ["data": data, "split": split, "clips": clips.count]
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        func record<T: Encodable>(_ key: String, _ v: T) throws { out[key] = try JSONSerialization.jsonObject(with: enc.encode(v)) }
        if task == .vq || task == .all {
            let r = try HeldOutEvaluation.reconstruction(m.motionTokenizer, clips: clips)
            print(String(format: "tokenizer  MPJPE %.1f mm (root-aligned), %.1f mm (global)   N = %d clips, %d frames", r.rootAlignedMPJPE, r.mpjpe, r.clips, r.frames))
            try record("vq", r)
        }
        if task == .m2t || task == .all {
            let r = try HeldOutEvaluation.captioning(m, clips: clips, options: try sampling.generation(sampleByDefault: false, maxTokens: 64))
            print(String(format: "captions   BLEU-1 %.3f  BLEU-4 %.3f  ROUGE-L %.3f  CIDEr %.3f   N = %d clips", r.bleu1, r.bleu4, r.rougeL, r.cider, r.clips))
            for (name, text) in r.captions.sorted(by: { $0.key < $1.key }) { print("  \(name): \(text)") }
            try record("m2t", r)
        }
        let seedList = (0..<seeds).map { UInt64($0 + 1) }
        if task == .pred || task == .all {
            let r = try HeldOutEvaluation.prediction(m, clips: clips, seeds: seedList, options: try sampling.generation(sampleByDefault: true))
            print(String(format: "prediction ADE %.3f m  FDE %.3f m   N = %d samples (%d clips x %d seeds; %d answers too short)", r.ade, r.fde, r.samples, clips.count, seeds, r.tooShort))
            try record("pred", r)
        }
        if task == .inbetween || task == .all {
            let r = try HeldOutEvaluation.inbetween(m, clips: clips, seeds: seedList, options: try sampling.generation(sampleByDefault: true))
            print(String(format: "in-between ADE %.3f m  FDE %.3f m   N = %d samples (%d clips x %d seeds; %d answers too short)", r.ade, r.fde, r.samples, clips.count, seeds, r.tooShort))
            try record("inbetween", r)
        }
        if let json {
            try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]).write(to: URL(fileURLWithPath: json), options: .atomic)
            print("wrote \(json)")
        }
    }
}
