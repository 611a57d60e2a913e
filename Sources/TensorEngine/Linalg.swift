import CKernels
import CBLAS
import Foundation

/// OpenBLAS runs single-threaded and the engine splits large products over its own threads (see
/// `sgemm`). Why: OpenBLAS's worker threads spin on `sched_yield` for a long time after each call
/// (THREAD_TIMEOUT, read only when the library loads), so between the many small calls of a training
/// step they burn the core the engine's own elementwise work needs. A 100-step tokenizer run spent 4.95 s
/// of system time of 19 s CPU with two OpenBLAS threads, 0.35 s with one. `MOTIONGPT_BLAS_THREADS`
/// gives OpenBLAS its own threads back (then the engine does not split).
let blasOwnThreads: Int = {
    chooseBLASKernels()
    let asked = ProcessInfo.processInfo.environment["MOTIONGPT_BLAS_THREADS"].flatMap { Int($0) } ?? 1
    openblas_set_num_threads(Int32(max(1, asked)))
    return max(1, asked)
}()

/// OpenBLAS 0.3.21 (Debian 12) gives AMD Zen 4, which has AVX-512, its AVX2 Haswell kernels; its
/// SkylakeX kernels run this project's training steps 1.4-1.5x faster there (transformer stack 348 ->
/// 233 ms, T5-small step 1272 -> 903 ms, tokenizer step 178 -> 122 ms). So when the CPU has AVX-512
/// F/BW/DQ/VL, OpenBLAS chose an AVX2 core, and neither $OPENBLAS_CORETYPE nor
/// MOTIONGPT_BLAS_CORE=keep says otherwise, the choice is made again for SkylakeX through OpenBLAS's
/// own mechanism (the variable its loader reads, then its dynamic init) before any BLAS call.
func chooseBLASKernels() {
    let env = ProcessInfo.processInfo.environment
    guard env["OPENBLAS_CORETYPE"] == nil, env["MOTIONGPT_BLAS_CORE"] != "keep", mgpt_cpu_has_avx512() != 0,
          isAVX2Core(openblas_get_corename().map { String(cString: $0) } ?? "") else { return }
    setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1)
    gotoblas_dynamic_quit()
    gotoblas_dynamic_init()
    unsetenv("OPENBLAS_CORETYPE")
}

/// The OpenBLAS kernels in use ("SkylakeX", "Haswell", ...).
public var blasCoreName: String {
    _ = blasOwnThreads
    return openblas_get_corename().map { String(cString: $0) } ?? "?"
}

/// Whether OpenBLAS computes with its AVX2 kernels (the Haswell ones, which its Zen core uses too).
public var blasUsesAVX2Kernels: Bool { isAVX2Core(blasCoreName) }

private func isAVX2Core(_ name: String) -> Bool { ["haswell", "zen"].contains(name.lowercased()) }

/// Products below this many multiply-adds run on one thread (the dispatch costs more than it saves).
let gemmSplitWork = 1 << 20
/// From this many multiply-adds up, twice as many bands as threads: the threads claim bands as they
/// come free, so one that started late or was preempted does not leave the other waiting.
let gemmFineSplitWork = 1 << 24
/// A single-row product is bound by reading the matrix: split it from 128K weights (512 KB) up.
let gemvSplitWork = 1 << 17

/// Row-major `C = alpha * op(A) op(B) + beta * C` through OpenBLAS; the single place the engine calls GEMM.
/// Large products are cut into bands of C's rows (or columns, when C is wide) run in parallel on the
/// engine's threads, each a single-threaded OpenBLAS call.
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C untouched when k is 0 only if beta is 1; make the empty product explicit.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    let threads = blasOwnThreads == 1 ? engineThreads : 1
    if m == 1 && !transA {
        let parts = n * k < gemvSplitWork ? 1 : threads
        // A single row (decoding one token): GEMV streams the weights once and is markedly faster
        // than OpenBLAS's GEMM path for M = 1. y[n] = op(B)ᵀ-style product of the row with B; split
        // over the outputs, each band reading its own part of B.
        let per = (n + parts - 1) / parts
        splitRun(parts) { p in
            let j0 = p * per, j1 = min(n, j0 + per)
            guard j0 < j1 else { return }
            let bb = transB ? b + j0 * ldb : b + j0
            cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, Int32(transB ? j1 - j0 : k), Int32(transB ? k : j1 - j0),
                        alpha, bb, Int32(ldb), a, 1, beta, c + j0, 1)
        }
        return
    }
    let parts = m * n * k < gemmSplitWork ? 1 : (m * n * k >= gemmFineSplitWork ? 2 * threads : threads)
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    if parts == 1 {
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        return
    }
    if m >= n {
        // Bands of C's rows (multiples of 16, the kernels' blocking): op(A)'s rows, all of B.
        let per = ((m + parts - 1) / parts + 15) / 16 * 16
        splitRun(parts) { p in
            let i0 = p * per, i1 = min(m, i0 + per)
            guard i0 < i1 else { return }
            let aa = transA ? a + i0 : a + i0 * lda
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(i1 - i0), Int32(n), Int32(k), alpha, aa, Int32(lda), b, Int32(ldb), beta,
                        c + i0 * ldc, Int32(ldc))
        }
    } else {
        // Bands of C's columns: all of op(A), op(B)'s columns.
        let per = ((n + parts - 1) / parts + 15) / 16 * 16
        splitRun(parts) { p in
            let j0 = p * per, j1 = min(n, j0 + per)
            guard j0 < j1 else { return }
            let bb = transB ? b + j0 * ldb : b + j0
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(j1 - j0), Int32(k), alpha, a, Int32(lda), bb, Int32(ldb), beta,
                        c + j0, Int32(ldc))
        }
    }
}

/// Runs `body(0..<parts)` on the engine's threads (inline when one part).
@inline(__always)
private func splitRun(_ parts: Int, _ body: (Int) -> Void) { parallelParts(parts, body) }

/// Batched `op(a) @ op(b)` with broadcasting over leading (batch) dimensions; no autodiff.
func matmulRaw(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2, got \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transA ? (ac, ar) : (ar, ac)
    let (k2, n) = transB ? (bc, br) : (br, bc)
    precondition(k == k2, "matmul inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") @ \(b.shape)\(transB ? "ᵀ" : "")")
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    let pa = a.storage.pointer, pb = b.storage.pointer
    // A shared 2-D right operand: fold a's batch into rows and make one large GEMM.
    if bBatch.isEmpty && !transA {
        let out = Tensor.empty(aBatch + [m, n])
        let rows = aBatch.reduce(1, *) * m
        sgemm(transA: false, transB: transB, m: rows, n: n, k: k, a: pa, lda: ac, b: pb, ldb: bc, c: out.storage.pointer, ldc: n)
        return out
    }
    let batch = broadcastShapes(aBatch, bBatch)
    let out = Tensor.empty(batch + [m, n])
    let sa = broadcastStrides(aBatch, to: batch), sb = broadcastStrides(bBatch, to: batch)
    let aMat = ar * ac, bMat = br * bc, cMat = m * n
    let total = batch.reduce(1, *)
    var idx = [Int](repeating: 0, count: batch.count)
    let pc = out.storage.pointer
    for bi in 0..<total {
        var oa = 0, ob = 0
        for d in 0..<batch.count { oa += idx[d] * sa[d]; ob += idx[d] * sb[d] }
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: pa + oa * aMat, lda: ac, b: pb + ob * bMat, ldb: bc,
              c: pc + bi * cMat, ldc: n)
        var d = batch.count - 1
        while d >= 0 { idx[d] += 1; if idx[d] < batch[d] { break }; idx[d] = 0; d -= 1 }
    }
    return out
}

extension Tensor {
    /// Matrix product over the last two dimensions, batched and broadcast over the leading ones:
    /// `[..., M, K] @ [..., K, N] -> [..., M, N]`. `transposeA`/`transposeB` use the operand's
    /// transpose without copying it.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        let (a, b) = (self, other)
        let (ta, tb) = (transposeA, transposeB)
        let out = matmulRaw(a, b, transA: ta, transB: tb)
        let (ad, bd) = (a.detached(), b.detached())
        return out.recording([a, b]) { g in
            var ga: Tensor?, gb: Tensor?
            if a.requiresGrad {
                ga = ta ? matmulRaw(bd, g, transA: tb, transB: true) : matmulRaw(g, bd, transA: false, transB: !tb)
                ga = ga!.sumTo(a.shape)
            }
            if b.requiresGrad {
                if !ta && !tb && b.rank == 2 {
                    // Fold the batch into rows: one GEMM both computes and sums over the batch.
                    let k = a.shape[a.rank - 1], n = g.shape[g.rank - 1]
                    gb = matmulRaw(ad.reshaped([-1, k]), g.reshaped([-1, n]), transA: true, transB: false)
                } else if !ta && tb && b.rank == 2 {
                    let k = a.shape[a.rank - 1], n = g.shape[g.rank - 1]
                    gb = matmulRaw(g.reshaped([-1, n]), ad.reshaped([-1, k]), transA: true, transB: false)
                } else {
                    gb = tb ? matmulRaw(g, ad, transA: true, transB: ta) : matmulRaw(ad, g, transA: !ta, transB: false)
                    gb = gb!.sumTo(b.shape)
                }
            }
            return [ga, gb]
        }
    }

    /// A dense layer in PyTorch's layout: `self [..., in] @ weightᵀ [out, in] + bias [out]`.
    /// The bias is written first and GEMM accumulates onto it, so the layer costs one GEMM.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let x = self
        precondition(weight.rank == 2 && x.shape.last == weight.shape[1],
                     "linear: input \(x.shape) does not fit weight \(weight.shape)")
        let (outF, inF) = (weight.shape[0], weight.shape[1])
        let rows = x.count / Swift.max(inF, 1)
        let out = Tensor.empty(Array(x.shape.dropLast()) + [outF])
        let pc = out.storage.pointer
        if let bias {
            precondition(bias.shape == [outF], "linear: bias \(bias.shape) for \(outF) outputs")
            for r in 0..<rows { (pc + r * outF).update(from: bias.storage.pointer, count: outF) }
        }
        sgemm(transA: false, transB: true, m: rows, n: outF, k: inF, a: x.storage.pointer, lda: inF,
              b: weight.storage.pointer, ldb: inF, beta: bias == nil ? 0 : 1, c: pc, ldc: outF)
        let (xd, wd) = (x.detached(), weight.detached())
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return out.recording(inputs) { g in
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            if x.requiresGrad {
                let t = Tensor.empty(x.shape)  // [rows, in] = g [rows, out] @ W [out, in]
                sgemm(transA: false, transB: false, m: rows, n: inF, k: outF, a: g.storage.pointer, lda: outF,
                      b: wd.storage.pointer, ldb: inF, c: t.storage.pointer, ldc: inF)
                gx = t
            }
            if weight.requiresGrad {
                let t = Tensor.empty(weight.shape)  // [out, in] = gᵀ [out, rows] @ x [rows, in]
                sgemm(transA: true, transB: false, m: outF, n: inF, k: rows, a: g.storage.pointer, lda: outF,
                      b: xd.storage.pointer, ldb: inF, c: t.storage.pointer, ldc: inF)
                gw = t
            }
            if let bias, bias.requiresGrad {
                gb = g.reshaped([rows, outF]).sum(dim: 0)
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
