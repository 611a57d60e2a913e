import MotionData
import TensorEngine

/// Joint positions as the motion metrics take them: `[frames][joints]`, the layout of `Motion.positions`.
public typealias JointFrames = [[SIMD3<Float>]]

/// `[T, J, 3]` joint positions (a model's decoded output, `Motion.tensor`) as `[frames][joints]`, without
/// needing a skeleton as `Motion(skeleton:tensor:)` does.
///
/// - Throws: `EvaluationError.shapeMismatch` naming `argument` unless the tensor is rank 3 with a last
///   dimension of 3.
public func jointFrames(_ tensor: Tensor, argument: String = "tensor") throws -> JointFrames {
    guard tensor.rank == 3, tensor.shape[2] == 3 else {
        throw EvaluationError.shapeMismatch(argument: argument, detail: "joint positions must be [T, J, 3], got \(tensor.shape)")
    }
    let v = tensor.scalars, joints = tensor.shape[1]
    return (0..<tensor.shape[0]).map { t in
        (0..<joints).map { j in let o = (t * joints + j) * 3; return SIMD3(v[o], v[o + 1], v[o + 2]) }
    }
}

/// Checks one motion's positions: at least one frame, the same positive joint count in every frame, every
/// coordinate finite (a NaN would otherwise turn the whole metric into NaN). Returns the joint count.
func checkJointFrames(_ frames: JointFrames, argument: String) throws -> Int {
    guard let first = frames.first else { throw EvaluationError.empty(argument: argument) }
    guard !first.isEmpty else { throw EvaluationError.shapeMismatch(argument: argument, detail: "frame 0 has no joints") }
    for (t, frame) in frames.enumerated() {
        guard frame.count == first.count else {
            throw EvaluationError.shapeMismatch(argument: argument, detail: "frame \(t) has \(frame.count) joints, frame 0 has \(first.count)")
        }
        if let j = frame.firstIndex(where: { !($0.x.isFinite && $0.y.isFinite && $0.z.isFinite) }) {
            throw EvaluationError.invalidValue(argument: argument, detail: "frame \(t), joint \(j): position is not finite")
        }
    }
    return first.count
}

/// Checks that two motions can be compared joint by joint: same joint count, and for `Motion`s the same
/// frame rate (frame `t` of one must be the same instant as frame `t` of the other).
func checkComparable(_ predicted: JointFrames, _ groundTruth: JointFrames) throws {
    let jp = try checkJointFrames(predicted, argument: "predicted")
    let jg = try checkJointFrames(groundTruth, argument: "groundTruth")
    guard jp == jg else {
        throw EvaluationError.shapeMismatch(argument: "groundTruth", detail: "\(jg) joints per frame, predicted has \(jp)")
    }
}

func checkFrameRates(_ predicted: Motion, _ groundTruth: Motion) throws {
    guard predicted.fps == groundTruth.fps else {
        throw EvaluationError.invalidValue(argument: "groundTruth", detail: "frame rate \(groundTruth.fps) differs from predicted's \(predicted.fps)")
    }
}

/// Euclidean distance between `a - originA` and `b - originB`, in Double (the subtractions too), so that
/// root alignment and averages over thousands of joints pick up no Float rounding.
@inline(__always)
func distance(_ a: SIMD3<Float>, _ b: SIMD3<Float>, originA: SIMD3<Float> = .zero, originB: SIMD3<Float> = .zero) -> Double {
    squaredDistance(a, b, originA: originA, originB: originB).squareRoot()
}

@inline(__always)
func squaredDistance(_ a: SIMD3<Float>, _ b: SIMD3<Float>, originA: SIMD3<Float> = .zero, originB: SIMD3<Float> = .zero) -> Double {
    let dx = (Double(a.x) - Double(originA.x)) - (Double(b.x) - Double(originB.x))
    let dy = (Double(a.y) - Double(originA.y)) - (Double(b.y) - Double(originB.y))
    let dz = (Double(a.z) - Double(originA.z)) - (Double(b.z) - Double(originB.z))
    return dx * dx + dy * dy + dz * dz
}
