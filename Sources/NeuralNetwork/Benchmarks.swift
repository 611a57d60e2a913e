import CBLAS
import Foundation
import TensorEngine

/// Timing helpers and the engine benchmarks behind `motiongpt bench`. Benchmarks live here, not in
/// tests, so unit tests never depend on machine speed.
public enum EngineBenchmark {
    /// Median seconds per call of `body` after `warmup` calls, over at least `minIterations` calls
    /// and about `budget` seconds.
    public static func time(warmup: Int = 2, minIterations: Int = 5, budget: Double = 0.6, _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while samples.count < minIterations || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < budget {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            if samples.count >= 10_000 { break }
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// One matmul shape `[M x K] @ [K x N]` measured through the engine and through raw `cblas_sgemm`.
    public struct MatmulResult: Sendable {
        public let m: Int, k: Int, n: Int
        /// Engine `Tensor.matmul` (allocates its output each call, as real use does).
        public let engineGFLOPS: Double
        /// `cblas_sgemm` into a preallocated buffer.
        public let blasGFLOPS: Double
        /// Engine time over raw BLAS time, minus one (0.05 = 5% slower).
        public var overhead: Double { blasGFLOPS / engineGFLOPS - 1 }
    }

    public static func matmul(m: Int, k: Int, n: Int, seed: UInt64 = 0) -> MatmulResult {
        var rng = SeededRNG(seed: seed)
        let a = Tensor.randn([m, k], rng: &rng), b = Tensor.randn([k, n], rng: &rng)
        let flops = 2.0 * Double(m) * Double(k) * Double(n)
        let engine = Tensor.withNoGrad { time { _ = a.matmul(b) } }
        let c = Tensor.zeros([m, n])
        let raw = time {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        a.storage.pointer, Int32(k), b.storage.pointer, Int32(n), 0, c.storage.pointer, Int32(n))
        }
        return MatmulResult(m: m, k: k, n: n, engineGFLOPS: flops / engine / 1e9, blasGFLOPS: flops / raw / 1e9)
    }

    /// Forward and backward of a transformer stack on `[batch, tokens]` inputs of width `dim`.
    public struct TransformerResult: Sendable {
        public let depth: Int, dim: Int, batch: Int, tokens: Int
        public let forwardSeconds: Double
        public let forwardBackwardSeconds: Double
    }

    public static func transformer(depth: Int = 6, dim: Int = 512, heads: Int = 8, batch: Int = 8, tokens: Int = 64,
                                   seed: UInt64 = 0) -> TransformerResult {
        var rng = SeededRNG(seed: seed)
        let stack = TransformerStack(depth: depth, dim: dim, heads: heads, mlpDim: 4 * dim, rng: &rng)
        let x = Tensor.randn([batch, tokens, dim], rng: &rng)
        let fwd = Tensor.withNoGrad { time(budget: 1) { _ = stack(x) } }
        let fb = time(warmup: 1, minIterations: 3, budget: 2) {
            stack.zeroGrad()
            stack(x).square().mean().backward()
        }
        return TransformerResult(depth: depth, dim: dim, batch: batch, tokens: tokens, forwardSeconds: fwd, forwardBackwardSeconds: fb)
    }
}
