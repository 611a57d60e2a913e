import Foundation
import XCTest
import Fuzzing
import TensorEngine

/// A short seeded fuzz run of every parser over mutations of the seed files in `Tools/fuzz/corpus/`:
/// no input may end in anything but the parser's typed error (a trap, a hang or a huge allocation would
/// take the test process down). The long runs are `motiongpt fuzz` and `Tools/fuzz/libfuzzer.sh`.
final class FuzzTests: XCTestCase {
    static var corpusRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/fuzz/corpus")
    }

    func campaign(_ name: String, iterations: Int, seed: UInt64 = 1) throws -> FuzzReport {
        let target = try XCTUnwrap(FuzzTargets.named(name))
        let seeds = try FuzzHarness.loadCorpus(Self.corpusRoot.appendingPathComponent(name))
        XCTAssertFalse(seeds.isEmpty, "no seed files for \(name)")
        let report = FuzzHarness(target: target, seeds: seeds).run(iterations: iterations, seed: seed)
        for f in report.findings.prefix(3) {
            XCTFail("\(name): iteration \(f.iteration), \(f.input.count) bytes: \(f.message)")
        }
        // Every seed file is a real, valid file: the parser must accept it.
        XCTAssertGreaterThanOrEqual(report.accepted, seeds.count, "\(name): a seed file was refused")
        XCTAssertEqual(report.executions, iterations)
        return report
    }

    func testNpy() throws { _ = try campaign("npy", iterations: 3000) }
    func testNpz() throws { _ = try campaign("npz", iterations: 1500) }
    func testSafetensors() throws { _ = try campaign("safetensors", iterations: 3000) }
    func testTorch() throws { _ = try campaign("torch", iterations: 1500) }
    func testSpiece() throws { _ = try campaign("spiece", iterations: 600) }
    func testBVH() throws { _ = try campaign("bvh", iterations: 1000) }
    func testRig() throws { _ = try campaign("rig", iterations: 400) }
    func testJointMap() throws { _ = try campaign("joint-map", iterations: 1000) }
    func testMotionJSON() throws { _ = try campaign("motion-json", iterations: 1500) }
    func testConfig() throws { _ = try campaign("config", iterations: 3000) }
    func testJSON() throws { _ = try campaign("json", iterations: 3000) }

    func testSameSeedSameInputs() throws {
        let target = try XCTUnwrap(FuzzTargets.named("npy"))
        let seeds = try FuzzHarness.loadCorpus(Self.corpusRoot.appendingPathComponent("npy"))
        var a: [[UInt8]] = [], b: [[UInt8]] = []
        _ = FuzzHarness(target: target, seeds: seeds).run(iterations: 200, seed: 42) { a.append($0) }
        _ = FuzzHarness(target: target, seeds: seeds).run(iterations: 200, seed: 42) { b.append($0) }
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(Set(a).count, 150, "mutations should mostly differ")
    }
}
