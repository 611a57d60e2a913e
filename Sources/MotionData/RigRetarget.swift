import Foundation

/// A character rig that motions are put onto: a BVH hierarchy (joint names, rest offsets, channel order)
/// and which rig joint each of the 22 HumanML3D joints drives.
///
/// The rig's rest pose is its `OFFSET`s with every rotation zero (the pose BVH files define); its frames,
/// if any, are ignored. Rig joints without a counterpart (fingers, twist bones, end bones, extra spine or
/// neck joints, a root above the hips) are allowed: see `retarget(_:options:)` for what they do.
public struct Rig: Sendable {
    /// The rig's hierarchy, without frames.
    public let bvh: BVH
    /// For each joint of `Skeleton.humanML3D` (in its order), the index of the rig joint it drives, or nil.
    public let joints: [Int?]
    /// The name of the joint map that matched the rig's names.
    public let mapName: String
    /// Metres per rig unit (for glTF, which is in metres).
    public let metresPerUnit: Double
    /// The file name, for messages.
    public let source: String

    /// Joints every rig must have: the legs give the scale and are what foot locking moves.
    public static let requiredJoints = ["pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]

    /// A rig from a BVH hierarchy.
    /// - Parameters:
    ///   - jointMap: our joint names to rig joint names. Nil tries the import maps (`JointMap.builtIn`:
    ///     our own names, SMPL, Mixamo, CMU, CC_Base) and keeps the one that names the most joints. Joints the
    ///     map leaves out, or gives only as a midpoint of two rig joints, drive nothing.
    ///   - units: the rig's length units, for glTF (`.auto` guesses from the rest height).
    public init(bvh: BVH, jointMap: JointMap? = nil, units: BVHUnits = .auto, source: String = "<rig>") throws {
        let skeleton = Skeleton.humanML3D
        let candidates = jointMap.map { [$0] } ?? JointMap.builtIn
        var best: (map: JointMap, joints: [Int?], score: Double)?
        for map in candidates {
            if let stray = map.entries.keys.sorted().first(where: { skeleton.index(of: $0) == nil }) {
                throw MotionError.unknownJoint("joint map '\(map.name)' names joint '\(stray)', which the \(skeleton.name) skeleton does not have")
            }
            let found = map.exportJoints(for: skeleton, in: bvh)
            // The map that names the most joints; a joint it finds only as a midpoint counts half, so a CMU
            // rig (no Spine2, spine3 between Spine1 and Neck) is read by the CMU map, not the Mixamo one.
            let score = map.score(for: skeleton, in: bvh)
            if best == nil || score > best!.score { best = (map, found, score) }
        }
        guard let (map, joints, _) = best else { throw MotionError.unknownJoint("\(source): no joint map") }
        let missing = Rig.requiredJoints.filter { joints[skeleton.index(of: $0)!] == nil }
        if !missing.isEmpty {
            let tried = jointMap == nil ? "the built-in maps (\(candidates.map(\.name).joined(separator: ", ")))" : "joint map '\(map.name)'"
            throw MotionError.unknownJoint("\(source): \(tried) find no rig joint for \(missing.joined(separator: ", ")); give a joint map naming them")
        }
        // One rig joint per joint of ours: two of ours on one rig joint would ask it to point two ways.
        var owner = [Int: Int]()
        for (i, r) in joints.enumerated() {
            guard let r else { continue }
            if let other = owner[r] {
                throw MotionError.invalidValue("\(source): joint map '\(map.name)' puts both \(skeleton.jointNames[other]) and \(skeleton.jointNames[i]) on rig joint \(bvh.joints[r].name)")
            }
            owner[r] = i
        }
        // The rig's tree must hold ours: each driven joint below the rig joint of its nearest driven ancestor.
        func isAncestor(_ a: Int, of b: Int) -> Bool {
            var k = bvh.joints[b].parent
            while k >= 0 { if k == a { return true }; k = bvh.joints[k].parent }
            return false
        }
        for i in 1..<skeleton.jointCount {
            guard let r = joints[i] else { continue }
            var a = skeleton.parents[i]
            while a > 0, joints[a] == nil { a = skeleton.parents[a] }
            guard let ra = joints[a], isAncestor(ra, of: r) else {
                throw MotionError.invalidValue("\(source): rig joint \(bvh.joints[r].name) (\(skeleton.jointNames[i])) is not below \(joints[a].map { bvh.joints[$0].name } ?? "?") (\(skeleton.jointNames[a])) in the rig's hierarchy")
            }
        }
        self.bvh = try BVH(joints: bvh.joints, frameTime: bvh.frameTime, frames: [])
        self.joints = joints
        self.mapName = map.name
        self.metresPerUnit = units.metresPerUnit ?? bvh.estimatedUnits.metresPerUnit!
        self.source = source
    }

    /// A rig from a `.bvh` file (see `init(bvh:jointMap:units:source:)`).
    public init(url: URL, jointMap: JointMap? = nil, units: BVHUnits = .auto) throws {
        try self.init(bvh: BVH(url: url), jointMap: jointMap, units: units, source: url.lastPathComponent)
    }

    /// The rig joint driven by our joint `name`.
    public func joint(for name: String) -> Int? { Skeleton.humanML3D.index(of: name).flatMap { joints[$0] } }

    /// Rest positions of the rig's joints (rig units).
    public var restPositions: [Vec3] { bvh.restPositions() }

    /// The rig's leg length in its rest pose: hip to knee plus knee to ankle, mean of both sides (rig units).
    public var legLength: Double {
        let p = restPositions
        func leg(_ side: String) -> Double {
            let h = p[joint(for: "\(side)_hip")!], k = p[joint(for: "\(side)_knee")!], a = p[joint(for: "\(side)_ankle")!]
            return MotionData.length(k - h) + MotionData.length(a - k)
        }
        return (leg("left") + leg("right")) / 2
    }

    /// Rig units per metre of `motion`: the rig's leg length over the motion's (mean over frames). Root
    /// translation is multiplied by this, so a rig with longer legs takes longer steps.
    public func scale(for motion: Motion) throws -> Double {
        guard motion.skeleton == .humanML3D else {
            throw MotionError.invalidShape("retargeting onto a rig needs the 22-joint HumanML3D skeleton, not \(motion.skeleton.name)")
        }
        guard motion.frameCount > 0 else { throw MotionError.invalidShape("cannot retarget a motion without frames") }
        var sum = 0.0
        for f in motion.positions {
            for (h, k, a) in [(1, 4, 7), (2, 5, 8)] {
                sum += MotionData.length(f[k].double - f[h].double) + MotionData.length(f[a].double - f[k].double)
            }
        }
        let ours = sum / Double(2 * motion.frameCount)
        guard ours > 1e-6 else { throw MotionError.invalidValue("the motion's legs have no length") }
        let rig = legLength
        guard rig > 1e-9 else { throw MotionError.invalidValue("\(source): the rig's legs have no length in its rest pose") }
        return rig / ours
    }
}

/// How a motion is put onto a rig.
public struct RetargetOptions: Sendable, Equatable {
    /// Keep planted feet in place (foot contacts of the motion's HumanML3D features; a two-bone IK fix of
    /// each leg against sliding). On by default.
    public var footLock: Bool
    /// Frames over which a lock fades in before a planted span and out after it.
    public var footLockBlendFrames: Int
    /// The most a lock moves an ankle from where the motion puts it, as a fraction of the rig's leg length:
    /// a foot the motion drags (a pivot, a shuffle) then slides instead of buckling the knee.
    public var footLockMaxShift: Double

    /// Keep the feet on the floor: the root moves up or down by one constant for the whole clip so that the
    /// rig's lowest ankle or toe over the clip is as low as the motion's (scaled). Without it a rig whose legs
    /// sit otherwise under its hips than ours stands in the floor or above it. On by default.
    public var floor: Bool

    public init(footLock: Bool = true, footLockBlendFrames: Int = 3, footLockMaxShift: Double = 0.08, floor: Bool = true) {
        self.footLock = footLock
        self.footLockBlendFrames = footLockBlendFrames
        self.footLockMaxShift = footLockMaxShift
        self.floor = floor
    }
}

extension JointMap {
    /// For export: per target joint, the rig joint of the first alternative that is a single joint present in
    /// the BVH (a midpoint alternative means the rig has no such joint of its own).
    /// Joints resolved by this map in `bvh`: 1 for a single joint, 0.5 for a midpoint of two.
    func score(for skeleton: Skeleton, in bvh: BVH) -> Double {
        let find = JointMap.lookup(in: bvh)
        return skeleton.jointNames.reduce(0.0) { sum, target in
            guard let alt = (entries[target] ?? []).first(where: { $0.names.allSatisfy { find($0) != nil } }) else { return sum }
            return sum + (alt.names.count == 1 ? 1 : 0.5)
        }
    }

    func exportJoints(for skeleton: Skeleton, in bvh: BVH) -> [Int?] {
        let find = JointMap.lookup(in: bvh)
        return skeleton.jointNames.map { target in
            for alt in entries[target] ?? [] {
                if case .joint(let n) = alt, let i = find(n) { return i }
            }
            return nil
        }
    }
}

extension Rig {
    /// The motion on this rig: a BVH with the rig's hierarchy, offsets, names and channel order whose
    /// bones point where the motion's bones point.
    ///
    /// Rotations come from the joint positions (position-based IK), never from feature rotations:
    /// - every driven joint gets the rotation that aims its bone (to the next driven joint below it) along
    ///   the motion's bone, the swing; the twist about the bone comes from a second direction: the hips'
    ///   left-right line for the pelvis and the lower spine, the shoulders' for the upper spine and neck
    ///   (a blend of the two between), the foot's heel-to-toe line for thigh and shin, the shin for the foot.
    ///   Arms take the least rotation from their parent's frame. A joint with several driven children (the
    ///   pelvis, the chest) is fitted to its main child and the left-right line of the others;
    /// - rig joints between two driven spine or neck joints share their chain's rotation (each turns by an
    ///   equal part, then the chain is turned so its end lands on the motion's direction); all other joints
    ///   without a counterpart keep their rest rotation, as do driven joints with nothing driven below them
    ///   (head, hands, toes: the motion says nothing about their orientation);
    /// - the root moves by the motion's pelvis path times `scale(for:)` (with `floor`, raised or lowered by
    ///   one constant so the feet meet the floor as the motion's do); position channels of other joints
    ///   keep their rest offsets, so every bone keeps its rig length in every frame. A rig with no position
    ///   channel on its root or on the path to the pelvis gets `Xposition Yposition Zposition` on its root;
    /// - with `footLock`, feet that the motion plants (the features' ankle contacts) are held at one place
    ///   per planted span by turning thigh and shin (two-bone IK, knee kept in its plane), fading in and out
    ///   over `footLockBlendFrames`.
    ///
    /// The frame rate is the motion's. Euler angles are written in each joint's own channel order and kept
    /// continuous from frame to frame.
    public func retarget(_ motion: Motion, options: RetargetOptions = RetargetOptions()) throws -> BVH {
        let s = try scale(for: motion)
        let plan = try RigPlan(rig: self)
        var x = motion.positions.map { $0.map { $0.double * s } }
        var poses = x.map { plan.solve($0) }
        if options.floor {
            // Only the root reads absolute positions, so shifting every joint shifts the figure and nothing else.
            let feet = [7, 8, 10, 11]
            let ours = x.lazy.flatMap { f in feet.map { f[$0].y } }.min()!
            let rigs = poses.lazy.flatMap { p in feet.map { p.world[plan.rigOf[$0] ?? plan.rigOf[$0 - 3]!].y } }.min()!
            let lift = Vec3(0, ours - rigs, 0)
            x = x.map { $0.map { $0 + lift } }
            poses = x.map { plan.solve($0) }
        }
        // A pose the features refuse (coincident joints, no hip width) has no foot contacts to keep.
        if options.footLock, motion.frameCount >= 3, let contacts = try? Rig.footContacts(motion) {
            var fixed = x
            var changed = Set<Int>()
            for (side, planted) in [(0, contacts.left), (1, contacts.right)] {
                let hip = side == 0 ? 1 : 2, knee = hip + 3, ankle = knee + 3, toe = ankle + 3
                let targets = Rig.lockTargets(planted: planted, ankles: poses.map { $0.world[plan.rigOf[ankle]!] },
                                              blend: max(0, options.footLockBlendFrames),
                                              maxShift: max(0, options.footLockMaxShift) * legLength)
                for (t, target) in targets.enumerated() {
                    guard let target else { continue }
                    let legFix = plan.twoBoneIK(pose: poses[t], ours: fixed[t], leg: (hip, knee, ankle, toe), target: target)
                    fixed[t] = legFix
                    changed.insert(t)
                }
            }
            for t in changed { poses[t] = plan.solve(fixed[t]) }
        }
        return try plan.bvh(poses: poses, frameTime: 1 / Double(motion.fps))
    }

    /// Planted frames of each foot: the ankle contact channels of the motion's HumanML3D features (squared
    /// displacement to the next frame under 0.002 m², after the features' rescaling to the uniform
    /// skeleton). The last frame takes the contact of the one before.
    static func footContacts(_ motion: Motion) throws -> (left: [Bool], right: [Bool]) {
        let rows = try MotionFeatures.features(from: motion.positions, config: .humanML3D)   // [T-1][263]
        let d = FeatureConfig.humanML3D.dimension
        // Contacts are the last four features: left ankle, left toe, right ankle, right toe.
        var left = rows.map { $0[d - 4] > 0.5 }, right = rows.map { $0[d - 2] > 0.5 }
        left.append(left.last ?? false); right.append(right.last ?? false)
        return (left, right)
    }

    /// Per frame, where the ankle should be (nil: leave it). Each planted span of two or more frames holds
    /// the ankle over the mean of its unlocked positions over the span (horizontally; y up); `blend` frames on either side move it
    /// part of the way, so the lock starts and ends without a jump. No ankle moves more than `maxShift`.
    static func lockTargets(planted: [Bool], ankles: [Vec3], blend: Int, maxShift: Double) -> [Vec3?] {
        let n = planted.count
        var weight = [Double](repeating: 0, count: n)
        var target = [Vec3?](repeating: nil, count: n)
        var t = 0
        while t < n {
            guard planted[t] else { t += 1; continue }
            var end = t
            while end + 1 < n, planted[end + 1] { end += 1 }
            if end > t {
                let lock = ankles[t...end].reduce(Vec3.zero, +) / Double(end - t + 1)
                for k in max(0, t - blend)...min(n - 1, end + blend) {
                    let outside = k < t ? t - k : k > end ? k - end : 0
                    let w = 1 - Double(outside) / Double(blend + 1)
                    if w > weight[k] { weight[k] = w; target[k] = lock }
                }
            }
            t = end + 1
        }
        return (0..<n).map { k in
            target[k].map { lock in
                // Only along the floor: skating is horizontal, and the ankle's height (heel strike, heel
                // off) is the motion's own.
                var shift = Vec3(lock.x - ankles[k].x, 0, lock.z - ankles[k].z) * weight[k]
                let l = MotionData.length(shift)
                if l > maxShift { shift *= maxShift / l }
                return ankles[k] + shift
            }
        }
    }
}

/// One frame of the rig: local rotations and translations, and world rotations and positions.
struct RigPose {
    var local: [Quaternion]
    var translation: [Vec3]
    var global: [Quaternion]
    var world: [Vec3]
}

/// What each rig joint does, worked out once per rig (see `Rig.retarget`).
struct RigPlan {
    /// A second direction fixing the twist about a bone: our joint `a` minus our joint `b` (and the rig's
    /// rest counterpart), or a blend of two such lines.
    enum Reference {
        case none
        case pair(Int, Int)
        case blend((Int, Int), (Int, Int), Double)
        /// The knee's hinge axis of a leg (our hip, knee, ankle, toe): the normal of the hip-knee-ankle plane
        /// once the knee bends, the foot's heel-to-toe line across the shin while the leg is straight.
        case hinge(Int, Int, Int, Int)
    }

    struct Driven {
        var our: Int
        /// The next driven rig joints below (nearest only).
        var frontier: [Int]
        /// Index into `frontier` of the bone the joint aims.
        var primary: Int
        var reference: Reference
        /// Rig joints between this one and its single frontier joint that share its rotation.
        var spread: [Int]
    }

    let rig: Rig
    let parents: [Int]
    let offsets: [Vec3]
    let rest: [Vec3]
    let rigOf: [Int?]
    let ourOf: [Int?]
    let driven: [Driven?]
    /// The joint whose position channels move the figure, and the pelvis joint.
    let carrier: Int
    let pelvis: Int
    /// The joints' channels, with position channels added to the root where the rig had none to move it.
    let channels: [[BVH.Channel]]

    static let spineChain: Set<Int> = [3, 6, 9, 12, 15]

    init(rig: Rig) throws {
        let bvh = rig.bvh, n = bvh.joints.count, sk = Skeleton.humanML3D
        self.rig = rig
        // Locals, not the stored properties, are used below: closures may not capture self before init ends.
        let parents = bvh.joints.map(\.parent), offsets = bvh.joints.map(\.offset), rest = bvh.restPositions()
        self.parents = parents
        self.offsets = offsets
        self.rest = rest
        self.rigOf = rig.joints
        var ourOf = [Int?](repeating: nil, count: n)
        for (i, r) in rig.joints.enumerated() { if let r { ourOf[r] = i } }
        self.ourOf = ourOf
        var children = [[Int]](repeating: [], count: n)
        for (j, p) in parents.enumerated() where p >= 0 { children[p].append(j) }
        func rotationAxes(_ j: Int) -> Int { bvh.joints[j].channels.filter { !$0.isPosition }.count }
        let rigOf = rig.joints
        func matched(_ i: Int) -> Bool { rigOf[i] != nil }
        func pair(_ a: Int, _ b: Int) -> Reference? { matched(a) && matched(b) ? .pair(a, b) : nil }
        let hips = pair(1, 2)
        let shoulders = pair(16, 17) ?? pair(13, 14) ?? hips

        var driven = [Driven?](repeating: nil, count: n)
        for r in 0..<n {
            guard let our = ourOf[r] else { continue }
            var frontier = [Int]()
            func walk(_ j: Int) { for c in children[j] { if ourOf[c] != nil { frontier.append(c) } else { walk(c) } } }
            walk(r)
            frontier = frontier.filter { MotionData.length(rest[$0] - rest[r]) > 1e-9 }
            guard !frontier.isEmpty else { continue }
            guard rotationAxes(r) == 3 else {
                throw MotionError.invalidValue("\(rig.source): rig joint \(bvh.joints[r].name) (\(sk.jointNames[our])) has \(rotationAxes(r)) rotation channels; it needs Xrotation, Yrotation and Zrotation (any order)")
            }
            let ours = frontier.map { ourOf[$0]! }
            var primary = 0
            var reference = Reference.none
            if frontier.count > 1 {
                primary = ours.firstIndex { RigPlan.spineChain.contains($0) }
                    ?? frontier.indices.max { MotionData.length(rest[frontier[$0]] - rest[r]) < MotionData.length(rest[frontier[$1]] - rest[r]) }!
                // The left-right line of a left/right pair among the others, else the other child most across.
                let names = ours.map { sk.jointNames[$0] }
                if let l = names.firstIndex(where: { $0.hasPrefix("left_") }),
                   let rr = names.firstIndex(where: { $0 == "right_" + names[l].dropFirst("left_".count) }) {
                    reference = .pair(ours[l], ours[rr])
                } else {
                    let u = unitVector(rest[frontier[primary]] - rest[r])
                    let other = frontier.indices.filter { $0 != primary }.max {
                        MotionData.length(cross(u, unitVector(rest[frontier[$0]] - rest[r]))) < MotionData.length(cross(u, unitVector(rest[frontier[$1]] - rest[r])))
                    }!
                    reference = .pair(ours[other], our)
                }
            } else {
                switch our {
                case 3: reference = hips ?? .none
                case 6:
                    if case .pair(let a, let b)? = hips, case .pair(let c, let d)? = shoulders { reference = .blend((a, b), (c, d), 0.5) }
                case 9, 12: reference = shoulders ?? .none
                // Thigh and shin share the knee's hinge axis, so the knee turns as a hinge about the rig's own
                // knee axis; the foot's turn-out goes to the ankle, which aims at the toes.
                case 1, 4: reference = matched(10) ? .hinge(1, 4, 7, 10) : .none
                case 2, 5: reference = matched(11) ? .hinge(2, 5, 8, 11) : .none
                case 7: reference = pair(4, 7) ?? .none
                case 8: reference = pair(5, 8) ?? .none
                default: reference = .none
                }
            }
            var spread = [Int]()
            if frontier.count == 1, RigPlan.spineChain.contains(our) {
                var k = parents[frontier[0]]
                while k != r { spread.insert(k, at: 0); k = parents[k] }
                if !spread.allSatisfy({ rotationAxes($0) == 3 }) { spread = [] }
            }
            driven[r] = Driven(our: our, frontier: frontier, primary: primary, reference: reference, spread: spread)
        }
        self.driven = driven
        pelvis = rigOf[0]!
        // The nearest joint at or above the pelvis with all three position channels moves the figure.
        var c = pelvis
        var carrier: Int?
        while c >= 0 {
            if Set(bvh.joints[c].channels.filter(\.isPosition)).count == 3 { carrier = c; break }
            c = parents[c]
        }
        var channels = bvh.joints.map(\.channels)
        if carrier == nil {
            let missing: [BVH.Channel] = [.xPosition, .yPosition, .zPosition].filter { !channels[0].contains($0) }
            channels[0] = missing + channels[0]
            carrier = 0
        }
        self.carrier = carrier!
        self.channels = channels
    }

    /// The rest and current directions of a twist reference, in rig units (`x`: our joints, scaled), and how
    /// far to trust it (0 to 1; below 1 the twist leans towards the least rotation from the parent).
    func reference(_ ref: Reference, _ x: [Vec3]) -> (rest: Vec3, now: Vec3, trust: Double)? {
        func line(_ a: Int, _ b: Int) -> (Vec3, Vec3, Double) { (rest[rigOf[a]!] - rest[rigOf[b]!], x[a] - x[b], 1) }
        switch ref {
        case .none: return nil
        case .pair(let a, let b): return line(a, b)
        case .blend(let p, let q, let w):
            let (r1, n1, _) = line(p.0, p.1), (r2, n2, _) = line(q.0, q.1)
            guard MotionData.length(r1) > 0, MotionData.length(r2) > 0, MotionData.length(n1) > 0, MotionData.length(n2) > 0 else { return line(p.0, p.1) }
            return (unitVector(r1) * (1 - w) + unitVector(r2) * w, unitVector(n1) * (1 - w) + unitVector(n2) * w, 1)
        case .hinge(let hip, let knee, let ankle, let toe):
            // The rest axis: heel-to-toe across the (straight) leg. The motion's: the ankle's axis (heel-to-toe
            // across the shin, which ankle flexion leaves alone) while the leg is straight, the normal of the
            // hip-knee-ankle plane once the knee bends.
            let restAxis = cross(rest[rigOf[toe]!] - rest[rigOf[ankle]!], rest[rigOf[knee]!] - rest[rigOf[hip]!])
            let thigh = x[knee] - x[hip], shin = x[ankle] - x[knee], foot = x[toe] - x[ankle]
            let fromFoot = cross(foot, shin), fromKnee = cross(thigh, shin)
            let lt = MotionData.length(thigh), ls = MotionData.length(shin), lf = MotionData.length(foot)
            guard lt > 0, ls > 0, lf > 0, MotionData.length(restAxis) > 0 else { return nil }
            // Sines of the knee angle and of the foot against the shin: the leg's plane is trusted from about
            // 10 degrees of bend, fully from 25; a foot pointed along a straight leg (a ballet point) says
            // nothing about the axis, so there the twist follows the parent.
            let sinKnee = MotionData.length(fromKnee) / (lt * ls)
            let knee = RigPlan.smoothstep(sinKnee, 0.17, 0.42)
            let feet = RigPlan.smoothstep(MotionData.length(fromFoot) / (ls * lf), 0.05, 0.25)
            let a = feet > 0 ? unitVector(fromFoot) : Vec3.zero
            var b = knee > 0 ? unitVector(fromKnee) : Vec3.zero
            // The plane's normal turns over when a nearly straight knee goes past zero (a slight hyperextension)
            // though the leg has not turned: while the bend is small, keep it on the side the ankle's axis
            // says, or, with the foot pointed, the hips' left-right line. A knee bent further is flexed.
            if sinKnee < 0.42 {
                let across = x[1] - x[2]
                let side = a * feet + (MotionData.length(across) > 0 ? unitVector(across) : .zero) * (1 - feet)
                if dot(b, side) < 0 { b = -b }
            }
            let now = a * (1 - knee) + b * knee
            let trust = knee + (1 - knee) * feet
            guard trust > 0, MotionData.length(now) > 1e-6 else { return nil }
            return (restAxis, now, trust)
        }
    }

    /// The rig's pose for one frame of our joints `x` (rig units).
    func solve(_ x: [Vec3]) -> RigPose {
        let n = parents.count
        var pose = RigPose(local: .init(repeating: .identity, count: n), translation: offsets,
                           global: .init(repeating: .identity, count: n), world: .init(repeating: .zero, count: n))
        var pending = [Quaternion?](repeating: nil, count: n)
        // The carrier's translation puts the pelvis at the scaled root position (every joint from the
        // carrier down to the pelvis keeps its rest rotation, being above every driven joint).
        pose.translation[carrier] = x[0] - rest[pelvis] + offsets[carrier]
        for r in 0..<n {
            let p = parents[r]
            let pg = p < 0 ? Quaternion.identity : pose.global[p]
            pose.world[r] = p < 0 ? pose.translation[r] : pose.world[p] + pg.rotate(pose.translation[r])
            var local = pending[r] ?? .identity
            if let d = driven[r] { local = solveDriven(d, joint: r, parent: pg, x, pending: &pending) }
            pose.local[r] = local
            pose.global[r] = pg * local
        }
        return pose
    }

    /// The local rotation of a driven joint (and the shares of its spread chain, into `pending`).
    func solveDriven(_ d: Driven, joint r: Int, parent pg: Quaternion, _ x: [Vec3], pending: inout [Quaternion?]) -> Quaternion {
        let end = d.frontier[d.primary]
        let u = rest[end] - rest[r], v = x[ourOf[end]!] - x[d.our]
        guard MotionData.length(v) > 1e-9 else { return .identity }
        // Swing: the least rotation from the parent's frame that aims the bone.
        let swing = Quaternion.between(pg.rotate(u), v) * pg
        var g = swing
        if let (restRef, nowRef, trust) = reference(d.reference, x) {
            g = RigPlan.aim(u, v, restRef, nowRef, fallback: swing, trust: trust)
        }
        guard !d.spread.isEmpty else { return pg.inverse * g }
        // Share the rotation over the chain, then turn the whole chain so its end lies on the motion's line.
        let full = pg.inverse * g
        let part = Quaternion.identity.slerp(to: full, 1 / Double(d.spread.count + 1))
        var chain = pg * part
        var reach = Vec3.zero
        for c in d.spread + [end] {
            reach += chain.rotate(offsets[c])
            if c != end { chain = chain * part }
        }
        for c in d.spread { pending[c] = part }
        return pg.inverse * Quaternion.between(reach, v) * pg * part
    }

    /// The rotation taking `u` onto `v` exactly and the reference `ur` as close to `vr` as a turn about `v`
    /// allows (TRIAD); where either reference runs nearly along its bone (the twist is then undefined), it
    /// fades to `fallback`, which also takes `u` onto `v`.
    static func aim(_ u: Vec3, _ v: Vec3, _ ur: Vec3, _ vr: Vec3, fallback: Quaternion, trust: Double = 1) -> Quaternion {
        func sine(_ a: Vec3, _ b: Vec3) -> Double {
            let la = MotionData.length(a), lb = MotionData.length(b)
            return la > 0 && lb > 0 ? MotionData.length(cross(a, b)) / (la * lb) : 0
        }
        let weight = smoothstep(min(sine(u, ur), sine(v, vr)), 0.05, 0.25) * trust
        if weight <= 0 { return fallback }
        let t = triad(from: (u, ur), to: (v, vr))
        return weight >= 1 ? t : fallback.slerp(to: t, weight)
    }

    /// 0 below `lo`, 1 above `hi`, smooth between.
    static func smoothstep(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        let t = max(0, min(1, (x - lo) / (hi - lo)))
        return t * t * (3 - 2 * t)
    }

    /// Our joints `x` with one leg bent so the rig's ankle reaches `target`: hip fixed, thigh and shin at
    /// the rig's lengths, the knee in the plane of the unlocked knee (else of the foot).
    func twoBoneIK(pose: RigPose, ours x: [Vec3], leg: (hip: Int, knee: Int, ankle: Int, toe: Int), target: Vec3) -> [Vec3] {
        let rh = rigOf[leg.hip]!, rk = rigOf[leg.knee]!, ra = rigOf[leg.ankle]!
        let a = MotionData.length(rest[rk] - rest[rh]), b = MotionData.length(rest[ra] - rest[rk])
        // A rig whose thigh or shin has no length cannot bend there.
        guard a > 1e-9 * (a + b), b > 1e-9 * (a + b) else { return x }
        let h = pose.world[rh], k0 = pose.world[rk]
        var toTarget = target - h
        if MotionData.length(toTarget) < 1e-9 * (a + b) { toTarget = pose.world[ra] - h }
        let e = unitVector(toTarget)
        let d = min(max(MotionData.length(toTarget), abs(a - b) + 1e-6 * (a + b)), (a + b) * (1 - 1e-6))
        // The knee bends the way it already bends: its offset from the unlocked hip-ankle line (measured from
        // that line, not the target's, which would turn a near-straight knee sideways), with a small pull
        // towards the toes that decides for a straight leg.
        let line = unitVector(pose.world[ra] - h)
        let forward = x[leg.toe] - x[leg.ankle]
        var pole = (k0 - h) - line * dot(k0 - h, line)
        let toes = forward - line * dot(forward, line)
        if MotionData.length(toes) > 1e-12 { pole += unitVector(toes) * (0.02 * a) }
        pole -= e * dot(pole, e)
        guard MotionData.length(pole) > 1e-12 else { return x }
        let p = unitVector(pole)
        let cosA = max(-1, min(1, (a * a + d * d - b * b) / (2 * a * d)))
        let knee = h + (e * cosA + p * (1 - cosA * cosA).squareRoot()) * a
        let ankle = h + e * d
        var out = x
        out[leg.knee] = x[leg.hip] + (knee - h)
        out[leg.ankle] = out[leg.knee] + (ankle - knee)
        out[leg.toe] = out[leg.ankle] + (x[leg.toe] - x[leg.ankle])
        return out
    }

    /// The output file: the rig's joints and channels, one row per pose.
    func bvh(poses: [RigPose], frameTime: Double) throws -> BVH {
        let src = rig.bvh.joints
        var joints = src
        for j in joints.indices { joints[j].channels = channels[j] }
        let orders: [EulerOrder?] = channels.map { ch in
            let axes = ch.filter { !$0.isPosition }.map(\.axis)
            return axes.count == 3 ? EulerOrder(String(axes.map { ["X", "Y", "Z"][$0] })) : nil
        }
        var rows = [[Double]]()
        rows.reserveCapacity(poses.count)
        var previous: [Double]?
        for pose in poses {
            var row = [Double]()
            for j in joints.indices {
                let e = orders[j].map { pose.local[j].euler(order: $0) } ?? .zero
                var k = 0
                for c in channels[j] {
                    if c.isPosition { row.append(pose.translation[j][c.axis]) } else { row.append(e[k]); k += 1 }
                }
            }
            // The same rotation, with each angle within 180 degrees of the previous frame's: no 360° jumps
            // for tools that interpolate channels.
            if let prev = previous {
                var i = 0
                for j in joints.indices {
                    for c in channels[j] {
                        if !c.isPosition { row[i] += 360 * ((prev[i] - row[i]) / 360).rounded() }
                        i += 1
                    }
                }
            }
            previous = row
            rows.append(row)
        }
        return try BVH(joints: joints, frameTime: frameTime, frames: rows)
    }
}

extension Quaternion {
    /// Spherical interpolation from this rotation (`t` = 0) to `other` (`t` = 1) along the shorter arc.
    public func slerp(to other: Quaternion, _ t: Double) -> Quaternion {
        var b = other
        var c = w * b.w + x * b.x + y * b.y + z * b.z
        if c < 0 { b = b.negated; c = -c }
        let wa: Double, wb: Double
        if c > 0.9999 {
            wa = 1 - t; wb = t
        } else {
            let theta = acos(c), s = sin(theta)
            wa = sin((1 - t) * theta) / s; wb = sin(t * theta) / s
        }
        return Quaternion(w: wa * w + wb * b.w, x: wa * x + wb * b.x, y: wa * y + wb * b.y, z: wa * z + wb * b.z).normalized
    }
}
