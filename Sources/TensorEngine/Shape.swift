import Foundation

extension Tensor {
    /// Same values under a new shape (no copy: storage is shared). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map { $0.element }.reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let inShape = shape
        return Tensor(shape: s, storage: storage).recording([self]) { g in [Tensor(shape: inShape, storage: g.storage)] }
    }

    /// Inserts a dimension of extent 1.
    public func unsqueezed(_ dim: Int) -> Tensor {
        let d = dim < 0 ? dim + rank + 1 : dim
        var s = shape; s.insert(1, at: d)
        return reshaped(s)
    }

    /// Removes a dimension of extent 1.
    public func squeezed(_ dim: Int) -> Tensor {
        let a = axis(dim)
        precondition(shape[a] == 1, "squeeze of dimension \(dim) with extent \(shape[a])")
        var s = shape; s.remove(at: a)
        return reshaped(s)
    }

    /// Reorders dimensions (a copy): result dim i is input dim `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let srcStrides = order.map { inStrides[$0] }
        let out = Tensor.empty(outShape)
        let p = storage.pointer, q = out.storage.pointer
        let inner = outShape.last!, innerStride = srcStrides.last!
        forEachRow(outShape, srcStrides, srcStrides) { os, _, oo in
            for j in 0..<inner { q[oo + j] = p[os + j * innerStride] }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return out.recording([self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (a copy).
    public func transposed(_ d0: Int = -2, _ d1: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(d0), axis(d1))
        return permuted(order)
    }

    /// Broadcasts to a larger shape (a copy); the backward sums back.
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let st = broadcastStrides(shape, to: target)
        precondition(broadcastShapes(shape, target) == target, "cannot expand \(shape) to \(target)")
        let out = Tensor.empty(target)
        let p = storage.pointer, q = out.storage.pointer
        let inner = target.last ?? 1, innerStride = st.last ?? 0
        forEachRow(target, st, st) { os, _, oo in
            for j in 0..<inner { q[oo + j] = p[os + j * innerStride] }
        }
        let inShape = shape
        return out.recording([self]) { g in [g.sumTo(inShape)] }
    }

    /// Elements `start..<end` along `dim` (a copy).
    public func slice(dim: Int, _ start: Int, _ end: Int) -> Tensor {
        let a = axis(dim)
        precondition(start >= 0 && start <= end && end <= shape[a], "slice \(start)..<\(end) of dimension \(dim) with extent \(shape[a])")
        let (outer, n, inner) = around(a)
        let m = end - start
        var outShape = shape; outShape[a] = m
        let out = Tensor.empty(outShape)
        let p = storage.pointer, q = out.storage.pointer
        for o in 0..<outer {
            (q + o * m * inner).update(from: p + (o * n + start) * inner, count: m * inner)
        }
        let inShape = shape
        return out.recording([self]) { g in
            let gi = Tensor.zeros(inShape)
            let gp = g.storage.pointer, gq = gi.storage.pointer
            for o in 0..<outer { (gq + (o * n + start) * inner).update(from: gp + o * m * inner, count: m * inner) }
            return [gi]
        }
    }

    /// Joins tensors along `dim`; all other extents must agree.
    public static func concat(_ tensors: [Tensor], dim: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat of no tensors")
        let first = tensors[0]
        let a = first.axis(dim)
        for t in tensors {
            precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                         "concat: shape \(t.shape) does not match \(first.shape) outside dimension \(dim)")
        }
        let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
        let sizes = tensors.map { $0.shape[a] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape; outShape[a] = total
        let out = Tensor.empty(outShape)
        let q = out.storage.pointer
        var offset = 0
        for (t, n) in zip(tensors, sizes) {
            let p = t.storage.pointer
            for o in 0..<outer { (q + (o * total + offset) * inner).update(from: p + o * n * inner, count: n * inner) }
            offset += n
        }
        return out.recording(tensors) { g in
            var starts = 0
            return sizes.map { n in
                defer { starts += n }
                return g.slice(dim: a, starts, starts + n)
            }
        }
    }

    /// Splits into pieces of the given sizes along `dim`.
    public func split(_ sizes: [Int], dim: Int) -> [Tensor] {
        precondition(sizes.reduce(0, +) == shape[axis(dim)], "split sizes \(sizes) for extent \(shape[axis(dim)])")
        var start = 0
        return sizes.map { n in defer { start += n }; return slice(dim: dim, start, start + n) }
    }

    /// Rows (entries along `dim`) picked by `indices`, in that order, repeats allowed.
    public func indexSelect(dim: Int, _ indices: [Int]) -> Tensor {
        let a = axis(dim)
        let (outer, n, inner) = around(a)
        for i in indices { precondition(i >= 0 && i < n, "index \(i) out of range for dimension \(dim) with extent \(n)") }
        let m = indices.count
        var outShape = shape; outShape[a] = m
        let out = Tensor.empty(outShape)
        let p = storage.pointer, q = out.storage.pointer
        for o in 0..<outer {
            for (k, i) in indices.enumerated() { (q + (o * m + k) * inner).update(from: p + (o * n + i) * inner, count: inner) }
        }
        let inShape = shape
        return out.recording([self]) { g in
            let gi = Tensor.zeros(inShape)
            let gp = g.storage.pointer, gq = gi.storage.pointer
            for o in 0..<outer {
                for (k, i) in indices.enumerated() {
                    let dst = gq + (o * n + i) * inner, src = gp + (o * m + k) * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
            return [gi]
        }
    }

    /// `torch.gather`: `out[i][j][k] = self[index[i][j][k]][j][k]` for `dim` 0, and so on.
    /// `index` has `indexShape`, which must match this shape on every dimension but `dim`.
    public func gather(dim: Int, index: [Int], indexShape: [Int]) -> Tensor {
        let a = axis(dim)
        precondition(indexShape.count == rank && index.count == indexShape.reduce(1, *), "gather index shape \(indexShape) for \(shape)")
        for d in 0..<rank where d != a { precondition(indexShape[d] <= shape[d], "gather index shape \(indexShape) exceeds \(shape)") }
        let n = shape[a]
        for i in index { precondition(i >= 0 && i < n, "gather index \(i) out of range for extent \(n)") }
        let out = Tensor.empty(indexShape)
        let inStrides = contiguousStrides(shape)
        // Source offset of each output element without the gathered dimension's contribution.
        var offsets = [Int](repeating: 0, count: index.count)
        var idx = [Int](repeating: 0, count: rank)
        for k in 0..<index.count {
            var off = 0
            for d in 0..<rank where d != a { off += idx[d] * inStrides[d] }
            offsets[k] = off + index[k] * inStrides[a]
            var d = rank - 1
            while d >= 0 { idx[d] += 1; if idx[d] < indexShape[d] { break }; idx[d] = 0; d -= 1 }
        }
        let p = storage.pointer, q = out.storage.pointer
        for k in 0..<index.count { q[k] = p[offsets[k]] }
        let inShape = shape
        return out.recording([self]) { g in
            let gi = Tensor.zeros(inShape)
            let gp = g.storage.pointer, gq = gi.storage.pointer
            for k in 0..<offsets.count { gq[offsets[k]] += gp[k] }
            return [gi]
        }
    }
}
