import Foundation
import TensorEngine

/// `y = x Wᵀ + b` with `weight [out, in]` and `bias [out]` (PyTorch's layout and initialisation:
/// uniform in ±1/sqrt(in)).
public final class Linear: Module, UnaryLayer {
    public private(set) var weight: Tensor
    public private(set) var bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededRNG) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = .uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
        self.bias = bias ? .uniform([outFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
    }

    /// The weight in a compact format for inference (`Module.useCompactWeights`); not part of the
    /// state (the underscore keeps it out of checkpoints). Used only while gradients are off.
    public private(set) var _compact: CompactMatrix?

    /// `[..., in] -> [..., out]`
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let c = _compact, !Tensor.isGradEnabled { return x.linear(compact: c, bias: bias) }
        return x.linear(weight: weight, bias: bias)
    }

    /// Changes the number of outputs (an output vocabulary that grew): existing rows are kept, new
    /// weight rows drawn like `resizedRows`, new bias entries zero. Make optimisers after resizing.
    public func resizeOutputs(to count: Int, rng: inout SeededRNG) {
        weight = resizedRows(weight, to: count, rng: &rng)
        _compact = _compact.map { CompactMatrix(weight, format: $0.format) }
        if let b = bias {
            let nb = Tensor.zeros([count], requiresGrad: true)
            for i in 0..<min(count, b.count) { nb.storage.pointer[i] = b.storage.pointer[i] }
            bias = nb
        }
    }
}

/// `weight [n, d]` grown or cut to `[rows, d]`. Kept rows are copied; new rows are drawn per column
/// from a normal with the old rows' mean and standard deviation, so added tokens start inside the
/// distribution of the existing ones (the diagonal form of transformers' `mean_resizing`).
public func resizedRows(_ weight: Tensor, to rows: Int, rng: inout SeededRNG) -> Tensor {
    precondition(weight.rank == 2 && rows > 0, "resize needs a [n, d] table and a positive row count")
    let (n, d) = (weight.shape[0], weight.shape[1])
    let out = Tensor.empty([rows, d])
    let src = weight.storage.pointer, dst = out.storage.pointer
    dst.update(from: src, count: min(n, rows) * d)
    if rows > n {
        var mean = [Double](repeating: 0, count: d), std = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { let v = Double(src[i * d + j]); mean[j] += v; std[j] += v * v } }
        for j in 0..<d {
            mean[j] /= Double(max(n, 1))
            std[j] = max(0, std[j] / Double(max(n, 1)) - mean[j] * mean[j]).squareRoot()
        }
        for i in n..<rows { for j in 0..<d { dst[i * d + j] = Float(mean[j]) + Float(std[j]) * rng.nextNormal() } }
    }
    out.requiresGrad = weight.requiresGrad
    return out
}

/// A lookup table `weight [count, dim]`, initialised N(0, 1) as PyTorch does.
public final class Embedding: Module {
    public private(set) var weight: Tensor

    public init(_ count: Int, _ dim: Int, rng: inout SeededRNG) {
        weight = .randn([count, dim], rng: &rng, requiresGrad: true)
    }

    /// The table in a compact format for inference (`Module.useCompactWeights`); not part of the state.
    public private(set) var _compact: CompactMatrix?

    /// ids with `shape` -> `shape + [dim]`. Ids out of range are a programming error here;
    /// user-facing code validates them before calling.
    public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor {
        if let c = _compact, !Tensor.isGradEnabled { return Tensor.embedding(c, ids: ids, shape: shape) }
        return Tensor.embedding(weight, ids: ids, shape: shape)
    }

    /// `h [..., dim] -> [..., count]`: the product with the table's transpose (a tied output layer).
    public func project(_ h: Tensor) -> Tensor {
        if let c = _compact, !Tensor.isGradEnabled { return h.linear(compact: c) }
        return h.linear(weight: weight)
    }

    /// Grows or cuts the table to `count` rows (see `resizedRows`). Make optimisers after resizing.
    public func resize(to count: Int, rng: inout SeededRNG) {
        weight = resizedRows(weight, to: count, rng: &rng)
        _compact = _compact.map { CompactMatrix(weight, format: $0.format) }
    }
}

/// Layer normalisation over the last dimension with learnable `weight` and `bias`.
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = .ones([dim], requiresGrad: true)
        bias = .zeros([dim], requiresGrad: true)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// T5's RMS normalisation (scale only, no mean subtraction, no bias).
public final class RMSNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-6) {
        weight = .ones([dim], requiresGrad: true)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight, eps: eps) }
}

/// 1-D convolution `[B, Cin, L] -> [B, Cout, Lout]`, weight `[Cout, Cin, K]`, PyTorch initialisation.
public final class Conv1d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, dilation: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, bias: Bool = true, rng: inout SeededRNG) {
        let bound = 1 / Float(inChannels * kernelSize).squareRoot()
        weight = .uniform([outChannels, inChannels, kernelSize], low: -bound, high: bound, rng: &rng, requiresGrad: true)
        self.bias = bias ? .uniform([outChannels], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }
}

/// Inverted dropout with its own seeded generator, active only in training mode.
public final class Dropout: Module, UnaryLayer {
    public let p: Float
    private var _rng: SeededRNG

    public init(_ p: Float, seed: UInt64 = 0) {
        self.p = p
        _rng = SeededRNG(seed: seed)
    }

    /// Restarts the mask sequence (for reproducible runs and resumed training).
    public func reseed(_ seed: UInt64) { _rng = SeededRNG(seed: seed) }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.dropout(p, training: isTraining, rng: &_rng) }
}

/// Parameter-free activations, so they can sit in a `Sequential` at the index a checkpoint expects.
public final class Activation: Module, UnaryLayer {
    public enum Kind: String, Codable, Sendable { case relu, gelu, geluTanh = "gelu_new", silu, tanh, identity }
    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch kind {
        case .relu: return x.relu()
        case .gelu: return x.gelu()
        case .geluTanh: return x.geluTanh()
        case .silu: return x.silu()
        case .tanh: return x.tanh()
        case .identity: return x
        }
    }
}

/// `nn.LeakyReLU(negative_slope)`: parameter-free, so it can sit in a `Sequential` at the index a
/// checkpoint expects (the T2M evaluator's `output_net.2`).
public final class LeakyReLU: Module, UnaryLayer {
    public let negativeSlope: Float

    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.leakyRelu(negativeSlope: negativeSlope) }
}

/// Layers applied in order; keys are their indices (`0.weight`, `2.bias`), as `nn.Sequential`.
public final class Sequential: Module, UnaryLayer {
    public let layers: [Module]

    public init(_ layers: [Module]) {
        precondition(layers.allSatisfy { $0 is UnaryLayer }, "Sequential takes single-input layers")
        self.layers = layers
    }

    /// `Sequential`'s own key level is the index, not a property name.
    override public var keyOverrides: [String: String] { ["layers": ""] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        layers.reduce(x) { ($1 as! UnaryLayer)($0) }
    }
}

/// Layers whose weights can be carried in a compact format for inference.
protocol CompactWeightCarrier: AnyObject {
    func setCompact(_ format: CompactMatrix.Format?)
    var _compact: CompactMatrix? { get }
}

extension Linear: CompactWeightCarrier {
    func setCompact(_ format: CompactMatrix.Format?) { _compact = format.map { CompactMatrix(weight, format: $0) } }
}

extension Embedding: CompactWeightCarrier {
    func setCompact(_ format: CompactMatrix.Format?) { _compact = format.map { CompactMatrix(weight, format: $0) } }
}

extension Module {
    /// Carries every `Linear` and `Embedding` weight of the tree also in `format` (nil: drop the
    /// compact copies), used in place of the Float32 weight whenever gradients are off. For inference:
    /// call it after loading (loading refreshes the copies; an optimiser step does not, so do not
    /// compact a model that is still training). The Float32 weights stay for saving and training.
    /// Returns the bytes of the compact copies.
    @discardableResult
    public func useCompactWeights(_ format: CompactMatrix.Format?) -> Int {
        var bytes = 0
        for c in compactCarriers() {
            c.setCompact(format)
            bytes += c._compact?.byteCount ?? 0
        }
        return bytes
    }

    /// The format of the tree's compact weights, when every Linear and Embedding carries one.
    public var compactWeightFormat: CompactMatrix.Format? {
        let formats = compactCarriers().map { $0._compact?.format }
        guard let f = formats.first ?? nil, formats.allSatisfy({ $0 == f }) else { return nil }
        return f
    }

    /// Refreshes compact copies from the Float32 weights (after they were written).
    func refreshCompactWeights() {
        for c in compactCarriers() { if let f = c._compact?.format { c.setCompact(f) } }
    }

    /// The tree's Linear and Embedding layers, each once (a table shared by several parents, as T5's
    /// embedding is, is listed once per parent by `namedModules`).
    private func compactCarriers() -> [CompactWeightCarrier] {
        var seen = Set<ObjectIdentifier>()
        return namedModules().compactMap { _, m in
            guard let c = m as? CompactWeightCarrier, seen.insert(ObjectIdentifier(m)).inserted else { return nil }
            return c
        }
    }
}
