import ArgumentParser
import Foundation
import Generation
import ModelHub
import MotionData

/// `--model`: which model folder a command uses. Without it: `$MOTIONGPT_MODEL`, then the package's
/// bundled `Models/<name>` found next to the executable's build folder (never the current directory).
struct ModelChoice: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model folder (default: $MOTIONGPT_MODEL, else the bundled Models/default).", valueName: "dir"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("How MotionGPT's language model carries its weights in memory: auto (f16 when the folder stores F16, as the bundled model does: the same values, half the bytes to read), f32, f16, int8 (per-row scales; approximate). Computation is Float32 in every case.", valueName: "auto|f32|f16|int8"))
    var weights: String = "auto"

    func validate() throws {
        guard ["auto", "f32", "f16", "int8"].contains(weights) else {
            throw ValidationError("--weights: \(weights) is not one of auto, f32, f16, int8")
        }
    }

    /// The folder to load.
    func url(bundled name: String = "default") throws -> URL {
        do { return try ModelLocator.resolve(model, bundled: name) }
        catch let e as ModelHubError {
            throw UserError("\(e.description); pass --model DIR or set \(ModelLocator.environmentVariable)")
        }
    }

    /// The MotionGPT model of `dir` (default: the chosen folder).
    func loadMotionGPT(at chosen: URL? = nil) throws -> MotionGPTModel {
        let dir = try chosen ?? url()
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) else {
            throw UserError("no model at \(dir.path): train one (motiongpt train ..., or Tools/train-default.sh) or convert MotionGPT's checkpoint (motiongpt convert-checkpoint), then pass --model DIR")
        }
        let m = try MotionGPTModel.load(directory: dir)
        switch weights {
        case "f32": break
        case "f16": m.lm.useCompactWeights(.f16)
        case "int8": m.lm.useCompactWeights(.int8)
        default: if let f = MotionGPTModel.storedCompactFormat(dir) { m.lm.useCompactWeights(f) }
        }
        return m
    }
}

/// How to pick tokens, for every command that generates. `sampleByDefault` says what a command does
/// when no option chooses (motion tasks sample, as MotionGPT does; text answers and `lm` are greedy).
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Seed for sampling.") var seed: UInt64 = 0
    @Option(name: .long, help: "Sampling temperature (turns sampling on).") var temperature: Float?
    @Option(name: .long, help: "Sample from the k most likely tokens (turns sampling on).") var topK: Int?
    @Option(name: .long, help: "Sample from the smallest set of tokens with this much probability (turns sampling on).") var topP: Float?
    @Option(name: .long, help: "Penalty for tokens already generated (1 is none).") var repetitionPenalty: Float = 1
    @Option(name: .long, help: "Beam search with this many beams (greedy, no sampling).") var beams: Int = 1
    @Flag(name: .long, help: "Greedy decoding instead of sampling.") var greedy = false
    @Option(name: .long, help: "Most tokens to generate (default: 256 for motion commands, 64 for lm).") var maxTokens: Int?

    func generation(sampleByDefault: Bool, maxTokens defaultMax: Int = 256) throws -> GenerationOptions {
        var o = GenerationOptions()
        o.maxNewTokens = maxTokens ?? defaultMax
        let asked = temperature != nil || topK != nil || topP != nil
        o.doSample = !greedy && beams == 1 && (sampleByDefault || asked)
        if asked && (greedy || beams > 1) { throw UserError("--temperature, --top-k and --top-p sample; they do not go with --greedy or --beams") }
        o.temperature = temperature ?? 1
        o.topK = topK ?? 0
        o.topP = topP ?? 1
        o.repetitionPenalty = repetitionPenalty
        o.numBeams = beams
        o.seed = seed
        do { try o.validate() } catch let e as GenerationError { throw UserError(Self.withFlags(e.description)) }
        return o
    }

    /// Library messages name values, not flags; say which flag they came from.
    static func withFlags(_ s: String) -> String {
        let names = ["max new tokens": "--max-tokens", "min new tokens": "--min-tokens", "temperature": "--temperature",
                     "top-k": "--top-k", "top-p": "--top-p", "repetition penalty": "--repetition-penalty", "beams": "--beams"]
        for (k, flag) in names where s.hasPrefix(k) { return "\(flag): \(s)" }
        return s
    }
}

/// `--rig`, `--joint-map`, `--no-foot-lock`: for every command that writes a motion, which character the
/// `.bvh` and `.glb` outputs carry (default: our own 22-joint skeleton).
struct RigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Put .bvh and .glb output on this character: a BVH rig (its hierarchy, rest pose, names and channel order; Mixamo, CMU, SMPL, CC_Base names are known).", valueName: "rig.bvh"))
    var rig: String?
    @Option(name: .long, help: ArgumentHelp("JSON map of our joint names to the rig's, e.g. {\"pelvis\": \"Hips\", \"left_hip\": \"Thigh_L\"} (with --rig).", valueName: "file.json"))
    var jointMap: String?
    @Flag(name: .long, help: "With --rig: let planted feet slide as the proportions make them (no foot-lock IK).")
    var noFootLock = false

    /// The rig to write onto, or nil; refuses the flags without `--rig`, and an output type a rig does not apply to.
    func load(for output: URL? = nil, format: String? = nil) throws -> RigChoice? {
        guard let rig else {
            if jointMap != nil { throw UserError("--joint-map goes with --rig") }
            if noFootLock { throw UserError("--no-foot-lock goes with --rig") }
            return nil
        }
        let ext = (output?.pathExtension ?? format ?? "").lowercased()
        guard MotionFile.rigExtensions.contains(ext) else {
            throw UserError("--rig writes .bvh or .glb, not .\(ext)")
        }
        let url = URL(fileURLWithPath: rig)
        guard FileManager.default.fileExists(atPath: url.path) else { throw UserError("--rig \(url.path): no such file") }
        var map: JointMap?
        if let jointMap {
            let m = URL(fileURLWithPath: jointMap)
            guard FileManager.default.fileExists(atPath: m.path) else { throw UserError("--joint-map \(m.path): no such file") }
            map = try JointMap(url: m)
        }
        return RigChoice(rig: try Rig(url: url, jointMap: map), options: RetargetOptions(footLock: !noFootLock))
    }
}

/// A loaded rig and how motions go onto it.
struct RigChoice {
    var rig: Rig
    var options: RetargetOptions
}

/// Reads a motion file, refusing missing files with one line.
func readMotion(_ path: String) throws -> Motion {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: url.path) else { throw UserError("\(url.path): no such file") }
    return try MotionFile.read(url)
}

/// Refuses an existing output (or an unknown output type) before any long work.
func checkOutput(_ path: String, force: Bool) throws -> URL {
    let url = URL(fileURLWithPath: path)
    let ext = url.pathExtension.lowercased()
    guard MotionOutput.extensions.contains(ext) else {
        throw UserError("\(url.lastPathComponent): unknown output type; use one of \(MotionOutput.extensions.map { "." + $0 }.joined(separator: ", "))")
    }
    if !force && FileManager.default.fileExists(atPath: url.path) { throw UserError("\(url.path) already exists (use --force to overwrite)") }
    return url
}

/// Writes a line to standard error.
func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// `--text-encoder DIR` of the trainers that read the frozen sentence encoder, else the bundled
/// `Models/text-encoder`.
func textEncoderFolder(_ given: String?) throws -> URL {
    if let given { return URL(fileURLWithPath: given) }
    do { return try ModelLocator.resolve(nil, bundled: "text-encoder", environment: [:]) }
    catch let e as ModelHubError { throw UserError("\(e.description); pass --text-encoder DIR") }
}
