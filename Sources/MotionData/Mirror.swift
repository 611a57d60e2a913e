import Foundation
import TensorEngine

extension Skeleton {
    /// Index of each joint's left/right counterpart (itself for centre joints), by the `left`/`right`
    /// parts of the joint names.
    public var mirrorMap: [Int] {
        jointNames.enumerated().map { i, name in
            let swapped: String
            if name.contains("left") { swapped = name.replacingOccurrences(of: "left", with: "right") }
            else if name.contains("right") { swapped = name.replacingOccurrences(of: "right", with: "left") }
            else if name.hasPrefix("L") && name.count > 1 { swapped = "R" + name.dropFirst() }
            else if name.hasPrefix("R") && name.count > 1 { swapped = "L" + name.dropFirst() }
            else { return i }
            return index(of: swapped) ?? i
        }
    }
}

extension Motion {
    /// The left-right mirror image (HumanML3D's augmentation): x negated and left/right joints swapped,
    /// so a step with the left foot becomes a step with the right foot.
    public func mirrored() throws -> Motion {
        let map = skeleton.mirrorMap
        let frames = positions.map { frame in map.map { SIMD3<Float>(-frame[$0].x, frame[$0].y, frame[$0].z) } }
        return try Motion(skeleton: skeleton, positions: frames, fps: fps)
    }
}

extension MotionFeatures {
    /// Features `[T, D]` of the mirrored motion, computed in feature space (`mirrorInFeatureSpace`: exact,
    /// all frames kept, no inverse kinematics; equal to the joint route when bone lengths are kept).
    public static func mirrored(_ features: Tensor) throws -> Tensor {
        try mirrorInFeatureSpace(features)
    }

    /// A caption for the mirrored motion: `left` and `right` swapped, as HumanML3D does for its mirrored texts.
    public static func mirroredCaption(_ text: String) -> String {
        var out = "", word = ""
        func flush() {
            switch word {
            case "left": out += "right"
            case "right": out += "left"
            case "Left": out += "Right"
            case "Right": out += "Left"
            case "leftward": out += "rightward"
            case "rightward": out += "leftward"
            case "leftwards": out += "rightwards"
            case "rightwards": out += "leftwards"
            default: out += word
            }
            word = ""
        }
        for ch in text {
            if ch.isLetter { word.append(ch) } else { flush(); out.append(ch) }
        }
        flush()
        return out
    }
}
