import CBLAS
import CKernels
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
        /// `cblas_sgemm` into a preallocated buffer, OpenBLAS threading itself.
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
        // Raw BLAS with OpenBLAS's own threads (as many as the engine's): the library at its best.
        let raw = withBLASThreads(engineThreads) {
            time {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                        a.storage.pointer, Int32(k), b.storage.pointer, Int32(n), 0, c.storage.pointer, Int32(n))
            }
        }
        return MatmulResult(m: m, k: k, n: n, engineGFLOPS: flops / engine / 1e9, blasGFLOPS: flops / raw / 1e9)
    }

    /// Memory bandwidth measured two ways over buffers far larger than the caches, on the engine's
    /// threads: a copy (`memcpy`, bytes read plus bytes written) and a read-only pass (a sum, what a
    /// batch-1 product over weights does). GB/s, 1e9 bytes.
    public struct BandwidthResult: Sendable {
        public let copyGBps: Double
        public let readGBps: Double
    }

    public static func memoryBandwidth(megabytes: Int = 256) -> BandwidthResult {
        let count = megabytes << 18  // floats
        let a = Tensor(repeating: 1, shape: [count]), b = Tensor(repeating: 0, shape: [count])
        let threads = engineThreads, per = (count + threads - 1) / threads
        let copy = time(warmup: 1, minIterations: 3, budget: 0.5) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let lo = t * per, hi = min(count, lo + per)
                if lo < hi { memcpy(b.storage.pointer + lo, a.storage.pointer + lo, (hi - lo) * 4) }
            }
        }
        var sink: Float = 0
        let read = time(warmup: 1, minIterations: 3, budget: 0.5) {
            var sums = [Float](repeating: 0, count: threads)
            sums.withUnsafeMutableBufferPointer { s in
                let sp = s.baseAddress!
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    let lo = t * per, hi = min(count, lo + per)
                    if lo < hi { sp[t] = mgpt_read_sum(a.storage.pointer + lo, hi - lo) }
                }
            }
            sink += sums.reduce(0, +)
        }
        precondition(sink > 0)
        let bytes = Double(count) * 4
        return BandwidthResult(copyGBps: 2 * bytes / copy / 1e9, readGBps: bytes / read / 1e9)
    }

    /// `(batch, tokens)` of the scaling table: a 2-layer, 512-wide stack's training step (the torch
    /// reference times the same list).
    public static let scalingShapes = [(1, 64), (4, 64), (16, 64), (8, 32), (8, 128), (8, 256)]

    /// Median seconds of a forward+backward step of a 2-layer, 512-wide stack at each of `scalingShapes`.
    public static func scaling() -> [(batch: Int, tokens: Int, seconds: Double)] {
        scalingShapes.map { batch, tokens in
            var rng = SeededRNG(seed: 0)
            let stack = TransformerStack(depth: 2, dim: 512, heads: 8, mlpDim: 2048, rng: &rng)
            let x = Tensor.randn([batch, tokens, 512], rng: &rng)
            let s = time(warmup: 1, minIterations: 3, budget: 0.5) {
                stack.zeroGrad()
                stack(x).square().mean().backward()
            }
            return (batch, tokens, s)
        }
    }

    /// A field of /proc/self/status in kB (Linux), or nil.
    static func statusKB(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// Bytes the process's peak resident set grows by while `body` runs (Linux's VmHWM against VmRSS
    /// before; nil where /proc is missing). Meaningful in a fresh process: memory freed earlier and kept
    /// by the allocator would hide growth, so `motiongpt bench` runs each measurement in a child.
    public static func peakResidentGrowth(_ body: () throws -> Void) rethrows -> Int? {
        let base = statusKB("VmRSS")
        try body()
        guard let base, let peak = statusKB("VmHWM") else { return nil }
        return (peak - base) * 1024
    }

    /// Builds the 6-layer, 512-wide stack of `transformer()` and runs 3 training steps on `[8, 64]`.
    public static func transformerSteps() {
        var rng = SeededRNG(seed: 0)
        let stack = TransformerStack(depth: 6, dim: 512, heads: 8, mlpDim: 2048, rng: &rng)
        let x = Tensor.randn([8, 64, 512], rng: &rng)
        for _ in 0..<3 {
            stack.zeroGrad()
            stack(x).square().mean().backward()
        }
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
