import ArgumentParser
import Foundation
import Generation
import MotionData
import MotionRender

/// Options every pipeline command shares: the model and how to sample.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model directory (default: Models/default).")
    var model: String = "Models/default"

    @Option(name: .long, help: "Seed for sampling.") var seed: UInt64 = 0
    @Option(name: .long, help: "Sampling temperature.") var temperature: Float?
    @Option(name: .long, help: "Sample from the k most likely tokens.") var topK: Int?
    @Option(name: .long, help: "Nucleus sampling threshold.") var topP: Float?
    @Flag(name: .long, help: "Greedy decoding instead of sampling.") var greedy = false
    @Option(name: .long, help: "Most tokens to generate.") var maxTokens: Int = 256

    /// Sampling (MotionGPT samples for motion tasks) unless `--greedy` or `sample` is false.
    func generation(sample: Bool) throws -> GenerationOptions {
        var o = GenerationOptions()
        o.maxNewTokens = maxTokens
        o.doSample = !greedy && (sample || temperature != nil || topK != nil || topP != nil)
        o.temperature = temperature ?? 1
        o.topK = topK ?? 0
        o.topP = topP ?? 1
        o.seed = seed
        try o.validate()
        return o
    }

    func load() throws -> MotionGPTModel {
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
            throw UserError("no model at \(url.path): train one (motiongpt train ...) or convert MotionGPT's checkpoint (motiongpt convert-checkpoint), then pass --model DIR")
        }
        return try MotionGPTModel.load(directory: url)
    }
}

/// Reads a motion file, refusing missing files with one line.
func readMotion(_ path: String) throws -> Motion {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: url.path) else { throw UserError("\(url.path): no such file") }
    return try MotionFile.read(url)
}

/// Refuses an existing output before any long work.
func checkOutput(_ path: String, force: Bool) throws -> URL {
    let url = URL(fileURLWithPath: path)
    let ext = url.pathExtension.lowercased()
    guard MotionOutput.extensions.contains(ext) else {
        throw UserError("\(url.lastPathComponent): unknown output type; use one of \(MotionOutput.extensions.map { "." + $0 }.joined(separator: ", "))")
    }
    if !force && FileManager.default.fileExists(atPath: url.path) { throw UserError("\(url.path) already exists (use --force to overwrite)") }
    return url
}

/// `motiongpt generate TEXT`: text to motion.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate a motion from text.")
    @Argument(help: "What the person does.") var text: String
    @Option(name: .shortAndLong, help: "Output motion file (.bvh, .npy, .json, .gif, .mp4, .html).") var output: String = "motion.bvh"
    @Option(name: .long, help: "Length in frames (20 fps).") var length: Int?
    @Option(name: .long, help: "Length in seconds.") var seconds: Float?
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var options: ModelOptions

    func run() throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UserError("the text is empty") }
        guard length == nil || seconds == nil else { throw UserError("give --length or --seconds, not both") }
        let out = try checkOutput(output, force: force)
        let gen = try options.generation(sample: true)
        let model = try options.load()
        let r = try model.generateMotion(text, frames: length, seconds: seconds, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: text, force: force)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames (\(r.codes[0].count) motion tokens)\(r.unterminated ? ", unterminated span" : "")")
    }
}

/// `motiongpt caption MOTION`: motion to text.
struct Caption: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a motion in words.")
    @Argument(help: "Motion file (.bvh, .npy, .json).") var motion: String
    @OptionGroup var options: ModelOptions

    func run() throws {
        let m = try readMotion(motion)
        let gen = try options.generation(sample: false)
        let text = try options.load().caption(m, options: gen)
        // An empty line would look like success; say what happened instead.
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UserError("the model gave no caption for \(motion)") }
        print(text)
    }
}

/// `motiongpt predict MOTION -o OUT`: continue a motion.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a motion.")
    @Argument(help: "Motion file to continue.") var motion: String
    @Option(name: .shortAndLong, help: "Output motion file.") var output: String
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var options: ModelOptions

    func run() throws {
        let out = try checkOutput(output, force: force)
        let m = try readMotion(motion)
        let gen = try options.generation(sample: true)
        let r = try options.load().predict(m, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: "prediction", force: force)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames")
    }
}

/// `motiongpt inbetween A B -o OUT`: fill the gap between two motions.
struct Inbetween: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate the motion between two motions.")
    @Argument(help: "First motion.") var first: String
    @Argument(help: "Second motion.") var second: String
    @Option(name: .shortAndLong, help: "Output motion file.") var output: String
    @Option(name: .long, help: "Frames to fill between them.") var frames: Int = 40
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var options: ModelOptions

    func run() throws {
        let out = try checkOutput(output, force: force)
        let a = try readMotion(first), b = try readMotion(second)
        let gen = try options.generation(sample: true)
        let r = try options.load().inbetween(a, b, gapFrames: frames, options: gen)
        try MotionOutput.write(r.motions[0], to: out, title: "in-between", force: force)
        print("wrote \(out.path): \(r.motions[0].frameCount) frames")
    }
}

/// `motiongpt chat`: free instructions, one per line on standard input. `@path` in a line inserts that
/// motion file's tokens; motions in a reply are written as reply-N files.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer free-form instructions from standard input, one per line (@file.bvh inserts a motion).")
    @Option(name: .long, help: "Folder for motions in replies.") var outDir: String = "."
    @Option(name: .long, help: "File type of reply motions (bvh, npy, json, gif, html).") var format: String = "bvh"
    @Flag(name: .long, help: "Overwrite reply files.") var force = false
    @OptionGroup var options: ModelOptions

    func run() throws {
        guard MotionOutput.extensions.contains(format) else { throw UserError("--format must be one of \(MotionOutput.extensions.joined(separator: ", "))") }
        let gen = try options.generation(sample: true)
        let model = try options.load()
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
                    try MotionOutput.write(m, to: url, title: trimmed, force: force)
                    print("  motion: \(url.path) (\(m.frameCount) frames)")
                }
            } catch let e as UserError {
                FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            }
            fflush(stdout)
        }
    }
}

/// Where motion outputs go: data formats through MotionFile, pictures through MotionRender.
enum MotionOutput {
    static let extensions = MotionFile.extensions + MotionRenderer.extensions

    static func write(_ motion: Motion, to url: URL, title: String, force: Bool) throws {
        if MotionRenderer.extensions.contains(url.pathExtension.lowercased()) {
            var o = RenderOptions()
            o.title = title
            try MotionRenderer.write(motion, to: url, options: o, force: force)
        } else {
            try MotionFile.write(motion, to: url, force: force)
        }
    }
}
