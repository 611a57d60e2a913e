import MotionData

/// How ADE/FDE measure the distance between a predicted and a ground-truth frame.
public enum FrameDistance: Sendable, Equatable {
    /// MotionGPT's: the Euclidean norm of the whole pose difference, the frame's J x 3 coordinates taken as
    /// one vector (metrics/m2m.py flattens the joints before `torch.linalg.norm(diff, dim=-1)`), that is
    /// `sqrt(sum_j |p_j - g_j|^2)`, about sqrt(J) times a typical joint's error. The paper's ADE/FDE
    /// tables are in this measure.
    case poseNorm
    /// The mean over joints of each joint's Euclidean distance (the frame's MPJPE), the per-joint convention
    /// of trajectory forecasting.
    case meanJointDistance
}

/// Average and final displacement error over a range of frames.
public struct DisplacementErrors: Equatable, Sendable {
    /// Mean over the evaluated frames of the frame distance.
    public var ade: Double
    /// The frame distance at the last evaluated frame.
    public var fde: Double
    /// The frames evaluated (indices into both motions).
    public var frames: Range<Int>

    public init(ade: Double, fde: Double, frames: Range<Int>) {
        self.ade = ade
        self.fde = fde
        self.frames = frames
    }

    /// The corpus ADE and FDE as MotionGPT's `PredMetrics.compute` reports them: each the mean over
    /// sequences of the per-sequence value (every sequence weighs the same, whatever its length).
    ///
    /// - Throws: `EvaluationError.empty` if `items` is empty.
    public static func mean(_ items: [DisplacementErrors]) throws -> (ade: Double, fde: Double) {
        guard !items.isEmpty else { throw EvaluationError.empty(argument: "items") }
        let n = Double(items.count)
        return (items.reduce(0) { $0 + $1.ade } / n, items.reduce(0) { $0 + $1.fde } / n)
    }
}

/// The share of frames given to the model in MotionGPT's evaluation (configs `ABLATION.predict_ratio`,
/// `ABLATION.inbetween_ratio`): prediction is given the first 20%, in-betweening the first and last 25%.
public enum MotionGPTGivenRatio {
    public static let prediction = 0.2
    public static let inbetween = 0.25
}

/// ADE and FDE of motion prediction, as MotionGPT's `PredMetrics` (task "pred") computes them for one
/// sequence: over the predicted frames only.
///
/// With `L = min(predicted.count, groundTruth.count)` (the common length: MotionGPT cuts the decoded motion
/// and the ground truth to the shorter one) and `g = givenFrames` (default `Int(Double(L) * 0.2)`, m2m.py's
/// `int(l * predict_ratio)`), the evaluated frames are `g..<L`; ADE is the mean of the frame distance over
/// them and FDE the distance at frame `L - 1`. m2m.py itself slices `pred_start:` to the end of the padded
/// batch tensor, so for sequences shorter than their batch it also counts padding frames; this stops at `L`.
///
/// - Throws: `EvaluationError` for an empty motion, differing joint counts, a non-finite position, or a
///   `givenFrames` that is negative or leaves no frame to evaluate.
public func predictionDisplacementErrors(predicted: JointFrames, groundTruth: JointFrames, givenFrames: Int? = nil,
                                         distance: FrameDistance = .poseNorm) throws -> DisplacementErrors {
    try checkComparable(predicted, groundTruth)
    let length = min(predicted.count, groundTruth.count)
    let given = givenFrames ?? Int(Double(length) * MotionGPTGivenRatio.prediction)
    guard given >= 0, given < length else {
        throw EvaluationError.invalidValue(argument: "givenFrames", detail: "\(given) given frames leave none of the \(length) common frames to evaluate")
    }
    return displacementErrors(predicted, groundTruth, frames: given..<length, distance: distance)
}

/// ADE and FDE of motion in-betweening, as MotionGPT's `PredMetrics` (task "inbetween") computes them for
/// one sequence: over the filled-in middle only.
///
/// With `L = min(predicted.count, groundTruth.count)`, `a = givenPrefix` and `b = givenSuffix` (each by
/// default `Int(Double(L) * 0.25)`, m2m.py's `int(l * inbetween_ratio)`), the evaluated frames are
/// `a..<(L - b)`; ADE is the mean of the frame distance over them and FDE the distance at frame `L - b - 1`,
/// the last filled-in frame.
///
/// - Throws: `EvaluationError` for an empty motion, differing joint counts, a non-finite position, or given
///   counts that are negative or leave no frame to evaluate.
public func inbetweenDisplacementErrors(predicted: JointFrames, groundTruth: JointFrames, givenPrefix: Int? = nil, givenSuffix: Int? = nil,
                                        distance: FrameDistance = .poseNorm) throws -> DisplacementErrors {
    try checkComparable(predicted, groundTruth)
    let length = min(predicted.count, groundTruth.count)
    let prefix = givenPrefix ?? Int(Double(length) * MotionGPTGivenRatio.inbetween)
    let suffix = givenSuffix ?? Int(Double(length) * MotionGPTGivenRatio.inbetween)
    guard prefix >= 0 else { throw EvaluationError.invalidValue(argument: "givenPrefix", detail: "\(prefix) must not be negative") }
    guard suffix >= 0 else { throw EvaluationError.invalidValue(argument: "givenSuffix", detail: "\(suffix) must not be negative") }
    guard prefix + suffix < length else {
        throw EvaluationError.invalidValue(argument: "givenPrefix", detail: "\(prefix) + \(suffix) given frames leave none of the \(length) common frames to evaluate")
    }
    return displacementErrors(predicted, groundTruth, frames: prefix..<(length - suffix), distance: distance)
}

/// `predictionDisplacementErrors` on two `Motion`s, which must also share a frame rate.
public func predictionDisplacementErrors(predicted: Motion, groundTruth: Motion, givenFrames: Int? = nil,
                                         distance: FrameDistance = .poseNorm) throws -> DisplacementErrors {
    try checkFrameRates(predicted, groundTruth)
    return try predictionDisplacementErrors(predicted: predicted.positions, groundTruth: groundTruth.positions, givenFrames: givenFrames, distance: distance)
}

/// `inbetweenDisplacementErrors` on two `Motion`s, which must also share a frame rate.
public func inbetweenDisplacementErrors(predicted: Motion, groundTruth: Motion, givenPrefix: Int? = nil, givenSuffix: Int? = nil,
                                        distance: FrameDistance = .poseNorm) throws -> DisplacementErrors {
    try checkFrameRates(predicted, groundTruth)
    return try inbetweenDisplacementErrors(predicted: predicted.positions, groundTruth: groundTruth.positions,
                                           givenPrefix: givenPrefix, givenSuffix: givenSuffix, distance: distance)
}

private func displacementErrors(_ predicted: JointFrames, _ groundTruth: JointFrames, frames: Range<Int>, distance kind: FrameDistance) -> DisplacementErrors {
    func frameDistance(_ t: Int) -> Double {
        switch kind {
        case .poseNorm:
            var squared = 0.0
            for (a, b) in zip(predicted[t], groundTruth[t]) { squared += squaredDistance(a, b) }
            return squared.squareRoot()
        case .meanJointDistance:
            var sum = 0.0
            for (a, b) in zip(predicted[t], groundTruth[t]) { sum += distance(a, b) }
            return sum / Double(predicted[t].count)
        }
    }
    let distances = frames.map(frameDistance)
    return DisplacementErrors(ade: distances.reduce(0, +) / Double(distances.count), fde: distances.last!, frames: frames)
}
