import Foundation
import MotionT5
import NeuralNetwork
import TensorEngine

/// Greedy-generation speed of a T5-small-sized model, for `motiongpt bench`.
public enum GenerationBenchmark {
    /// T5-small's shape (d_model 512, 6+6 layers, 8 heads, ReLU, tied) with the text vocabulary
    /// plus MotionGPT's 515 motion tokens.
    public static var t5SmallConfig: T5Config {
        var c = T5Config()
        c.vocabSize = 32128 + 515
        c.dModel = 512; c.dKv = 64; c.dFf = 2048; c.numLayers = 6; c.numDecoderLayers = 6; c.numHeads = 8
        c.feedForwardProj = "relu"; c.tieWordEmbeddings = true; c.dropoutRate = 0
        return c
    }

    public struct Result: Sendable {
        public let tokens: Int
        public let promptLength: Int
        /// The weights' format in memory (nil: Float32).
        public let weights: CompactMatrix.Format?
        /// Median seconds for the whole generation (encoder once, then `tokens` decoder steps).
        public let seconds: Double
        /// Weight elements one decoder step multiplies (measured on the compact path: the bytes its
        /// products read between a 16- and a 64-token generation, per token, over the bytes a weight).
        public let weightsPerToken: Int
        public var tokensPerSecond: Double { Double(tokens) / seconds }

        /// Bytes of weights one decoder step reads in this format.
        public var bytesPerToken: Double {
            switch weights {
            case nil: return Double(weightsPerToken) * 4
            case .f16: return Double(weightsPerToken) * 2
            case .int8: return Double(weightsPerToken)  // and one scale per row: under 1% here
            }
        }
    }

    /// Median seconds of a T5-small training step (forward, cross-entropy over the whole vocabulary,
    /// backward; no optimiser) on `batch` prompts of `inputLength` tokens with `labelLength` labels.
    public static func trainingStep(batch: Int = 8, inputLength: Int = 64, labelLength: Int = 64, seed: UInt64 = 0) throws -> Double {
        let model = try T5Model(config: t5SmallConfig, seed: seed)
        model.train(true)
        var rng = SeededRNG(seed: seed + 2)
        let ids = (0..<batch).map { _ in (0..<inputLength).map { _ in 2 + rng.nextInt(32000) } }
        let labels = (0..<batch).map { _ in (0..<labelLength).map { _ in 2 + rng.nextInt(32000) } }
        return EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 1) {
            model.zeroGrad()
            model.loss(inputIds: ids, labels: labels).loss.backward()
        }
    }

    /// Generates exactly `tokens` tokens greedily at batch 1 (end-of-sequence blocked until then),
    /// with the weights carried as `weights` (nil: Float32).
    public static func greedy(tokens: Int = 64, promptLength: Int = 16, runs: Int = 3, seed: UInt64 = 0,
                              weights: CompactMatrix.Format? = nil) throws -> Result {
        let model = try T5Model(config: t5SmallConfig, seed: seed)
        model.train(false)
        var rng = SeededRNG(seed: seed + 1)
        let prompt = (0..<promptLength).map { _ in 2 + rng.nextInt(32000) }
        var options = GenerationOptions()
        options.maxNewTokens = tokens
        options.minNewTokens = tokens
        let generator = Generator(model: model)
        model.useCompactWeights(weights)
        var produced = 0
        let seconds = EngineBenchmark.time(warmup: 1, minIterations: runs, budget: 0) {
            produced = (try? generator.generate([prompt], options: options))?.first?.count ?? 0
        }
        guard produced == tokens else { throw GenerationError.invalidOptions("benchmark produced \(produced) tokens, expected \(tokens)") }
        // Weights a step reads: the F16 path counts the bytes its products stream.
        if weights != .f16 { model.useCompactWeights(.f16) }
        func traffic(_ n: Int) throws -> Int {
            var o = options; o.maxNewTokens = n; o.minNewTokens = n
            CompactMatrix.resetTraffic()
            _ = try generator.generate([prompt], options: o)
            return CompactMatrix.traffic
        }
        let perToken = (try traffic(tokens) - traffic(tokens / 4)) / (tokens - tokens / 4) / 2
        return Result(tokens: tokens, promptLength: promptLength, weights: weights, seconds: seconds, weightsPerToken: perToken)
    }
}
