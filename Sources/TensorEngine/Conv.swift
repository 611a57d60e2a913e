import Foundation

/// Output length of a 1-D convolution.
public func conv1dOutputLength(_ length: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Int {
    (length + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
}

extension Tensor {
    /// 1-D convolution (cross-correlation, as PyTorch): input `[B, Cin, L]`, weight `[Cout, Cin, K]`,
    /// bias `[Cout]` -> `[B, Cout, Lout]`. Lowered to one GEMM over an im2col buffer holding the whole
    /// batch side by side (`[Cin*K, B*Lout]`): motion convolutions have short outputs (16-64 frames),
    /// and one GEMM per batch item left OpenBLAS with matrices too narrow to run fast.
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Tensor {
        precondition(rank == 3, "conv1d input must be [B, Cin, L], got \(shape)")
        precondition(weight.rank == 3 && weight.shape[1] == shape[1], "conv1d weight \(weight.shape) for input \(shape)")
        precondition(stride >= 1 && dilation >= 1 && padding >= 0, "conv1d stride \(stride), padding \(padding), dilation \(dilation)")
        let (b, cin, l) = (shape[0], shape[1], shape[2])
        let (cout, k) = (weight.shape[0], weight.shape[2])
        let lout = conv1dOutputLength(l, kernel: k, stride: stride, padding: padding, dilation: dilation)
        precondition(lout >= 1, "conv1d: input length \(l) too short for kernel \(k) with dilation \(dilation), padding \(padding)")
        if let bias { precondition(bias.shape == [cout], "conv1d bias \(bias.shape) for \(cout) channels") }
        let ck = cin * k, n = b * lout
        // cols[(c*K + j), bi*Lout + t] = x[bi, c, t*stride - padding + j*dilation], zero outside.
        func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
            for bi in 0..<b {
                let xb = x + bi * cin * l
                for c in 0..<cin {
                    for j in 0..<k {
                        let row = cols + (c * k + j) * n + bi * lout
                        let off = j * dilation - padding
                        for t in 0..<lout {
                            let src = t * stride + off
                            row[t] = src >= 0 && src < l ? xb[c * l + src] : 0
                        }
                    }
                }
            }
        }
        let px = storage.pointer, pw = weight.storage.pointer
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: ck * n)
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: cout * n)    // [Cout, B*Lout]
        defer { cols.deallocate(); wide.deallocate() }
        im2col(px, cols)
        if let bias { for o in 0..<cout { (wide + o * n).update(repeating: bias.storage.pointer[o], count: n) } }
        sgemm(transA: false, transB: false, m: cout, n: n, k: ck, a: pw, lda: ck, b: cols, ldb: n,
              beta: bias == nil ? 0 : 1, c: wide, ldc: n)
        let out = Tensor.empty([b, cout, lout])
        let po = out.storage.pointer
        for bi in 0..<b { for o in 0..<cout { (po + (bi * cout + o) * lout).update(from: wide + o * n + bi * lout, count: lout) } }
        let (x, xd, wd) = (self, self.detached(), weight.detached())
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return out.recording(inputs) { g in
            let gp = g.storage.pointer
            let gx = x.requiresGrad ? Tensor.zeros(x.shape) : nil
            let gw = weight.requiresGrad ? Tensor.zeros(weight.shape) : nil
            // g as [Cout, B*Lout], the layout of the forward GEMM's output.
            let gwide = UnsafeMutablePointer<Float>.allocate(capacity: cout * n)
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: ck * n)
            defer { gwide.deallocate(); cols.deallocate() }
            for bi in 0..<b { for o in 0..<cout { (gwide + o * n + bi * lout).update(from: gp + (bi * cout + o) * lout, count: lout) } }
            if let gw {
                // Recompute the columns rather than keep them alive between forward and backward.
                im2col(xd.storage.pointer, cols)
                // gW [Cout, CK] = g [Cout, B*Lout] @ colsᵀ [B*Lout, CK]
                sgemm(transA: false, transB: true, m: cout, n: ck, k: n, a: gwide, lda: n, b: cols, ldb: n,
                      c: gw.storage.pointer, ldc: ck)
            }
            if let gx {
                // gcols [CK, B*Lout] = Wᵀ [CK, Cout] @ g [Cout, B*Lout], then scatter back (col2im).
                sgemm(transA: true, transB: false, m: ck, n: n, k: cout, a: wd.storage.pointer, lda: ck, b: gwide, ldb: n,
                      c: cols, ldc: n)
                let dxAll = gx.storage.pointer
                for bi in 0..<b {
                    let dx = dxAll + bi * cin * l
                    for c in 0..<cin { for j in 0..<k {
                        let row = cols + (c * k + j) * n + bi * lout, off = j * dilation - padding
                        for t in 0..<lout { let s = t * stride + off; if s >= 0 && s < l { dx[c * l + s] += row[t] } }
                    } }
                }
            }
            var result: [Tensor?] = [gx, gw]
            if let bias { result.append(bias.requiresGrad ? g.sum(dims: [0, 2]) : nil) }
            return result
        }
    }

    /// Nearest-neighbour upsampling of `[B, C, L]` by an integer factor along L (PyTorch's
    /// `nn.Upsample(scale_factor:, mode: "nearest")`).
    public func upsampleNearest1d(scale: Int) -> Tensor {
        precondition(rank == 3 && scale >= 1, "upsampleNearest1d wants [B, C, L] and scale >= 1, got \(shape), \(scale)")
        let (rowsN, l) = (shape[0] * shape[1], shape[2])
        let out = Tensor.empty([shape[0], shape[1], l * scale])
        let p = storage.pointer, q = out.storage.pointer
        for r in 0..<rowsN { for t in 0..<l { (q + (r * l + t) * scale).update(repeating: p[r * l + t], count: scale) } }
        let inShape = shape
        return out.recording([self]) { g in
            let gi = Tensor.zeros(inShape)
            let gp = g.storage.pointer, gq = gi.storage.pointer
            for r in 0..<rowsN { for t in 0..<l { var s: Float = 0; for u in 0..<scale { s += gp[(r * l + t) * scale + u] }; gq[r * l + t] = s } }
            return [gi]
        }
    }
}
