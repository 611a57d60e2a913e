import Foundation

extension Skeleton {
    /// The 21-joint KIT-ML skeleton (`kit_raw_offsets`, `kit_kinematic_chain`). Joint 0 is the root; chains
    /// are right leg (11-15), left leg (16-20), spine to head (1-4), right arm (5-7), left arm (8-10).
    /// Names follow the chain roles; KIT's own marker names differ.
    public static let kitML: Skeleton = {
        let chains = [[0, 11, 12, 13, 14, 15], [0, 16, 17, 18, 19, 20], [0, 1, 2, 3, 4], [3, 5, 6, 7], [3, 8, 9, 10]]
        let o: [SIMD3<Float>] = [
            [0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
            [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1],
            [-1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1],
        ]
        let names = ["root", "pelvis", "torso", "neck", "head",
                     "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
                     "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
                     "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe"]
        return Skeleton(name: "kit", jointNames: names, parents: parents(count: 21, chains: chains),
                        rawOffsets: o, kinematicChains: chains)
    }()

    /// HumanML3D's uniform target skeleton (`tgt_offsets`: `get_offsets_joints` on the first frame of clip
    /// 000021), in metres. Every motion is rescaled to these bone lengths before its features are taken.
    /// Values are the dataset's `target_offsets.npy` (float32).
    public static let humanML3DTargetOffsets: [SIMD3<Float>] = [
        [0, 0, 0],
        [0.10307394713163376, 0, 0],
        [-0.10988335311412811, 0, 0],
        [0, 0.13156825304031372, 0],
        [0, -0.39362314343452454, 0],
        [0, -0.3901881277561188, 0],
        [0, 0.14319026470184326, 0],
        [0, -0.43243297934532166, 0],
        [0, -0.42564332485198975, 0],
        [0, 0.057364705950021744, 0],
        [0, 0, 0.1433817446231842],
        [0, 0, 0.1494186669588089],
        [0, 0.21935999393463135, 0],
        [0.13748683035373688, 0, 0],
        [-0.14338283240795135, 0, 0],
        [0, 0, 0.10303927212953568],
        [0, -0.13161398470401764, 0],
        [0, -0.12298430502414703, 0],
        [0, -0.2568398416042328, 0],
        [0, -0.2630918622016907, 0],
        [0, -0.2660118639469147, 0],
        [0, -0.26987630128860474, 0],
    ]

    /// A skeleton by name: "humanml3d" (also "t2m", "smpl") or "kit" (also "kitml", "kit-ml").
    public static func named(_ name: String) -> Skeleton? {
        switch name.lowercased() {
        case "humanml3d", "t2m", "smpl", "hml3d": return .humanML3D
        case "kit", "kitml", "kit-ml", "kit_ml": return .kitML
        default: return nil
        }
    }
}
