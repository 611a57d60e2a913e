import Foundation
import XCTest
@testable import NeuralNetwork
import TensorEngine

final class ResumeNet: Module {
    let fc1: Linear
    let fc2: Linear

    init(rng: inout SeededRNG) {
        fc1 = Linear(8, 16, rng: &rng)
        fc2 = Linear(16, 4, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).gelu()) }
}

/// Atomic, checksummed checkpoints and exact resumption (issue 7).
final class CheckpointStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    // MARK: a tiny training run

    /// Fixed data; each step draws a batch of 4 rows with `data`, so the generator's state matters.
    struct Run {
        let model: ResumeNet
        let adam: AdamW
        var data: SeededRNG
        static let x: [[Float]] = { var r = SeededRNG(seed: 11); return (0..<16).map { _ in (0..<8).map { _ in r.nextNormal() } } }()
        static let y: [[Float]] = { var r = SeededRNG(seed: 12); return (0..<16).map { _ in (0..<4).map { _ in r.nextNormal() } } }()
        static let schedule = WarmupCosineSchedule(peak: 3e-2, floor: 1e-3, warmupSteps: 3, totalSteps: 12)

        init(seed: UInt64) {
            var rng = SeededRNG(seed: seed)
            model = ResumeNet(rng: &rng)
            adam = AdamW(parameters: model.parameters(), learningRate: 1e-2, weightDecay: 0.01)
            data = SeededRNG(seed: 99)
        }

        /// One step numbered `step` (0-based); returns the loss.
        mutating func train(step: Int) -> Float {
            let rows = (0..<4).map { _ in data.nextInt(16) }
            let xb = Tensor(rows.flatMap { Run.x[$0] }, shape: [4, 8])
            let yb = Tensor(rows.flatMap { Run.y[$0] }, shape: [4, 4])
            // A normal draw too, so the cached second Box-Muller value is part of the state.
            _ = data.nextNormal()
            adam.zeroGrad()
            let loss = model(xb).mseLoss(yb)
            loss.backward()
            clipGradientNorm(adam.parameters, maxNorm: 1)
            adam.learningRate = Run.schedule.learningRate(at: step)
            adam.update()
            return loss.item
        }
    }

    func testResumeFromCheckpointIsBitIdenticalToAnUninterruptedRun() throws {
        var straight = Run(seed: 1)
        let straightLosses = (0..<12).map { straight.train(step: $0) }

        // First process: 5 steps, checkpoint every 2 steps and at the stop.
        let store = CheckpointStore(directory: dir, keep: 2)
        var first = Run(seed: 1)
        var losses: [Float] = []
        for step in 0..<5 {
            losses.append(first.train(step: step))
            if (step + 1) % 2 == 0 || step == 4 {
                try store.save(step: step + 1, model: first.model, optimizer: first.adam, rngs: ["data": first.data],
                               metadata: ["losses": losses.map { String($0.bitPattern, radix: 16) }.joined(separator: ",")])
            }
        }
        XCTAssertEqual(store.checkpoints().map(\.lastPathComponent), ["step-00000004.safetensors", "step-00000005.safetensors"])

        // Second process: different initial weights and generator, everything comes from the checkpoint.
        var second = Run(seed: 777)
        second.data = SeededRNG(seed: 5)
        let state = try XCTUnwrap(CheckpointStore(directory: dir).latestValid())
        XCTAssertEqual(state.step, 5)
        try state.restore(model: second.model, optimizer: second.adam)
        second.data = try XCTUnwrap(state.rngs["data"])
        var resumedLosses = try XCTUnwrap(state.metadata["losses"]).split(separator: ",").map { Float(bitPattern: UInt32($0, radix: 16)!) }
        for step in state.step..<12 { resumedLosses.append(second.train(step: step)) }

        XCTAssertEqual(resumedLosses, straightLosses, "loss curve")
        for ((k, a), (_, b)) in zip(straight.model.namedTensors(), second.model.namedTensors()) {
            XCTAssertEqual(a.scalars, b.scalars, k)
        }
        XCTAssertEqual(second.adam.step, straight.adam.step)
        for (a, b) in zip(straight.adam.secondMoments, second.adam.secondMoments) { XCTAssertEqual(a.scalars, b.scalars) }
    }

    // MARK: damaged files

    func testChecksumMismatchIsDetected() throws {
        var rng = SeededRNG(seed: 3)
        let net = ResumeNet(rng: &rng)
        let url = dir.appendingPathComponent("m.safetensors")
        try net.save(to: url, metadata: ["note": "v1"])
        XCTAssertNoThrow(try CheckpointIO.read(url))
        let clean = try Data(contentsOf: url)

        // One bit of one weight.
        var bytes = [UInt8](clean)
        bytes[bytes.count - 3] ^= 0x10
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try CheckpointIO.read(url)) { error in
            guard case CheckpointError.checksumMismatch(let path, _, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertTrue("\(error)".contains("checksum mismatch"))
        }
        XCTAssertThrowsError(try ResumeNet(rng: &rng).load(from: url), "Module.load verifies too")

        // Metadata is covered as well: same length, different value.
        let text = String(decoding: clean, as: UTF8.self)
        XCTAssertTrue(text.contains("\"v1\""))
        try Data(text.replacingOccurrences(of: "\"v1\"", with: "\"v2\"").utf8).write(to: url)
        XCTAssertThrowsError(try CheckpointIO.read(url)) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }

        // A file from elsewhere has no checksum: loading a model accepts it, a training state does not.
        try writeSafeTensors(net.namedTensors(), to: url)
        XCTAssertNoThrow(try ResumeNet(rng: &rng).load(from: url))
        XCTAssertThrowsError(try CheckpointIO.read(url)) { XCTAssertEqual($0 as? CheckpointError, .missingChecksum(path: url.path)) }
    }

    func testLatestValidSkipsTruncatedAndPartialFiles() throws {
        var run = Run(seed: 2)
        let store = CheckpointStore(directory: dir, keep: 5)
        for step in 0..<2 {
            _ = run.train(step: step)
            try store.save(step: step + 1, model: run.model, optimizer: run.adam, rngs: ["data": run.data])
        }
        let good = try Data(contentsOf: store.checkpoints().last!)
        // What a kill mid-write leaves: half a temporary file (never under a checkpoint name) ...
        let tmp = dir.appendingPathComponent(".step-00000003.safetensors.tmp-999999")
        try good.prefix(good.count / 2).write(to: tmp)
        // ... and what a non-atomic writer would leave: a cut-short and a bit-flipped checkpoint.
        try good.prefix(good.count - 100).write(to: dir.appendingPathComponent("step-00000004.safetensors"))
        var flipped = [UInt8](good)
        flipped[flipped.count / 2 + 40] ^= 1
        try Data(flipped).write(to: dir.appendingPathComponent("step-00000005.safetensors"))

        let state = try XCTUnwrap(store.latestValid())
        XCTAssertEqual(state.step, 2)
        XCTAssertEqual(store.skipped.map(\.url.lastPathComponent), ["step-00000005.safetensors", "step-00000004.safetensors"])
        XCTAssertFalse(store.checkpoints().contains(tmp), "temporary files are not checkpoints")

        // The next save clears the stale temporary file.
        try store.save(step: 6, model: run.model)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path))
        XCTAssertEqual(store.latestValid()?.step, 6)
        // Only garbage: nothing to resume from.
        let empty = CheckpointStore(directory: dir.appendingPathComponent("other"))
        XCTAssertNil(empty.latestValid())
    }

    func testSaveKeepsTheNewestAndLeavesNoTemporaries() throws {
        var rng = SeededRNG(seed: 4)
        let net = ResumeNet(rng: &rng)
        let store = CheckpointStore(directory: dir, keep: 2)
        for step in [10, 20, 30, 40] { try store.save(step: step, model: net, metadata: ["k": "v"]) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       ["step-00000030.safetensors", "step-00000040.safetensors"])
        let state = try store.load(store.checkpoints().last!)
        XCTAssertEqual(state.metadata, ["k": "v"])
        XCTAssertNil(state.optimizer)
        XCTAssertThrowsError(try store.save(step: 50, model: net, metadata: ["motiongpt.step": "1"]))
        // Restoring an optimizer from a state that has none is an error, not a silent fresh start.
        let adam = AdamW(parameters: net.parameters())
        XCTAssertThrowsError(try state.restore(model: net, optimizer: adam))
    }

    // MARK: generator state and interrupts

    func testGeneratorStateRoundTripsThroughText() throws {
        var a = SeededRNG(seed: 123)
        _ = a.nextNormal()  // leaves the second value cached
        let text = a.state.text
        var b = SeededRNG(state: try XCTUnwrap(SeededRNG.State(text: text)))
        XCTAssertEqual(a.state, b.state)
        for _ in 0..<5 { XCTAssertEqual(a.nextNormal(), b.nextNormal()); XCTAssertEqual(a.next(), b.next()) }
        XCTAssertNil(SeededRNG.State(text: "0:0:0:0"), "the all-zero state is not a generator state")
        XCTAssertNil(SeededRNG.State(text: "1:2:3"))
        XCTAssertNil(SeededRNG.State(text: "1:2:3:zz"))
    }

    func testInterruptFlagIsSetBySIGINT() {
        InterruptFlag.install()
        InterruptFlag.reset()
        XCTAssertFalse(InterruptFlag.requested)
        raise(SIGINT)
        XCTAssertTrue(InterruptFlag.requested)
        InterruptFlag.reset()
        XCTAssertFalse(InterruptFlag.requested)
        // Leave SIGINT to the default action for the rest of the test run.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
