import ArgumentParser
import Foundation
import MotionData
import MotionRender

/// `motiongpt convert IN -o OUT`: between .npy joints/features, .bvh and .json.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a motion between .npy (joints [T,J,3] or features [T,263]/[T,251]), .bvh and .json, or to .glb (glTF).",
        discussion: """
        .npy inputs are told apart by shape; features are raw (not normalised), as HumanML3D's new_joint_vecs. \
        .bvh and .glb outputs carry rotations solved from the joint positions; --rig puts them on your \
        character's skeleton.

        Example: motiongpt convert walk.npy -o walk.bvh --rig mixamo-character.bvh
        """)
    @Argument(help: "Input motion file.") var input: String
    @Option(name: .shortAndLong, help: "Output file (.npy, .bvh, .json, .glb).") var output: String
    @Flag(name: .long, help: "Write raw features [T-1, 263] (KIT: [T-1, 251]) instead of joints (.npy output).") var features = false
    @Flag(name: .long, help: "Overwrite the output file.") var force = false
    @OptionGroup var rig: RigOptions

    func run() throws {
        let out = URL(fileURLWithPath: output)
        guard MotionFile.extensions.contains(out.pathExtension.lowercased()) else {
            throw UserError("\(out.lastPathComponent): convert writes .npy, .bvh, .json or .glb (render writes pictures)")
        }
        if features && out.pathExtension.lowercased() != "npy" { throw UserError("--features writes .npy, not .\(out.pathExtension)") }
        if !force && FileManager.default.fileExists(atPath: out.path) { throw UserError("\(out.path) already exists (use --force to overwrite)") }
        let character = try rig.load(for: out)
        let motion = try readMotion(input)
        try MotionOutput.write(motion, to: out, title: "", force: force, rig: character, features: features)
        if let character {
            print("wrote \(out.path): \(motion.frameCount) frames at \(motion.fps) fps on \(character.rig.source) (\(character.rig.bvh.joints.count) joints, \(character.rig.joints.compactMap { $0 }.count) driven, \(character.rig.mapName) names)")
        } else {
            print("wrote \(out.path): \(motion.frameCount) frames, \(motion.skeleton.jointCount) joints at \(motion.fps) fps")
        }
    }
}

/// `motiongpt render IN -o OUT.gif|.png|.mp4|.html`.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a motion as an animated GIF, a PNG frame, an MP4 (needs ffmpeg) or a self-contained 3D HTML viewer.",
        discussion: """
        A stick figure from a fixed 3/4 view framed on the whole motion: left side red, right blue.

        Example: motiongpt render walk.bvh -o walk.gif --title "a person walks forward"
        """)
    @Argument(help: "Input motion file (.npy, .bvh, .json).") var input: String
    @Option(name: .shortAndLong, help: "Output file (.gif, .png, .mp4, .html).") var output: String
    @Option(name: .long, help: "Title drawn on the picture (default: the file name).") var title: String?
    @Option(name: .long, help: "Picture width in pixels (64-4096; .gif, .png, .mp4).") var width: Int = 480
    @Option(name: .long, help: "Picture height in pixels (64-4096).") var height: Int = 400
    @Option(name: .long, help: "Frame for .png (default: the middle).") var frame: Int?
    @Flag(name: .long, help: "Overwrite the output file.") var force = false

    func run() throws {
        let out = URL(fileURLWithPath: output)
        guard MotionRenderer.extensions.contains(out.pathExtension.lowercased()) else {
            throw UserError("\(out.lastPathComponent): render writes .gif, .png, .mp4 or .html")
        }
        if !force && FileManager.default.fileExists(atPath: out.path) { throw UserError("\(out.path) already exists (use --force to overwrite)") }
        let motion = try readMotion(input)
        var o = RenderOptions()
        o.width = width; o.height = height
        o.title = title ?? URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
        try MotionRenderer.write(motion, to: out, options: o, frame: frame, force: force)
        print("wrote \(out.path): \(motion.frameCount) frames")
    }
}
