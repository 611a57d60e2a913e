import Foundation
import MotionT5
import NeuralNetwork
import TensorEngine

/// How to pick tokens. Defaults are greedy decoding, as `transformers`' `generate()` defaults.
public struct GenerationOptions: Codable, Equatable, Sendable {
    /// Tokens to generate at most (not counting the decoder start token).
    public var maxNewTokens: Int = 64
    /// The end-of-sequence and stop tokens are blocked until this many tokens exist (greedy and sampling).
    public var minNewTokens: Int = 0
    /// Sample instead of taking the most likely token (temperature, top-k and top-p then apply).
    public var doSample: Bool = false
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (0: off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1: off).
    public var topP: Float = 1
    /// Divides positive (multiplies negative) scores of tokens already generated; 1 is off.
    public var repetitionPenalty: Float = 1
    /// Beam search with this many beams when above 1.
    public var numBeams: Int = 1
    /// Beam scores are divided by `length ** lengthPenalty`.
    public var lengthPenalty: Float = 1
    /// Stop a beam search item as soon as `numBeams` hypotheses are finished.
    public var earlyStopping: Bool = false
    /// Extra tokens that end a sequence, beside the model's end-of-sequence token.
    public var stopTokens: [Int] = []
    /// Seed of the sampling generator.
    public var seed: UInt64 = 0
    /// When set, only these token ids (plus the end-of-sequence and stop tokens) can be generated:
    /// constrained decoding, e.g. motion tokens only for a text-to-motion answer.
    public var allowedTokens: [Range<Int>]? = nil

    public init() {}

    /// Checks the values before any work starts.
    public func validate() throws {
        func fail(_ s: String) -> GenerationError { .invalidOptions(s) }
        guard maxNewTokens >= 1 else { throw fail("max new tokens must be at least 1, got \(maxNewTokens)") }
        guard maxNewTokens <= 4096 else { throw GenerationError.tooLarge("max new tokens \(maxNewTokens) is above the limit of 4096") }
        guard minNewTokens >= 0 && minNewTokens <= maxNewTokens else { throw fail("min new tokens \(minNewTokens) must be in 0...\(maxNewTokens)") }
        guard temperature > 0, temperature.isFinite else { throw fail("temperature must be positive, got \(temperature)") }
        guard topK >= 0 else { throw fail("top-k must be 0 (off) or positive, got \(topK)") }
        guard topP > 0 && topP <= 1 else { throw fail("top-p must be in (0, 1], got \(topP)") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else { throw fail("repetition penalty must be positive, got \(repetitionPenalty)") }
        guard numBeams >= 1 else { throw fail("beams must be at least 1, got \(numBeams)") }
        guard !(doSample && numBeams > 1) else { throw fail("sampling with beams is not supported; use one or the other") }
    }
}

public enum GenerationError: ClassifiedError, Equatable {
    case invalidOptions(String)
    case invalidInput(String)
    case tooLarge(String)

    public var kind: ErrorKind {
        switch self {
        case .invalidOptions, .invalidInput: return .badInput
        case .tooLarge: return .tooLarge
        }
    }

    public var description: String {
        switch self { case .invalidOptions(let s), .invalidInput(let s), .tooLarge(let s): return s }
    }
}

extension GenerationOptions {
    /// The logit processors these options stand for, in `transformers`' order: repetition penalty,
    /// allowed tokens, minimum length. Greedy decoding, sampling and beam search all use this list.
    public func logitProcessors(eos: Int) -> [any LogitProcessor] {
        var list: [any LogitProcessor] = []
        if repetitionPenalty != 1 { list.append(RepetitionPenalty(penalty: repetitionPenalty)) }
        if let allowedTokens { list.append(AllowedTokens(ranges: allowedTokens, alwaysAllowed: [eos] + stopTokens)) }
        if minNewTokens > 0 { list.append(MinNewTokens(count: minNewTokens, endTokens: [eos] + stopTokens)) }
        return list
    }

    /// The warpers sampling applies after the processors: temperature, top-k, top-p.
    public var samplingWarpers: [any LogitProcessor] {
        var list: [any LogitProcessor] = [Temperature(value: temperature)]
        if topK > 0 { list.append(TopK(k: topK)) }
        if topP < 1 { list.append(TopP(p: topP)) }
        return list
    }
}

/// What a streaming callback sees after each generation step.
public struct TokenEvent: Sendable {
    /// 1-based step.
    public var step: Int
    /// The token each sequence of the batch got at this step (nil for sequences already finished);
    /// for beam search, the last token of each item's best running beam.
    public var tokens: [Int?]
}

/// Generation over any `AutoregressiveLanguageModel` (T5 through `T5LanguageModel`): greedy and sampled
/// decoding through `TokenIterator`, beam search on the same logit processors. Results are the generated
/// tokens without the decoder start token; a sequence ends after its end-of-sequence (or stop) token,
/// which is included.
public struct Generator {
    public let model: any AutoregressiveLanguageModel

    public init(model: any AutoregressiveLanguageModel) { self.model = model }

    /// Generation with a T5 (the encoder runs once, the decoder one token at a time with cached keys/values).
    public init(model: T5Model) { self.model = T5LanguageModel(model) }

    /// Pads prompts to a batch: ids padded with the pad token and a 0/1 mask.
    public func batch(_ prompts: [[Int]]) throws -> (ids: [[Int]], mask: [[Int]]) {
        guard !prompts.isEmpty else { throw GenerationError.invalidInput("no prompt given") }
        let v = model.vocabularySize
        for (i, p) in prompts.enumerated() {
            guard !p.isEmpty else { throw GenerationError.invalidInput("prompt \(i) is empty") }
            if let bad = p.first(where: { $0 < 0 || $0 >= v }) {
                throw GenerationError.invalidInput("prompt \(i) has token id \(bad), outside the vocabulary of \(v)")
            }
        }
        let t = prompts.map(\.count).max()!
        let pad = model.padTokenID
        return (prompts.map { $0 + Array(repeating: pad, count: t - $0.count) },
                prompts.map { Array(repeating: 1, count: $0.count) + Array(repeating: 0, count: t - $0.count) })
    }

    /// Generates a continuation for each prompt (token ids, unpadded). `onToken` is called after each
    /// step and may stop the generation; the tokens so far are returned.
    public func generate(_ prompts: [[Int]], options: GenerationOptions = GenerationOptions(),
                         onToken: ((TokenEvent) -> IterationControl)? = nil) throws -> [[Int]] {
        try options.validate()
        let (ids, mask) = try batch(prompts)
        return Tensor.withNoGrad {
            if options.numBeams > 1 { return beamSearch(ids, mask, options, onToken) }
            var it = TokenIterator(model: model, ids: ids, mask: mask, options: options)
            while let tokens = it.next() {
                if let onToken, onToken(TokenEvent(step: it.steps, tokens: tokens)) == .stop { break }
            }
            return it.outputs
        }
    }

    private func isStop(_ token: Int, _ options: GenerationOptions) -> Bool {
        token == model.eosTokenID || options.stopTokens.contains(token)
    }

    /// Beam search, step for step as `transformers` 5 does it (top 2·beams continuations, finished
    /// hypotheses kept in a sorted pool of `beams`, scores divided by `length ** lengthPenalty`,
    /// the same early-stop heuristic), so the same model gives the same tokens. The logit processors
    /// act on log-probabilities, as in `transformers`.
    private func beamSearch(_ ids: [[Int]], _ mask: [[Int]], _ options: GenerationOptions,
                            _ onToken: ((TokenEvent) -> IterationControl)?) -> [[Int]] {
        let nb = options.numBeams, batch = ids.count, vocab = model.vocabularySize
        let processors = options.logitProcessors(eos: model.eosTokenID)
        let keep = max(2, 1 + 1 + options.stopTokens.count) * nb
        let state = model.start(ids: ids, mask: mask)
        state.select(rows: (0..<batch).flatMap { b in Array(repeating: b, count: nb) })
        let start = state.startTokens
        let maxLength = 1 + options.maxNewTokens          // counts the start token, as `max_length`
        var running = (0..<batch).map { b in [[Int]](repeating: start[b * nb], count: nb) }
        var runningScores = [[Float]](repeating: [0] + [Float](repeating: -1e9, count: nb - 1), count: batch)
        var finishedSeqs = running
        var finishedScores = [[Float]](repeating: [Float](repeating: -1e9, count: nb), count: batch)
        var isFinished = [[Bool]](repeating: [Bool](repeating: false, count: nb), count: batch)
        var improvable = [Bool](repeating: true, count: batch)
        var curLen = 1
        var step = running.flatMap { $0.map { [$0.last!] } }
        let startLength = start[0].count
        while true {
            let rows = state.step(step)
            var allHit = true
            var reorder: [Int] = []
            for b in 0..<batch {
                // Accumulated log-probabilities of every (beam, token) continuation.
                var acc: [Float] = []
                acc.reserveCapacity(nb * vocab)
                for k in 0..<nb {
                    var lp = Sampler.logSoftmax(rows[b * nb + k])
                    for p in processors { p.process(&lp, history: running[b][k], generated: running[b][k].count - startLength) }
                    acc += lp.map { $0 + runningScores[b][k] }
                }
                let top = Sampler.topK(acc, keep)
                let cands = top.map { (beam: $0 / vocab, token: $0 % vocab, score: acc[$0]) }
                let hits = cands.map { isStop($0.token, options) || curLen + 1 >= maxLength }
                if hits.contains(false) { allHit = false }
                // Next running beams: best continuations that did not stop.
                let runScores = zip(cands, hits).map { $0.score + ($1 ? -1e9 : 0) }
                let order = Sampler.topK(runScores, nb)
                let newRunning = order.map { running[b][cands[$0].beam] + [cands[$0].token] }
                runningScores[b] = order.map { runScores[$0] }
                reorder += order.map { b * nb + cands[$0].beam }
                // Finished pool: stopped continuations among the first `nb` candidates join if good enough.
                let generated = Float(curLen)   // tokens after the start token, this one included
                let poolFull = isFinished[b].allSatisfy { $0 } && options.earlyStopping
                var mergedSeqs = finishedSeqs[b], mergedScores = finishedScores[b], mergedDone = isFinished[b]
                for (i, cand) in cands.enumerated() {
                    let justFinished = hits[i] && i < nb
                    var s = cand.score / Foundation.pow(generated, options.lengthPenalty)
                    if poolFull { s += -1e9 }
                    if !improvable[b] { s += -1e9 }
                    if !justFinished { s += -1e9 }
                    mergedSeqs.append(running[b][cand.beam] + [cand.token])
                    mergedScores.append(s)
                    mergedDone.append(justFinished)
                }
                let best = Sampler.topK(mergedScores, nb)
                finishedSeqs[b] = best.map { mergedSeqs[$0] }
                finishedScores[b] = best.map { mergedScores[$0] }
                isFinished[b] = best.map { mergedDone[$0] }
                running[b] = newRunning
            }
            state.select(rows: reorder)
            curLen += 1
            for b in 0..<batch {
                // Could a running beam still beat a finished one? (HF's heuristic: best running score
                // at the current length against the worst finished score; unfinished slots count as -1e9.)
                let bestPossible = runningScores[b][0] / Foundation.pow(Float(curLen - 1), options.lengthPenalty)
                let worst = finishedScores[b].min()!
                improvable[b] = improvable[b] && isFinished[b].contains { $0 ? bestPossible > worst : bestPossible > -1e9 }
            }
            if let onToken, onToken(TokenEvent(step: curLen - 1, tokens: running.map { $0[0].last })) == .stop {
                // Stopped from outside: the best finished hypothesis where there is one, else the best running beam.
                return (0..<batch).map { b in Array((isFinished[b][0] ? finishedSeqs[b][0] : running[b][0]).dropFirst(startLength)) }
            }
            let openBeam = !(isFinished.allSatisfy { $0.allSatisfy { $0 } } && options.earlyStopping)
            if !improvable.contains(true) || !openBeam || allHit { break }
            step = running.flatMap { $0.map { [$0.last!] } }
        }
        // Best finished hypothesis per item, without the start token.
        return finishedSeqs.map { Array($0[0].dropFirst(startLength)) }
    }
}
