import Foundation
import Generation
import ModelHub
import MotionT5
import NeuralNetwork
import TensorEngine
import XCTest

/// A barrier for async tasks: each `arrive()` waits until `parties` tasks have arrived.
actor Rendezvous {
    let parties: Int
    private var arrived = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    init(parties: Int) { self.parties = parties }

    func arrive() async {
        arrived += 1
        if arrived == parties {
            arrived = 0
            let w = waiting
            waiting = []
            for c in w { c.resume() }
        } else {
            await withCheckedContinuation { waiting.append($0) }
        }
    }
}

/// Grad mode is per task: an inference (recording off) and a training step (recording on) that run
/// at the same time on two tasks never see each other's mode.
final class ConcurrencyTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MotionT5Tests/Fixtures/t5-gated")

    func testTrainingStepAndInferenceOnTwoTasksDoNotLeak() async throws {
        let trained = try T5Model.load(directory: Self.fixtures)
        let served = ModelContainer(try T5Model.load(directory: Self.fixtures))
        let inferenceModel = try T5Model.load(directory: Self.fixtures)
        let names = trained.namedParameters().map(\.0)
        for round in 0..<25 {
            let barrier = Rendezvous(parties: 2)
            let training = Task.detached { () -> (recorded: [Bool], missing: [String]) in
                trained.train(true)
                trained.zeroGrad()
                let (first, _) = trained.loss(inputIds: [[5, 6, 7, 1]], labels: [[8, 9, 1]])
                await barrier.arrive()          // both tasks are now inside their scopes
                // This forward runs while the other task is inside `withNoGrad`: with a process-wide
                // flag it would record nothing and the backward below would leave every gradient empty.
                let (second, _) = trained.loss(inputIds: [[7, 6, 5, 1]], labels: [[9, 8, 1]])
                await barrier.arrive()
                second.backward()
                let missing = trained.namedParameters().filter { $0.1.grad == nil }.map(\.0)
                return ([first.requiresGrad, second.requiresGrad], missing)
            }
            let inference = Task.detached { () -> [Bool] in
                await Tensor.withNoGrad {
                    let a = inferenceModel.encode([[5, 6, 7, 1]])
                    await barrier.arrive()
                    let b = inferenceModel.decode([[0, 4]], encoderOutput: inferenceModel.encode([[7, 6, 5, 1]]))
                    await barrier.arrive()
                    return [a.requiresGrad, b.requiresGrad, Tensor.isGradEnabled]
                }
            }
            let t = await training.value, i = await inference.value
            XCTAssertEqual(t.recorded, [true, true], "round \(round): the training step lost its graph")
            XCTAssertEqual(t.missing, [], "round \(round): parameters without gradients")
            XCTAssertEqual(i, [false, false, false], "round \(round): the inference recorded a graph")
            XCTAssertEqual(names.count, trained.namedParameters().count)
        }
        XCTAssertTrue(Tensor.isGradEnabled, "grad mode outside both tasks is untouched")
        // The container runs one body at a time, whatever the number of callers.
        final class Counter: @unchecked Sendable { let lock = NSLock(); var inside = 0, most = 0 }
        let counter = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    await served.perform { m in
                        counter.lock.lock(); counter.inside += 1; counter.most = max(counter.most, counter.inside); counter.lock.unlock()
                        _ = Tensor.withNoGrad { m.encode([[5, 6, 1]]) }
                        counter.lock.lock(); counter.inside -= 1; counter.lock.unlock()
                    }
                }
            }
        }
        XCTAssertEqual(counter.most, 1)
    }
}
