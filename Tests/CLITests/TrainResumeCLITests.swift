import Foundation
import XCTest

/// Interrupted tokenizer training through the real binary: killed in the middle of a checkpoint write
/// (the `MOTIONGPT_CRASH_DURING_CHECKPOINT` hook) or stopped with Ctrl-C, then resumed, it ends with
/// weights bit-identical to an uninterrupted run of the same seed and steps.
final class TrainResumeCLITests: XCTestCase {
    static var root: URL { CLITests.repoRoot }
    static var sample: String { root.appendingPathComponent("Data/humanml3d-sample/new_joint_vecs_012314.npy").path }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func runBinary(_ args: [String], env: [String: String] = [:], interruptAfter marker: String? = nil) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        /// Output gathered on the pipe's reading thread.
        final class Collected: @unchecked Sendable {
            let lock = NSLock()
            var data = Data()
            var signalled = false
        }
        let collected = Collected()
        let pid = { p.processIdentifier }
        pipe.fileHandleForReading.readabilityHandler = { h in
            let chunk = h.availableData
            collected.lock.lock(); defer { collected.lock.unlock() }
            collected.data.append(chunk)
            if let marker, !collected.signalled, String(decoding: collected.data, as: UTF8.self).contains(marker) {
                collected.signalled = true
                kill(pid(), SIGINT)
            }
        }
        try p.run()
        p.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        collected.lock.lock(); collected.data.append(rest); collected.lock.unlock()
        return (p.terminationStatus, String(decoding: collected.data, as: UTF8.self))
    }

    func trainArgs(_ out: URL, config: URL, steps: Int) -> [String] {
        ["train", "tokenizer", "--data", Self.sample, "--out", out.path, "--config", config.path, "--steps", String(steps),
         "--batch-size", "4", "--window", "32", "--log-every", "1", "--checkpoint-every", "4", "--seed", "9", "--lr", "1e-3"]
    }

    func tinyConfig(in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("vq.json")
        try Data(#"{"width": 16, "code_dim": 16, "output_emb_width": 16, "code_num": 32, "depth": 2}"#.utf8).write(to: url)
        return url
    }

    func weights(_ dir: URL) throws -> Data { try Data(contentsOf: dir.appendingPathComponent("model.safetensors")) }

    func testKilledDuringCheckpointWriteResumesBitIdentically() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try tinyConfig(in: dir)
        let straight = dir.appendingPathComponent("straight"), killed = dir.appendingPathComponent("killed")
        let a = try runBinary(trainArgs(straight, config: config, steps: 12))
        XCTAssertEqual(a.status, 0, a.out)

        // The second checkpoint write (step 8) dies halfway, as a kill -9 would.
        let b = try runBinary(trainArgs(killed, config: config, steps: 12), env: ["MOTIONGPT_CRASH_DURING_CHECKPOINT": "2"])
        XCTAssertEqual(b.status, 137, b.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("model.safetensors").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: killed.appendingPathComponent("checkpoints").path)
        XCTAssertTrue(leftovers.contains("step-00000004.safetensors"), "\(leftovers)")
        XCTAssertFalse(leftovers.contains("step-00000008.safetensors"), "a half-written checkpoint must not carry a checkpoint name: \(leftovers)")

        let c = try runBinary(trainArgs(killed, config: config, steps: 12) + ["--resume"])
        XCTAssertEqual(c.status, 0, c.out)
        XCTAssertTrue(c.out.contains("resumed from step-00000004.safetensors at step 4"), c.out)
        XCTAssertEqual(try weights(killed), try weights(straight), "resumed weights differ from the uninterrupted run")
    }

    func testCtrlCSavesACheckpointAndResumesBitIdentically() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try tinyConfig(in: dir)
        let straight = dir.appendingPathComponent("straight"), stopped = dir.appendingPathComponent("stopped")
        let steps = 200
        XCTAssertEqual(try runBinary(trainArgs(straight, config: config, steps: steps)).status, 0)
        let b = try runBinary(trainArgs(stopped, config: config, steps: steps), interruptAfter: "step 6/\(steps)")
        XCTAssertEqual(b.status, 130, b.out)
        XCTAssertTrue(b.out.contains("interrupted at step"), b.out)
        let c = try runBinary(trainArgs(stopped, config: config, steps: steps) + ["--resume"])
        XCTAssertEqual(c.status, 0, c.out)
        XCTAssertEqual(try weights(stopped), try weights(straight))
    }
}
