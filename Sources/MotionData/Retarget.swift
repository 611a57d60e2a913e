import Foundation

/// Where a target joint's position comes from in a source skeleton.
public enum JointSource: Sendable, Equatable, CustomStringConvertible {
    /// The position of the named source joint.
    case joint(String)
    /// The midpoint of two source joints (for a joint the source lacks, e.g. a third spine joint).
    case midpoint(String, String)

    public var description: String {
        switch self {
        case .joint(let a): return a
        case .midpoint(let a, let b): return "midpoint(\(a), \(b))"
        }
    }

    var names: [String] {
        switch self {
        case .joint(let a): return [a]
        case .midpoint(let a, let b): return [a, b]
        }
    }
}

/// A map from the joints of a target skeleton (by name) to source joints, with alternatives tried in order.
///
/// Source names match exactly first, then after normalisation: lower case, any namespace before the
/// last ':' dropped (`mixamorig:LeftArm`), a leading `mixamorig` dropped, and `_`, `-`, `.`, spaces removed.
public struct JointMap: Sendable {
    public var name: String
    /// Target joint name -> alternatives, first that resolves wins.
    public var entries: [String: [JointSource]]

    public init(name: String, entries: [String: [JointSource]]) {
        self.name = name
        self.entries = entries
    }

    /// A map with one source joint per target joint (`["left_hip": "LeftUpLeg", ...]`).
    public init(name: String = "custom", _ simple: [String: String]) {
        self.init(name: name, entries: simple.mapValues { [.joint($0)] })
    }

    static func normalize(_ s: String) -> String {
        var t = s.lowercased()
        if let c = t.lastIndex(of: ":") { t = String(t[t.index(after: c)...]) }
        if t.hasPrefix("mixamorig") { t = String(t.dropFirst("mixamorig".count)) }
        return t.filter { !"_-. ".contains($0) }
    }

    /// The identity map of a skeleton's own joint names (what `Motion.bvh()` writes).
    public static func identity(_ s: Skeleton) -> JointMap {
        JointMap(name: s.name, entries: Dictionary(uniqueKeysWithValues: s.jointNames.map { ($0, [JointSource.joint($0)]) }))
    }

    private static func sided(_ base: [String: [JointSource]], left: (String) -> String, right: (String) -> String,
                              _ pairs: [(String, [String])]) -> [String: [JointSource]] {
        var e = base
        for (target, sources) in pairs {
            e["left_" + target] = sources.map { .joint(left($0)) }
            e["right_" + target] = sources.map { .joint(right($0)) }
        }
        return e
    }

    /// SMPL joint names (`Pelvis, L_Hip, Spine1, ..., R_Wrist`).
    public static let smpl = JointMap(name: "smpl", entries: sided(
        ["pelvis": [.joint("Pelvis")], "spine1": [.joint("Spine1")], "spine2": [.joint("Spine2")],
         "spine3": [.joint("Spine3")], "neck": [.joint("Neck")], "head": [.joint("Head")]],
        left: { "L_" + $0 }, right: { "R_" + $0 },
        [("hip", ["Hip"]), ("knee", ["Knee"]), ("ankle", ["Ankle"]), ("foot", ["Foot"]), ("collar", ["Collar"]),
         ("shoulder", ["Shoulder"]), ("elbow", ["Elbow"]), ("wrist", ["Wrist"])]))

    /// CMU BVH conversions (`Hips, LowerBack, Spine, Spine1, Neck, Neck1, Head, LeftShoulder, LeftArm, ...,
    /// LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase`); it also reads Mixamo names (see `mixamo`).
    /// Spine joints above the hips map in order; where there is no `Spine2`, SMPL's third spine joint is the
    /// midpoint of `Spine1` and `Neck`.
    public static let cmu = JointMap(name: "cmu", entries: sided(
        ["pelvis": [.joint("Hips")], "spine1": [.joint("Spine")], "spine2": [.joint("Spine1")],
         "spine3": [.joint("Spine2"), .midpoint("Spine1", "Neck")], "neck": [.joint("Neck")], "head": [.joint("Head")]],
        left: { "Left" + $0 }, right: { "Right" + $0 },
        [("hip", ["UpLeg"]), ("knee", ["Leg"]), ("ankle", ["Foot"]), ("foot", ["ToeBase", "Toe"]),
         ("collar", ["Shoulder"]), ("shoulder", ["Arm"]), ("elbow", ["ForeArm"]), ("wrist", ["Hand"])]))

    /// Mixamo rigs (`mixamorig:Hips, Spine, Spine1, Spine2, Neck, Head, LeftShoulder, LeftArm, LeftForeArm,
    /// LeftHand, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase`; the `mixamorig:` prefix, or any namespace, is
    /// dropped when names are matched). Mixamo's three spine joints above the hips are SMPL's three, one to
    /// one, so unlike `cmu` no joint is a midpoint; fingers, `HeadTop_End` and `Toe_End` have no counterpart.
    public static let mixamo = JointMap(name: "mixamo", entries: sided(
        ["pelvis": [.joint("Hips")], "spine1": [.joint("Spine")], "spine2": [.joint("Spine1")],
         "spine3": [.joint("Spine2")], "neck": [.joint("Neck")], "head": [.joint("Head")]],
        left: { "Left" + $0 }, right: { "Right" + $0 },
        [("hip", ["UpLeg"]), ("knee", ["Leg"]), ("ankle", ["Foot"]), ("foot", ["ToeBase"]),
         ("collar", ["Shoulder"]), ("shoulder", ["Arm"]), ("elbow", ["ForeArm"]), ("wrist", ["Hand"])]))

    /// Reallusion iClone / Character Creator skeletons (`CC_Base_Hip, CC_Base_L_Thigh, ...`).
    public static let ccBase = JointMap(name: "cc_base", entries: sided(
        ["pelvis": [.joint("CC_Base_Hip")], "spine1": [.joint("CC_Base_Waist")], "spine2": [.joint("CC_Base_Spine01")],
         "spine3": [.joint("CC_Base_Spine02")], "neck": [.joint("CC_Base_NeckTwist01")], "head": [.joint("CC_Base_Head")]],
        left: { "CC_Base_L_" + $0 }, right: { "CC_Base_R_" + $0 },
        [("hip", ["Thigh"]), ("knee", ["Calf"]), ("ankle", ["Foot"]), ("foot", ["ToeBase"]), ("collar", ["Clavicle"]),
         ("shoulder", ["Upperarm"]), ("elbow", ["Forearm"]), ("wrist", ["Hand"])]))

    /// The built-in maps tried, in order, for a 22-joint target when none is given.
    public static var builtIn: [JointMap] { [identity(.humanML3D), smpl, mixamo, cmu, ccBase] }

    /// A map from a JSON object of target joint names to source joint names, e.g.
    /// `{"pelvis": "Hips", "left_hip": "LeftUpLeg", "spine3": ["Chest", "Spine2"], "left_collar": null}`:
    /// a string is one joint, an array lists alternatives tried in order, `null` (or a missing key) says
    /// the source has no such joint. Keys must be joints of `skeleton`.
    public init(json data: Data, skeleton: Skeleton = .humanML3D, source: String = "<joint map>") throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw MotionError.parse("\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else {
            throw MotionError.parse("\(source): a joint map is a JSON object of joint names, e.g. {\"pelvis\": \"Hips\"}")
        }
        var entries = [String: [JointSource]]()
        for key in dict.keys.sorted() {
            guard skeleton.index(of: key) != nil else {
                throw MotionError.unknownJoint("\(source): '\(key)' is not a joint of the \(skeleton.name) skeleton (its joints: \(skeleton.jointNames.joined(separator: ", ")))")
            }
            switch dict[key] {
            case let name as String where !name.isEmpty: entries[key] = [.joint(name)]
            case let list as [Any] where !list.isEmpty && list.allSatisfy({ ($0 as? String).map { !$0.isEmpty } ?? false }):
                entries[key] = list.compactMap { $0 as? String }.map { .joint($0) }
            case is NSNull: entries[key] = []
            default:
                throw MotionError.parse("\(source): \"\(key)\" must be a joint name, a list of names or null")
            }
        }
        self.init(name: source, entries: entries)
    }

    /// Reads a JSON joint map file (see `init(json:skeleton:source:)`).
    public init(url: URL, skeleton: Skeleton = .humanML3D) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw MotionError.io("\(url.path): cannot read (\(error.localizedDescription))")
        }
        try self.init(json: data, skeleton: skeleton, source: url.lastPathComponent)
    }

    /// A BVH joint by name: the exact name first, else the first joint whose normalised name matches.
    static func lookup(in bvh: BVH) -> (String) -> Int? {
        var exact = [String: Int](), loose = [String: Int]()
        for (i, j) in bvh.joints.enumerated() {
            exact[j.name] = i
            let k = JointMap.normalize(j.name)
            if loose[k] == nil { loose[k] = i }
        }
        return { n in exact[n] ?? loose[JointMap.normalize(n)] }
    }

    /// Resolves every target joint of `skeleton` against the BVH's joint names. Throws `unknownJoint`
    /// naming the target joints no alternative could resolve, with the names tried.
    func resolve(for skeleton: Skeleton, in bvh: BVH, source: String) throws -> [(Int, Int?)] {
        let find = JointMap.lookup(in: bvh)
        if let stray = entries.keys.sorted().first(where: { skeleton.index(of: $0) == nil }) {
            throw MotionError.unknownJoint("joint map '\(name)' names target joint '\(stray)', which the \(skeleton.name) skeleton does not have")
        }
        var result = [(Int, Int?)](), missing = [String]()
        for target in skeleton.jointNames {
            guard let alts = entries[target], !alts.isEmpty else { missing.append("\(target) (not in the map)"); continue }
            var found: (Int, Int?)?
            for alt in alts {
                let idx = alt.names.map(find)
                if idx.allSatisfy({ $0 != nil }) { found = (idx[0]!, idx.count > 1 ? idx[1] : nil); break }
            }
            if let f = found { result.append(f) } else {
                missing.append("\(target) (tried \(alts.map(\.description).joined(separator: ", ")))")
            }
        }
        if !missing.isEmpty {
            throw MotionError.unknownJoint("\(source): joint map '\(name)' has no BVH joint for \(missing.joined(separator: "; "))")
        }
        return result
    }
}

/// Length units of a BVH file.
public enum BVHUnits: Sendable, Equatable {
    /// Guess from the rest pose's height `h` (file units; see `BVH.estimatedUnits`).
    case auto
    case metres, centimetres, millimetres, inches
    /// The CMU database's units: ASF `length 0.45`, i.e. 1/0.45 inch (a 1.75 m person is about 31 units).
    case cmu
    /// Metres per file unit.
    case scale(Double)

    /// Metres per file unit (nil for `.auto`).
    public var metresPerUnit: Double? {
        switch self {
        case .auto: return nil
        case .metres: return 1
        case .centimetres: return 0.01
        case .millimetres: return 0.001
        case .inches: return 0.0254
        case .cmu: return 0.0254 / 0.45
        case .scale(let s): return s
        }
    }
}

extension BVH {
    /// The rest pose's height in file units: the vertical (y) extent of joints and End Sites, or the
    /// largest extent of any axis when the pose is flat in y.
    public var restHeight: Double {
        let p = restPositions(includingEndSites: true)
        func extent(_ k: Int) -> Double { (p.map { $0[k] }.max() ?? 0) - (p.map { $0[k] }.min() ?? 0) }
        let h = extent(1)
        return h > 1e-9 ? h : max(extent(0), extent(2))
    }

    /// The units rule for `.auto`, by the rest-pose height `h` of a human figure: `h <= 3` metres,
    /// `h <= 45` CMU units (1/0.45 inch), `h <= 100` inches, `h <= 1000` centimetres, else millimetres.
    public var estimatedUnits: BVHUnits {
        let h = restHeight
        if h <= 3 { return .metres }
        if h <= 45 { return .cmu }
        if h <= 100 { return .inches }
        if h <= 1000 { return .centimetres }
        return .millimetres
    }

    /// Retargets this BVH to a `Motion` on `skeleton` (metres, y up).
    ///
    /// - Parameters:
    ///   - jointMap: target joint names to source joints; nil tries the skeleton's own names and then, for the
    ///     22-joint skeleton, `JointMap.smpl`, `.mixamo`, `.cmu` and `.ccBase`, taking the first that
    ///     resolves every joint.
    ///   - units: file units (`.auto` applies `estimatedUnits`).
    ///   - fps: output frame rate (HumanML3D's 20 by default); nil keeps the file's rate.
    ///   - source: the file name for messages.
    public func motion(skeleton: Skeleton = .humanML3D, jointMap: JointMap? = nil, units: BVHUnits = .auto,
                       fps: Double? = 20, source: String = "<bvh>") throws -> Motion {
        // Work and memory grow with joints x frames (world positions of every joint) and with the resampled
        // length; a small hostile file (thousands of channel-less joints, or Frame Time: 1e300) must not
        // be able to ask for terabytes.
        guard joints.count * frames.count <= BVH.maxJointFrames else {
            throw MotionError.invalidShape("\(source): \(joints.count) joints x \(frames.count) frames is more than the \(BVH.maxJointFrames) this reader converts")
        }
        if let target = fps {
            let outFrames = Double(frames.count - 1) * frameTime * target + 1
            guard outFrames <= Double(BVH.maxFrames) else {
                throw MotionError.invalidShape("\(source): \(frames.count) frames of \(frameTime) s resample to \(outFrames) frames at \(target) fps, more than \(BVH.maxFrames)")
            }
        }
        let resolved: [(Int, Int?)]
        if let map = jointMap {
            resolved = try map.resolve(for: skeleton, in: self, source: source)
        } else {
            let maps = skeleton == .humanML3D ? JointMap.builtIn : [JointMap.identity(skeleton)]
            var firstError: Error?
            var found: [(Int, Int?)]?
            for m in maps {
                do { found = try m.resolve(for: skeleton, in: self, source: source); break } catch {
                    // Report the map that matched most names; the cmu map is the most common source.
                    if firstError == nil || m.name == "cmu" { firstError = error }
                }
            }
            guard let f = found else {
                throw MotionError.unknownJoint("\(firstError.map { "\($0)" } ?? source) (no built-in joint map fits; pass one)")
            }
            resolved = f
        }
        guard !frames.isEmpty else { throw MotionError.invalidShape("\(source): the BVH has no frames") }
        let scale = units.metresPerUnit ?? estimatedUnits.metresPerUnit!
        let world = globalPositions()
        var positions = world.map { frame in
            resolved.map { a, b -> Vec3 in (b.map { (frame[a] + frame[$0]) / 2 } ?? frame[a]) * scale }
        }
        var rate = frameRate
        if let target = fps, abs(target - rate) > 1e-6 * target {
            positions = MotionResampling.resample(positions, from: rate, to: target)
            rate = target
        }
        return try Motion(skeleton: skeleton, positions: positions.map { $0.map { $0.float } }, fps: Float(rate))
    }
}

/// Frame-rate conversion of joint positions.
public enum MotionResampling {
    /// Linear interpolation of positions at `k / to` seconds for every instant inside the clip. When the
    /// source rate is an integer multiple of the target this is plain frame skipping, as HumanML3D does.
    public static func resample(_ frames: [[Vec3]], from: Double, to: Double) -> [[Vec3]] {
        guard frames.count > 1, from > 0, to > 0, from.isFinite, to.isFinite else { return frames }
        let duration = Double(frames.count - 1) / from
        let count = Int((duration * to + 1e-9).rounded(.down)) + 1
        return (0..<count).map { k in
            let x = Double(k) * from / to
            let i = min(Int(x.rounded(.down)), frames.count - 1)
            let f = x - Double(i)
            if f < 1e-9 || i + 1 >= frames.count { return frames[i] }
            return zip(frames[i], frames[i + 1]).map { a, b in a + (b - a) * f }
        }
    }

    /// A motion at another frame rate (see `resample(_:from:to:)`).
    public static func resample(_ motion: Motion, to fps: Float) throws -> Motion {
        // A motion file may carry any positive rate (fps 1e-45 is valid JSON); the output length must stay bounded.
        guard fps > 0, fps.isFinite else { throw MotionError.invalidValue("frame rate \(fps) must be positive") }
        let outFrames = Double(max(motion.positions.count - 1, 0)) / Double(motion.fps) * Double(fps) + 1
        guard outFrames <= Double(BVH.maxFrames) else {
            throw MotionError.invalidShape("\(motion.positions.count) frames at \(motion.fps) fps resample to \(outFrames) frames at \(fps) fps, more than \(BVH.maxFrames)")
        }
        let p = resample(motion.positions.map { $0.map { $0.double } }, from: Double(motion.fps), to: Double(fps))
        return try Motion(skeleton: motion.skeleton, positions: p.map { $0.map { $0.float } }, fps: fps)
    }
}

extension Motion {
    /// This motion as a BVH with rotations, for Blender and other tools.
    ///
    /// Joints are the skeleton's, named as in `skeleton.jointNames`; the root has position and rotation
    /// channels, every other joint `Zrotation Xrotation Yrotation`; leaves get an End Site.
    /// Rest offsets come from the motion's own bone lengths (mean over frames) along the skeleton's raw
    /// directions, except below joints with several children (pelvis, upper spine), whose children keep
    /// their first-frame arrangement so one rotation can place them all. Rotations are solved per frame:
    /// a joint with one child gets the shortest rotation (from its parent's frame) aiming the bone at the
    /// child; a joint with several is fitted to two of them (TRIAD). Forward kinematics of the file then
    /// reproduces the positions exactly for a rigid skeleton (as HumanML3D's), up to the bone-length
    /// spread otherwise.
    ///
    /// - Parameter unitsPerMetre: file units per metre (1: metres, 100: centimetres).
    public func bvh(unitsPerMetre: Double = 1) throws -> BVH {
        let s = skeleton
        let jc = s.jointCount
        guard frameCount > 0 else { throw MotionError.invalidShape("cannot write a BVH without frames") }
        let p = positions.map { $0.map { $0.double * unitsPerMetre } }
        var children = [[Int]](repeating: [], count: jc)
        for j in 1..<jc { children[s.parents[j]].append(j) }
        // Mean bone lengths.
        var lengths = [Double](repeating: 0, count: jc)
        for j in 1..<jc {
            lengths[j] = p.reduce(0) { $0 + MotionData.length($1[j] - $1[s.parents[j]]) } / Double(p.count)
        }
        func raw(_ j: Int) -> Vec3 {
            let r = s.rawOffsets[j].double
            return MotionData.length(r) > 0 ? unitVector(r) : Vec3(0, 1, 0)
        }
        // Two children of a branching joint that span a plane in frame 0: the longest bone, then the first
        // other child not parallel to it.
        var pairs = [Int: (Int, Int)]()
        for j in 0..<jc where children[j].count >= 2 {
            let a = children[j].max { lengths[$0] < lengths[$1] }!
            let va = p[0][a] - p[0][j]
            let b = children[j].first { c in
                c != a && MotionData.length(cross(unitVector(va), unitVector(p[0][c] - p[0][j]))) > 0.1
            } ?? children[j].first { $0 != a }!
            pairs[j] = (a, b)
        }
        var offsets = [Vec3](repeating: .zero, count: jc)
        for j in 0..<jc {
            if let (a, b) = pairs[j] {
                // Turn the first-frame arrangement so the main child points along its raw direction.
                let q = triad(from: (p[0][a] - p[0][j], p[0][b] - p[0][j]), to: (raw(a), raw(b)))
                for c in children[j] { offsets[c] = q.rotate(unitVector(p[0][c] - p[0][j])) * lengths[c] }
            } else if let c = children[j].first {
                offsets[c] = raw(c) * lengths[c]
            }
        }
        var frames = [[Double]]()
        frames.reserveCapacity(frameCount)
        for t in 0..<frameCount {
            var global = [Quaternion](repeating: .identity, count: jc)
            var row = [p[t][0].x, p[t][0].y, p[t][0].z]
            for j in 0..<jc {
                let parent = s.parents[j] < 0 ? Quaternion.identity : global[s.parents[j]]
                if let (a, b) = pairs[j] {
                    global[j] = triad(from: (offsets[a], offsets[b]), to: (p[t][a] - p[t][j], p[t][b] - p[t][j]))
                } else if let c = children[j].first {
                    global[j] = parent * Quaternion.between(offsets[c], parent.inverse.rotate(p[t][c] - p[t][j]))
                } else {
                    global[j] = parent
                }
                let local = parent.inverse * global[j]
                let e = local.euler(order: .zxy)
                row += [e.x, e.y, e.z]
            }
            frames.append(row)
        }
        let rot: [BVH.Channel] = [.zRotation, .xRotation, .yRotation]
        let joints = (0..<jc).map { j in
            BVH.Joint(name: s.jointNames[j], parent: s.parents[j], offset: offsets[j],
                      channels: j == 0 ? [.xPosition, .yPosition, .zPosition] + rot : rot,
                      endSite: children[j].isEmpty ? raw(j) * max(lengths[j] * 0.5, 1e-3 * unitsPerMetre) : nil)
        }
        return try BVH(joints: joints, frameTime: 1 / Double(fps), frames: frames)
    }
}

/// The rotation taking the frame of (a0, b0) onto that of (a1, b1): `a0` exactly onto `a1`'s direction and
/// the plane of a0, b0 onto that of a1, b1 (the TRIAD method).
func triad(from: (Vec3, Vec3), to: (Vec3, Vec3)) -> Quaternion {
    func frame(_ a: Vec3, _ b: Vec3) -> Matrix3? {
        let e1 = unitVector(a)
        let n = cross(a, b)
        guard length(n) > 1e-12 * max(length(a) * length(b), 1e-300) else { return nil }
        let e2 = unitVector(n)
        return Matrix3(columns: e1, e2, cross(e1, e2))
    }
    guard let f0 = frame(from.0, from.1), let f1 = frame(to.0, to.1) else { return Quaternion.between(from.0, to.0) }
    return Quaternion(matrix: f1 * f0.transposed)
}
