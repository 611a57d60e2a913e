import ArgumentParser
import Foundation
import Generation
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork

/// `--fps`, `--guidance`, `--steps`: how a Large Motion Model samples (they go with an `lmm` model folder only).
struct LMMOptions: ParsableArguments {
    @Option(name: .long, help: "LMM: frames per second to generate at (default: the model's).") var fps: Float?
    @Option(name: .long, help: "LMM: classifier-free guidance scale (default: the model's; 0 turns guidance off).") var guidance: Float?
    @Option(name: .long, help: "LMM: DDIM steps (50 is the official schedule).") var steps: Int?

    /// The sampling options, with `seed`; bad values are one line naming the flag.
    func sampling(seed: UInt64) throws -> LMMSampling {
        let o = LMMSampling(guidance: guidance, steps: steps ?? 50, seed: seed, fps: fps)
        do { try o.validate() } catch let e as GenerationError { throw UserError("--\(e.description)") }
        return o
    }

    /// Refuses these flags for a model that is not an LMM.
    func refuse(for folder: URL) throws {
        for (flag, given) in [("--fps", fps != nil), ("--guidance", guidance != nil), ("--steps", steps != nil)] where given {
            throw UserError("\(flag) goes with a Large Motion Model folder (model_type lmm); \(folder.path) is not one")
        }
    }
}

extension SamplingOptions {
    /// Refuses the token-sampling flags, which a diffusion model has no use for (`--seed` it reads).
    func refuseForLMM() throws {
        let given: [(String, Bool)] = [("--temperature", temperature != nil), ("--top-k", topK != nil), ("--top-p", topP != nil),
                                       ("--repetition-penalty", repetitionPenalty != 1), ("--beams", beams != 1), ("--greedy", greedy),
                                       ("--max-tokens", maxTokens != nil)]
        if let (flag, _) = given.first(where: { $0.1 }) {
            throw UserError("\(flag) picks motion tokens; a Large Motion Model samples by diffusion (use --steps, --guidance, --seed)")
        }
    }
}

/// Whether `dir` is an `lmm` model folder (a folder that cannot be read is left to the loader's error).
func isLMMFolder(_ dir: URL) -> Bool {
    (try? ModelFolder(dir))?.modelType == LMMFamily.modelType
}

/// Loads an `lmm` folder, or says in one line what else it is.
func loadLMM(_ dir: URL) throws -> LMMPipeline {
    let folder = try ModelFolder(dir)
    guard folder.modelType == LMMFamily.modelType else {
        throw UserError("\(dir.path) is a \(folder.modelType.isEmpty ? "untyped" : folder.modelType) model folder; this needs a Large Motion Model (model_type lmm)")
    }
    return LMMPipeline(model: try LMMModel.load(folder))
}

/// Progress of a diffusion run on standard error: one updating line on a terminal, else a line every
/// 10 steps and at the end.
func lmmProgress() -> (DenoisingStep) -> IterationControl {
    let tty = isatty(2) != 0
    return { s in
        if tty {
            FileHandle.standardError.write(Data("\rstep \(s.step)/\(s.totalSteps)\(s.step == s.totalSteps ? "\n" : "")".utf8))
        } else if s.step % 10 == 0 || s.step == s.totalSteps {
            warn("step \(s.step)/\(s.totalSteps)")
        }
        return .proceed
    }
}

/// A motion file in the unified layout (HumanML3D features of its joints: one frame fewer, as velocities
/// need the next frame).
func readUnifiedMotion(_ path: String) throws -> UnifiedMotion {
    let m = try readMotion(path)
    guard m.frameCount >= 2 else { throw UserError("\(path): a motion needs at least 2 frames, it has \(m.frameCount)") }
    return try UnifiedMotion(motion: m)
}

/// `motiongpt edit MOTION --parts LIST --text TEXT -o OUT`: regenerate some body parts of a motion.
struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate chosen body parts of a motion under a text (Large Motion Model).",
        discussion: """
        The chosen parts are generated anew, every other part is kept as it is in every frame. Parts: root, \
        head, stem, larm, rarm, lleg, rleg (the hands and face are not in HumanML3D motions), or the groups \
        upper (head, stem, arms, hands), lower (both legs, not the root: the path is kept) and body (all but the \
        root: a new motion along the same trajectory). larm and lleg are the body's left arm and leg (SMPL's \
        left joints), whatever the official LMM slot names say. Uses the bundled Models/lmm unless --model \
        (or $MOTIONGPT_MODEL) names another.

        Example: motiongpt edit walk.bvh --parts larm,rarm --text "a person waves both hands" -o wave.bvh
        """)
    @Argument(help: "Motion file to edit (.bvh, .npy, .json).") var motion: String
    @Option(name: .long, help: ArgumentHelp("Comma-separated parts or groups to regenerate.", valueName: "list")) var parts: String
    @Option(name: .long, help: "What the regenerated parts do.") var text: String
    @Option(name: .shortAndLong, help: "Output motion file (.bvh, .npy, .json, .glb, .gif, .png, .mp4, .html).") var output: String
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @Option(name: .long, help: ArgumentHelp("LMM model folder (default: $MOTIONGPT_MODEL, else the bundled Models/lmm).", valueName: "dir"))
    var model: String?
    @Option(name: .long, help: "Seed for sampling.") var seed: UInt64 = 0
    @OptionGroup var lmm: LMMOptions
    @OptionGroup var rig: RigOptions

    func run() throws {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UserError("--text is empty") }
        let chosen: [BodyPart]
        do { chosen = try BodyPart.parseList(parts, available: LMMPipeline.generatedParts) }
        catch let e as GenerationError { throw UserError("--parts: \(e.description)") }
        let out = try checkOutput(output, force: force)
        let character = try rig.load(for: out)
        let options = try lmm.sampling(seed: seed)
        let source = try readUnifiedMotion(motion)
        let dir: URL
        do { dir = try ModelLocator.resolve(model, bundled: "lmm") }
        catch let e as ModelHubError { throw UserError("\(e.description); pass --model DIR or set \(ModelLocator.environmentVariable)") }
        let pipeline = try loadLMM(dir)
        let r = try pipeline.edit(motion: source, parts: chosen, text: text, options: options, progress: lmmProgress())
        try MotionOutput.write(try r.motion(), to: out, title: text, force: force, rig: character)
        print("wrote \(out.path): \(r.frameCount) frames, \(chosen.map(\.userName).joined(separator: ", ")) regenerated")
    }
}
