import MotionData

/// Motion-quality metrics on joint positions (metres, y up): foot skating and jitter. They need no learned
/// evaluator, so they apply to any generated motion, and to the ground truth as a baseline.
extension ProtocolMetrics {
    /// The feet guided-motion-diffusion's skating ratio watches: HumanML3D joints 10 and 11 (left and
    /// right foot, the toe end of the SMPL foot). `[7, 10, 8, 11]` adds the ankles.
    public static let skatingFeet = [10, 11]

    /// Foot-skating ratio, exactly as guided-motion-diffusion (Karunratanakul et al. 2023) computes it in
    /// `data_loaders/humanml/utils/metrics.py`, `calculate_skating_ratio`, for one motion of `T` frames.
    ///
    /// For each of the `T - 1` steps `t -> t + 1` and each foot:
    /// - its horizontal speed `v_t = |(x, z)_{t+1} - (x, z)_t| * fps` (m/s);
    /// - the speed averaged over a window of `window` steps, `scipy.ndimage.uniform_filter1d(v, window,
    ///   mode='constant', origin=0)`: steps `t - window/2 ... t - window/2 + window - 1` (integer division;
    ///   `t-2...t+2` for the default 5), steps outside the motion counting as speed 0, always divided by
    ///   `window` (so the first and last steps average in zeros, as GMD's do);
    /// - the foot is in contact when its height `y` is below `heightThreshold` in both frames `t` and `t + 1`;
    /// - it skates when in contact with both `v_t` and the windowed speed above `velocityThreshold`.
    ///
    /// A step counts when any foot skates; the ratio is counted steps over `T - 1`. Heights are absolute
    /// (the floor is y = 0, as in HumanML3D's processed joints); no floor is estimated per motion. GMD
    /// calls this on batches padded to 196 frames and divides by the padded length; this takes one
    /// unpadded motion, so its `T - 1` is the motion's own. GMD fixes `fps` at 20 (HumanML3D's rate).
    ///
    /// - Throws: `EvaluationError` for fewer than 2 frames, a non-finite position, differing joint counts,
    ///   a foot index outside the skeleton, no feet, a non-positive or non-finite `fps`, a non-finite
    ///   threshold, or `window < 1`.
    public static func footSkating(_ positions: JointFrames, fps: Double = 20, feet: [Int] = skatingFeet,
                                   heightThreshold: Double = 0.05, velocityThreshold: Double = 0.5, window: Int = 5) throws -> Double {
        let joints = try checkJointFrames(positions, argument: "positions")
        guard positions.count >= 2 else {
            throw EvaluationError.invalidValue(argument: "positions", detail: "\(positions.count) frame, foot skating needs at least 2")
        }
        guard !feet.isEmpty else { throw EvaluationError.empty(argument: "feet") }
        if let bad = feet.first(where: { !(0..<joints).contains($0) }) {
            throw EvaluationError.invalidValue(argument: "feet", detail: "joint \(bad) is not one of the \(joints) joints")
        }
        try checkRate(fps)
        for (name, v) in [("heightThreshold", heightThreshold), ("velocityThreshold", velocityThreshold)] where !v.isFinite {
            throw EvaluationError.invalidValue(argument: name, detail: "\(v) is not finite")
        }
        guard window >= 1 else { throw EvaluationError.invalidValue(argument: "window", detail: "\(window) must be at least 1") }

        let steps = positions.count - 1
        var skating = [Bool](repeating: false, count: steps)
        var speed = [Double](repeating: 0, count: steps)
        for f in feet {
            for t in 0..<steps {
                let a = positions[t][f], b = positions[t + 1][f]
                let dx = Double(b.x) - Double(a.x), dz = Double(b.z) - Double(a.z)
                speed[t] = (dx * dx + dz * dz).squareRoot() * fps
            }
            for t in 0..<steps {
                let contact = Double(positions[t][f].y) < heightThreshold && Double(positions[t + 1][f].y) < heightThreshold
                guard contact, speed[t] > velocityThreshold else { continue }
                // uniform_filter1d's window for origin 0 starts window/2 steps back; zeros beyond the ends.
                let start = t - window / 2
                var sum = 0.0
                for u in max(start, 0)..<min(start + window, steps) { sum += speed[u] }
                if sum / Double(window) > velocityThreshold { skating[t] = true }
            }
        }
        return Double(skating.lazy.filter { $0 }.count) / Double(steps)
    }

    /// `footSkating` of a `Motion` at its own frame rate.
    public static func footSkating(_ motion: Motion, feet: [Int] = skatingFeet, heightThreshold: Double = 0.05,
                                   velocityThreshold: Double = 0.5, window: Int = 5) throws -> Double {
        try footSkating(motion.positions, fps: Double(motion.fps), feet: feet, heightThreshold: heightThreshold,
                        velocityThreshold: velocityThreshold, window: window)
    }

    /// Jitter: the mean magnitude of the joints' jerk (third time derivative of position), in m/s^3 for
    /// positions in metres. With the third finite difference `j_t = p_{t+3} - 3 p_{t+2} + 3 p_{t+1} - p_t`,
    /// it is the mean over frames `t` in `0..<T-3` and all joints of `|j_t| * fps^3`: AGRoL's `pred_jitter`
    /// (Du et al. 2023, facebookresearch/AGRoL `utils/metrics.py`), the definition the guided-diffusion
    /// in-betweening evaluations (CondMDI's `compute_jitter`) also use. AGRoL prints it divided by 100;
    /// this returns m/s^3 itself. Frame-to-frame noise dominates it: the factor `fps^3` (8000 at 20 fps)
    /// turns a millimetre of noise into several m/s^3.
    ///
    /// - Throws: `EvaluationError` for fewer than 4 frames, a non-finite position, differing joint counts,
    ///   or a non-positive or non-finite `fps`.
    public static func jitter(_ positions: JointFrames, fps: Double = 20) throws -> Double {
        let joints = try checkJointFrames(positions, argument: "positions")
        guard positions.count >= 4 else {
            throw EvaluationError.invalidValue(argument: "positions", detail: "\(positions.count) frames, jitter needs at least 4")
        }
        try checkRate(fps)
        let scale = fps * fps * fps
        var sum = 0.0
        for t in 0..<(positions.count - 3) {
            for j in 0..<joints {
                let p0 = positions[t][j], p1 = positions[t + 1][j], p2 = positions[t + 2][j], p3 = positions[t + 3][j]
                let x = Double(p3.x) - 3 * Double(p2.x) + 3 * Double(p1.x) - Double(p0.x)
                let y = Double(p3.y) - 3 * Double(p2.y) + 3 * Double(p1.y) - Double(p0.y)
                let z = Double(p3.z) - 3 * Double(p2.z) + 3 * Double(p1.z) - Double(p0.z)
                sum += (x * x + y * y + z * z).squareRoot() * scale
            }
        }
        return sum / Double((positions.count - 3) * joints)
    }

    /// `jitter` of a `Motion` at its own frame rate.
    public static func jitter(_ motion: Motion) throws -> Double {
        try jitter(motion.positions, fps: Double(motion.fps))
    }

    private static func checkRate(_ fps: Double) throws {
        guard fps.isFinite, fps > 0 else { throw EvaluationError.invalidValue(argument: "fps", detail: "\(fps) must be a positive frame rate") }
    }
}
