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
