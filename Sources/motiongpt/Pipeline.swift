import ArgumentParser
import Foundation
import Generation
import ModelHub
import MotionData
import MotionRender

/// `motiongpt generate TEXT`: text to motion.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a motion from text.",
        discussion: """
        Uses the bundled model unless --model (or $MOTIONGPT_MODEL) names another. Motion tokens are \
        sampled (seeded) unless --greedy or --beams; words of the text the model never saw in training \
        are named on standard error. With a Large Motion Model folder (model_type lmm) the motion is \
        sampled by diffusion instead (--steps, --guidance, --fps, --seed; 4 seconds unless --length or \
        --seconds), longer motions than the model's window in overlapping windows.

        Example: motiongpt generate "a person walks forward" -o walk.bvh --seconds 4 --seed 1
        """)
    @Argument(help: "What the person does.") var text: String
    @Option(name: .shortAndLong, help: "Output motion file (.bvh, .npy, .json, .glb, .gif, .png, .mp4, .html).") var output: String = "motion.bvh"
    @Option(name: [.customLong("length"), .customLong("frames")], help: "Length in frames (20 fps; LMM: at its rate).") var length: Int?
    @Option(name: .long, help: "Length in seconds.") var seconds: Float?
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var lmm: LMMOptions
    @OptionGroup var rig: RigOptions

    func run() throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UserError("the text is empty") }
        guard length == nil || seconds == nil else { throw UserError("give --length or --seconds, not both") }
        if let seconds, !(seconds > 0 && seconds <= 200) { throw UserError("--seconds must be in (0, 200], got \(seconds)") }
        let dir = try model.url()
        if isLMMFolder(dir) { return try runLMM(dir) }
        try lmm.refuse(for: dir)
        if let length, length < 4 || length > 4000 { throw UserError("--length must be between 4 and 4000 frames, got \(length)") }
        let out = try checkOutput(output, force: force)
        let character = try rig.load(for: out)
        let gen = try sampling.generation(sampleByDefault: true)
        let m = try model.loadMotionGPT(at: dir)
        let unseen = m.unseenWords(in: text)
        if !unseen.isEmpty {
            warn("note: the model never saw \(unseen.map { "\"\($0)\"" }.joined(separator: ", ")) in training; it knows \(m.trainingVocabulary?.count ?? 0) caption words (its folder's vocabulary.txt)")
        }
        let r = try m.generateMotion(text, frames: length, seconds: seconds, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: text, force: force, rig: character)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames (\(r.codes[0].count) motion tokens)\(r.unterminated ? ", unterminated span" : "")")
    }

    /// Text to motion with a Large Motion Model.
    func runLMM(_ dir: URL) throws {
        try sampling.refuseForLMM()
        if let length, length < 1 { throw UserError("--length must be at least 1 frame, got \(length)") }
        let out = try checkOutput(output, force: force)
        let character = try rig.load(for: out)
        let options = try lmm.sampling(seed: sampling.seed)
        let pipeline = try loadLMM(dir)
        let frames = try length ?? pipeline.frames(seconds: seconds ?? 4, options: options)
        let r = try pipeline.generate(text: text, frames: frames, options: options, progress: lmmProgress())
        try MotionOutput.write(try r.motion(), to: out, title: text, force: force, rig: character)
        print("wrote \(out.path): \(r.frameCount) frames at \(r.fps) fps (\(pipeline.windows(frames: frames).count) window(s) of \(options.steps) steps)")
    }
}

/// `motiongpt caption MOTION`: motion to text.
struct Caption: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a motion in words.",
        discussion: """
        Greedy unless sampling options are given.

        Example: motiongpt caption walk.bvh
        """)
    @Argument(help: "Motion file (.bvh, .npy, .json).") var motion: String
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let m = try readMotion(motion)
        let gen = try sampling.generation(sampleByDefault: false)
        let text = try model.loadMotionGPT().caption(m, options: gen)
        // An empty line would look like success; say what happened instead.
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UserError("the model gave no caption for \(motion)") }
        print(text)
    }
}

/// `motiongpt predict MOTION -o OUT`: continue a motion.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a motion.",
        discussion: """
        The motion's codes are the prefix; the output is the prefix and its continuation. With a Large \
        Motion Model folder (model_type lmm) the motion's frames are given and --frames more are sampled \
        after them (under --text when given).

        Example: motiongpt predict walk.bvh -o next.bvh --seed 2
        """)
    @Argument(help: "Motion file to continue.") var motion: String
    @Option(name: .shortAndLong, help: "Output motion file.") var output: String
    @Option(name: .long, help: "LMM: frames to add (default 40).") var frames: Int?
    @Option(name: .long, help: "LMM: what the continuation does.") var text: String?
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var lmm: LMMOptions
    @OptionGroup var rig: RigOptions

    func run() throws {
        let dir = try model.url()
        let isLMM = isLMMFolder(dir)
        if !isLMM {
            try lmm.refuse(for: dir)
            if frames != nil || text != nil { throw UserError("--frames and --text go with a Large Motion Model folder (model_type lmm); \(dir.path) is not one") }
        } else {
            try sampling.refuseForLMM()
        }
        let out = try checkOutput(output, force: force)
        let character = try rig.load(for: out)
        if isLMM {
            let options = try lmm.sampling(seed: sampling.seed)
            let source = try readUnifiedMotion(motion)
            let r = try loadLMM(dir).predict(source, frames: frames ?? 40, text: text, options: options, progress: lmmProgress())
            try MotionOutput.write(try r.motion(), to: out, title: text ?? "prediction", force: force, rig: character)
            print("wrote \(out.path): \(r.frameCount) frames (\(source.frameCount) given)")
            return
        }
        let m = try readMotion(motion)
        let gen = try sampling.generation(sampleByDefault: true)
        let r = try model.loadMotionGPT(at: dir).predict(m, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: "prediction", force: force, rig: character)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames")
    }
}

/// `motiongpt inbetween A B -o OUT`: fill the gap between two motions.
struct Inbetween: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the motion between two motions.",
        discussion: """
        With a Large Motion Model folder (model_type lmm) both motions' frames are given and the gap is \
        sampled between them (under --text when given).

        Example: motiongpt inbetween a.bvh b.bvh -o joined.gif --frames 40
        """)
    @Argument(help: "First motion.") var first: String
    @Argument(help: "Second motion.") var second: String
    @Option(name: .shortAndLong, help: "Output motion file.") var output: String
    @Option(name: .long, help: "Frames to fill between them (4 to 2000).") var frames: Int = 40
    @Option(name: .long, help: "LMM: what the motion between does.") var text: String?
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var model: ModelChoice
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var lmm: LMMOptions
    @OptionGroup var rig: RigOptions

    func run() throws {
        guard (4...2000).contains(frames) else { throw UserError("--frames must be between 4 and 2000, got \(frames)") }
        let dir = try model.url()
        let isLMM = isLMMFolder(dir)
        if !isLMM {
            try lmm.refuse(for: dir)
            if text != nil { throw UserError("--text goes with a Large Motion Model folder (model_type lmm); \(dir.path) is not one") }
        } else {
            try sampling.refuseForLMM()
        }
        let out = try checkOutput(output, force: force)
        let character = try rig.load(for: out)
        if isLMM {
            let options = try lmm.sampling(seed: sampling.seed)
            let a = try readUnifiedMotion(first), b = try readUnifiedMotion(second)
            let r = try loadLMM(dir).inbetween(a, b, gap: frames, text: text, options: options, progress: lmmProgress())
            try MotionOutput.write(try r.motion(), to: out, title: text ?? "in-between", force: force, rig: character)
            print("wrote \(out.path): \(r.frameCount) frames (\(a.frameCount) + \(frames) + \(b.frameCount))")
            return
        }
        let a = try readMotion(first), b = try readMotion(second)
        let gen = try sampling.generation(sampleByDefault: true)
        let r = try model.loadMotionGPT(at: dir).inbetween(a, b, gapFrames: frames, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: "in-between", force: force, rig: character)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames")
    }
}

/// `motiongpt chat`: free instructions, one per line on standard input. `@path` in a line inserts that
/// motion file's tokens; motions in a reply are written as reply-N files.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer free-form instructions from standard input, one per line (@file.bvh inserts a motion).",
        discussion: """
        A line that fails (a missing file, an empty answer) prints its error and the session goes on.

        Example: echo "describe @walk.bvh" | motiongpt chat
        """)
    @Option(name: .long, help: "Folder for motions in replies.") var outDir: String = "."
    @Option(name: .long, help: "File type of reply motions (bvh, npy, json, glb, gif, html).") var format: String = "bvh"
    @Flag(name: .long, help: "Overwrite reply files.") var force = false
    @OptionGroup var modelChoice: ModelChoice
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var rig: RigOptions

    func run() throws {
        guard MotionOutput.extensions.contains(format) else { throw UserError("--format must be one of \(MotionOutput.extensions.joined(separator: ", "))") }
        let character = try rig.load(format: format)
        let gen = try sampling.generation(sampleByDefault: true)
        let model = try modelChoice.loadMotionGPT()
        var n = 0
        while let line = readLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            var words: [String] = []
            do {
                for w in trimmed.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
                    if w.hasPrefix("@"), w.count > 1 { words.append(model.motionString(try model.codes(of: try readMotion(String(w.dropFirst()))))) }
                    else { words.append(w) }
                }
                let r = try model.respond(to: words.joined(separator: " "), options: gen)
                print(r.text.isEmpty ? "(motion)" : r.text)
                for m in r.motions {
                    n += 1
                    let url = URL(fileURLWithPath: outDir).appendingPathComponent("reply-\(n).\(format)")
                    if !force && FileManager.default.fileExists(atPath: url.path) { throw UserError("\(url.path) already exists (use --force to overwrite)") }
                    try MotionOutput.write(m, to: url, title: trimmed, force: force, rig: character)
                    print("  motion: \(url.path) (\(m.frameCount) frames)")
                }
            } catch {
                // Any per-line failure (bad file, model answer without text, a too long prompt) keeps the session.
                warn("error: \(cliMessage(error))")
            }
            fflush(stdout)
        }
    }
}

/// Where motion outputs go: data formats through MotionFile, pictures through MotionRender.
enum MotionOutput {
    static let extensions = MotionFile.extensions + MotionRenderer.extensions

    /// Writes `motion` by the extension of `url`; `.bvh` and `.glb` go onto `rig` when one is chosen.
    static func write(_ motion: Motion, to url: URL, title: String, force: Bool, rig: RigChoice? = nil, features: Bool = false) throws {
        if MotionRenderer.extensions.contains(url.pathExtension.lowercased()) {
            if rig != nil { throw UserError("--rig writes .bvh or .glb, not .\(url.pathExtension)") }
            var o = RenderOptions()
            o.title = title
            try MotionRenderer.write(motion, to: url, options: o, force: force)
        } else {
            try MotionFile.write(motion, to: url, force: force, features: features, rig: rig?.rig,
                                 retarget: rig?.options ?? RetargetOptions())
        }
    }
}
