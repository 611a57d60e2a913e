import XCTest
@testable import MotionData

/// Inputs found by the fuzz harness (`motiongpt fuzz --target bvh`), kept as regression tests.
final class BVHHostileInputTests: XCTestCase {
    static let small = """
        HIERARCHY
        ROOT Hips
        {
          OFFSET 0 0 0
          CHANNELS 3 Xposition Yposition Zposition
          End Site
          {
            OFFSET 0 1 0
          }
        }
        MOTION

        """

    func testHugeFrameCountIsRefusedWithoutReservingIt() {
        // `Frames: Int.max` once went to `reserveCapacity`, whose byte count overflows in the standard
        // library (Swift 6.3): it allocated a tiny buffer and the next append wrote past it.
        for count in ["9223372036854775807", "4611686018427387904", "1152921504606846976"] {
            let text = Self.small + "Frames: \(count)\nFrame Time: 0.05\n0 0 0\n0 0 0\n"
            XCTAssertThrowsError(try BVH(text: text, source: "huge.bvh")) {
                XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
            }
        }
    }
}

extension BVHHostileInputTests {
    static func withFrameTime(_ time: String, frames: Int = 3) -> String {
        small + "Frames: \(frames)\nFrame Time: \(time)\n" + String(repeating: "0 0 0\n", count: frames)
    }

    func testNestingDeeperThanTheLimitIsRefusedNotAStackOverflow() {
        let n = 100_000
        var text = "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 0\n"
        for i in 0..<n { text += "JOINT j\(i)\n{\nOFFSET 0 1 0\nCHANNELS 0\n" }
        text += String(repeating: "}\n", count: n + 1) + "MOTION\nFrames: 0\nFrame Time: 0.05\n"
        XCTAssertThrowsError(try BVH(text: text, source: "deep.bvh")) { XCTAssertTrue("\($0)".contains("nested more than 256 deep"), "\($0)") }
    }

    func testFrameTimesWhoseRateOrLengthOverflowAreRefused() throws {
        // 1/4.9e-324 is infinite: resampling then converted inf to Int and trapped.
        XCTAssertThrowsError(try BVH(text: Self.withFrameTime("4.9e-324"), source: "t.bvh")) {
            XCTAssertTrue("\($0)".contains("frame time"), "\($0)")
        }
        // 1e300 s per frame resamples to ~1e301 frames at 20 fps.
        let slow = try BVH(text: Self.withFrameTime("1e300"), source: "t.bvh")
        XCTAssertThrowsError(try slow.motion(skeleton: .kitML, jointMap: JointMap(["root": "Hips"]), fps: 20)) {
            XCTAssertTrue("\($0)".contains("resample"), "\($0)")
        }
    }

    func testJointsTimesFramesIsBounded() throws {
        // A root with 10 000 channel-less children and 6 000 one-line frames: a 0.4 MB file whose world
        // positions would need 60 million entries.
        var text = "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n"
        for i in 0..<(BVH.maxJoints - 1) { text += "JOINT j\(i)\n{\nOFFSET 0 1 0\nCHANNELS 0\n}\n" }
        text += "}\nMOTION\nFrames: 6000\nFrame Time: 0.05\n" + String(repeating: "0\n", count: 6000)
        let bvh = try BVH(text: text, source: "wide.bvh")
        XCTAssertThrowsError(try bvh.motion(skeleton: .kitML, jointMap: JointMap(["root": "Hips"]))) {
            XCTAssertTrue("\($0)".contains("joints x"), "\($0)")
        }
        XCTAssertThrowsError(try BVH(text: text.replacingOccurrences(of: "CHANNELS 0\n}\n}", with: "CHANNELS 0\n}\nJOINT extra\n{\nOFFSET 0 1 0\nCHANNELS 0\n}\n}"), source: "wide.bvh")) {
            XCTAssertTrue("\($0)".contains("more than 10000 joints"), "\($0)")
        }
    }
}

extension BVHHostileInputTests {
    func testResamplingAMotionWithATinyFrameRateIsRefused() throws {
        // fps 1e-45 is a valid positive Float in a .json motion; 20 fps would need ~1e46 frames.
        let frame = [SIMD3<Float>](repeating: .zero, count: 22)
        let motion = try Motion(skeleton: .humanML3D, positions: [frame, frame, frame], fps: 1e-45)
        XCTAssertThrowsError(try MotionResampling.resample(motion, to: 20)) { XCTAssertTrue("\($0)".contains("resample"), "\($0)") }
        XCTAssertEqual(try MotionResampling.resample(try Motion(skeleton: .humanML3D, positions: [frame, frame, frame], fps: 10), to: 20).positions.count, 5)
    }
}
