import ArgumentParser
import Foundation
import ModelHub
import MotionData
import MotionVQ
import TensorEngine

/// `motiongpt tokenize MOTION`: print the motion's codes, space separated, on one line.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the motion tokenizer's codes of a motion (.npy joints or features, .bvh, .json).",
        discussion: """
        --model takes a model directory or a tokenizer folder (default: the bundled model).

        Example: motiongpt tokenize walk.bvh --model runs/vq
        """)

    @Argument(help: "Motion file.") var motion: String
    @OptionGroup var model: ModelChoice
    @Flag(name: .long, help: "Treat a .npy file as features [T, 263] even if its shape is ambiguous.") var features = false

    func run() throws {
        let tokenizer = try MotionTokenizer.load(directory: try model.url())
        let url = URL(fileURLWithPath: motion)
        let feats = try Self.features(of: url, forceFeatures: features)
        let codes = try tokenizer.encode(features: feats)
        let covered = tokenizer.coveredFrames(feats.shape[0])
        if covered < feats.shape[0] {
            FileHandle.standardError.write(Data("note: the last \(feats.shape[0] - covered) of \(feats.shape[0]) feature frames are not covered (one code is \(tokenizer.framesPerCode) frames)\n".utf8))
        }
        print(codes.map(String.init).joined(separator: " "))
    }

    /// Raw features of a motion file: `.npy` features as they are, anything else through joint positions.
    static func features(of url: URL, forceFeatures: Bool) throws -> Tensor {
        guard FileManager.default.fileExists(atPath: url.path) else { throw UserError("\(url.path): no such file") }
        if url.pathExtension.lowercased() == "npy" {
            let t = try readNpy(url)
            if forceFeatures || (t.rank == 2 && FeatureConfig.forDimension(t.shape[1]) != nil) { return t }
        }
        return try MotionFile.read(url).features()
    }
}

/// `motiongpt detokenize "CODES" -o OUT`: decode codes to a motion file.
struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode motion codes (space or comma separated) to a motion file (.bvh, .npy joints, .json, .glb; --features for .npy features).",
        discussion: """
        Example: motiongpt detokenize "12 7 7 301" --model runs/vq -o back.bvh
        """)

    @Argument(help: "Codes, e.g. \"12 7 7 301\".") var codes: String
    @OptionGroup var model: ModelChoice
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @Flag(name: .long, help: "Write features [T, 263] instead of joints (.npy).") var features = false
    @Flag(name: .long, help: "Overwrite an existing output file.") var force = false
    @OptionGroup var rig: RigOptions

    func run() throws {
        let parts = codes.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline }).map(String.init)
        guard !parts.isEmpty else { throw UserError("no codes given") }
        var values: [Int] = []
        for p in parts {
            guard let v = Int(p) else { throw UserError("'\(p)' is not a motion code (codes are integers)") }
            values.append(v)
        }
        let out = URL(fileURLWithPath: output)
        if !force && FileManager.default.fileExists(atPath: out.path) { throw UserError("\(out.path) already exists (use --force to overwrite)") }
        let character = try rig.load(for: out)
        if features && character != nil { throw UserError("--features writes .npy; --rig writes .bvh or .glb") }
        let tokenizer = try MotionTokenizer.load(directory: try model.url())
        if features {
            guard out.pathExtension.lowercased() == "npy" else { throw UserError("--features writes .npy, not .\(out.pathExtension)") }
            try writeNpy(try tokenizer.decode(values), to: out)
        } else {
            try MotionOutput.write(try tokenizer.decodeMotion(values), to: out, title: "", force: force, rig: character)
        }
    }
}
