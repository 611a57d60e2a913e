import Foundation
import TensorEngine

/// Pre-norm transformer encoder block: `x + Attn(LN(x))`, then `x + MLP(LN(x))` with a GELU MLP.
/// The generic block the benchmark and the diffusion model build on.
public final class TransformerBlock: Module {
    public let norm1: LayerNorm
    public let attention: MultiHeadAttention
    public let norm2: LayerNorm
    public let fc1: Linear
    public let fc2: Linear
    public let dropout: Dropout?

    public init(dim: Int, heads: Int, mlpDim: Int, dropout: Float = 0, rng: inout SeededRNG) {
        norm1 = LayerNorm(dim)
        attention = MultiHeadAttention(dim: dim, heads: heads, dropout: dropout, rng: &rng)
        norm2 = LayerNorm(dim)
        fc1 = Linear(dim, mlpDim, rng: &rng)
        fc2 = Linear(mlpDim, dim, rng: &rng)
        self.dropout = dropout > 0 ? Dropout(dropout, seed: rng.next()) : nil
    }

    /// `x [B, T, D]`, optional additive attention `bias` -> `[B, T, D]`
    public func callAsFunction(_ x: Tensor, bias: Tensor? = nil) -> Tensor {
        var a = attention(norm1(x), bias: bias)
        if let dropout { a = dropout(a) }
        let h = x + a
        var m = fc2(fc1(norm2(h)).gelu())
        if let dropout { m = dropout(m) }
        return h + m
    }
}

/// A stack of `TransformerBlock`s.
public final class TransformerStack: Module {
    public let layers: [TransformerBlock]

    public init(depth: Int, dim: Int, heads: Int, mlpDim: Int, dropout: Float = 0, rng: inout SeededRNG) {
        layers = (0..<depth).map { _ in TransformerBlock(dim: dim, heads: heads, mlpDim: mlpDim, dropout: dropout, rng: &rng) }
    }

    public func callAsFunction(_ x: Tensor, bias: Tensor? = nil) -> Tensor {
        layers.reduce(x) { $1($0, bias: bias) }
    }
}
