import Foundation
import TensorEngine

/// A one-layer GRU with PyTorch's `nn.GRU(input_size, hidden_size, batch_first=True,
/// bidirectional=...)` semantics and key names (`weight_ih_l0 [3H, I]`, `weight_hh_l0 [3H, H]`,
/// `bias_ih_l0`, `bias_hh_l0`, and the same with `_reverse` for the backward direction), over the
/// engine's `Tensor.gru` op. Per-sequence `lengths` play the part of `pack_padded_sequence`
/// (any order; the batch is never re-sorted for the caller).
///
/// Only one layer: PyTorch names a stack's layers `_l1`, `_l2`, ... on the same module, which the
/// evaluator this serves does not use. Initialisation is PyTorch's: uniform in ±1/sqrt(H).
public final class GRU: Module {
    /// Width of each input step.
    public let inputSize: Int
    /// Width of the state, per direction.
    public let hiddenSize: Int
    /// Whether a second direction runs from each sequence's end back to its start.
    public let bidirectional: Bool
    /// `[3H, inputSize]`, `[3H, H]` and `[3H]` each: gates r, z, n stacked in that order.
    public let weightIH: Tensor
    public let weightHH: Tensor
    public let biasIH: Tensor?
    public let biasHH: Tensor?
    /// The backward direction's weights (nil unless bidirectional).
    public let weightIHReverse: Tensor?
    public let weightHHReverse: Tensor?
    public let biasIHReverse: Tensor?
    public let biasHHReverse: Tensor?

    override public var keyOverrides: [String: String] {
        ["weightIH": "weight_ih_l0", "weightHH": "weight_hh_l0", "biasIH": "bias_ih_l0", "biasHH": "bias_hh_l0",
         "weightIHReverse": "weight_ih_l0_reverse", "weightHHReverse": "weight_hh_l0_reverse",
         "biasIHReverse": "bias_ih_l0_reverse", "biasHHReverse": "bias_hh_l0_reverse"]
    }

    /// A freshly initialised layer (load weights with `load(state:)` for a trained one).
    public init(inputSize: Int, hiddenSize: Int, bidirectional: Bool = false, bias: Bool = true, rng: inout SeededRNG) {
        precondition(inputSize > 0 && hiddenSize > 0, "GRU sizes must be positive, got \(inputSize), \(hiddenSize)")
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.bidirectional = bidirectional
        let k = 1 / Float(hiddenSize).squareRoot()
        func draw(_ shape: [Int]) -> Tensor { .uniform(shape, low: -k, high: k, rng: &rng, requiresGrad: true) }
        let g = 3 * hiddenSize
        weightIH = draw([g, inputSize]); weightHH = draw([g, hiddenSize])
        biasIH = bias ? draw([g]) : nil; biasHH = bias ? draw([g]) : nil
        weightIHReverse = bidirectional ? draw([g, inputSize]) : nil
        weightHHReverse = bidirectional ? draw([g, hiddenSize]) : nil
        biasIHReverse = bidirectional && bias ? draw([g]) : nil
        biasHHReverse = bidirectional && bias ? draw([g]) : nil
    }

    /// Number of directions (2 when bidirectional).
    public var directions: Int { bidirectional ? 2 : 1 }

    /// `x [B, T, inputSize]`, `initialHidden [directions, B, H]` (zeros when nil), `lengths` (each in
    /// `1...T`, default all `T`) -> `output [B, T, directions*H]` (forward then reverse features, zero
    /// at padded steps) and `hidden [directions, B, H]`: each sequence's last state per direction, as
    /// PyTorch's `h_n` for a packed input.
    public func callAsFunction(_ x: Tensor, initialHidden: Tensor? = nil, lengths: [Int]? = nil) -> (output: Tensor, hidden: Tensor) {
        precondition(x.rank == 3 && x.shape[2] == inputSize, "GRU input must be [B, T, \(inputSize)], got \(x.shape)")
        let (b, t, h) = (x.shape[0], x.shape[1], hiddenSize)
        let h0 = initialHidden ?? Tensor.zeros([directions, b, h])
        precondition(h0.shape == [directions, b, h], "GRU initial hidden must be [\(directions), \(b), \(h)], got \(h0.shape)")
        let lens = lengths ?? [Int](repeating: t, count: b)
        var outputs: [Tensor] = [], finals: [Tensor] = []
        for d in 0..<directions {
            let reverse = d == 1
            let start = h0.slice(dim: 0, d, d + 1).reshaped([b, h])                     // [B, H]
            let seq = Tensor.gru(input: x, initialHidden: start,
                                 weightIH: reverse ? weightIHReverse! : weightIH, weightHH: reverse ? weightHHReverse! : weightHH,
                                 biasIH: reverse ? biasIHReverse : biasIH, biasHH: reverse ? biasHHReverse : biasHH,
                                 lengths: lens, reverse: reverse)                       // [B, T, H]
            // The reverse direction ends at step 0; the forward one at each sequence's last valid step.
            let last = (0..<b).map { $0 * t + (reverse ? 0 : lens[$0] - 1) }
            outputs.append(seq)
            finals.append(seq.reshaped([b * t, h]).indexSelect(dim: 0, last).reshaped([1, b, h]))
        }
        let output = directions == 1 ? outputs[0] : Tensor.concat(outputs, dim: 2)    // [B, T, D*H]
        let hidden = directions == 1 ? finals[0] : Tensor.concat(finals, dim: 0)      // [D, B, H]
        return (output, hidden)
    }
}
