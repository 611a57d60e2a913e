import Foundation

// Fused neural-network ops over the last dimension. Each has a hand-written backward: composing
// them from primitives would store several full-size intermediates per call.

/// Max of a row and the sum of `exp(x - max)` (the stable log-sum-exp parts); writes the
/// exponentials to `exps` when given. Shared by softmax, log-softmax and cross-entropy.
@inline(__always)
func shiftedExpSum(_ x: UnsafePointer<Float>, _ d: Int, exps: UnsafeMutablePointer<Float>? = nil) -> (max: Float, sum: Float) {
    var m = -Float.infinity
    for j in 0..<d { m = Swift.max(m, x[j]) }
    var s: Float = 0
    if let exps {
        for j in 0..<d { let e = Foundation.exp(x[j] - m); exps[j] = e; s += e }
    } else {
        for j in 0..<d { s += Foundation.exp(x[j] - m) }
    }
    return (m, s)
}

extension Tensor {
    /// Rows of the last dimension: (number of rows, row length).
    var rows: (Int, Int) {
        let d = shape.last ?? 1
        return (d == 0 ? 0 : count / d, d)
    }

    /// Softmax over the last dimension.
    public func softmax() -> Tensor {
        let (n, d) = rows
        let out = Tensor.empty(shape)
        let p = storage.pointer, q = out.storage.pointer
        parallelChunks(n, costPerItem: d * 4) { r in
            for i in r {
                let y = q + i * d
                let inv = 1 / shiftedExpSum(p + i * d, d, exps: y).sum
                for j in 0..<d { y[j] *= inv }
            }
        }
        let ys = out.storage
        return out.recording([self]) { g in
            let gi = Tensor.empty(g.shape)
            let gp = g.storage.pointer, yp = ys.pointer, gq = gi.storage.pointer
            parallelChunks(n, costPerItem: d * 2) { r in
                for i in r {
                    var dot: Float = 0
                    for j in 0..<d { dot += gp[i * d + j] * yp[i * d + j] }
                    for j in 0..<d { gq[i * d + j] = yp[i * d + j] * (gp[i * d + j] - dot) }
                }
            }
            return [gi]
        }
    }

    /// Log-softmax over the last dimension.
    public func logSoftmax() -> Tensor {
        let (n, d) = rows
        let out = Tensor.empty(shape)
        let p = storage.pointer, q = out.storage.pointer
        parallelChunks(n, costPerItem: d * 4) { r in
            for i in r {
                let x = p + i * d, y = q + i * d
                let (m, s) = shiftedExpSum(x, d)
                let lse = m + Foundation.log(s)
                for j in 0..<d { y[j] = x[j] - lse }
            }
        }
        let ys = out.storage
        return out.recording([self]) { g in
            let gi = Tensor.empty(g.shape)
            let gp = g.storage.pointer, yp = ys.pointer, gq = gi.storage.pointer
            parallelChunks(n, costPerItem: d * 4) { r in
                for i in r {
                    var s: Float = 0
                    for j in 0..<d { s += gp[i * d + j] }
                    for j in 0..<d { gq[i * d + j] = gp[i * d + j] - Foundation.exp(yp[i * d + j]) * s }
                }
            }
            return [gi]
        }
    }

    /// Layer normalisation over the last dimension with optional affine weight and bias `[D]`.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let (n, d) = rows
        if let weight { precondition(weight.shape == [d], "layerNorm weight \(weight.shape) for rows of \(d)") }
        if let bias { precondition(bias.shape == [d], "layerNorm bias \(bias.shape) for rows of \(d)") }
        let out = Tensor.empty(shape)
        let xhat = Tensor.empty(shape)
        var rstd = [Float](repeating: 0, count: n)
        let p = storage.pointer, q = out.storage.pointer, h = xhat.storage.pointer
        let w = weight?.storage.pointer, b = bias?.storage.pointer
        rstd.withUnsafeMutableBufferPointer { rs in
            let rsp = rs.baseAddress!
            parallelChunks(n, costPerItem: d * 4) { r in
                for i in r {
                    let x = p + i * d
                    var mean: Float = 0
                    for j in 0..<d { mean += x[j] }
                    mean /= Float(d)
                    var v: Float = 0
                    for j in 0..<d { let c = x[j] - mean; v += c * c }
                    let rsd = 1 / (v / Float(d) + eps).squareRoot()
                    rsp[i] = rsd
                    for j in 0..<d {
                        let xh = (x[j] - mean) * rsd
                        h[i * d + j] = xh
                        q[i * d + j] = xh * (w?[j] ?? 1) + (b?[j] ?? 0)
                    }
                }
            }
        }
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let x = self
        let wd = weight?.detached()
        return out.recording(inputs) { g in
            let gp = g.storage.pointer, hp = xhat.storage.pointer
            var gx: Tensor?
            if x.requiresGrad {
                let t = Tensor.empty(x.shape)
                let tq = t.storage.pointer, wp = wd?.storage.pointer
                parallelChunks(n, costPerItem: d * 6) { r in
                    for i in r {
                        var m1: Float = 0, m2: Float = 0
                        for j in 0..<d { let gh = gp[i * d + j] * (wp?[j] ?? 1); m1 += gh; m2 += gh * hp[i * d + j] }
                        m1 /= Float(d); m2 /= Float(d)
                        for j in 0..<d {
                            let gh = gp[i * d + j] * (wp?[j] ?? 1)
                            tq[i * d + j] = rstd[i] * (gh - m1 - hp[i * d + j] * m2)
                        }
                    }
                }
                gx = t
            }
            var result: [Tensor?] = [gx]
            if let weight { result.append(weight.requiresGrad ? (g * xhat).reshaped([n, d]).sum(dim: 0) : nil) }
            if let bias { result.append(bias.requiresGrad ? g.reshaped([n, d]).sum(dim: 0) : nil) }
            return result
        }
    }

    /// RMS normalisation over the last dimension as T5 does it: `x / sqrt(mean(x²) + eps) * weight`
    /// (no mean subtraction, no bias).
    public func rmsNorm(weight: Tensor, eps: Float = 1e-6) -> Tensor {
        let (n, d) = rows
        precondition(weight.shape == [d], "rmsNorm weight \(weight.shape) for rows of \(d)")
        let out = Tensor.empty(shape)
        let xhat = Tensor.empty(shape)
        var rstd = [Float](repeating: 0, count: n)
        let p = storage.pointer, q = out.storage.pointer, h = xhat.storage.pointer, w = weight.storage.pointer
        rstd.withUnsafeMutableBufferPointer { rs in
            let rsp = rs.baseAddress!
            parallelChunks(n, costPerItem: d * 3) { r in
                for i in r {
                    var ss: Float = 0
                    for j in 0..<d { ss += p[i * d + j] * p[i * d + j] }
                    let rsd = 1 / (ss / Float(d) + eps).squareRoot()
                    rsp[i] = rsd
                    for j in 0..<d { let xh = p[i * d + j] * rsd; h[i * d + j] = xh; q[i * d + j] = xh * w[j] }
                }
            }
        }
        let x = self, wd = weight.detached()
        return out.recording([self, weight]) { g in
            let gp = g.storage.pointer, hp = xhat.storage.pointer, wp = wd.storage.pointer
            var gx: Tensor?
            if x.requiresGrad {
                let t = Tensor.empty(x.shape)
                let tq = t.storage.pointer
                parallelChunks(n, costPerItem: d * 4) { r in
                    for i in r {
                        var m2: Float = 0
                        for j in 0..<d { m2 += gp[i * d + j] * wp[j] * hp[i * d + j] }
                        m2 /= Float(d)
                        for j in 0..<d { tq[i * d + j] = rstd[i] * (gp[i * d + j] * wp[j] - hp[i * d + j] * m2) }
                    }
                }
                gx = t
            }
            return [gx, weight.requiresGrad ? (g * xhat).reshaped([n, d]).sum(dim: 0) : nil]
        }
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by `1/(1-p)`.
    /// Identity when `training` is false or `p` is 0.
    public func dropout(_ p: Float, training: Bool, rng: inout SeededRNG) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        guard training, p > 0 else { return self }
        let mask = Tensor.empty(shape)
        let scale = 1 / (1 - p)
        for i in 0..<count { mask.storage.pointer[i] = rng.nextFloat() < p ? 0 : scale }
        return self * mask
    }

    /// Looks up rows of `weight [V, D]` for integer `ids`, giving `idsShape + [D]`.
    public static func embedding(_ weight: Tensor, ids: [Int], shape idsShape: [Int]) -> Tensor {
        precondition(weight.rank == 2, "embedding table must be [V, D], got \(weight.shape)")
        precondition(ids.count == idsShape.reduce(1, *), "\(ids.count) ids for shape \(idsShape)")
        return weight.indexSelect(dim: 0, ids).reshaped(idsShape + [weight.shape[1]])
    }

    /// Mean cross-entropy of `logits [N, C]` against class `targets` (N of them); rows whose target is
    /// `ignoreIndex` contribute nothing and are not counted. All rows ignored gives 0 (PyTorch gives NaN).
    public func crossEntropy(targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0) -> Tensor {
        precondition(rank == 2, "crossEntropy wants logits [N, C], got \(shape)")
        let (n, c) = (shape[0], shape[1])
        precondition(targets.count == n, "\(targets.count) targets for \(n) rows of logits")
        for t in targets where t != ignoreIndex { precondition(t >= 0 && t < c, "target \(t) out of range for \(c) classes") }
        let valid = targets.filter { $0 != ignoreIndex }.count
        let probs = Tensor.empty(shape)
        let p = storage.pointer, pr = probs.storage.pointer
        var total: Double = 0
        for i in 0..<n {
            let x = p + i * c
            let (m, s) = shiftedExpSum(x, c, exps: pr + i * c)
            for j in 0..<c { pr[i * c + j] /= s }
            guard targets[i] != ignoreIndex else { continue }
            let lse = m + Foundation.log(s)
            var rowLoss = Double(lse - x[targets[i]]) * Double(1 - labelSmoothing)
            if labelSmoothing > 0 {
                var mean: Double = 0
                for j in 0..<c { mean += Double(lse - x[j]) }
                rowLoss += Double(labelSmoothing) * mean / Double(c)
            }
            total += rowLoss
        }
        let loss = Tensor(scalar: valid == 0 ? 0 : Float(total / Double(valid)))
        // Hold the probabilities' storage, not a raw pointer into it: `probs` itself dies when this
        // function returns, and a bare pointer would read freed memory in backward.
        let probsStorage = probs.storage
        return loss.recording([self]) { g in
            let gi = Tensor.zeros([n, c])
            guard valid > 0 else { return [gi] }
            let scale = g.item / Float(valid)
            let q = gi.storage.pointer, pr = probsStorage.pointer
            for i in 0..<n where targets[i] != ignoreIndex {
                for j in 0..<c { q[i * c + j] = (pr[i * c + j] - labelSmoothing / Float(c)) * scale }
                q[i * c + targets[i]] -= (1 - labelSmoothing) * scale
            }
            return [gi]
        }
    }

    /// Mean smooth-L1 (Huber with `beta`) between `self` and `target` (same shape), as PyTorch defines it.
    public func smoothL1Loss(_ target: Tensor, beta: Float = 1) -> Tensor {
        precondition(shape == target.shape, "smoothL1: prediction \(shape) vs target \(target.shape)")
        let d = Tensor.withNoGrad { self - target }
        let dp = d.storage.pointer
        var total: Double = 0
        for i in 0..<count {
            let a = Swift.abs(dp[i])
            total += Double(a < beta ? 0.5 * a * a / beta : a - 0.5 * beta)
        }
        let n = Float(Swift.max(count, 1))
        let (x, t) = (self, target)
        // Keep the differences' storage alive for backward (a bare pointer would outlive `d`).
        let diffStorage = d.storage
        return Tensor(scalar: Float(total / Double(Swift.max(count, 1)))).recording([x, t]) { g in
            let gi = Tensor.empty(x.shape)
            let q = gi.storage.pointer, s = g.item / n, dp = diffStorage.pointer
            for i in 0..<gi.count {
                let v = dp[i]
                q[i] = s * (Swift.abs(v) < beta ? v / beta : (v > 0 ? 1 : -1))
            }
            return [x.requiresGrad ? gi : nil, t.requiresGrad ? gi.negated() : nil]
        }
    }

    /// Mean squared error between `self` and `target` (same shape).
    public func mseLoss(_ target: Tensor) -> Tensor {
        precondition(shape == target.shape, "mse: prediction \(shape) vs target \(target.shape)")
        return (self - target).square().mean()
    }
}
