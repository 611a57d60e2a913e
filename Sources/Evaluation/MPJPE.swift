import MotionData

/// Mean per-joint position error: the mean over frames `t` and joints `j` of the Euclidean distance
/// `|predicted[t][j] - groundTruth[t][j]|`, in the input's units (metres for `Motion`). This is the plain
/// MPJPE of pose estimation; `rootAlignedMPJPE` is the variant MotionGPT's reconstruction metrics use.
///
/// Both motions must have the same number of frames and joints: MPJPE is defined frame by frame, and
/// cutting the longer one would hide a length error.
///
/// - Throws: `EvaluationError` for an empty motion, differing frame or joint counts, or a non-finite
///   position.
public func mpjpe(predicted: JointFrames, groundTruth: JointFrames) throws -> Double {
    try checkSameShape(predicted, groundTruth)
    return meanJointDistance(predicted, groundTruth, root: nil)
}

/// Root-aligned MPJPE: as `mpjpe`, after subtracting each frame's `rootJoint` position (HumanML3D's pelvis,
/// joint 0) from every joint of that frame, in each motion separately. It measures the pose and ignores
/// where the body is, as MotionGPT's `MRMetrics` does with `align_root` (metrics/utils.py `align_by_parts`
/// subtracts joint 0 per frame; MotionGPT then reports millimetres, this returns the input's units).
/// The root joint itself then contributes a distance of 0 to the mean, which still divides by all joints.
///
/// - Throws: as `mpjpe`, and `EvaluationError.invalidValue` if `rootJoint` is not a joint index.
public func rootAlignedMPJPE(predicted: JointFrames, groundTruth: JointFrames, rootJoint: Int = 0) throws -> Double {
    try checkSameShape(predicted, groundTruth)
    guard (0..<predicted[0].count).contains(rootJoint) else {
        throw EvaluationError.invalidValue(argument: "rootJoint", detail: "\(rootJoint) is not a joint index (0..<\(predicted[0].count))")
    }
    return meanJointDistance(predicted, groundTruth, root: rootJoint)
}

/// `mpjpe` on two `Motion`s (their `positions`), which must also share a frame rate.
public func mpjpe(predicted: Motion, groundTruth: Motion) throws -> Double {
    try checkFrameRates(predicted, groundTruth)
    return try mpjpe(predicted: predicted.positions, groundTruth: groundTruth.positions)
}

/// `rootAlignedMPJPE` on two `Motion`s, which must also share a frame rate.
public func rootAlignedMPJPE(predicted: Motion, groundTruth: Motion, rootJoint: Int = 0) throws -> Double {
    try checkFrameRates(predicted, groundTruth)
    return try rootAlignedMPJPE(predicted: predicted.positions, groundTruth: groundTruth.positions, rootJoint: rootJoint)
}

private func checkSameShape(_ predicted: JointFrames, _ groundTruth: JointFrames) throws {
    try checkComparable(predicted, groundTruth)
    guard predicted.count == groundTruth.count else {
        throw EvaluationError.shapeMismatch(argument: "groundTruth", detail: "\(groundTruth.count) frames, predicted has \(predicted.count)")
    }
}

private func meanJointDistance(_ predicted: JointFrames, _ groundTruth: JointFrames, root: Int?) -> Double {
    var sum = 0.0
    for (p, g) in zip(predicted, groundTruth) {
        let pr = root.map { p[$0] } ?? .zero, gr = root.map { g[$0] } ?? .zero
        for (a, b) in zip(p, g) { sum += distance(a, b, originA: pr, originB: gr) }
    }
    return sum / Double(predicted.count * predicted[0].count)
}
