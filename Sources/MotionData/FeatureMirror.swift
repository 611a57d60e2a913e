import Foundation
import TensorEngine

extension MotionFeatures {
    /// The left-right mirror of HumanML3D-layout features `[T, D]` computed in feature space: every block
    /// of the representation transformed as the processing transforms a mirrored motion, with
    /// `M = diag(-1, 1, 1)` (x negated) and left/right joints swapped (`Skeleton.mirrorMap`):
    /// - root angular velocity about y: negated; root velocity: x negated, z kept; root height kept;
    /// - rotation-invariant positions and joint velocities: joint `j` takes joint `mirror(j)`'s value, x negated;
    /// - 6D rotations (first two columns of R): joint `j` takes `mirror(j)`'s `M R M`, i.e. signs
    ///   `(+, -, -, -, +, +)` on `(R00, R10, R20, R01, R11, R21)`;
    /// - foot contacts: left and right pairs swapped.
    ///
    /// It equals computing the features of the mirrored joints (`Motion.mirrored()` then `features`) when the
    /// processing keeps bone lengths (`targetOffsets == nil`): the test checks this to 1e-4 on the real
    /// sample clip. Unlike that route it keeps all T frames, costs no inverse kinematics, and mirroring
    /// twice gives the input back exactly. (With the dataset's uniform target skeleton the joint route
    /// rescales the mirrored motion to a skeleton whose left and right bones differ by millimetres; the
    /// feature mirror keeps the mirrored bone lengths instead.)
    ///
    /// Throws for a width other than 263/251 (or `config`'s), and for a skeleton that is not left-right
    /// symmetric in its rest pose, where a mirrored motion has no exact feature-space form.
    public static func mirrorInFeatureSpace(_ features: Tensor, config: FeatureConfig? = nil) throws -> Tensor {
        guard features.rank == 2, let c = config ?? FeatureConfig.forDimension(features.shape[1]), features.shape[1] == c.dimension else {
            throw MotionError.invalidShape("features to mirror must be [T, 263] or [T, 251], got \(features.shape)")
        }
        let sk = c.skeleton, j = sk.jointCount, map = sk.mirrorMap
        for k in 0..<j {
            let o = sk.rawOffsets[k], m = sk.rawOffsets[map[k]]
            let parentOK = sk.parents[k] < 0 ? sk.parents[map[k]] < 0 : sk.parents[map[k]] == map[sk.parents[k]]
            guard parentOK, m.x == -o.x, m.y == o.y, m.z == o.z else {
                throw MotionError.invalidValue("the \(sk.name) skeleton is not left-right symmetric at joint \(sk.jointNames[k]); features cannot be mirrored")
            }
        }
        guard c.footLeft.count == c.footRight.count, zip(c.footLeft, c.footRight).allSatisfy({ map[$0] == $1 }) else {
            throw MotionError.invalidValue("the \(sk.name) feature settings' left and right feet are not mirror images")
        }
        let d = c.dimension, t = features.shape[0]
        let ric = 4, rot = 4 + (j - 1) * 3, vel = 4 + (j - 1) * 9, feet = vel + j * 3
        let nf = c.footLeft.count
        let sign6: [Float] = [1, -1, -1, -1, 1, 1]
        let src = features.scalars
        var out = [Float](repeating: 0, count: src.count)
        for f in 0..<t {
            let row = f * d
            out[row] = -src[row]
            out[row + 1] = -src[row + 1]
            out[row + 2] = src[row + 2]
            out[row + 3] = src[row + 3]
            for k in 1..<j {
                let a = row + ric + (k - 1) * 3, b = row + ric + (map[k] - 1) * 3
                out[a] = -src[b]; out[a + 1] = src[b + 1]; out[a + 2] = src[b + 2]
                let r = row + rot + (k - 1) * 6, s = row + rot + (map[k] - 1) * 6
                for i in 0..<6 { out[r + i] = sign6[i] * src[s + i] }
            }
            for k in 0..<j {
                let a = row + vel + k * 3, b = row + vel + map[k] * 3
                out[a] = -src[b]; out[a + 1] = src[b + 1]; out[a + 2] = src[b + 2]
            }
            for i in 0..<nf {
                out[row + feet + i] = src[row + feet + nf + i]
                out[row + feet + nf + i] = src[row + feet + i]
            }
        }
        return Tensor(out, shape: features.shape)
    }
}
