import Foundation
import TensorEngine

/// Errors about motion data: each names the file, joint or frame at fault.
public enum MotionError: Error, CustomStringConvertible, Equatable {
    case invalidShape(String)
    case invalidValue(String)
    case unknownJoint(String)
    case parse(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidShape(let s), .invalidValue(let s), .unknownJoint(let s), .parse(let s), .io(let s): return s
        }
    }
}

/// A skeleton: joint names, each joint's parent (-1 for the root), the raw offset directions
/// HumanML3D uses to build its uniform skeleton, and the kinematic chains used for rotations and drawing.
public struct Skeleton: Equatable, Sendable {
    public var name: String
    public var jointNames: [String]
    /// Parent index per joint; -1 for the root. Parents come before children.
    public var parents: [Int]
    /// Unit direction of each bone from its parent in the rest pose (HumanML3D's `raw_offsets`).
    public var rawOffsets: [SIMD3<Float>]
    /// Chains from the root outwards (HumanML3D's `kinematic_chain`), e.g. right leg, left leg, spine, arms.
    public var kinematicChains: [[Int]]

    public init(name: String, jointNames: [String], parents: [Int], rawOffsets: [SIMD3<Float>], kinematicChains: [[Int]]) {
        self.name = name
        self.jointNames = jointNames
        self.parents = parents
        self.rawOffsets = rawOffsets
        self.kinematicChains = kinematicChains
    }

    public var jointCount: Int { jointNames.count }

    /// Index of a joint by name.
    public func index(of joint: String) -> Int? { jointNames.firstIndex(of: joint) }

    /// The (parent, child) pairs to draw.
    public var bones: [(Int, Int)] { parents.enumerated().compactMap { $0.element >= 0 ? ($0.element, $0.offset) : nil } }

    /// Builds parents from kinematic chains (each chain's first joint is the parent of the second, and so on).
    static func parents(count: Int, chains: [[Int]]) -> [Int] {
        var p = [Int](repeating: -1, count: count)
        for chain in chains { for (a, b) in zip(chain, chain.dropFirst()) { p[b] = a } }
        return p
    }

    /// The 22-joint HumanML3D / SMPL body skeleton (`t2m_raw_offsets`, `t2m_kinematic_chain`).
    public static let humanML3D: Skeleton = {
        let chains = [[0, 2, 5, 8, 11], [0, 1, 4, 7, 10], [0, 3, 6, 9, 12, 15], [9, 14, 17, 19, 21], [9, 13, 16, 18, 20]]
        let o: [SIMD3<Float>] = [
            [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0],
            [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0],
            [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
        ]
        let names = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
                     "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
                     "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"]
        return Skeleton(name: "humanml3d", jointNames: names, parents: parents(count: 22, chains: chains),
                        rawOffsets: o, kinematicChains: chains)
    }()
}

/// A motion: joint positions per frame in metres, y up, at `fps` frames per second.
public struct Motion: Sendable {
    public var skeleton: Skeleton
    /// Joint positions, row-major `[frames][joints]`.
    public var positions: [[SIMD3<Float>]]
    public var fps: Float

    public init(skeleton: Skeleton, positions: [[SIMD3<Float>]], fps: Float = 20) throws {
        for (t, frame) in positions.enumerated() {
            guard frame.count == skeleton.jointCount else {
                throw MotionError.invalidShape("frame \(t) has \(frame.count) joints, the \(skeleton.name) skeleton has \(skeleton.jointCount)")
            }
            for (j, p) in frame.enumerated() where !(p.x.isFinite && p.y.isFinite && p.z.isFinite) {
                throw MotionError.invalidValue("frame \(t), joint \(skeleton.jointNames[j]): position is not finite")
            }
        }
        guard fps > 0, fps.isFinite else { throw MotionError.invalidValue("frame rate \(fps) must be positive") }
        self.skeleton = skeleton
        self.positions = positions
        self.fps = fps
    }

    public var frameCount: Int { positions.count }
    public var duration: Float { Float(frameCount) / fps }

    /// Positions as a `[T, J, 3]` tensor.
    public var tensor: Tensor {
        Tensor(positions.flatMap { $0.flatMap { [$0.x, $0.y, $0.z] } }, shape: [frameCount, skeleton.jointCount, 3])
    }

    /// A motion from a `[T, J, 3]` tensor.
    public init(skeleton: Skeleton, tensor: Tensor, fps: Float = 20) throws {
        guard tensor.rank == 3, tensor.shape[1] == skeleton.jointCount, tensor.shape[2] == 3 else {
            throw MotionError.invalidShape("joint positions must be [T, \(skeleton.jointCount), 3], got \(tensor.shape)")
        }
        let v = tensor.scalars, j = skeleton.jointCount
        let frames = (0..<tensor.shape[0]).map { t in (0..<j).map { k in SIMD3(v[(t * j + k) * 3], v[(t * j + k) * 3 + 1], v[(t * j + k) * 3 + 2]) } }
        try self.init(skeleton: skeleton, positions: frames, fps: fps)
    }
}

extension MotionError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}
