import Foundation
import TensorEngine

/// Additive mask value for blocked positions. Finite, so a fully masked row gives a uniform
/// softmax instead of NaN (the same choice as Hugging Face's `finfo.min` masking, but safe to add twice).
public let attentionMaskValue: Float = -1e9

/// Keys and values of earlier steps, so incremental decoding attends to the past without
/// recomputing it. Self-attention appends one step at a time; cross-attention fills it once.
public final class KVCache {
    /// `[B, H, T, headDim]`
    public internal(set) var keys: Tensor?
    /// `[B, H, T, headDim]`
    public internal(set) var values: Tensor?

    public init() {}

    /// Number of cached positions.
    public var length: Int { keys?.shape[2] ?? 0 }

    public func reset() { keys = nil; values = nil }

    /// Replaces the contents (cross-attention: keys and values of the whole encoder output).
    public func store(_ k: Tensor, _ v: Tensor) { keys = k; values = v }

    /// Appends new steps (`[B, H, t, headDim]`) and returns all keys and values so far.
    public func append(_ k: Tensor, _ v: Tensor) -> (Tensor, Tensor) {
        if let keys, let values {
            self.keys = Tensor.concat([keys, k], dim: 2)
            self.values = Tensor.concat([values, v], dim: 2)
        } else {
            keys = k; values = v
        }
        return (keys!, values!)
    }

    /// Keeps only the batch rows in `indices` (beam search reorders hypotheses).
    public func select(batch indices: [Int]) {
        keys = keys?.indexSelect(dim: 0, indices)
        values = values?.indexSelect(dim: 0, indices)
    }
}

/// Scaled dot-product attention on split heads: `q [B, H, Tq, d]`, `k, v [B, H, Tk, d]`,
/// optional additive `bias` broadcastable to `[B, H, Tq, Tk]` (masks, relative position bias).
/// Returns `[B, H, Tq, d]`.
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor? = nil, scale: Float,
                                      dropout: Dropout? = nil) -> Tensor {
    var scores = q.matmul(k, transposeB: true)            // [B, H, Tq, Tk]
    if scale != 1 { scores = scores * scale }
    if let bias { scores = scores + bias }
    var probs = scores.softmax()
    if let dropout { probs = dropout(probs) }
    return probs.matmul(v)                                 // [B, H, Tq, d]
}

/// Causal mask `[Tq, Tk]` for queries at positions `offset..<offset+Tq` over keys `0..<Tk`.
public func causalMask(queryLength: Int, keyLength: Int, offset: Int = 0) -> Tensor {
    let m = Tensor.zeros([queryLength, keyLength])
    for i in 0..<queryLength { for j in 0..<keyLength where j > offset + i { m[i, j] = attentionMaskValue } }
    return m
}

/// Padding mask `[B, 1, 1, Tk]` blocking keys at or beyond each row's length.
public func paddingMask(lengths: [Int], keyLength: Int) -> Tensor {
    let m = Tensor.zeros([lengths.count, 1, 1, keyLength])
    for (b, n) in lengths.enumerated() { for j in n..<max(n, keyLength) { m[b, 0, 0, j] = attentionMaskValue } }
    return m
}

/// Multi-head attention with separate query/key/value/output projections. Self-attention when
/// `context` is nil, cross-attention otherwise. With a cache, self-attention appends this step's
/// keys and values; cross-attention computes them from `context` once and reuses them.
public final class MultiHeadAttention: Module {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int
    public let headDim: Int
    /// Multiplies the scores; 1/sqrt(headDim) normally, 1 for T5 (folded into its initialisation).
    public let scale: Float
    public let attentionDropout: Dropout?

    public init(dim: Int, heads: Int, headDim: Int? = nil, bias: Bool = true, scale: Float? = nil,
                dropout: Float = 0, rng: inout SeededRNG) {
        let hd = headDim ?? dim / heads
        precondition(headDim != nil || dim % heads == 0, "model width \(dim) is not divisible by \(heads) heads")
        self.heads = heads
        self.headDim = hd
        self.scale = scale ?? 1 / Float(hd).squareRoot()
        query = Linear(dim, heads * hd, bias: bias, rng: &rng)
        key = Linear(dim, heads * hd, bias: bias, rng: &rng)
        value = Linear(dim, heads * hd, bias: bias, rng: &rng)
        output = Linear(heads * hd, dim, bias: bias, rng: &rng)
        attentionDropout = dropout > 0 ? Dropout(dropout, seed: rng.next()) : nil
    }

    /// `[B, T, H*d] -> [B, H, T, d]`
    func splitHeads(_ x: Tensor) -> Tensor {
        x.reshaped([x.shape[0], x.shape[1], heads, headDim]).permuted([0, 2, 1, 3])
    }

    /// `x [B, Tq, D]`, `context [B, Tk, D]` or nil, `bias` additive, broadcastable to
    /// `[B, H, Tq, Tk]` (Tk includes cached steps). Returns `[B, Tq, D]`.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, bias: Tensor? = nil, cache: KVCache? = nil) -> Tensor {
        let (b, tq) = (x.shape[0], x.shape[1])
        let q = splitHeads(query(x))                       // [B, H, Tq, d]
        var k: Tensor, v: Tensor
        if let context {
            if let cache, let ck = cache.keys, let cv = cache.values {
                (k, v) = (ck, cv)
            } else {
                k = splitHeads(key(context)); v = splitHeads(value(context))   // [B, H, Tk, d]
                cache?.store(k, v)
            }
        } else {
            k = splitHeads(key(x)); v = splitHeads(value(x))
            if let cache { (k, v) = cache.append(k, v) }
        }
        let attended = scaledDotProductAttention(q: q, k: k, v: v, bias: bias, scale: scale, dropout: attentionDropout)
        return output(attended.permuted([0, 2, 1, 3]).reshaped([b, tq, heads * headDim]))   // [B, Tq, D]
    }
}
