import Foundation
import NeuralNetwork
import TensorEngine

/// Speed of the sentence encoder on motion captions: 32 at once (one padded batch, as
/// sentence-transformers' `encode(batch_size=32)` runs them) and one at a time. `motiongpt bench` prints it
/// beside sentence-transformers on the same captions.
public enum SentenceEncoderBenchmark {
    /// 32 captions of the kind the evaluator and the playground embed.
    public static let captions: [String] = [
        "a person walks forward", "a man strolls ahead slowly", "someone jumps up and down twice",
        "a person waves with the right hand", "the person sits down on a chair", "a man runs in a circle",
        "a person kicks with the left leg", "someone throws a ball overhand", "a person climbs up the stairs",
        "a woman dances happily in place", "a person crouches low to the ground", "someone turns around to the left",
        "a person picks something up from the floor", "a man does push-ups", "a person swims breaststroke",
        "someone stretches both arms above the head", "a boxer throws punches at the air", "a person walks backwards",
        "someone lies down on the ground and gets back up", "a person claps the hands", "a man drinks from a cup",
        "a person jogs in place then stops", "someone steps sideways to the right", "a person bends over and touches the toes",
        "a child hops on one foot", "a person spins on the spot", "someone limps forward favouring the left leg",
        "a person raises the left arm and waves", "a man walks forward, turns and walks back", "a person does jumping jacks",
        "someone kneels down on the right knee", "a dancer performs a pirouette",
    ]

    public struct Result: Sendable {
        public var texts: Int
        /// Median seconds to embed all texts in one call (batches of 32).
        public var batchSeconds: Double
        /// Median seconds to embed them one call per text.
        public var singleSeconds: Double
    }

    public static func run(_ encoder: SentenceEncoder, texts: [String] = captions) -> Result {
        let batch = EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 1) { _ = try! encoder.embed(texts, batchSize: 32) }
        let single = EngineBenchmark.time(warmup: 1, minIterations: 3, budget: 1) { for t in texts { _ = try! encoder.embed([t]) } }
        return Result(texts: texts.count, batchSeconds: batch, singleSeconds: single)
    }
}
