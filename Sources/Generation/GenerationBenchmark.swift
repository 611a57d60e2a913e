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
        /// Median seconds for the whole generation (encoder once, then `tokens` decoder steps).
        public let seconds: Double
        public var tokensPerSecond: Double { Double(tokens) / seconds }
    }

    /// Generates exactly `tokens` tokens greedily at batch 1 (end-of-sequence blocked until then).
    public static func greedy(tokens: Int = 64, promptLength: Int = 16, runs: Int = 3, seed: UInt64 = 0) throws -> Result {
        let model = try T5Model(config: t5SmallConfig, seed: seed)
        model.train(false)
        var rng = SeededRNG(seed: seed + 1)
        let prompt = (0..<promptLength).map { _ in 2 + rng.nextInt(32000) }
        var options = GenerationOptions()
        options.maxNewTokens = tokens
        options.minNewTokens = tokens
        let generator = Generator(model: model)
        var produced = 0
        let seconds = EngineBenchmark.time(warmup: 1, minIterations: runs, budget: 0) {
            produced = (try? generator.generate([prompt], options: options))?.first?.count ?? 0
        }
        guard produced == tokens else { throw GenerationError.invalidOptions("benchmark produced \(produced) tokens, expected \(tokens)") }
        return Result(tokens: tokens, promptLength: promptLength, seconds: seconds)
    }
}
