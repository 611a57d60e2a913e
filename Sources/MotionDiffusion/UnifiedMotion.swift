import Foundation
import MotionData
import TensorEngine

/// Errors of the diffusion target: bad shapes or values handed in, and configurations that cannot work.
public enum MotionDiffusionError: Error, CustomStringConvertible, Equatable {
    case invalidShape(String)
    case missingPart(String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid shape: \(s)"
        case .missingPart(let s): return "missing body part: \(s)"
        case .invalidConfiguration(let s): return "invalid LMM configuration: \(s)"
        }
    }
}

/// The 10 body parts of the Large Motion Model's unified (MotionVerse "tomato") representation, in the
/// official slot order (the order of `SinglePoseEncoder`'s read-in linears and of the `(frames x 10)` mask).
///
/// The official code calls slot 3 `larm` and slot 5 `lleg` but fills them with SMPL's *right* joints
/// (14, 17, 19, 21 and 2, 5, 8, 11), and slots 4/6 (`rarm`/`rleg`) with SMPL's left ones; its hand slots
/// are not swapped (`lhnd` holds SMPL-H's left hand, joints 22-36). We keep the slot order and the official
/// key names (so weights load unchanged) but name the cases by what they hold: `.rightArm` is slot 3
/// (`larm_embed`), `.leftArm` slot 4 (`rarm_embed`), `.rightLeg` slot 5, `.leftLeg` slot 6. A user's "left
/// arm" is therefore SMPL's left arm, whatever the official slot is called.
public enum BodyPart: Int, CaseIterable, Sendable {
    case root = 0, head, stem, rightArm, leftArm, rightLeg, leftLeg, leftHand, rightHand, face

    /// The official module-name stem of this slot (`root`, `head`, `stem`, `larm`, `rarm`, `lleg`, `rleg`,
    /// `lhnd`, `rhnd`, `face`): the read-in linear is `<stem>_embed`, the read-out `<stem>_out`.
    public var officialName: String {
        ["root", "head", "stem", "larm", "rarm", "lleg", "rleg", "lhnd", "rhnd", "face"][rawValue]
    }

    /// SMPL(-H) joint indices whose values the slot holds (`root` holds the root channels; `face` the 50
    /// expression values, no joints).
    public var joints: [Int] {
        switch self {
        case .root: return [0]
        case .head: return [12, 15]
        case .stem: return [3, 6, 9]
        case .rightArm: return [14, 17, 19, 21]
        case .leftArm: return [13, 16, 18, 20]
        case .rightLeg: return [2, 5, 8, 11]
        case .leftLeg: return [1, 4, 7, 10]
        case .leftHand: return Array(22..<37)
        case .rightHand: return Array(37..<52)
        case .face: return []
        }
    }

    /// Indices into the 669 values of a frame, in the order the official read-in linear sees them:
    /// per joint its 3 root-relative position values, 6 rotation values and 3 velocity values
    /// (`get_tomato_slice`); the root has angular velocity, XZ velocity, height and its own 3-value
    /// velocity; the face the 50 expression values.
    public var featureIndices: [Int] {
        switch self {
        case .root: return [0, 1, 2, 3] + UnifiedMotion.velocityRange(joint: 0)
        case .face: return Array(UnifiedMotion.faceRange)
        default:
            return joints.flatMap { j in
                UnifiedMotion.positionRange(joint: j) + UnifiedMotion.rotationRange(joint: j) + UnifiedMotion.velocityRange(joint: j)
            }
        }
    }

    /// The parts HumanML3D's 22-joint features hold (all but the hands and the face).
    public static let humanML3DParts: [BodyPart] = [.root, .head, .stem, .rightArm, .leftArm, .rightLeg, .leftLeg]
}

/// A motion in the unified representation: `features [T, 669]` and the `(T x 10)` presence mask of
/// its parts, at a frame rate. Frame layout (MotionVerse's, 52 SMPL-H joint slots):
/// `0..<4` root angular velocity about y, root XZ velocity (body frame), root height;
/// `4..<157` root-relative positions of joints 1...51 (3 each);
/// `157..<463` 6D rotations of joints 1...51 (6 each);
/// `463..<619` body-frame velocities of joints 0...51 (3 each);
/// `619..<669` 50 face expression values.
/// Values of absent parts are zero and masked; every consumer reads the mask, never the zeros.
public struct UnifiedMotion: @unchecked Sendable {
    /// Values a frame.
    public static let dimension = 669
    /// Joint slots (SMPL-H: 22 body joints + 2 x 15 hand joints).
    public static let jointSlots = 52
    /// The 50 expression values.
    public static let faceRange = 619..<669

    /// `[T, 669]`.
    public var features: Tensor
    /// `[T, 10]`: 1 where the part of that frame is present, 0 where it is absent.
    public var mask: Tensor
    /// Frames per second.
    public var fps: Float

    public var frameCount: Int { features.shape[0] }

    public init(features: Tensor, mask: Tensor, fps: Float) throws {
        guard features.rank == 2, features.shape[1] == Self.dimension else {
            throw MotionDiffusionError.invalidShape("unified features must be [T, 669], got \(features.shape)")
        }
        guard mask.shape == [features.shape[0], BodyPart.allCases.count] else {
            throw MotionDiffusionError.invalidShape("part mask must be [\(features.shape[0]), 10], got \(mask.shape)")
        }
        guard fps > 0, fps.isFinite else { throw MotionDiffusionError.invalidShape("fps must be positive, got \(fps)") }
        self.features = features
        self.mask = mask
        self.fps = fps
    }

    /// A part mask `[..., 10]` spread over the values: `[..., 669]`, each value taking its part's entry
    /// (for the sampler's known values: parts kept in editing, the root in trajectory control).
    public static func valueMask(_ partMask: Tensor) -> Tensor {
        precondition(partMask.shape.last == BodyPart.allCases.count, "part mask must end in 10 parts, got \(partMask.shape)")
        return partMask.indexSelect(dim: -1, partOfValue)
    }

    /// The part (`BodyPart.rawValue`) each of the 669 values belongs to.
    public static let partOfValue: [Int] = {
        var owner = [Int](repeating: 0, count: dimension)
        for p in BodyPart.allCases { for i in p.featureIndices { owner[i] = p.rawValue } }
        return owner
    }()

    /// One frame's part mask `[10]` for HumanML3D data: its 7 parts present (1), hands and face absent (0).
    public static let humanML3DPresence: [Float] = BodyPart.allCases.map { BodyPart.humanML3DParts.contains($0) ? 1 : 0 }

    /// `[B, T, 10]`: 1 on every part of the frames inside each sample's length, 0 on padding.
    public static func lengthCells(_ lengths: [Int], frames t: Int) -> Tensor {
        let np = BodyPart.allCases.count
        var v = [Float](repeating: 0, count: lengths.count * t * np)
        for (i, n) in lengths.enumerated() { for k in (i * t * np)..<((i * t + min(n, t)) * np) { v[k] = 1 } }
        return Tensor(v, shape: [lengths.count, t, np])
    }

    static func positionRange(joint j: Int) -> [Int] { precondition(j >= 1); return Array((4 + (j - 1) * 3)..<(4 + j * 3)) }
    static func rotationRange(joint j: Int) -> [Int] { precondition(j >= 1); return Array((157 + (j - 1) * 6)..<(157 + j * 6)) }
    static func velocityRange(joint j: Int) -> [Int] { Array((463 + j * 3)..<(466 + j * 3)) }

    // MARK: HumanML3D 263 <-> unified 669

    /// From HumanML3D features `[T, 263]` (22 joints): root channels, positions, rotations and velocities
    /// copied into their slots, hands and face zero and masked absent. The 4 foot-contact values have no
    /// slot in the unified layout (MotionVerse drops them); `humanML3DFeatures()` recomputes them.
    public init(humanML3D h: Tensor, fps: Float = 20) throws {
        let c = FeatureConfig.humanML3D
        guard h.rank == 2, h.shape[1] == c.dimension else {
            throw MotionDiffusionError.invalidShape("HumanML3D features must be [T, \(c.dimension)], got \(h.shape)")
        }
        let t = h.shape[0], jc = c.jointCount
        let out = Tensor.zeros([t, Self.dimension])
        let src = h.storage.pointer, dst = out.storage.pointer
        for f in 0..<t {
            let s = src + f * c.dimension, d = dst + f * Self.dimension
            for k in 0..<4 { d[k] = s[k] }
            for j in 1..<jc {
                for k in 0..<3 { d[4 + (j - 1) * 3 + k] = s[4 + (j - 1) * 3 + k] }
                for k in 0..<6 { d[157 + (j - 1) * 6 + k] = s[4 + (jc - 1) * 3 + (j - 1) * 6 + k] }
            }
            for j in 0..<jc { for k in 0..<3 { d[463 + j * 3 + k] = s[4 + (jc - 1) * 9 + j * 3 + k] } }
        }
        let m = Tensor.zeros([t, BodyPart.allCases.count])
        for f in 0..<t { for p in BodyPart.humanML3DParts { m.storage.pointer[f * 10 + p.rawValue] = 1 } }
        try self.init(features: out, mask: m, fps: fps)
    }

    /// Back to HumanML3D features `[T, 263]`. Needs the 7 body parts present in every frame. Foot contacts
    /// are recomputed as HumanML3D defines them (squared displacement to the next frame below 0.002 for
    /// joints 7, 10 and 8, 11): the body-frame velocity is that displacement turned about y, so its squared
    /// length is the same.
    public func humanML3DFeatures() throws -> Tensor {
        let c = FeatureConfig.humanML3D
        let t = frameCount, jc = c.jointCount
        let mp = mask.storage.pointer
        for f in 0..<t { for p in BodyPart.humanML3DParts where mp[f * 10 + p.rawValue] < 0.5 {
            throw MotionDiffusionError.missingPart("HumanML3D features need every body part; \(p) is absent in frame \(f)")
        } }
        let out = Tensor.zeros([t, c.dimension])
        let src = features.storage.pointer, dst = out.storage.pointer
        for f in 0..<t {
            let s = src + f * Self.dimension, d = dst + f * c.dimension
            for k in 0..<4 { d[k] = s[k] }
            for j in 1..<jc {
                for k in 0..<3 { d[4 + (j - 1) * 3 + k] = s[4 + (j - 1) * 3 + k] }
                for k in 0..<6 { d[4 + (jc - 1) * 3 + (j - 1) * 6 + k] = s[157 + (j - 1) * 6 + k] }
            }
            for j in 0..<jc { for k in 0..<3 { d[4 + (jc - 1) * 9 + j * 3 + k] = s[463 + j * 3 + k] } }
            let contactBase = 4 + (jc - 1) * 9 + jc * 3
            for (i, j) in (c.footLeft + c.footRight).enumerated() {
                var sq: Double = 0
                for k in 0..<3 { let v = Double(s[463 + j * 3 + k]); sq += v * v }
                d[contactBase + i] = sq < c.footThreshold ? 1 : 0
            }
        }
        return out
    }

    // MARK: joints <-> unified

    /// From joint positions (a 22-joint HumanML3D-skeleton motion): its HumanML3D features (one frame
    /// fewer, as velocities need the next frame), then the unified layout.
    public init(motion: Motion) throws {
        try self.init(humanML3D: try motion.features(config: .humanML3D), fps: motion.fps)
    }

    /// Joint positions `[T][22]` recovered from the root channels and the root-relative positions
    /// (HumanML3D's `recover_from_ric`).
    public func motion() throws -> Motion {
        try Motion(features: try humanML3DFeatures(), fps: fps)
    }
}
