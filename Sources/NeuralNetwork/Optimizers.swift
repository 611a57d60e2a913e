import Foundation
import TensorEngine

/// AdamW with decoupled weight decay, step for step the update of `torch.optim.AdamW`
/// (bias-corrected moments; decay applied as `p *= 1 - lr * wd` before the Adam step).
public final class AdamW {
    public let parameters: [Tensor]
    public var learningRate: Float
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Steps taken so far (the bias correction uses it).
    public private(set) var step = 0
    /// First and second moment estimates, one per parameter.
    public private(set) var firstMoments: [Tensor]
    public private(set) var secondMoments: [Tensor]

    public init(parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        firstMoments = parameters.map { Tensor.zeros($0.shape) }
        secondMoments = parameters.map { Tensor.zeros($0.shape) }
    }

    /// Applies one update from the parameters' `.grad` (parameters without a gradient are skipped,
    /// as PyTorch skips them).
    public func update() {
        step += 1
        let bc1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let bc2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let (b1, b2, eps, decay) = (beta1, beta2, eps, 1 - learningRate * weightDecay)
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let pp = p.storage.pointer, gp = g.storage.pointer
            let m = firstMoments[i].storage.pointer, v = secondMoments[i].storage.pointer
            for j in 0..<p.count {
                pp[j] *= decay
                m[j] = b1 * m[j] + (1 - b1) * gp[j]
                v[j] = b2 * v[j] + (1 - b2) * gp[j] * gp[j]
                pp[j] -= stepSize * m[j] / (v[j].squareRoot() / bc2Sqrt + eps)
            }
        }
    }

    /// Clears the gradients of all parameters.
    public func zeroGrad() { for p in parameters { p.grad = nil } }

    /// Restores moments and step count (resuming training).
    public func restore(step: Int, first: [Tensor], second: [Tensor]) throws {
        guard first.count == parameters.count, second.count == parameters.count,
              zip(first, parameters).allSatisfy({ $0.shape == $1.shape }),
              zip(second, parameters).allSatisfy({ $0.shape == $1.shape })
        else { throw ModuleError.invalidConfiguration("optimiser state does not match the \(parameters.count) parameters") }
        self.step = step
        for (dst, src) in zip(firstMoments, first) { dst.assign(src) }
        for (dst, src) in zip(secondMoments, second) { dst.assign(src) }
    }
}

/// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `floor` at `totalSteps`.
public struct WarmupCosineSchedule: Codable, Sendable {
    public var peak: Float
    public var floor: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Float, floor: Float = 0, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.floor = floor; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// Learning rate for the update numbered `step` (0-based).
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        return floor + 0.5 * (peak - floor) * (1 + Foundation.cos(Float.pi * progress))
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (as `clip_grad_norm_`).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { for j in 0..<g.count { total += Double(g.storage.pointer[j] * g.storage.pointer[j]) } } }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 { for p in parameters { p.grad?.scaleInPlace(coef) } }
    return norm
}
