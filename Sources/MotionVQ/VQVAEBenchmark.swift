import Foundation
import NeuralNetwork
import TensorEngine

/// Speed of MotionGPT's tokenizer at its published size (width 512, 512 codes): tokenising a
/// HumanML3D-length motion, decoding its codes, and one training step. `motiongpt bench` prints it
/// beside the same measurement in PyTorch.
public enum VQVAEBenchmark {
    public struct Result: Sendable {
        public var frames: Int
        public var encodeSeconds: Double
        public var decodeSeconds: Double
        public var batch: Int, window: Int
        public var trainStepSeconds: Double
    }

    /// Builds the tokenizer and runs 3 training steps on `[batch, window, 263]` (the peak-memory workload).
    public static func trainingSteps(batch: Int = 8, window: Int = 64) throws {
        let model = try VQVAE(config: VQVAEConfig(), seed: 0)
        var rng = SeededRNG(seed: 1)
        let x = Tensor.randn([batch, window, 263], rng: &rng)
        for _ in 0..<3 {
            model.zeroGrad()
            model.trainingStep(x, rng: &rng).loss.backward()
        }
    }

    /// Median times: encode `[1, frames, 263]` to codes, decode the codes, and a forward+backward
    /// training step on `[batch, window, 263]` (random weights; the codebook initialised from data).
    public static func run(frames: Int = 196, batch: Int = 8, window: Int = 64) throws -> Result {
        let model = try VQVAE(config: VQVAEConfig(), seed: 0)
        var rng = SeededRNG(seed: 1)
        let x = Tensor.randn([batch, window, 263], rng: &rng)
        _ = model.trainingStep(x, rng: &rng)   // initialises the codebook
        model.train(false)
        let motion = Tensor.randn([frames, 263], rng: &rng)
        var codes: [Int] = []
        let enc = EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 0.5) { codes = try! model.encode(motion) }
        let dec = EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 0.5) { _ = try! model.decode(codes) }
        model.train(true)
        let step = EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 1) {
            model.zeroGrad()
            model.trainingStep(x, rng: &rng).loss.backward()
        }
        return Result(frames: frames, encodeSeconds: enc, decodeSeconds: dec, batch: batch, window: window, trainStepSeconds: step)
    }
}
