import Foundation
import TensorEngine

/// The settings of HumanML3D's motion representation for one skeleton: which joints define the facing
/// direction, which are the feet, which bones measure the legs, the foot-contact threshold and the target
/// skeleton every motion is rescaled to. `humanML3D` (263 features) and `kitML` (251) are the datasets'
/// settings, as in HumanML3D's `motion_representation.ipynb` / T2M's `motion_process.py`.
public struct FeatureConfig: Sendable {
    public var skeleton: Skeleton
    /// Right hip, left hip, right shoulder, left shoulder (HumanML3D's `face_joint_indx`).
    public var faceJoints: [Int]
    /// Left heel/ankle and toe joints (`fid_l`).
    public var footLeft: [Int]
    /// Right heel/ankle and toe joints (`fid_r`).
    public var footRight: [Int]
    /// The two lower-leg bones (by child joint) whose lengths give the rescaling ratio (`l_idx1`, `l_idx2`).
    public var legBones: (Int, Int)
    /// Squared per-frame displacement under which a foot joint counts as in contact (`feet_thre`).
    public var footThreshold: Double
    /// Offsets of the uniform target skeleton (`tgt_offsets`, raw direction times bone length), or nil to
    /// keep each motion's own bone lengths (then no rescaling happens).
    public var targetOffsets: [SIMD3<Float>]?
    /// Whether the IK used for the 6D rotations sets frame 0's root rotation to identity
    /// (`root_quat[0] = [1,0,0,0]` in `Skeleton.inverse_kinematics_np`). The copies of `skeleton.py` in T2M
    /// and MDM do; one revision of HumanML3D's has the line commented out. Only frame 0's rotations and
    /// velocities differ (by up to 0.19 on clip 012314). The reference made with the official processing
    /// code (`features_from_new_joints_012314.npy`) matches `true` to 6e-6 and `false` only to 0.19.
    public var identityFirstRoot: Bool = true

    public init(skeleton: Skeleton, faceJoints: [Int], footLeft: [Int], footRight: [Int], legBones: (Int, Int),
                footThreshold: Double, targetOffsets: [SIMD3<Float>]?) {
        self.skeleton = skeleton
        self.faceJoints = faceJoints
        self.footLeft = footLeft
        self.footRight = footRight
        self.legBones = legBones
        self.footThreshold = footThreshold
        self.targetOffsets = targetOffsets
    }

    public var jointCount: Int { skeleton.jointCount }

    /// Feature width: 4 root values, (J-1)*3 positions, (J-1)*6 rotations, J*3 velocities, 4 contacts.
    public var dimension: Int { FeatureConfig.dimension(joints: jointCount) }

    public static func dimension(joints j: Int) -> Int { 4 + (j - 1) * 9 + j * 3 + 4 }

    /// HumanML3D: 22 joints, 263 features, threshold 0.002, target skeleton of clip 000021.
    public static let humanML3D = FeatureConfig(
        skeleton: .humanML3D, faceJoints: [2, 1, 17, 16], footLeft: [7, 10], footRight: [8, 11], legBones: (5, 8),
        footThreshold: 0.002, targetOffsets: Skeleton.humanML3DTargetOffsets)

    /// KIT-ML: 21 joints, 251 features, threshold 0.05 (KIT positions are in millimetres, so velocities
    /// are larger). KIT's target skeleton (clip 03950) is not bundled: motions keep their own bone lengths
    /// unless `targetOffsets` is set.
    public static let kitML = FeatureConfig(
        skeleton: .kitML, faceJoints: [11, 16, 5, 8], footLeft: [19, 20], footRight: [14, 15], legBones: (17, 18),
        footThreshold: 0.05, targetOffsets: nil)

    /// The settings for a feature width (263 or 251).
    public static func forDimension(_ d: Int) -> FeatureConfig? {
        d == 263 ? .humanML3D : d == 251 ? .kitML : nil
    }

    /// The settings for a skeleton by name ("humanml3d" or "kit").
    public static func forSkeleton(_ s: Skeleton) -> FeatureConfig? {
        s.name == Skeleton.humanML3D.name ? .humanML3D : s.name == Skeleton.kitML.name ? .kitML : nil
    }
}

/// HumanML3D's motion representation: joint positions to features (`process_file`) and back
/// (`recover_from_ric`). Arrays are `[frames][joints]`; all arithmetic is in Double.
public enum MotionFeatures {
    // MARK: skeleton helpers

    /// Offsets of a skeleton fitted to one pose (`Skeleton.get_offsets_joints`): each raw direction
    /// times the distance from the joint to its parent.
    public static func offsets(of pose: [Vec3], skeleton: Skeleton) -> [Vec3] {
        (0..<skeleton.jointCount).map { j in
            let p = skeleton.parents[j]
            return p < 0 ? skeleton.rawOffsets[j].double : skeleton.rawOffsets[j].double * length(pose[j] - pose[p])
        }
    }

    /// `Skeleton.inverse_kinematics_np`: per-frame root rotation (facing +Z) and per-joint local rotations
    /// that turn each raw offset direction into the observed bone direction.
    ///
    /// Note the official code unpacks `face_joint_idx` as `l_hip, r_hip, sdr_r, sdr_l` although callers pass
    /// `r_hip, l_hip, ...`, so its "across" vector is (hip1 - hip0) + (shoulder0 - shoulder1). That is
    /// reproduced here because the dataset's features were made with it.
    public static func inverseKinematics(_ joints: [[Vec3]], config: FeatureConfig, smoothForward: Bool,
                                         identityFirstRoot: Bool) -> [[Quaternion]] {
        let s = config.skeleton
        let f = config.faceJoints
        let n = joints.count
        var forward = joints.map { p -> Vec3 in
            let across = unitVector((p[f[1]] - p[f[0]]) + (p[f[2]] - p[f[3]]))
            return cross(Vec3(0, 1, 0), across)
        }
        if smoothForward { forward = gaussianFilter(forward, sigma: 20) }
        forward = forward.map { unitVector($0) }
        var rootQuat = forward.map { Quaternion.between($0, Vec3(0, 0, 1)) }
        if identityFirstRoot, n > 0 { rootQuat[0] = .identity }
        var quats = [[Quaternion]](repeating: [Quaternion](repeating: .identity, count: s.jointCount), count: n)
        for t in 0..<n {
            quats[t][0] = rootQuat[t]
            for chain in s.kinematicChains {
                var r = rootQuat[t]
                for (a, b) in zip(chain, chain.dropFirst()) {
                    let u = s.rawOffsets[b].double
                    let v = unitVector(joints[t][b] - joints[t][a])
                    let local = r.inverse * Quaternion.between(u, v)
                    quats[t][b] = local
                    r = r * local
                }
            }
        }
        return quats
    }

    /// `Skeleton.forward_kinematics_np` with the root rotation applied: positions from local rotations,
    /// offsets and root positions.
    public static func forwardKinematics(_ quats: [[Quaternion]], rootPositions: [Vec3], offsets: [Vec3],
                                         skeleton: Skeleton) -> [[Vec3]] {
        quats.indices.map { t in
            var p = [Vec3](repeating: .zero, count: skeleton.jointCount)
            p[0] = rootPositions[t]
            for chain in skeleton.kinematicChains {
                var r = quats[t][0]
                for (a, b) in zip(chain, chain.dropFirst()) {
                    r = r * quats[t][b]
                    p[b] = r.rotate(offsets[b]) + p[a]
                }
            }
            return p
        }
    }

    /// `scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, mode='nearest')` (truncate 4): a normalised
    /// Gaussian of radius `int(4 sigma + 0.5)`, edges extended with the end values.
    static func gaussianFilter(_ x: [Vec3], sigma: Double) -> [Vec3] {
        let radius = Int(4 * sigma + 0.5)
        var w = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let total = w.reduce(0, +)
        w = w.map { $0 / total }
        let n = x.count
        return (0..<n).map { i in
            var acc = Vec3.zero
            for k in -radius...radius { acc += w[k + radius] * x[min(max(i + k, 0), n - 1)] }
            return acc
        }
    }

    /// `uniform_skeleton`: rescales the motion to the target bone lengths, keeping every bone's direction
    /// (IK to local rotations, FK with the target offsets), and the root path by the ratio of leg lengths.
    public static func uniformSkeleton(_ joints: [[Vec3]], config: FeatureConfig) -> [[Vec3]] {
        guard let target = config.targetOffsets?.map({ $0.double }), let first = joints.first else { return joints }
        let s = config.skeleton
        let src = offsets(of: first, skeleton: s)
        func legLength(_ o: [Vec3]) -> Double {
            let (a, b) = config.legBones
            func absMax(_ v: Vec3) -> Double { max(abs(v.x), abs(v.y), abs(v.z)) }
            return absMax(o[a]) + absMax(o[b])
        }
        let scale = legLength(target) / legLength(src)
        let quats = inverseKinematics(joints, config: config, smoothForward: false, identityFirstRoot: true)
        return forwardKinematics(quats, rootPositions: joints.map { $0[0] * scale }, offsets: target, skeleton: s)
    }

    // MARK: joints -> features

    /// `process_file(positions, feet_thre)`: features `[T-1][dimension]` from joint positions `[T][J]`.
    ///
    /// Steps: uniform skeleton; floor at the lowest joint; root XZ of frame 0 at the origin; frame 0 turned
    /// to face +Z; foot contacts; IK with a smoothed facing direction; then root angular velocity about y,
    /// root XZ velocity in the body frame, root height, rotation-invariant joint positions, 6D rotations,
    /// body-frame joint velocities and contacts.
    public static func features(from positions: [[SIMD3<Float>]], config: FeatureConfig = .humanML3D) throws -> [[Float]] {
        let jc = config.jointCount
        guard positions.count >= 2 else {
            throw MotionError.invalidShape("features need at least 2 frames, got \(positions.count)")
        }
        for (t, frame) in positions.enumerated() {
            guard frame.count == jc else {
                throw MotionError.invalidShape("frame \(t) has \(frame.count) joints, the \(config.skeleton.name) skeleton has \(jc)")
            }
            for (j, p) in frame.enumerated() where !(p.x.isFinite && p.y.isFinite && p.z.isFinite) {
                throw MotionError.invalidValue("frame \(t), joint \(config.skeleton.jointNames[j]): position is not finite")
            }
        }
        if let target = config.targetOffsets, target.count != jc {
            throw MotionError.invalidShape("target skeleton has \(target.count) offsets, the \(config.skeleton.name) skeleton has \(jc)")
        }
        var p = uniformSkeleton(positions.map { $0.map { $0.double } }, config: config)

        // Floor: the lowest joint over the whole clip touches y = 0.
        let floor = p.lazy.flatMap { $0 }.map(\.y).min()!
        // Root XZ of frame 0 at the origin.
        let rootInit = Vec3(p[0][0].x, 0, p[0][0].z)
        for t in p.indices { for j in 0..<jc { p[t][j].y -= floor; p[t][j] -= rootInit } }

        // Frame 0 faces +Z (here with r_hip, l_hip, sdr_r, sdr_l in the intended order).
        let f = config.faceJoints
        let p0 = p[0]
        let across = unitVector((p0[f[0]] - p0[f[1]]) + (p0[f[2]] - p0[f[3]]))
        let forwardInit = unitVector(cross(Vec3(0, 1, 0), across))
        let rootQuatInit = Quaternion.between(forwardInit, Vec3(0, 0, 1))
        p = p.map { $0.map { rootQuatInit.rotate($0) } }
        let global = p
        let n = p.count

        // Foot contacts: squared displacement to the next frame below the threshold.
        func contacts(_ ids: [Int]) -> [[Float]] {
            (0..<(n - 1)).map { t in ids.map { j in
                let d = global[t + 1][j] - global[t][j]
                return dot(d, d) < config.footThreshold ? 1 : 0
            } }
        }
        let feetL = contacts(config.footLeft), feetR = contacts(config.footRight)

        // Rotations with the smoothed facing direction (get_cont6d_params).
        let quats = inverseKinematics(p, config: config, smoothForward: true, identityFirstRoot: config.identityFirstRoot)
        let rRot = quats.map { $0[0] }
        let velocity = (1..<n).map { t in rRot[t].rotate(p[t][0] - p[t - 1][0]) }
        let rVelocity = (1..<n).map { t in rRot[t] * rRot[t - 1].inverse }

        // Rotation-invariant positions (get_rifke): root XZ removed, turned by the root rotation.
        let ric = (0..<n).map { t in p[t].map { q -> Vec3 in
            rRot[t].rotate(Vec3(q.x - p[t][0].x, q.y, q.z - p[t][0].z))
        } }

        var out = [[Float]]()
        out.reserveCapacity(n - 1)
        for t in 0..<(n - 1) {
            var row = [Double]()
            row.reserveCapacity(config.dimension)
            row.append(asin(max(-1, min(1, rVelocity[t].y))))
            row.append(velocity[t].x)
            row.append(velocity[t].z)
            row.append(ric[t][0].y)
            for j in 1..<jc { row += [ric[t][j].x, ric[t][j].y, ric[t][j].z] }
            for j in 1..<jc { row += quats[t][j].cont6d }
            for j in 0..<jc {
                let v = rRot[t].rotate(global[t + 1][j] - global[t][j])
                row += [v.x, v.y, v.z]
            }
            // Coincident joints or a zero-width body make directions undefined (NaN); say so instead of
            // handing NaN features to a model.
            if let k = row.firstIndex(where: { !$0.isFinite }) {
                throw MotionError.invalidValue("feature \(k) of frame \(t) is not finite: the pose is degenerate (coincident joints or no hip/shoulder width)")
            }
            var floats = row.map { Float($0) }
            floats += feetL[t] + feetR[t]
            out.append(floats)
        }
        return out
    }

    // MARK: features -> joints

    /// `recover_root_rot_pos`: per frame, the root's rotation about y (as HumanML3D builds it:
    /// `(cos a, 0, sin a, 0)` with `a` the cumulative sum of the angular velocities) and the root position
    /// (cumulative sum of the body-frame XZ velocities turned back, height from the features).
    public static func recoverRoot(_ features: [[Float]]) -> (rotations: [Quaternion], positions: [Vec3]) {
        let n = features.count
        var rotations = [Quaternion](), positions = [Vec3]()
        rotations.reserveCapacity(n); positions.reserveCapacity(n)
        var angle = 0.0
        var pos = Vec3.zero
        for t in 0..<n {
            if t > 0 { angle += Double(features[t - 1][0]) }
            let q = Quaternion(w: cos(angle), x: 0, y: sin(angle), z: 0)
            if t > 0 {
                pos += q.inverse.rotate(Vec3(Double(features[t - 1][1]), 0, Double(features[t - 1][2])))
            }
            rotations.append(q)
            positions.append(Vec3(pos.x, Double(features[t][3]), pos.z))
        }
        return (rotations, positions)
    }

    /// `recover_from_ric`: joint positions `[T][J]` from features `[T][dimension]`: the rotation-invariant
    /// positions turned back by the recovered root rotation, plus the root's XZ.
    public static func joints(fromFeatures features: [[Float]], jointCount: Int) throws -> [[SIMD3<Float>]] {
        let d = FeatureConfig.dimension(joints: jointCount)
        for (t, row) in features.enumerated() {
            guard row.count == d else {
                throw MotionError.invalidShape("feature frame \(t) has \(row.count) values, \(jointCount) joints need \(d)")
            }
            if let k = row.firstIndex(where: { !$0.isFinite }) {
                throw MotionError.invalidValue("feature frame \(t), value \(k) is not finite")
            }
        }
        let (rot, root) = recoverRoot(features)
        return features.indices.map { t in
            let back = rot[t].inverse
            var frame = [root[t].float]
            for j in 1..<jointCount {
                let b = 4 + (j - 1) * 3
                let local = Vec3(Double(features[t][b]), Double(features[t][b + 1]), Double(features[t][b + 2]))
                let p = back.rotate(local)
                frame.append(Vec3(p.x + root[t].x, p.y, p.z + root[t].z).float)
            }
            return frame
        }
    }
}

extension Motion {
    /// HumanML3D features of this motion (`[T-1, 263]` for the 22-joint skeleton, `[T-1, 251]` for KIT),
    /// not normalised. `config` defaults to the dataset settings of the motion's skeleton.
    public func features(config: FeatureConfig? = nil) throws -> Tensor {
        guard let c = config ?? FeatureConfig.forSkeleton(skeleton) else {
            throw MotionError.invalidShape("no feature representation for the \(skeleton.name) skeleton")
        }
        let rows = try MotionFeatures.features(from: positions, config: c)
        return Tensor(rows.flatMap { $0 }, shape: [rows.count, c.dimension])
    }

    /// The motion recovered from features `[T, 263]` (HumanML3D, 22 joints) or `[T, 251]` (KIT, 21 joints).
    public init(features: Tensor, fps: Float? = nil) throws {
        guard features.rank == 2, let c = FeatureConfig.forDimension(features.shape[1]) else {
            throw MotionError.invalidShape("features must be [T, 263] (HumanML3D) or [T, 251] (KIT-ML), got \(features.shape)")
        }
        let d = c.dimension, v = features.scalars
        let rows = (0..<features.shape[0]).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
        let joints = try MotionFeatures.joints(fromFeatures: rows, jointCount: c.jointCount)
        try self.init(skeleton: c.skeleton, positions: joints, fps: fps ?? (c.jointCount == 21 ? 12.5 : 20))
    }
}
