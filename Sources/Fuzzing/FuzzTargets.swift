import Foundation
@_spi(Fuzzing) import TensorEngine
import MotionData
import TextTokenizer
import MotionT5
import MotionVQ
import NeuralNetwork

/// One parser under fuzzing: how to feed it bytes, and which errors count as its typed refusals.
/// `body` parses and then uses what it parsed (reads every tensor, tokenizes text, retargets the
/// motion), so values that parse but break later code are found too.
public struct FuzzTarget: @unchecked Sendable {
    /// Name on the command line and folder under `Tools/fuzz/corpus/`.
    public let name: String
    /// What is exercised, for `motiongpt fuzz --list`.
    public let summary: String
    /// How inputs are mutated.
    public let mutator: FuzzMutator
    /// Parses and exercises one input; throws what the parser throws.
    public let body: (Data) throws -> Void
    /// True for the typed errors the parser is allowed to throw; anything else is a finding.
    public let isTypedError: (Error) -> Bool
}

/// The parsers of the project that read files a user may hand over.
public enum FuzzTargets {
    public static let all: [FuzzTarget] = [npy, npz, safetensors, torch, spiece, bvh, rig, jointMap, motionJSON, config, json]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    static func isTensorError(_ e: Error) -> Bool { e is TensorError }

    /// Uses every value of an array the way the loaders do.
    static func exercise(_ a: NpyArray) throws {
        _ = try a.tensor()
        if !a.dtype.isFloatingPoint { _ = try a.integers() }
    }

    static let npy = FuzzTarget(
        name: "npy", summary: "NumPy .npy reader (header literal parser, dtypes, Fortran order) then tensor/integers",
        mutator: FuzzMutator(dictionary: ["'descr'", "'<f4'", "'>i8'", "'|b1'", "'fortran_order'", "True", "False",
                                          "'shape'", "(", ")", ",", "{", "}", "L", "\\"], textual: true),
        body: { data in try exercise(try NpyArray(data: data, name: "<fuzz npy>")) },
        isTypedError: isTensorError)

    static let npz = FuzzTarget(
        name: "npz", summary: "NumPy .npz (ZIP/ZIP64 directory, DEFLATE, CRC-32) then every member as .npy",
        mutator: FuzzMutator(dictionary: ["PK\u{01}\u{02}", "PK\u{03}\u{04}", "PK\u{05}\u{06}", "PK\u{06}\u{06}", "PK\u{06}\u{07}"]),
        body: { data in
            // The first byte picks whether members are CRC-checked: with the check, most mutations of
            // member data stop at the CRC; without it they reach the inflater and the .npy parser.
            let checks = data.first.map { $0 & 1 == 0 } ?? true
            let file = try IOFuzzEntry.npz(data, checksCRC: checks)
            for name in file.names { try exercise(try file.array(name)) }
        },
        isTypedError: isTensorError)

    static let safetensors = FuzzTarget(
        name: "safetensors", summary: "safetensors (header length, JSON header, offsets, dtypes) then every tensor",
        mutator: FuzzMutator(dictionary: ["\"dtype\"", "\"F32\"", "\"BF16\"", "\"I64\"", "\"BOOL\"", "\"shape\"", "\"data_offsets\"",
                                          "\"__metadata__\"", "[", "]", "{", "}", ",", ":", "\\u", "\\ud800"], textual: true),
        body: { data in
            let file = try SafeTensorsFile(data: data, name: "<fuzz safetensors>")
            for name in file.names {
                _ = try file.tensor(name)
                if file.dtype(name)?.isFloatingPoint == false { _ = try file.integers(name) }
            }
        },
        isTypedError: isTensorError)

    static let torch = FuzzTarget(
        name: "torch", summary: "PyTorch zip checkpoint (ZIP, pickle without execution, tensor rebuilds) then state dict",
        mutator: FuzzMutator(dictionary: ["PK\u{01}\u{02}", "PK\u{03}\u{04}", "PK\u{05}\u{06}", "\u{80}\u{02}", "ctorch._utils\n_rebuild_tensor_v2\n",
                                          "storage", "q\u{00}", "h\u{00}", "(", "t", "R", "."], textual: true),
        body: { data in
            let checks = data.last.map { $0 & 1 == 0 } ?? true
            let ckpt = try IOFuzzEntry.torch(data, checksCRC: checks)
            for name in ckpt.tensorNames {
                _ = try ckpt.tensor(name)
                if ckpt.tensorRefs[name]?.dtype.isFloatingPoint == false { _ = try ckpt.integers(name) }
            }
            _ = try ckpt.stateDict()
            _ = ckpt.root.description.count
        },
        isTypedError: isTensorError)

    static let spiece = FuzzTarget(
        name: "spiece", summary: "SentencePiece spiece.model (protobuf, pieces, charsmap) then encode/decode",
        mutator: FuzzMutator(),
        body: { data in
            let tok = try SentencePieceTokenizer(data: data)
            _ = tok.addTokens(["<motion_id_0>", "<motion_id_1>"])
            for text in ["a person walks forward then waves", "  Ünïcödé\u{00A0}text\t\n ok ", "x<extra_id_0>y<motion_id_1></s>", ""] {
                let ids = tok.encode(text)
                _ = tok.decode(ids)
                _ = tok.decode(ids + [-1, Int.max, tok.vocabularySize])
                _ = tok.decodeSentencePiece(tok.encodeSentencePiece(text))
                _ = tok.normalize(text)
            }
        },
        isTypedError: { $0 is TokenizerError })

    static let bvh = FuzzTarget(
        name: "bvh", summary: "BVH text (hierarchy, channels, frames) then retargeting to 22 joints at 20 fps and features",
        mutator: FuzzMutator(dictionary: ["HIERARCHY", "ROOT", "JOINT", "End Site", "{", "}", "OFFSET", "CHANNELS", "CHANNELS 6",
                                          "Xposition", "Zrotation", "MOTION", "Frames:", "Frame Time:", "\n", "\r", "\t"], textual: true),
        body: { data in
            // As BVH(url:) decodes a file.
            guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
                throw MotionError.parse("<fuzz bvh>: not a text file")
            }
            let bvh = try BVH(text: text, source: "<fuzz bvh>")
            // Writing back costs joints x frames, like conversion, which refuses beyond its limit.
            if bvh.joints.count * bvh.frames.count <= 1_000_000 { _ = bvh.text.count }
            let motion = try bvh.motion(source: "<fuzz bvh>")
            if motion.frameCount <= 400 { _ = try? motion.features() }
        },
        isTypedError: { $0 is MotionError })

    /// A short 22-joint motion for the rig targets: a rest pose from the target offsets, walking forward
    /// with a swinging leg and arm, so the retarget, the foot lock and the glTF writer all run.
    static let rigMotion: Motion = {
        let s = Skeleton.humanML3D
        let frames = (0..<6).map { t -> [SIMD3<Float>] in
            var p = [SIMD3<Float>](repeating: .zero, count: 22)
            p[0] = [0, 0.9, 0.05 * Float(t)]
            for j in 1..<22 {
                var o = Skeleton.humanML3DTargetOffsets[j]
                if j == 4 || j == 18 { o = SIMD3(o.x, o.y * 0.9, 0.1 * sin(Float(t))) }
                p[j] = p[s.parents[j]] + o
            }
            return p
        }
        return try! Motion(skeleton: s, positions: frames, fps: 20)
    }()

    static let rig = FuzzTarget(
        name: "rig", summary: "a BVH as a rig (--rig): name maps, hierarchy checks, retargeting a 6-frame motion with foot lock, BVH text and glTF",
        mutator: FuzzMutator(dictionary: ["HIERARCHY", "ROOT", "JOINT", "End Site", "{", "}", "OFFSET", "CHANNELS 3", "CHANNELS 6",
                                          "Xposition", "Yrotation", "mixamorig:", "LeftUpLeg", "Hips", "Spine2", "MOTION", "\n"], textual: true),
        body: { data in
            guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
                throw MotionError.parse("<fuzz rig>: not a text file")
            }
            let r = try Rig(bvh: BVH(text: text, source: "<fuzz rig>"), source: "<fuzz rig>")
            // Output costs rig joints x frames; the reader's joint limit keeps it bounded.
            let out = try r.retarget(rigMotion)
            _ = out.text.count
            _ = try GLTF.binary(of: out, metresPerUnit: r.metresPerUnit)
        },
        isTypedError: { $0 is MotionError })

    /// The Mixamo-named rig the joint-map target resolves maps against.
    static let mapRig: BVH = {
        func j(_ n: String, _ p: Int, _ o: Vec3) -> BVH.Joint {
            BVH.Joint(name: n, parent: p, offset: o, channels: p < 0 ? [.xPosition, .yPosition, .zPosition, .zRotation, .xRotation, .yRotation] : [.zRotation, .xRotation, .yRotation])
        }
        let joints = [j("Hips", -1, Vec3(0, 1, 0)), j("Spine", 0, Vec3(0, 0.1, 0)), j("Chest", 1, Vec3(0, 0.2, 0)), j("Neck", 2, Vec3(0, 0.2, 0)),
                      j("Head", 3, Vec3(0, 0.1, 0)),
                      j("LeftUpLeg", 0, Vec3(0.1, -0.05, 0)), j("LeftLeg", 5, Vec3(0, -0.45, 0)), j("LeftFoot", 6, Vec3(0, -0.43, 0)), j("LeftToeBase", 7, Vec3(0, -0.05, 0.12)),
                      j("RightUpLeg", 0, Vec3(-0.1, -0.05, 0)), j("RightLeg", 9, Vec3(0, -0.45, 0)), j("RightFoot", 10, Vec3(0, -0.43, 0)), j("RightToeBase", 11, Vec3(0, -0.05, 0.12)),
                      j("LeftArm", 2, Vec3(0.2, 0.15, 0)), j("LeftForeArm", 13, Vec3(0.27, 0, 0)), j("LeftHand", 14, Vec3(0.25, 0, 0)),
                      j("RightArm", 2, Vec3(-0.2, 0.15, 0)), j("RightForeArm", 16, Vec3(-0.27, 0, 0)), j("RightHand", 17, Vec3(-0.25, 0, 0))]
        return try! BVH(joints: joints, frameTime: 0.05, frames: [])
    }()

    static let jointMap = FuzzTarget(
        name: "joint-map", summary: "a --joint-map JSON file, resolved against a rig and used to retarget a 6-frame motion",
        mutator: FuzzMutator(dictionary: ["\"pelvis\"", "\"left_hip\"", "\"spine3\"", "\"Hips\"", "\"LeftUpLeg\"", "\"Chest\"", "[", "]", "{", "}", ",", ":", "null"], textual: true),
        body: { data in
            let map = try JointMap(json: data, source: "<fuzz map>")
            let r = try Rig(bvh: mapRig, jointMap: map, source: "<fuzz rig>")
            _ = try r.retarget(rigMotion).text.count
        },
        isTypedError: { $0 is MotionError })

    static let motionJSON = FuzzTarget(
        name: "motion-json", summary: "motion .json ({fps, skeleton, joints}) through JSONDecoder and Motion validation",
        mutator: FuzzMutator(dictionary: ["\"fps\"", "\"skeleton\"", "\"joints\"", "\"kit\"", "\"humanml3d\"", "[", "]", "{", "}", ",", "null"], textual: true),
        body: { data in
            let motion = try MotionFile.motion(json: data, source: "<fuzz json>")
            // What the commands do next: bring it to 20 fps and compute features.
            let m20 = try MotionResampling.resample(motion, to: 20)
            if m20.positions.count <= 400 { _ = try? m20.features() }
        },
        isTypedError: { $0 is MotionError })

    static let config = FuzzTarget(
        name: "config", summary: "config.json of a T5 model and of the motion tokenizer: decoding and validate()",
        mutator: FuzzMutator(dictionary: ["\"d_model\"", "\"num_heads\"", "\"feed_forward_proj\"", "\"gated-gelu\"", "\"code_num\"",
                                          "\"eos_token_id\"", "[", "]", "{", "}", ",", "null", "true"], textual: true),
        body: { data in
            // Both decoders see every input; a finding in either is reported.
            var firstError: Error?
            do { try JSONDecoder().decode(T5Config.self, from: data).validate() } catch { firstError = error }
            do { try JSONDecoder().decode(VQVAEConfig.self, from: data).validate() } catch { firstError = firstError ?? error }
            if let e = firstError { throw e }
        },
        // JSONDecoder's DecodingError is the typed error of Codable configs; the loaders wrap it with the file name.
        isTypedError: { $0 is DecodingError || $0 is ModuleError || $0 is VQVAEError })

    static let json = FuzzTarget(
        name: "json", summary: "the engine's own JSON parser (safetensors headers)",
        mutator: FuzzMutator(dictionary: ["{", "}", "[", "]", "\"", ",", ":", "\\u", "\\ud83d\\ude00", "\\ud800", "true", "null", "-", "e"], textual: true),
        body: { data in try IOFuzzEntry.parseJSON(data) },
        isTypedError: isTensorError)
}
