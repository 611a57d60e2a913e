import Foundation
import TensorEngine

/// Reading and writing motions by file extension:
/// - `.npy`: joints `[T, J, 3]` (22 HumanML3D or 21 KIT joints) or raw features `[T, 263]` / `[T, 251]`
///   (HumanML3D's `new_joint_vecs`, not normalised), float32;
/// - `.bvh`: read with retargeting to the 22-joint skeleton (`BVH.motion`), written with rotations (`Motion.bvh`);
/// - `.json`: `{"fps": 20, "skeleton": "humanml3d", "joints": [[[x, y, z], ...], ...]}`;
/// - `.glb` (written only): glTF 2.0 binary with a skinned capsule figure and the animation (`GLTF`).
///
/// `.bvh` and `.glb` outputs go onto a rig when one is given (`Rig.retarget`); their rotations always come
/// from inverse kinematics on the joint positions, never from the features' 6D rotations.
public enum MotionFile {
    /// The extensions written.
    public static let extensions = ["npy", "bvh", "json", "glb"]
    /// The extensions read.
    public static let readableExtensions = ["npy", "bvh", "json"]
    /// The extensions a rig applies to.
    public static let rigExtensions = ["bvh", "glb"]

    /// Reads a motion.
    /// - Parameters:
    ///   - features: for `.npy`: true requires features `[T, 263|251]`, false requires joints `[T, J, 3]`,
    ///     nil decides by the array's rank.
    ///   - fps: frame rate of `.npy` data (which stores none; HumanML3D's 20 by default, KIT's 12.5 for 21
    ///     joints); the output rate for `.bvh` (nil: 20, HumanML3D's rate; use `BVH.motion(fps: nil)` to keep
    ///     the file's); ignored for `.json`.
    ///   - jointMap, units: BVH retargeting (see `BVH.motion`).
    public static func read(_ url: URL, features: Bool? = nil, fps: Float? = nil, jointMap: JointMap? = nil,
                            units: BVHUnits = .auto) throws -> Motion {
        guard FileManager.default.fileExists(atPath: url.path) else { throw MotionError.io("\(url.path): no such file") }
        switch url.pathExtension.lowercased() {
        case "npy": return try readNpy(url, features: features, fps: fps)
        case "bvh":
            if features == true { throw MotionError.invalidShape("\(url.path): a BVH holds joints, not features") }
            return try BVH(url: url).motion(jointMap: jointMap, units: units, fps: fps.map(Double.init) ?? 20,
                                            source: url.lastPathComponent)
        case "json":
            if features == true { throw MotionError.invalidShape("\(url.path): a JSON motion holds joints, not features") }
            return try readJSON(url)
        case "glb":
            throw MotionError.io("\(url.path): .glb is written, not read (read .npy, .bvh or .json)")
        default:
            throw MotionError.io("\(url.path): unknown motion format '.\(url.pathExtension)' (use .npy, .bvh or .json)")
        }
    }

    /// Writes a motion; `.npy` holds joints unless `features` (then `[T-1, 263]` raw features).
    /// Refuses to replace an existing file unless `force`.
    /// - Parameters:
    ///   - rig: for `.bvh` and `.glb`, the character to put the motion on (nil: our own 22-joint skeleton);
    ///     other formats refuse one.
    ///   - retarget: how the motion goes onto `rig`.
    public static func write(_ motion: Motion, to url: URL, force: Bool = false, features: Bool = false,
                             rig: Rig? = nil, retarget: RetargetOptions = RetargetOptions()) throws {
        let ext = url.pathExtension.lowercased()
        guard extensions.contains(ext) else {
            throw MotionError.io("\(url.path): unknown motion format '.\(url.pathExtension)' (use .npy, .bvh, .json or .glb)")
        }
        if features && ext != "npy" { throw MotionError.invalidShape("\(url.path): features can only be written as .npy") }
        if rig != nil && !rigExtensions.contains(ext) {
            throw MotionError.invalidValue("\(url.path): a rig applies to .bvh and .glb outputs, not .\(ext)")
        }
        try checkWritable(url, force: force)
        switch ext {
        case "npy":
            let t = features ? try motion.features() : motion.tensor
            do { try writeNpy(t, to: url) } catch { throw MotionError.io("\(url.path): \(error)") }
        case "bvh":
            try (rig.map { try $0.retarget(motion, options: retarget) } ?? motion.bvh()).write(to: url, force: true)
        case "glb":
            try write(motion.glb(rig: rig, options: retarget, name: url.deletingPathExtension().lastPathComponent), to: url)
        default:
            try write(jsonData(motion), to: url)
        }
    }

    /// Throws when `url` exists and `force` is false, or when its folder does not exist.
    static func checkWritable(_ url: URL, force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            if isDir.boolValue { throw MotionError.io("\(url.path) is a directory") }
            if !force { throw MotionError.io("\(url.path) exists; pass force to overwrite it") }
        }
        let dir = url.deletingLastPathComponent().path
        guard fm.fileExists(atPath: dir.isEmpty ? "." : dir) else { throw MotionError.io("\(url.path): folder \(dir) does not exist") }
    }

    static func write(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw MotionError.io("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }

    // MARK: npy

    static func readNpy(_ url: URL, features: Bool?, fps: Float?) throws -> Motion {
        let t: Tensor
        do { t = try TensorEngine.readNpy(url) } catch { throw MotionError.io("\(url.path): \(error)") }
        let isFeatures = features ?? (t.rank == 2)
        if isFeatures {
            guard t.rank == 2, FeatureConfig.forDimension(t.shape[1]) != nil else {
                throw MotionError.invalidShape("\(url.path): features must be [T, 263] (HumanML3D) or [T, 251] (KIT-ML), got \(t.shape)")
            }
            do { return try Motion(features: t, fps: fps) } catch let e as MotionError { throw prefixed(e, url.path) }
        }
        guard t.rank == 3, t.shape[2] == 3 else {
            throw MotionError.invalidShape("\(url.path): joints must be [T, 22, 3] (or [T, 21, 3] for KIT), got \(t.shape)")
        }
        let skeleton: Skeleton
        switch t.shape[1] {
        case 22: skeleton = .humanML3D
        case 21: skeleton = .kitML
        default: throw MotionError.invalidShape("\(url.path): \(t.shape[1]) joints per frame; expected 22 (HumanML3D) or 21 (KIT-ML)")
        }
        do {
            return try Motion(skeleton: skeleton, tensor: t, fps: fps ?? (skeleton == .kitML ? 12.5 : 20))
        } catch let e as MotionError { throw prefixed(e, url.path) }
    }

    static func prefixed(_ e: MotionError, _ name: String) -> MotionError {
        let m = "\(name): \(e.description)"
        switch e {
        case .invalidShape: return .invalidShape(m)
        case .invalidValue: return .invalidValue(m)
        case .unknownJoint: return .unknownJoint(m)
        case .parse: return .parse(m)
        case .io: return .io(m)
        }
    }

    // MARK: json

    /// The JSON text of a motion: `{"fps":20,"skeleton":"humanml3d","joints":[[[x,y,z],...],...]}`, values
    /// with Float's shortest round-trip digits.
    public static func jsonData(_ motion: Motion) -> Data {
        var s = "{\"fps\":\(jsonNumber(motion.fps)),\"skeleton\":\"\(motion.skeleton.name)\",\"joints\":["
        for (t, frame) in motion.positions.enumerated() {
            if t > 0 { s += "," }
            s += "[" + frame.map { "[\(jsonNumber($0.x)),\(jsonNumber($0.y)),\(jsonNumber($0.z))]" }.joined(separator: ",") + "]"
        }
        s += "]}\n"
        return Data(s.utf8)
    }

    static func jsonNumber(_ v: Float) -> String {
        if v == v.rounded(), abs(v) < 1e7 { return String(Int(v)) }
        return "\(v)"
    }

    private struct JSONMotion: Decodable {
        var fps: Float?
        var skeleton: String?
        var joints: [[[Float]]]
    }

    /// A motion from JSON data (see `jsonData`); `skeleton` defaults to the joint count's (22 or 21).
    public static func motion(json data: Data, source: String = "<json>") throws -> Motion {
        let decoded: JSONMotion
        do { decoded = try JSONDecoder().decode(JSONMotion.self, from: data) } catch let e as DecodingError {
            // Name the offending element as a path like joints[3][5][2].
            func path(_ keys: [CodingKey]) -> String {
                keys.map { $0.intValue.map { "[\($0)]" } ?? ($0.stringValue.isEmpty ? "" : ".\($0.stringValue)") }
                    .joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
            }
            switch e {
            case .typeMismatch(_, let c), .valueNotFound(_, let c):
                let p = path(c.codingPath)
                if p == "joints" || c.codingPath.count < 4 && p.hasPrefix("joints") {
                    throw MotionError.parse("\(source): \(p) is not an array of frames of [x, y, z]")
                }
                throw MotionError.parse("\(source): \(p) is not a number")
            case .keyNotFound(let k, _):
                throw MotionError.parse("\(source): missing \"\(k.stringValue)\"")
            case .dataCorrupted(let c):
                throw MotionError.parse("\(source): not valid JSON (\(c.debugDescription))")
            @unknown default:
                throw MotionError.parse("\(source): \(e)")
            }
        } catch {
            throw MotionError.parse("\(source): not valid JSON (\(error.localizedDescription))")
        }
        var positions = [[SIMD3<Float>]]()
        positions.reserveCapacity(decoded.joints.count)
        for (t, frame) in decoded.joints.enumerated() {
            positions.append(try frame.enumerated().map { j, xyz in
                guard xyz.count == 3 else { throw MotionError.parse("\(source): joints[\(t)][\(j)] is not [x, y, z]") }
                return SIMD3(xyz[0], xyz[1], xyz[2])
            })
        }
        let skeleton: Skeleton
        if let name = decoded.skeleton {
            guard let s = Skeleton.named(name) else {
                throw MotionError.parse("\(source): unknown skeleton \"\(name)\" (use \"humanml3d\" or \"kit\")")
            }
            skeleton = s
        } else {
            let count = positions.first?.count ?? 22
            guard let s = count == 22 ? Skeleton.humanML3D : count == 21 ? Skeleton.kitML : nil else {
                throw MotionError.invalidShape("\(source): \(count) joints per frame; expected 22 (HumanML3D) or 21 (KIT-ML)")
            }
            skeleton = s
        }
        do { return try Motion(skeleton: skeleton, positions: positions, fps: decoded.fps ?? 20) } catch let e as MotionError {
            throw prefixed(e, source)
        }
    }

    static func readJSON(_ url: URL) throws -> Motion {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw MotionError.io("\(url.path): cannot read (\(error.localizedDescription))") }
        return try motion(json: data, source: url.path)
    }
}
