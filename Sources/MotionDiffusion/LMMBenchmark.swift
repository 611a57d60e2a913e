import Foundation
import NeuralNetwork
import TensorEngine

/// Speed of the Large Motion Model's denoiser at the size that will ship: one guided 50-step DDIM sample
/// of a HumanML3D-length motion, and one training step (forward + backward). `motiongpt bench` prints it
/// beside the official PyTorch modules run on the same weights and inputs (`Tools/bench/torch_reference.py`
/// reads them from the file `write(to:)` makes and writes its outputs back for `agreement`).
public enum LMMBenchmark {
    /// The denoiser the bench measures, in this one place: 10 parts of 32 (width 320), 4 layers, timestep
    /// embedding 512, text condition from the bundled MiniLM's 384-wide token features, one expert,
    /// 200 frames of learned per-frame embedding. With one expert the gate is never read (its softmax is
    /// 1); `top` keeps the key set of the one-expert layer the PyTorch side substitutes for tutel's.
    public static var config: LMMConfig {
        var c = LMMConfig()
        c.latentPartDim = 32
        c.numLayers = 4
        c.timeEmbedDim = 512
        c.textInputDim = 384
        c.textMaxTokens = 32
        c.numExperts = 1
        c.topk = 1
        c.gateType = "top"
        c.maxSeqLen = 200
        return c
    }

    /// The shapes measured.
    public struct Shape: Sendable, Equatable {
        /// Frames of the sampled motion (HumanML3D's longest, 196) at batch 1.
        public var frames = 196
        /// DDIM respacing (the official 50 steps).
        public var sections = NoiseSchedule.officialSections
        /// Training batch and window.
        public var trainBatch = 16, trainFrames = 120
        public init() {}
        public var steps: Int { sections.reduce(0, +) }
    }

    /// A model with random weights (the read-out too, which the official init zeroes, so outputs are not
    /// trivially 0 and the PyTorch comparison means something) and the random inputs of both measurements.
    public final class Workload {
        public let model: LargeMotionModel
        public let shape: Shape
        /// Sampling: start noise `[1, frames, 669]`, text token features `[1, M, 384]`, part mask `[1, frames, 10]`.
        public let noise: Tensor, text: Tensor, partMask: Tensor
        /// Training: clean motion `[B, T, 669]`, text `[B, M, 384]`, part mask `[B, T, 10]`.
        public let trainMotion: Tensor, trainText: Tensor, trainPartMask: Tensor

        public init(config: LMMConfig = LMMBenchmark.config, shape: Shape = Shape(), seed: UInt64 = 0) throws {
            guard let textDim = config.textInputDim else {
                throw MotionDiffusionError.invalidConfiguration("the benchmark needs a text condition (text_input_dim)")
            }
            guard shape.frames <= config.maxSeqLen, shape.trainFrames <= config.maxSeqLen else {
                throw MotionDiffusionError.invalidConfiguration("benchmark frames exceed max_seq_len \(config.maxSeqLen)")
            }
            model = try LargeMotionModel(config: config, seed: seed)
            self.shape = shape
            var rng = SeededRNG(seed: seed &+ 1)
            for (_, p) in model.out.namedTensors() {
                // The size of a default Linear init (fan-in 32), so the read-out is of ordinary scale.
                p.assign(Tensor.uniform(p.shape, low: -0.17, high: 0.17, rng: &rng))
            }
            let m = config.textMaxTokens
            noise = Tensor.randn([1, shape.frames, UnifiedMotion.dimension], rng: &rng)
            text = Tensor.randn([1, m, textDim], rng: &rng)
            partMask = Self.humanML3DMask(batch: 1, frames: shape.frames)
            trainMotion = Tensor.randn([shape.trainBatch, shape.trainFrames, UnifiedMotion.dimension], rng: &rng)
            trainText = Tensor.randn([shape.trainBatch, m, textDim], rng: &rng)
            trainPartMask = Self.humanML3DMask(batch: shape.trainBatch, frames: shape.trainFrames)
        }

        /// Body present, hands and face absent, as HumanML3D data in the unified layout. `[B, T, 10]`
        static func humanML3DMask(batch: Int, frames: Int) -> Tensor {
            let absent: Set<BodyPart> = [.leftHand, .rightHand, .face]
            let row = BodyPart.allCases.map { absent.contains($0) ? Float(0) : 1 }
            return Tensor([Float]((0..<(batch * frames)).flatMap { _ in row }), shape: [batch, frames, 10])
        }

        /// The sampling call's inputs (text present, 20 fps, the shared `all` set).
        public var samplingInputs: LMMInputs {
            LMMInputs(timesteps: [0], partMask: partMask, lengths: [shape.frames], fps: [20], datasetIndex: [0],
                      conditions: ["text": ConditionTokens(words: text, present: [1])])
        }

        /// The training batch's inputs (every sample full length with text; the step drops some).
        public var trainingInputs: LMMInputs {
            let b = shape.trainBatch
            return LMMInputs(timesteps: [Float](repeating: 0, count: b), partMask: trainPartMask,
                             lengths: [Int](repeating: shape.trainFrames, count: b), fps: [Float](repeating: 20, count: b),
                             datasetIndex: [Int](repeating: 0, count: b),
                             conditions: ["text": ConditionTokens(words: trainText, present: [Float](repeating: 1, count: b))])
        }

        /// Writes what the PyTorch side needs: `param.<key>` (the state under the official keys), `config.<field>`
        /// (sizes as 1-element floats), `in.noise`, `in.text`, `in.part_mask`, `in.train_motion`, `in.train_text`,
        /// `in.train_part_mask`.
        public func write(to url: URL) throws {
            let c = model.config
            var tensors = model.namedTensors().map { ("param." + $0.0, $0.1) }
            let sizes: [(String, Float)] = [
                ("latent_part_dim", Float(c.latentPartDim)), ("num_layers", Float(c.numLayers)),
                ("num_cond_layers", Float(c.numCondLayers)), ("time_embed_dim", Float(c.timeEmbedDim)),
                ("text_input_dim", Float(c.textInputDim ?? 0)), ("max_seq_len", Float(c.maxSeqLen)),
                ("num_experts", Float(c.numExperts)), ("guidance_scale", c.guidanceScale)]
            tensors += sizes.map { ("config." + $0.0, Tensor([$0.1], shape: [1])) }
            tensors += [("config.sections", Tensor(shape.sections.map(Float.init), shape: [shape.sections.count])),
                        ("in.noise", noise), ("in.text", text), ("in.part_mask", partMask),
                        ("in.train_motion", trainMotion), ("in.train_text", trainText), ("in.train_part_mask", trainPartMask)]
            try writeSafeTensors(tensors, to: url)
        }
    }

    /// One guided sample's time and outputs.
    public struct SamplingResult {
        public var steps: Int
        /// Seconds for the whole 50-step sample (median of `runs`).
        public var secondsPerSample: Double
        public var secondsPerStep: Double { secondsPerSample / Double(steps) }
        /// The guided x0 of the first step (t = 999 from the noise) and the finished sample, `[1, frames, 669]`.
        public var firstStep: Tensor, sample: Tensor
    }

    /// Guided DDIM sampling (conditional and unconditional halves in one batch, the config's guidance scale)
    /// after one warm-up model call; the median of `runs` whole samples.
    public static func sampling(_ w: Workload, runs: Int = 1) throws -> SamplingResult {
        let model = w.model
        model.train(false)
        let guidance = model.config.guidanceScale
        return try Tensor.withNoGrad {
            var first = w.samplingInputs
            first.timesteps = [999]
            let firstStep = try model(w.noise, first, guidance: guidance)
            var sample: Tensor?
            var error: Error?
            let seconds = EngineBenchmark.time(warmup: 0, minIterations: max(runs, 1), budget: 0) {
                do {
                    var sampler = try model.ddimSampler(noise: w.noise, inputs: w.samplingInputs, guidance: guidance,
                                                        sections: w.shape.sections)
                    sample = sampler.run().latent
                    if let e = sampler.error { throw e }
                } catch let e { error = e }
            }
            if let error { throw error }
            return SamplingResult(steps: w.shape.steps, secondsPerSample: seconds, firstStep: firstStep, sample: sample!)
        }
    }

    /// Median seconds of one training step: `trainingLoss` (the official training randomness) and `backward()`.
    public static func trainingStep(_ w: Workload, minIterations: Int = 3) throws -> Double {
        let model = w.model
        model.train(true)
        defer { model.train(false) }
        var rng = SeededRNG(seed: 2)
        let inputs = w.trainingInputs
        var error: Error?
        let seconds = EngineBenchmark.time(warmup: 1, minIterations: minIterations, budget: 0) {
            do {
                model.zeroGrad()
                try model.trainingLoss(w.trainMotion, inputs, rng: &rng).loss.backward()
            } catch let e { error = e }
        }
        if let error { throw error }
        return seconds
    }

    /// max |a - b| over max(max |b|, 1): how far the engine's output is from the reference, on its scale.
    public static func agreement(_ a: Tensor, _ b: Tensor) -> Float? {
        guard a.shape == b.shape else { return nil }
        return a.maxAbsDifference(b) / max(b.scalars.map(abs).max() ?? 0, 1)
    }
}
