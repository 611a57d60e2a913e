import Foundation

@inline(__always) private func logistic(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

extension Tensor {
    /// One direction of one GRU layer with PyTorch's `nn.GRU` semantics (gates `r, z, n` in that
    /// order along the `3H` rows of the weights):
    ///
    ///     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
    ///     z  = σ(W_iz x + b_iz + W_hz h + b_hz)
    ///     n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    ///     h' = (1 - z) ⊙ n + z ⊙ h
    ///
    /// `input` is batch-first `[B, T, I]`, `initialHidden` `[B, H]`, `weightIH` `[3H, I]`,
    /// `weightHH` `[3H, H]`, biases `[3H]`. `lengths` (default: all `T`, each in `1...T`) does what
    /// `pack_padded_sequence` does: sequence `b` runs over its first `lengths[b]` steps only, and with
    /// `reverse` it starts at its own last valid step `lengths[b] - 1` and runs back to step 0.
    /// Returns every step's hidden state `[B, T, H]`, zero at padded steps (as `pad_packed_sequence`
    /// gives); the final state of sequence `b` is at step `lengths[b] - 1` (forward) or 0 (reverse).
    /// Padded input steps get zero gradient. Records one autodiff node over all inputs.
    public static func gru(input x: Tensor, initialHidden h0: Tensor, weightIH: Tensor, weightHH: Tensor,
                           biasIH: Tensor?, biasHH: Tensor?, lengths: [Int]? = nil, reverse: Bool = false) -> Tensor {
        precondition(x.rank == 3, "gru: input must be [B, T, I], got \(x.shape)")
        let (b, t, inF) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(weightHH.rank == 2 && weightHH.shape[0] == 3 * weightHH.shape[1],
                     "gru: weightHH must be [3H, H], got \(weightHH.shape)")
        let h = weightHH.shape[1], g3 = 3 * h
        precondition(weightIH.shape == [g3, inF], "gru: weightIH \(weightIH.shape) for input width \(inF) and hidden \(h) (want [\(g3), \(inF)])")
        precondition(h0.shape == [b, h], "gru: initial hidden \(h0.shape), want [\(b), \(h)]")
        if let biasIH { precondition(biasIH.shape == [g3], "gru: biasIH \(biasIH.shape), want [\(g3)]") }
        if let biasHH { precondition(biasHH.shape == [g3], "gru: biasHH \(biasHH.shape), want [\(g3)]") }
        let lens = lengths ?? [Int](repeating: t, count: b)
        precondition(lens.count == b, "gru: \(lens.count) lengths for a batch of \(b)")
        for l in lens { precondition(l >= 1 && l <= t, "gru: length \(l) outside 1...\(t)") }

        // Packing: longest first, so the sequences still running at any step are a prefix of the
        // batch and each step's recurrent product is one GEMM over that prefix.
        let order = (0..<b).sorted { lens[$0] != lens[$1] ? lens[$0] > lens[$1] : $0 < $1 }
        let steps = lens.max() ?? 0
        // active[s]: how many sequences (a prefix of `order`) are longer than s.
        var active = [Int](repeating: 0, count: steps)
        for s in 0..<steps { active[s] = lens.filter { $0 > s }.count }
        @inline(__always) func position(_ seq: Int, _ s: Int) -> Int { reverse ? lens[seq] - 1 - s : s }

        // Input projections of every step at once: gi [B*T, 3H] = x [B*T, I] @ W_ihᵀ + b_ih.
        let gi = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * t * g3, 1))
        defer { gi.deallocate() }
        if let biasIH { for r in 0..<(b * t) { (gi + r * g3).update(from: biasIH.storage.pointer, count: g3) } }
        sgemm(transA: false, transB: true, m: b * t, n: g3, k: inF, a: x.storage.pointer, lda: inF,
              b: weightIH.storage.pointer, ldb: inF, beta: biasIH == nil ? 0 : 1, c: gi, ldc: g3)

        let needsBackward = Tensor.needsGrad([x, h0, weightIH, weightHH] + [biasIH, biasHH].compactMap { $0 })
        let out = Tensor.zeros([b, t, h])                                      // [B, T, H]
        // For backward: r, z, n and W_hn h + b_hn of every valid step, [B, T, 4H].
        let saved = needsBackward ? TensorStorage(count: b * t * 4 * h) : nil
        let hcur = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * h, 1))   // [B, H] in packed order
        let gh = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * g3, 1))    // [B, 3H] in packed order
        defer { hcur.deallocate(); gh.deallocate() }
        for (i, seq) in order.enumerated() { (hcur + i * h).update(from: h0.storage.pointer + seq * h, count: h) }
        let po = out.storage.pointer, whh = weightHH.storage.pointer
        for s in 0..<steps {
            let na = active[s]
            // gh [na, 3H] = h [na, H] @ W_hhᵀ + b_hh
            if let biasHH { for r in 0..<na { (gh + r * g3).update(from: biasHH.storage.pointer, count: g3) } }
            sgemm(transA: false, transB: true, m: na, n: g3, k: h, a: hcur, lda: h, b: whh, ldb: h,
                  beta: biasHH == nil ? 0 : 1, c: gh, ldc: g3)
            parallelChunks(na, costPerItem: h * 12) { rows in
                for i in rows {
                    let seq = order[i], p = position(seq, s)
                    let gx = gi + (seq * t + p) * g3, gr = gh + i * g3, hp = hcur + i * h
                    let o = po + (seq * t + p) * h
                    let sv = saved.map { $0.pointer + (seq * t + p) * 4 * h }
                    for j in 0..<h {
                        let r = logistic(gx[j] + gr[j])
                        let z = logistic(gx[h + j] + gr[h + j])
                        let ghn = gr[2 * h + j]
                        let n = Foundation.tanh(gx[2 * h + j] + r * ghn)
                        let hn = (1 - z) * n + z * hp[j]
                        hp[j] = hn
                        o[j] = hn
                        if let sv { sv[j] = r; sv[h + j] = z; sv[2 * h + j] = n; sv[3 * h + j] = ghn }
                    }
                }
            }
        }
        guard needsBackward, let saved else { return out }

        let (xd, h0d, wihd, whhd) = (x.detached(), h0.detached(), weightIH.detached(), weightHH.detached())
        let outStorage = out.storage
        var inputs = [x, h0, weightIH, weightHH]
        if let biasIH { inputs.append(biasIH) }
        if let biasHH { inputs.append(biasHH) }
        return out.recording(inputs) { g in
            let gp = g.storage.pointer, sp = saved.pointer, op = outStorage.pointer
            let dgi = Tensor.zeros([b * t, g3])       // gradient of the input projections, [B*T, 3H]
            let dgh = Tensor.zeros([b * t, g3])       // gradient of W_hh h + b_hh at each step, [B*T, 3H]
            let hprev = Tensor.zeros([b * t, h])      // the state each step read, [B*T, H]
            let carry = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * h, 1))   // dL/dh, packed order
            let rowG = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * g3, 1))   // this step's dgh, packed
            defer { carry.deallocate(); rowG.deallocate() }
            carry.initialize(repeating: 0, count: b * h)
            let dgip = dgi.storage.pointer, dghp = dgh.storage.pointer, hpp = hprev.storage.pointer
            for s in stride(from: steps - 1, through: 0, by: -1) {
                let na = active[s]
                parallelChunks(na, costPerItem: h * 16) { rows in
                    for i in rows {
                        let seq = order[i], p = position(seq, s)
                        let row = seq * t + p
                        // The state this step read: h0, or the output of the previous step in this direction.
                        let prev = s == 0 ? h0d.storage.pointer + seq * h : op + (seq * t + (reverse ? p + 1 : p - 1)) * h
                        let sv = sp + row * 4 * h, gdst = dgip + row * g3, hdst = dghp + row * g3, rg = rowG + i * g3
                        let c = carry + i * h
                        (hpp + row * h).update(from: prev, count: h)
                        for j in 0..<h {
                            let (r, z, n, ghn) = (sv[j], sv[h + j], sv[2 * h + j], sv[3 * h + j])
                            let dh = c[j] + gp[row * h + j]
                            let dan = dh * (1 - z) * (1 - n * n)
                            let daz = dh * (prev[j] - n) * z * (1 - z)
                            let dar = dan * ghn * r * (1 - r)
                            gdst[j] = dar; gdst[h + j] = daz; gdst[2 * h + j] = dan
                            rg[j] = dar; rg[h + j] = daz; rg[2 * h + j] = dan * r
                            c[j] = dh * z
                        }
                        (hdst).update(from: rg, count: g3)
                    }
                }
                // dL/dh_prev += dgh [na, 3H] @ W_hh [3H, H]
                sgemm(transA: false, transB: false, m: na, n: h, k: g3, a: rowG, lda: g3, b: whhd.storage.pointer, ldb: h,
                      beta: 1, c: carry, ldc: h)
            }
            var gx: Tensor?, gh0: Tensor?, gwih: Tensor?, gwhh: Tensor?
            if x.requiresGrad {
                let d = Tensor.empty(x.shape)    // [B*T, I] = dgi [B*T, 3H] @ W_ih [3H, I]
                sgemm(transA: false, transB: false, m: b * t, n: inF, k: g3, a: dgip, lda: g3, b: wihd.storage.pointer, ldb: inF,
                      c: d.storage.pointer, ldc: inF)
                gx = d
            }
            if h0.requiresGrad {
                let d = Tensor.empty([b, h])
                for (i, seq) in order.enumerated() { (d.storage.pointer + seq * h).update(from: carry + i * h, count: h) }
                gh0 = d
            }
            if weightIH.requiresGrad {
                let d = Tensor.empty([g3, inF])  // [3H, I] = dgiᵀ [3H, B*T] @ x [B*T, I]
                sgemm(transA: true, transB: false, m: g3, n: inF, k: b * t, a: dgip, lda: g3, b: xd.storage.pointer, ldb: inF,
                      c: d.storage.pointer, ldc: inF)
                gwih = d
            }
            if weightHH.requiresGrad {
                let d = Tensor.empty([g3, h])    // [3H, H] = dghᵀ [3H, B*T] @ h_prev [B*T, H]
                sgemm(transA: true, transB: false, m: g3, n: h, k: b * t, a: dghp, lda: g3, b: hpp, ldb: h,
                      c: d.storage.pointer, ldc: h)
                gwhh = d
            }
            var result: [Tensor?] = [gx, gh0, gwih, gwhh]
            if let biasIH { result.append(biasIH.requiresGrad ? dgi.sum(dim: 0) : nil) }
            if let biasHH { result.append(biasHH.requiresGrad ? dgh.sum(dim: 0) : nil) }
            return result
        }
    }
}
