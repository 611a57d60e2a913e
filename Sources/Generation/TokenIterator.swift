import Foundation
import MotionT5
import NeuralNetwork
import TensorEngine

/// A language model that produces the next token's scores one step at a time: an encoder-decoder
/// (T5: the encoder runs once in `start`) or a decoder-only model (the prompt is the prefix).
public protocol AutoregressiveLanguageModel: AnyObject {
    var vocabularySize: Int { get }
    var eosTokenID: Int { get }
    var padTokenID: Int { get }
    /// Starts decoding a padded batch (`mask` 1 for real tokens).
    func start(ids: [[Int]], mask: [[Int]]) -> any DecodingState
}

/// The mutable state of one decoding run (caches, encoder output): one per run, never shared.
public protocol DecodingState: AnyObject {
    /// Per sequence, the tokens that precede the generated ones in the decoder's history (T5: the
    /// decoder start token); the first `step` feeds their last token.
    var startTokens: [[Int]] { get }
    /// Feeds one token per sequence and returns the next token's scores `[B][V]`.
    func step(_ tokens: [[Int]]) -> [[Float]]
    /// Keeps (and repeats) batch rows, in this order: beam search's reordering.
    func select(rows: [Int])
}

/// `T5Model` as an `AutoregressiveLanguageModel`.
public final class T5LanguageModel: AutoregressiveLanguageModel {
    public let model: T5Model
    public init(_ model: T5Model) { self.model = model }
    public var vocabularySize: Int { model.config.vocabSize }
    public var eosTokenID: Int { model.config.eosTokenId }
    public var padTokenID: Int { model.config.padTokenId }

    public func start(ids: [[Int]], mask: [[Int]]) -> any DecodingState {
        State(model: model, encoderOutput: model.encode(ids, mask: mask), mask: mask)
    }

    final class State: DecodingState {
        let model: T5Model
        var encoderOutput: Tensor     // [B, T, d_model]
        var mask: [[Int]]
        let cache: T5DecoderCache
        init(model: T5Model, encoderOutput: Tensor, mask: [[Int]]) {
            self.model = model
            self.encoderOutput = encoderOutput
            self.mask = mask
            cache = model.makeCache()
        }
        var startTokens: [[Int]] { mask.map { _ in [model.config.decoderStartTokenId] } }

        func step(_ tokens: [[Int]]) -> [[Float]] {
            let logits = model.decode(tokens, encoderOutput: encoderOutput, encoderMask: mask, cache: cache)   // [B, 1, V]
            let (b, t, v) = (logits.shape[0], logits.shape[1], logits.shape[2])
            let p = logits.storage.pointer
            return (0..<b).map { i in Array(UnsafeBufferPointer(start: p + (i * t + t - 1) * v, count: v)) }
        }

        func select(rows: [Int]) {
            encoderOutput = encoderOutput.indexSelect(dim: 0, rows)
            mask = rows.map { mask[$0] }
            cache.select(batch: rows)
        }
    }
}

/// Greedy or sampled decoding as an iterator: each `next()` runs one decoder step for the whole batch
/// and returns the token each sequence got (nil for sequences already finished), or nil when every
/// sequence has finished or `maxNewTokens` steps have run. The logit processors of the options apply
/// in order (repetition penalty, allowed tokens, minimum length), then, when sampling, temperature,
/// top-k and top-p before the draw, as `transformers` does.
public struct TokenIterator: IteratorProtocol {
    private let state: any DecodingState
    private let options: GenerationOptions
    private let processors: [any LogitProcessor]
    private let warpers: [any LogitProcessor]
    private let eos: Int, pad: Int
    private var rng: SeededRNG
    private var history: [[Int]]
    private var finished: [Bool]
    private var feed: [[Int]]
    /// Tokens generated so far per sequence (end tokens included).
    public private(set) var outputs: [[Int]]
    /// Steps run so far.
    public private(set) var steps = 0

    /// `ids`/`mask` are a padded batch (see `Generator.batch`); options must be valid.
    public init(model: any AutoregressiveLanguageModel, ids: [[Int]], mask: [[Int]], options: GenerationOptions) {
        state = model.start(ids: ids, mask: mask)
        self.options = options
        processors = options.logitProcessors(eos: model.eosTokenID)
        warpers = options.doSample ? options.samplingWarpers : []
        eos = model.eosTokenID
        pad = model.padTokenID
        rng = SeededRNG(seed: options.seed)
        history = state.startTokens
        finished = [Bool](repeating: false, count: ids.count)
        outputs = ids.map { _ in [] }
        feed = history.map { [$0.last!] }
    }

    public mutating func next() -> [Int?]? {
        guard steps < options.maxNewTokens, !finished.allSatisfy({ $0 }) else { return nil }
        let rows = state.step(feed)
        steps += 1
        var got = [Int?](repeating: nil, count: rows.count)
        for (i, row) in rows.enumerated() {
            guard !finished[i] else { feed[i] = [pad]; history[i].append(pad); continue }
            var scores = row
            for p in processors { p.process(&scores, history: history[i], generated: outputs[i].count) }
            let token: Int
            if options.doSample {
                for w in warpers { w.process(&scores, history: history[i], generated: outputs[i].count) }
                token = Sampler.categorical(scores, rng: &rng)
            } else {
                token = Sampler.argmax(scores)
            }
            outputs[i].append(token)
            history[i].append(token)
            feed[i] = [token]
            got[i] = token
            if token == eos || options.stopTokens.contains(token) { finished[i] = true }
        }
        return got
    }
}
