import XCTest
@testable import MotionData
import TensorEngine

/// A CMU-style BVH made here (no file from the CMU database is copied): the joint names and tree of the
/// CMU conversions (Hips; LHipJoint/RHipJoint -> UpLeg -> Leg -> Foot -> ToeBase; LowerBack -> Spine ->
/// Spine1 -> Neck -> Neck1 -> Head; Spine1 -> Left/RightShoulder -> Arm -> ForeArm -> Hand), CMU units
/// (1/0.45 inch; the figure is about 30 units tall), ZYX rotation channels, 120 frames per second.
enum CMUStyle {
    static func leg(_ side: String, _ sx: Double) -> String {
        """
            JOINT \(side.prefix(1))HipJoint
            {
                OFFSET 0 0 0
                CHANNELS 3 Zrotation Yrotation Xrotation
                JOINT \(side)UpLeg
                {
                    OFFSET \(1.7 * sx) -1.0 0.0
                    CHANNELS 3 Zrotation Yrotation Xrotation
                    JOINT \(side)Leg
                    {
                        OFFSET 0 -7.5 0
                        CHANNELS 3 Zrotation Yrotation Xrotation
                        JOINT \(side)Foot
                        {
                            OFFSET 0 -7.3 0
                            CHANNELS 3 Zrotation Yrotation Xrotation
                            JOINT \(side)ToeBase
                            {
                                OFFSET 0 -0.6 2.0
                                CHANNELS 3 Zrotation Yrotation Xrotation
                                End Site
                                {
                                    OFFSET 0 0 1.0
                                }
                            }
                        }
                    }
                }
            }

        """
    }

    static func arm(_ side: String, _ sx: Double) -> String {
        """
                    JOINT \(side)Shoulder
                    {
                        OFFSET 0 2.8 0
                        CHANNELS 3 Zrotation Yrotation Xrotation
                        JOINT \(side)Arm
                        {
                            OFFSET \(2.9 * sx) 0 0
                            CHANNELS 3 Zrotation Yrotation Xrotation
                            JOINT \(side)ForeArm
                            {
                                OFFSET \(5.2 * sx) 0 0
                                CHANNELS 3 Zrotation Yrotation Xrotation
                                JOINT \(side)Hand
                                {
                                    OFFSET \(4.6 * sx) 0 0
                                    CHANNELS 3 Zrotation Yrotation Xrotation
                                    End Site
                                    {
                                        OFFSET \(1.5 * sx) 0 0
                                    }
                                }
                            }
                        }
                    }

        """
    }

    static let hierarchy = "HIERARCHY\nROOT Hips\n{\n    OFFSET 0 0 0\n    CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\n"
        + leg("Left", 1) + leg("Right", -1) + """
            JOINT LowerBack
            {
                OFFSET 0 0 0
                CHANNELS 3 Zrotation Yrotation Xrotation
                JOINT Spine
                {
                    OFFSET 0 2.0 0
                    CHANNELS 3 Zrotation Yrotation Xrotation
                    JOINT Spine1
                    {
                        OFFSET 0 2.1 0
                        CHANNELS 3 Zrotation Yrotation Xrotation
                        JOINT Neck
                        {
                            OFFSET 0 3.6 0
                            CHANNELS 3 Zrotation Yrotation Xrotation
                            JOINT Neck1
                            {
                                OFFSET 0 1.6 0
                                CHANNELS 3 Zrotation Yrotation Xrotation
                                JOINT Head
                                {
                                    OFFSET 0 1.6 0
                                    CHANNELS 3 Zrotation Yrotation Xrotation
                                    End Site
                                    {
                                        OFFSET 0 1.5 0
                                    }
                                }
                            }
                        }

        """ + arm("Left", 1) + arm("Right", -1) + "            }\n        }\n    }\n}\n"

    static let jointCount = 25
    static let fps = 120.0

    /// Frames: the root walks along +Z turned 90° about y on frame 0 and swaying after; knees, shoulders
    /// and elbows swing. 61 frames = 0.5 s.
    static func frames(_ n: Int = 61) -> [[Double]] {
        (0..<n).map { t in
            let s = Double(t) / fps
            var row = [Double](repeating: 0, count: 6 + 3 * (jointCount - 1))
            row[0] = 0.5 * sin(s * 3); row[1] = 17.0 + 0.3 * sin(s * 12); row[2] = 20 * s
            row[4] = 90 + 20 * s // Hips Yrotation
            func set(_ joint: Int, _ z: Double, _ y: Double, _ x: Double) {
                let b = 6 + 3 * (joint - 1)
                row[b] = z; row[b + 1] = y; row[b + 2] = x
            }
            // Joint order: Hips 0, LHipJoint 1, LeftUpLeg 2, LeftLeg 3, LeftFoot 4, LeftToeBase 5, RHipJoint 6,
            // RightUpLeg 7, RightLeg 8, RightFoot 9, RightToeBase 10, LowerBack 11, Spine 12, Spine1 13, Neck 14,
            // Neck1 15, Head 16, LeftShoulder 17, LeftArm 18, LeftForeArm 19, LeftHand 20, RightShoulder 21, ...
            set(2, 0, 0, -25 * sin(s * 8)); set(3, 0, 0, 30 + 25 * sin(s * 8))
            set(7, 0, 0, 25 * sin(s * 8)); set(8, 0, 0, 30 - 25 * sin(s * 8))
            set(13, 5 * sin(s * 4), 0, 3)
            set(18, -70, 10 * sin(s * 6), 0); set(19, 0, -40, 0)
            set(22, 70, -10 * sin(s * 6), 0); set(23, 0, 40, 0)
            return row
        }
    }

    static func text(frames: [[Double]] = frames()) -> String {
        hierarchy + "MOTION\nFrames: \(frames.count)\nFrame Time: \(1 / fps)\n"
            + frames.map { $0.map { String(format: "%.5f", $0) }.joined(separator: " ") }.joined(separator: "\n") + "\n"
    }
}

final class BVHTests: XCTestCase {
    func testParsesCMUStyleHierarchyAndForwardKinematics() throws {
        let bvh = try BVH(text: CMUStyle.text(), source: "cmu.bvh")
        XCTAssertEqual(bvh.joints.count, CMUStyle.jointCount)
        XCTAssertEqual(bvh.channelCount, 6 + 3 * 24)
        XCTAssertEqual(bvh.frames.count, 61)
        XCTAssertEqual(bvh.frameRate, 120, accuracy: 1e-6)
        XCTAssertEqual(bvh.joints[bvh.index(of: "LeftShoulder")!].parent, bvh.index(of: "Spine1"))
        XCTAssertEqual(bvh.joints[bvh.index(of: "Head")!].endSite, Vec3(0, 1.5, 0))
        XCTAssertEqual(bvh.estimatedUnits, .cmu, "rest height \(bvh.restHeight)")
        // Frame 0: hips turned +90° about y, so the left hip's +x offset points to -z.
        let p = bvh.globalPositions()[0]
        let hip = p[bvh.index(of: "LeftUpLeg")!], root = p[0]
        XCTAssertLessThan(length(hip - (root + Vec3(0, -1.0, -1.7))), 1e-4)
    }

    func testRetargetsCMUStyleBVHTo22JointsAt20FPS() throws {
        let bvh = try BVH(text: CMUStyle.text(), source: "cmu.bvh")
        let m = try bvh.motion(source: "cmu.bvh")
        XCTAssertEqual(m.skeleton, .humanML3D)
        XCTAssertEqual(m.fps, 20)
        XCTAssertEqual(m.frameCount, 11) // 0.5 s at 20 fps, both ends included
        let unit = 0.0254 / 0.45
        let world = bvh.globalPositions()
        let s = Skeleton.humanML3D
        for k in [0, 4, 10] {
            let src = world[k * 6] // 120 fps -> 20 fps keeps every sixth frame
            func check(_ target: String, _ expected: Vec3) {
                let got = m.positions[k][s.index(of: target)!].double
                XCTAssertLessThan(length(got - expected * unit), 1e-5, "\(target) frame \(k)")
            }
            check("pelvis", src[bvh.index(of: "Hips")!])
            check("left_ankle", src[bvh.index(of: "LeftFoot")!])
            check("right_foot", src[bvh.index(of: "RightToeBase")!])
            check("spine3", (src[bvh.index(of: "Spine1")!] + src[bvh.index(of: "Neck")!]) / 2)
            check("left_wrist", src[bvh.index(of: "LeftHand")!])
            check("head", src[bvh.index(of: "Head")!])
        }
        // A plausible human in metres: pelvis about 0.9 m up, and features can be taken.
        XCTAssertEqual(Double(m.positions[0][0].y), 17 * unit, accuracy: 1e-4)
        let f = try m.features()
        XCTAssertEqual(f.shape, [10, 263])
        XCTAssertTrue(f.scalars.allSatisfy { $0.isFinite })
    }

    func testMixamoPrefixedNamesRetarget() throws {
        var text = CMUStyle.text()
        for j in try BVH(text: text).joints.map(\.name) {
            text = text.replacingOccurrences(of: "JOINT \(j)\n", with: "JOINT mixamorig:\(j)\n")
        }
        text = text.replacingOccurrences(of: "ROOT Hips", with: "ROOT mixamorig:Hips")
        let bvh = try BVH(text: text)
        XCTAssertTrue(bvh.joints.allSatisfy { $0.name.hasPrefix("mixamorig:") })
        let a = try bvh.motion(), b = try BVH(text: CMUStyle.text()).motion()
        XCTAssertEqual(TestData.maxDiff(a.positions, b.positions), 0)
    }

    func testExplicitUnitsAndKeepingTheFrameRate() throws {
        let bvh = try BVH(text: CMUStyle.text())
        let m = try bvh.motion(units: .centimetres, fps: nil)
        XCTAssertEqual(m.fps, 120)
        XCTAssertEqual(m.frameCount, 61)
        XCTAssertEqual(Double(m.positions[0][0].y), 0.17, accuracy: 1e-6)
    }

    /// Motion -> BVH (rotations) -> text -> BVH -> forward kinematics -> 22 joints.
    func testRoundTripReproducesOfficialJoints() throws {
        try TestData.require(TestData.sample)
        let motion = try MotionFile.read(TestData.sample.appendingPathComponent("new_joints_012314.npy"))
        let text = try motion.bvh().text
        let back = try BVH(text: text, source: "roundtrip.bvh").motion(source: "roundtrip.bvh")
        XCTAssertEqual(back.frameCount, motion.frameCount)
        XCTAssertEqual(back.fps, 20)
        let e = TestData.maxDiff(back.positions, motion.positions)
        print("BVH round trip (012314): max joint error \(e) m")
        XCTAssertLessThan(e, 1e-4)
        // And in centimetres, as many tools expect.
        let cm = try BVH(text: try motion.bvh(unitsPerMetre: 100).text).motion()
        XCTAssertLessThan(TestData.maxDiff(cm.positions, motion.positions), 1e-4)
    }

    func testRoundTripOfCMUClips() throws {
        try TestData.require(TestData.cmu)
        for name in ["01_01_00", "02_05_00", "05_01_00"] {
            let url = TestData.cmu.appendingPathComponent("new_joints/\(name).npy")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let motion = try MotionFile.read(url)
            let back = try BVH(text: try motion.bvh().text).motion()
            let e = TestData.maxDiff(back.positions, motion.positions)
            print("BVH round trip (\(name)): max joint error \(e) m")
            XCTAssertLessThan(e, 1e-4, name)
        }
    }

    func testSMPLNamedBVHRetargets() throws {
        try TestData.require(TestData.sample)
        let motion = try MotionFile.read(TestData.sample.appendingPathComponent("new_joints_012314.npy"))
        let smpl = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
                    "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
                    "R_Elbow", "L_Wrist", "R_Wrist"]
        var bvh = try motion.bvh()
        for j in bvh.joints.indices { bvh.joints[j].name = smpl[j] }
        let back = try BVH(text: bvh.text).motion()
        XCTAssertLessThan(TestData.maxDiff(back.positions, motion.positions), 1e-4)
    }

    // MARK: errors

    func assertError(_ text: String, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try BVH(text: text, source: "bad.bvh").motion(), file: file, line: line) { e in
            XCTAssertTrue(e is MotionError, "\(e)", file: file, line: line)
            for p in parts { XCTAssertTrue("\(e)".contains(p), "'\(e)' lacks '\(p)'", file: file, line: line) }
        }
    }

    func replacingFirst(_ a: String, by b: String, after marker: String, in text: String) -> String {
        let start = text.range(of: marker)!.upperBound
        let r = text.range(of: a, range: start..<text.endIndex)!
        return text.replacingCharacters(in: r, with: b)
    }

    func testTruncatedFilesNameTheProblem() {
        let text = CMUStyle.text()
        let motionStart = text.range(of: "MOTION")!.lowerBound
        let cutInMotion = String(text[..<text.index(motionStart, offsetBy: 2000)])
        assertError(cutInMotion, contains: ["bad.bvh", "truncated", "Frames says 61"])
        assertError(String(text[..<text.index(text.startIndex, offsetBy: 900)]), contains: ["bad.bvh", "truncated"])
        assertError(String(text[..<motionStart]) + "MOTION\n", contains: ["missing 'Frames'"])
    }

    func testWrongChannelCountsAndBadValues() {
        let text = CMUStyle.text()
        // CHANNELS 4 with three names: the parser meets JOINT where a channel should be.
        let four = replacingFirst("CHANNELS 3", by: "CHANNELS 4", after: "JOINT LeftUpLeg", in: text)
        XCTAssertNotEqual(four, text)
        assertError(four, contains: ["LeftUpLeg", "CHANNELS 4", "JOINT"])
        // A frame line one value short.
        var lines = text.components(separatedBy: "\n")
        let first = lines.firstIndex { $0.hasPrefix("Frame Time") }! + 1
        lines[first + 2] = lines[first + 2].components(separatedBy: " ").dropLast().joined(separator: " ")
        assertError(lines.joined(separator: "\n"), contains: ["bad.bvh:\(first + 3)", "frame 2 has 77 values", "78 channels"])
        // Non-numeric and NaN values name the line and channel.
        var words = text.components(separatedBy: "\n")
        var row = words[first + 1].components(separatedBy: " ")
        row[4] = "abc"
        words[first + 1] = row.joined(separator: " ")
        assertError(words.joined(separator: "\n"), contains: ["bad.bvh:\(first + 2)", "'abc' is not a number", "Hips.Yrotation"])
        row[4] = "nan"
        words[first + 1] = row.joined(separator: " ")
        assertError(words.joined(separator: "\n"), contains: ["not finite", "Hips.Yrotation"])
        assertError(text.replacingOccurrences(of: "OFFSET 0 -7.5 0", with: "OFFSET 0 x 0"), contains: ["LeftLeg OFFSET y", "'x' is not a number"])
        let w = replacingFirst("Xrotation", by: "Wrotation", after: "JOINT LeftUpLeg", in: text)
        XCTAssertNotEqual(w, text)
        assertError(w, contains: ["LeftUpLeg", "Wrotation"])
    }

    func testUnknownJointNamesInAMap() throws {
        let bvh = try BVH(text: CMUStyle.text(), source: "cmu.bvh")
        var map = JointMap.cmu
        map.entries["left_ankle"] = [.joint("LeftAnkle")]
        XCTAssertThrowsError(try bvh.motion(jointMap: map, source: "cmu.bvh")) { e in
            XCTAssertTrue("\(e)".contains("left_ankle") && "\(e)".contains("LeftAnkle") && "\(e)".contains("cmu.bvh"), "\(e)")
        }
        map = JointMap.cmu
        map.entries["tail"] = [.joint("Hips")]
        XCTAssertThrowsError(try bvh.motion(jointMap: map)) { XCTAssertTrue("\($0)".contains("'tail'"), "\($0)") }
        // No built-in map fits a skeleton with other names.
        let renamed = CMUStyle.text().replacingOccurrences(of: "LeftFoot", with: "Fuss_L")
        XCTAssertThrowsError(try BVH(text: renamed, source: "de.bvh").motion(source: "de.bvh")) { e in
            XCTAssertTrue("\(e)".contains("left_ankle") && "\(e)".contains("pass one"), "\(e)")
        }
    }

    func testResamplingSkipsFramesAtIntegerRatios() {
        let frames = (0..<7).map { [Vec3(Double($0), 0, 0)] }
        let r = MotionResampling.resample(frames, from: 60, to: 20)
        XCTAssertEqual(r.map { $0[0].x }, [0, 3, 6])
        let r2 = MotionResampling.resample(frames, from: 30, to: 20)
        XCTAssertEqual(r2.map { $0[0].x }, [0, 1.5, 3, 4.5, 6])
    }
}
