import Foundation
import XCTest
import Evaluation
@testable import MotionData
import TensorEngine

/// Output retargeting onto the two test rigs of `Fixtures/rigs` (a Mixamo-named rig in centimetres and a
/// CMU-named one in CMU units facing -Z, both with other proportions than ours; see the README there), on
/// real CMU clips: the result is read back through the import maps (`BVH.motion`) and compared with the
/// source motion.
final class RigRetargetTests: XCTestCase {
    static let rigs = TestData.packageRoot.appendingPathComponent("Tests/MotionDataTests/Fixtures/rigs")
    static let mixamo = rigs.appendingPathComponent("mixamo-tall.bvh")
    static let cmu = rigs.appendingPathComponent("cmu-stocky.bvh")
    /// A walk (train split, 98 frames) and a dance with expressive arms and a pirouette (train, 187 frames).
    static let walk = "05_01_00", dance = "05_02_00"

    /// Limb bones of the 22-joint skeleton (parent, child): legs and feet, collars and arms.
    static let limbs = [(1, 4), (4, 7), (7, 10), (2, 5), (5, 8), (8, 11), (13, 16), (16, 18), (18, 20), (14, 17), (17, 19), (19, 21)]

    static func clip(_ name: String) throws -> Motion {
        try TestData.require(TestData.cmu)
        return try MotionFile.read(TestData.cmu.appendingPathComponent("new_joints/\(name).npy"))
    }

    static func degrees(_ a: Vec3, _ b: Vec3) -> Double {
        let c = dot(a, b) / (length(a) * length(b))
        return acos(max(-1, min(1, c))) * 180 / .pi
    }

    /// Per frame, the mean angle (degrees) between the source's and the read-back motion's limb bones.
    static func limbAngles(_ a: Motion, _ b: Motion) -> [Double] {
        zip(a.positions, b.positions).map { fa, fb in
            limbs.map { p, c in degrees(fa[c].double - fa[p].double, fb[c].double - fb[p].double) }.reduce(0, +) / Double(limbs.count)
        }
    }

    /// Planted-foot slide, in metres per frame: for the ankle and toe joints, the horizontal displacement
    /// from one frame to the next while the joint is within `height` (5 cm) of its lowest point in the clip,
    /// weighted by `2 - 2^(h / height)` (1 at the height limit, 2 on the floor), as in the foot-skating
    /// measure of PhysDiff / GMD; summed over the four joints, averaged over frame pairs.
    static func footSlide(_ m: Motion, height: Double = 0.05) -> Double {
        var total = 0.0
        for j in [7, 10, 8, 11] {
            let floor = m.positions.map { Double($0[j].y) }.min()!
            for t in 0..<(m.frameCount - 1) {
                let a = m.positions[t][j].double, b = m.positions[t + 1][j].double
                let h = max(a.y, b.y) - floor
                guard h < height else { continue }
                let d = Vec3(b.x - a.x, 0, b.z - a.z)
                total += length(d) * (2 - pow(2, h / height))
            }
        }
        return total / Double(m.frameCount - 1)
    }

    /// Retargets, writes the file text and reads it back through the import maps in rig units at the
    /// motion's rate.
    static func roundTrip(_ motion: Motion, _ rig: Rig, footLock: Bool = true) throws -> (bvh: BVH, back: Motion, scale: Double) {
        let bvh = try rig.retarget(motion, options: RetargetOptions(footLock: footLock))
        let reread = try BVH(text: bvh.text, source: "retargeted.bvh")
        let back = try reread.motion(units: .scale(1), fps: nil, source: "retargeted.bvh")
        return (reread, back, try rig.scale(for: motion))
    }

    func testRoundTripsOntoMixamoAndCMURigsKeepLimbDirectionsRootPathAndBoneLengths() throws {
        for (url, mapName) in [(Self.mixamo, "mixamo"), (Self.cmu, "cmu")] {
            let rig = try Rig(url: url)
            XCTAssertEqual(rig.mapName, mapName)
            let restLengths = rig.bvh.joints.map { length($0.offset) }
            for name in [Self.walk, Self.dance] {
                let motion = try Self.clip(name)
                let (bvh, back, s) = try Self.roundTrip(motion, rig)
                XCTAssertEqual(back.frameCount, motion.frameCount)
                // The rig's own hierarchy, names, offsets and channel order.
                XCTAssertEqual(bvh.joints, rig.bvh.joints, "\(name) on \(url.lastPathComponent)")
                XCTAssertEqual(bvh.frameTime, 1 / Double(motion.fps), accuracy: 1e-8)

                let angles = Self.limbAngles(motion, back)
                let mean = angles.reduce(0, +) / Double(angles.count), worst = angles.max()!
                print("\(url.lastPathComponent) \(name): limb directions mean \(String(format: "%.3f", mean))°, worst frame \(String(format: "%.3f", worst))°, scale \(String(format: "%.3f", s)) units/m, floor shift \(String(format: "%.1f", (back.positions[0][0].double.y - motion.positions[0][0].double.y * s) / s * 100)) cm")
                XCTAssertLessThan(mean, 5, "\(name) on \(url.lastPathComponent)")
                XCTAssertLessThan(worst, 10, "\(name) on \(url.lastPathComponent)")

                // Root path: the pelvis follows the source's times the leg-length scale (file precision 1e-6
                // units), up to one vertical shift for the whole clip that puts the rig's feet on the floor.
                let lift = back.positions[0][0].double.y - motion.positions[0][0].double.y * s
                var rootError = 0.0
                for (a, b) in zip(motion.positions, back.positions) {
                    rootError = max(rootError, length(a[0].double * s + Vec3(0, lift, 0) - b[0].double) / s)
                }
                XCTAssertLessThan(rootError, 1e-5, "root path of \(name) on \(url.lastPathComponent), metres")
                // The rigs' hips sit otherwise above their feet than ours: a shift of some centimetres, not metres.
                XCTAssertLessThan(abs(lift / s), 0.25, "a floor shift of \(lift / s) m")
                // The feet meet the floor: the lowest ankle or toe of the clip as low as the source's (scaled).
                let feet = [7, 8, 10, 11]
                let lowest = back.positions.flatMap { f in feet.map { Double(f[$0].y) } }.min()!
                let sourceLowest = motion.positions.flatMap { f in feet.map { Double(f[$0].y) } }.min()! * s
                XCTAssertEqual(lowest, sourceLowest, accuracy: 1e-4 * s)

                // Every bone keeps the rig's length in every frame.
                var lengthError = 0.0
                for frame in bvh.globalPositions() {
                    for (j, joint) in bvh.joints.enumerated() where joint.parent >= 0 {
                        lengthError = max(lengthError, abs(length(frame[j] - frame[joint.parent]) - restLengths[j]))
                    }
                }
                XCTAssertLessThan(lengthError, 1e-4, "bone lengths of \(name) on \(url.lastPathComponent), rig units")
            }
        }
    }

    func testTheSourcesProportionsAreNotTheRigs() throws {
        // Were the rigs proportioned like our skeleton, the round trip above would prove less: the read-back
        // joint positions (after the scale) must be far from the source's while the directions agree.
        let motion = try Self.clip(Self.walk)
        for url in [Self.mixamo, Self.cmu] {
            let (_, back, s) = try Self.roundTrip(motion, try Rig(url: url), footLock: false)
            var far = 0.0
            for (a, b) in zip(motion.positions, back.positions) {
                for j in [7, 20, 15] { far = max(far, length(a[j].double - b[j].double / s)) }
            }
            XCTAssertGreaterThan(far, 0.05, "\(url.lastPathComponent): ankles, wrist, head within \(far) m of the source's")
        }
    }

    func testFootLockLowersPlantedFootSlideOnARealWalk() throws {
        let motion = try Self.clip(Self.walk)
        let source = Self.footSlide(motion)
        for url in [Self.mixamo, Self.cmu] {
            let rig = try Rig(url: url)
            let free = try Self.roundTrip(motion, rig, footLock: false)
            let locked = try Self.roundTrip(motion, rig, footLock: true)
            func metres(_ m: Motion, _ s: Double) throws -> Motion {
                try Motion(skeleton: m.skeleton, positions: m.positions.map { $0.map { ($0.double / s).float } }, fps: m.fps)
            }
            let slideFree = Self.footSlide(try metres(free.back, free.scale))
            let slideLocked = Self.footSlide(try metres(locked.back, locked.scale))
            print("\(url.lastPathComponent) walk \(Self.walk): planted-foot slide \(String(format: "%.2f", slideFree * 100)) cm/frame without foot lock, \(String(format: "%.2f", slideLocked * 100)) with (source \(String(format: "%.2f", source * 100)))")
            XCTAssertLessThan(slideLocked, 0.8 * slideFree, url.lastPathComponent)
            // The protocol's foot-skating ratio (GMD's, Evaluation.ProtocolMetrics) agrees.
            let ratioFree = try ProtocolMetrics.footSkating(try metres(free.back, free.scale))
            let ratioLocked = try ProtocolMetrics.footSkating(try metres(locked.back, locked.scale))
            print("\(url.lastPathComponent): GMD foot-skating ratio \(String(format: "%.3f", ratioFree)) without foot lock, \(String(format: "%.3f", ratioLocked)) with (source \(String(format: "%.3f", try ProtocolMetrics.footSkating(motion))))")
            XCTAssertLessThan(ratioLocked, ratioFree, url.lastPathComponent)
            // The lock moves only the legs: the arms and the root are untouched.
            XCTAssertEqual(zip(free.back.positions, locked.back.positions).map { length($0[0].double - $1[0].double) }.max()!, 0, accuracy: 1e-5)
            let angles = Self.limbAngles(motion, locked.back)
            XCTAssertLessThan(angles.reduce(0, +) / Double(angles.count), 5)
            for (a, b) in zip(free.back.positions, locked.back.positions) {
                for j in [16, 18, 20, 17, 19, 21, 15] { XCTAssertLessThan(length(a[j].double - b[j].double), 1e-4) }
            }
        }
    }

    func testKneesBendAboutTheRigsKneeAxis() throws {
        // The twist of thigh and shin comes from the foot's heel-to-toe line: on a walk the knee then bends
        // about the rig's own left-right axis (x in both rigs' rest poses), as a hinge, not about a wandering axis.
        let motion = try Self.clip(Self.walk)
        for url in [Self.mixamo, Self.cmu] {
            let rig = try Rig(url: url)
            let out = try rig.retarget(motion, options: RetargetOptions(footLock: false))
            for knee in ["left_knee", "right_knee"] {
                let j = rig.joint(for: knee)!
                var bent = 0, hinge = 0.0
                for t in out.frames.indices {
                    let q = out.localRotation(joint: j, frame: t)
                    let angle = 2 * acos(min(1, abs(q.w)))
                    guard angle > 20 * .pi / 180 else { continue }
                    bent += 1
                    hinge += abs(unitVector(q.vector).x)
                }
                XCTAssertGreaterThan(bent, 10, "\(url.lastPathComponent) \(knee): \(bent) frames with the knee bent")
                print("\(url.lastPathComponent) \(knee): knee axis along the rig's x by |cos| \(String(format: "%.3f", hinge / Double(bent))) over \(bent) bent frames")
                XCTAssertGreaterThan(hinge / Double(bent), 0.9, "\(url.lastPathComponent) \(knee)")
            }
        }
    }

    func testJointsWithoutCounterpartKeepRestOrShareTheirChain() throws {
        let motion = try Self.clip(Self.dance)
        let mixamo = try Rig(url: Self.mixamo)
        let a = try mixamo.retarget(motion)
        // Fingers and end bones keep their rest rotation in every frame.
        for name in ["mixamorig:LeftHandIndex1", "mixamorig:LeftHandIndex2", "mixamorig:RightHandThumb1", "mixamorig:HeadTop_End", "mixamorig:LeftToe_End"] {
            let j = a.index(of: name)!
            for t in a.frames.indices { XCTAssertEqual(a.localRotation(joint: j, frame: t).w, 1, accuracy: 1e-9, "\(name) frame \(t)") }
        }
        // Driven joints with nothing driven below (head, hands, toes) keep their rest rotation too.
        for name in ["mixamorig:Head", "mixamorig:LeftHand", "mixamorig:RightToeBase"] {
            let j = a.index(of: name)!
            XCTAssertEqual(a.localRotation(joint: j, frame: 40).w, 1, accuracy: 1e-9, name)
        }
        let cmu = try Rig(url: Self.cmu)
        let b = try cmu.retarget(motion)
        for name in ["LHipJoint", "RHipJoint", "LowerBack", "LThumb", "LeftFingerBase", "RightHandIndex1"] {
            let j = b.index(of: name)!
            for t in b.frames.indices { XCTAssertEqual(b.localRotation(joint: j, frame: t).w, 1, accuracy: 1e-9, "\(name) frame \(t)") }
        }
        // Neck1 lies between the driven Neck and Head: it takes a share of the neck's bend, and the head still
        // lands on the motion's neck-to-head direction.
        let neck1 = b.index(of: "Neck1")!, neck = b.index(of: "Neck")!, head = b.index(of: "Head")!
        let turned = b.frames.indices.filter { 2 * acos(min(1, abs(b.localRotation(joint: neck1, frame: $0).w))) > 0.02 }
        XCTAssertGreaterThan(turned.count, b.frames.count / 2, "Neck1 turned in \(turned.count) of \(b.frames.count) frames")
        let world = b.globalPositions()
        for t in b.frames.indices {
            let want = motion.positions[t][15].double - motion.positions[t][12].double
            XCTAssertLessThan(Self.degrees(world[t][head] - world[t][neck], want), 1e-3, "frame \(t)")
        }
    }

    func testOurOwnSkeletonAsTheRigReproducesTheMotion() throws {
        // Our own BVH output is a rig too (identity names): putting the motion on it gives back the joints.
        let motion = try Self.clip(Self.dance)
        let rig = try Rig(bvh: try motion.bvh(), source: "own.bvh")
        XCTAssertEqual(rig.mapName, "humanml3d")
        let (_, back, s) = try Self.roundTrip(motion, rig, footLock: false)
        XCTAssertEqual(s, 1, accuracy: 0.01)
        var worst = 0.0
        for (a, b) in zip(motion.positions, back.positions) { for (p, q) in zip(a, b) { worst = max(worst, length(p.double - q.double / s)) } }
        print("own skeleton as rig: worst joint \(worst * 100) cm")
        XCTAssertLessThan(worst, 0.03)
    }

    func testAnExplicitJointMapDrivesARigWithOtherNames() throws {
        // The Mixamo rig with made-up names that no built-in map knows.
        var text = try String(contentsOf: Self.mixamo, encoding: .utf8)
        let renames = ["Hips": "Root_J", "Spine": "Back_A", "Spine1": "Back_B", "Spine2": "Chest", "Neck": "Neck_J", "Head": "Skull",
                       "LeftUpLeg": "Thigh_L", "LeftLeg": "Calf_L", "LeftFoot": "Ankle_L", "LeftToeBase": "Ball_L",
                       "RightUpLeg": "Thigh_R", "RightLeg": "Calf_R", "RightFoot": "Ankle_R", "RightToeBase": "Ball_R",
                       "LeftShoulder": "Clav_L", "LeftArm": "UpperArm_L", "LeftForeArm": "LowerArm_L", "LeftHand": "Palm_L",
                       "RightShoulder": "Clav_R", "RightArm": "UpperArm_R", "RightForeArm": "LowerArm_R", "RightHand": "Palm_R"]
        for (from, to) in renames { text = text.replacingOccurrences(of: "mixamorig:\(from)\n", with: "\(to)\n") }
        let renamed = try BVH(text: text, source: "renamed.bvh")
        XCTAssertThrowsError(try Rig(bvh: renamed, source: "renamed.bvh")) { e in
            XCTAssertTrue("\(e)".contains("pelvis") && "\(e)".contains("joint map"), "\(e)")
        }
        let ours = ["Root_J": "pelvis", "Back_A": "spine1", "Back_B": "spine2", "Chest": "spine3", "Neck_J": "neck", "Skull": "head",
                    "Thigh_L": "left_hip", "Calf_L": "left_knee", "Ankle_L": "left_ankle", "Ball_L": "left_foot",
                    "Thigh_R": "right_hip", "Calf_R": "right_knee", "Ankle_R": "right_ankle", "Ball_R": "right_foot",
                    "Clav_L": "left_collar", "UpperArm_L": "left_shoulder", "LowerArm_L": "left_elbow", "Palm_L": "left_wrist",
                    "Clav_R": "right_collar", "UpperArm_R": "right_shoulder", "LowerArm_R": "right_elbow", "Palm_R": "right_wrist"]
        let json = "{" + ours.map { "\"\($0.value)\": \"\($0.key)\"" }.sorted().joined(separator: ", ") + "}"
        let map = try JointMap(json: Data(json.utf8), source: "map.json")
        let motion = try Self.clip(Self.walk)
        let a = try Rig(bvh: renamed, jointMap: map, source: "renamed.bvh").retarget(motion)
        let b = try Rig(url: Self.mixamo).retarget(motion)
        XCTAssertEqual(a.frames, b.frames, "same rig, other names: the same channels")
        // A map that leaves out the arms drives the legs and spine; the arms stay at rest.
        let partial = try JointMap(json: Data(#"{"pelvis": "Root_J", "spine1": "Back_A", "left_hip": "Thigh_L", "left_knee": "Calf_L", "left_ankle": "Ankle_L", "right_hip": "Thigh_R", "right_knee": "Calf_R", "right_ankle": "Ankle_R", "left_elbow": null}"#.utf8))
        let c = try Rig(bvh: renamed, jointMap: partial).retarget(motion)
        let arm = c.index(of: "UpperArm_L")!
        XCTAssertTrue(c.frames.indices.allSatisfy { c.localRotation(joint: arm, frame: $0).w > 1 - 1e-9 })
    }

    func testBadRigsAndMapsGiveOneLineErrors() throws {
        let rig = try BVH(url: Self.mixamo)
        func fails(_ json: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Rig(bvh: rig, jointMap: try JointMap(json: Data(json.utf8), source: "m.json"), source: "r.bvh"), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(text), "\(e)", file: file, line: line)
                XCTAssertFalse("\(e)".contains("\n"), file: file, line: line)
            }
        }
        // A key that is not one of our joints, a value that is not a name, a missing leg, a knee above its hip,
        // two joints on one rig joint.
        XCTAssertThrowsError(try JointMap(json: Data(#"{"left_tail": "Tail"}"#.utf8), source: "m.json")) { XCTAssertTrue("\($0)".contains("left_tail"), "\($0)") }
        XCTAssertThrowsError(try JointMap(json: Data(#"{"pelvis": 3}"#.utf8), source: "m.json")) { XCTAssertTrue("\($0)".contains("pelvis"), "\($0)") }
        XCTAssertThrowsError(try JointMap(json: Data("[1, 2]".utf8), source: "m.json")) { XCTAssertTrue("\($0)".contains("JSON object"), "\($0)") }
        let legs = #""pelvis": "mixamorig:Hips", "left_hip": "mixamorig:LeftUpLeg", "left_knee": "mixamorig:LeftLeg", "left_ankle": "mixamorig:LeftFoot", "right_hip": "mixamorig:RightUpLeg", "right_knee": "mixamorig:RightLeg""#
        fails("{\(legs)}", "right_ankle")
        fails("{\(legs), \"right_ankle\": \"mixamorig:Spine\"}", "is not below")
        fails("{\(legs), \"right_ankle\": \"mixamorig:RightFoot\", \"left_foot\": \"mixamorig:RightFoot\"}", "both")
        // A KIT motion has no rig export.
        let kit = try Motion(skeleton: .kitML, positions: [[SIMD3<Float>]](repeating: [SIMD3<Float>](repeating: .zero, count: 21), count: 3), fps: 12.5)
        XCTAssertThrowsError(try Rig(bvh: rig).retarget(kit)) { XCTAssertTrue("\($0)".contains("22-joint"), "\($0)") }
    }

    func testARigWithoutPositionChannelsGetsThemOnItsRoot() throws {
        // Only rotations in the file: the root gains Xposition Yposition Zposition so the figure can move.
        var joints = try BVH(url: Self.cmu).joints
        joints[0].channels = [.zRotation, .yRotation, .xRotation]
        let bvh = try BVH(joints: joints, frameTime: 1 / 120, frames: [])
        let rig = try Rig(bvh: bvh, source: "norootpos.bvh")
        let motion = try Self.clip(Self.walk)
        let out = try rig.retarget(motion)
        XCTAssertEqual(out.joints[0].channels, [.xPosition, .yPosition, .zPosition, .zRotation, .yRotation, .xRotation])
        let back = try BVH(text: out.text).motion(units: .scale(1), fps: nil)
        let s = try rig.scale(for: motion)
        let a = back.positions[50][0].double, b = motion.positions[50][0].double * s
        XCTAssertLessThan(length(Vec3(a.x - b.x, 0, a.z - b.z)), 1e-4)
    }

    func testContinuousEulerAnglesAndImportMapForMixamo() throws {
        let motion = try Self.clip(Self.dance)   // a pirouette: the root turns through more than 360 degrees
        let out = try Rig(url: Self.mixamo).retarget(motion)
        var jump = 0.0
        for t in 1..<out.frames.count {
            var k = 0
            for j in out.joints { for c in j.channels { if !c.isPosition { jump = max(jump, abs(out.frames[t][k] - out.frames[t - 1][k])) }; k += 1 } }
        }
        XCTAssertLessThan(jump, 90, "largest angle step between frames")
        // The Mixamo map reads Mixamo names with and without the prefix.
        let find = JointMap.lookup(in: out)
        XCTAssertEqual(JointMap.mixamo.exportJoints(for: .humanML3D, in: out).compactMap { $0 }.count, 22)
        XCTAssertEqual(find("LeftUpLeg"), out.index(of: "mixamorig:LeftUpLeg"))
    }
}
