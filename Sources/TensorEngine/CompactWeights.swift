import CKernels
import Foundation

/// A weight matrix `[rows, columns]` (one output per row, as `nn.Linear` stores it) kept in memory in
/// a compact format for inference: F16 (2 bytes a weight) or int8 with one Float32 scale per row
/// (1 byte a weight). Products compute in Float32: each row is widened in registers as it is read.
///
/// Why: batch-1 decoding reads every weight once per token, so its speed is the bytes of the weights
/// over the memory bandwidth; halving the bytes nearly halves the time. Models stored F16 (the bundled
/// ones) lose nothing: their F16 values widened to F32 and narrowed again are the same bits.
public final class CompactMatrix: @unchecked Sendable {
    /// The storage format of the weights.
    public enum Format: String, Sendable, CaseIterable, Codable {
        /// IEEE half precision, round to nearest even.
        case f16
        /// Symmetric int8 per row: `w = scale[row] * q`, `scale = max |w| / 127`.
        case int8
    }

    public let format: Format
    public let rows: Int
    public let columns: Int
    private let raw: UnsafeMutableRawPointer
    private let scales: UnsafeMutablePointer<Float>?

    /// Products with at most this many input rows use the compact kernel (weights read once, in
    /// their format); larger ones widen blocks of weight rows and use BLAS's GEMM, which wins once
    /// the arithmetic, not the weight bytes, is the cost.
    public static let kernelRowLimit = 16

    /// Compacts `weight [rows, columns]` (values are copied; the tensor is not changed).
    public init(_ weight: Tensor, format: Format) {
        precondition(weight.rank == 2, "CompactMatrix needs a [rows, columns] matrix, got \(weight.shape)")
        self.format = format
        rows = weight.shape[0]
        columns = weight.shape[1]
        let count = rows * columns, src = weight.storage.pointer
        switch format {
        case .f16:
            raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
            mgpt_f32_to_f16(src, raw.assumingMemoryBound(to: UInt16.self), count)
            scales = nil
        case .int8:
            raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
            let q = raw.assumingMemoryBound(to: Int8.self)
            let s = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
            for r in 0..<rows {
                let row = src + r * columns
                var m: Float = 0
                for c in 0..<columns { m = Swift.max(m, Swift.abs(row[c])) }
                let scale = m > 0 ? m / 127 : 1
                s[r] = scale
                for c in 0..<columns { q[r * columns + c] = Int8(Swift.max(-127, Swift.min(127, (row[c] / scale).rounded()))) }
            }
            scales = s
        }
    }

    deinit {
        raw.deallocate()
        scales?.deallocate()
    }

    /// Bytes the weights occupy (scales included): what one full product reads.
    public var byteCount: Int { rows * columns * (format == .f16 ? 2 : 1) + (format == .int8 ? rows * 4 : 0) }

    /// The weights as Float32 `[rows, columns]` (what the products compute with).
    public func dequantized() -> Tensor {
        let t = Tensor.empty([rows, columns])
        widen(rows: 0..<rows, into: t.storage.pointer)
        return t
    }

    /// Writes weight rows `range` as Float32, row-major, to `dst`.
    func widen(rows range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let n = range.count * columns
        switch format {
        case .f16:
            mgpt_f16_to_f32(raw.assumingMemoryBound(to: UInt16.self) + range.lowerBound * columns, dst, n)
        case .int8:
            let q = raw.assumingMemoryBound(to: Int8.self)
            for (i, r) in range.enumerated() {
                let s = scales![r], src = q + r * columns, d = dst + i * columns
                for c in 0..<columns { d[c] = s * Float(src[c]) }
            }
        }
    }

    /// Weight bytes the products have read since the last `resetTraffic()` (all compact matrices,
    /// all threads): what a benchmark divides by the tokens it made.
    public static var traffic: Int { trafficLock.lock(); defer { trafficLock.unlock() }; return trafficBytes }
    public static func resetTraffic() { trafficLock.lock(); trafficBytes = 0; trafficLock.unlock() }
    nonisolated(unsafe) private static var trafficBytes = 0
    private static let trafficLock = NSLock()

    /// `y[m, rows] (+)= x[m, columns] · Wᵀ`, row strides `ldx` and `ldy`.
    public func multiply(_ x: UnsafePointer<Float>, m: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        guard m > 0, rows > 0 else { return }
        Self.trafficLock.lock(); Self.trafficBytes += byteCount; Self.trafficLock.unlock()
        if m > Self.kernelRowLimit {
            // Blocks of 256 weight rows widened into a scratch buffer, then one GEMM each.
            let block = 256
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: block * columns)
            defer { scratch.deallocate() }
            var r0 = 0
            while r0 < rows {
                let r1 = Swift.min(rows, r0 + block)
                widen(rows: r0..<r1, into: scratch)
                sgemm(transA: false, transB: true, m: m, n: r1 - r0, k: columns, a: x, lda: ldx, b: scratch, ldb: columns,
                      beta: accumulate ? 1 : 0, c: y + r0, ldc: ldy)
                r0 = r1
            }
            return
        }
        // Output rows in groups of 4 (the kernel's block), split over the engine's threads.
        let groups = (rows + 3) / 4
        let cols = columns
        parallelChunks(groups, costPerItem: 4 * cols * m) { range in
            let lo = range.lowerBound * 4, hi = Swift.min(rows, range.upperBound * 4)
            switch format {
            case .f16:
                mgpt_gemm_f16(raw.assumingMemoryBound(to: UInt16.self) + lo * cols, hi - lo, cols, x, m, ldx, y + lo, ldy, accumulate ? 1 : 0)
            case .int8:
                mgpt_gemm_i8(raw.assumingMemoryBound(to: Int8.self) + lo * cols, scales! + lo, hi - lo, cols, x, m, ldx, y + lo, ldy,
                             accumulate ? 1 : 0)
            }
        }
    }

    /// Row `r` as Float32 into `dst` (an embedding lookup from a compact table).
    public func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) out of range for \(rows) rows")
        widen(rows: r..<(r + 1), into: dst)
    }

    /// Whether the AVX2 + FMA + F16C kernels run on this CPU (else portable C loops).
    public static var vectorized: Bool { mgpt_kernels_vectorized() != 0 }

    /// Tests: run the portable C loops instead of the vector kernels (false: back to the CPU's best).
    static func forcePortableKernels(_ on: Bool) { mgpt_kernels_force_portable(on ? 1 : 0) }
}

extension Tensor {
    /// `self [..., columns] · Wᵀ + bias` with a compact weight: inference only (nothing is recorded
    /// for autodiff; callers use the Float32 weight when a gradient is needed).
    public func linear(compact w: CompactMatrix, bias: Tensor? = nil) -> Tensor {
        precondition(shape.last == w.columns, "linear: input \(shape) does not fit compact weight [\(w.rows), \(w.columns)]")
        let m = count / Swift.max(w.columns, 1)
        let out = Tensor.empty(Array(shape.dropLast()) + [w.rows])
        let pc = out.storage.pointer
        if let bias {
            precondition(bias.shape == [w.rows], "linear: bias \(bias.shape) for \(w.rows) outputs")
            for r in 0..<m { (pc + r * w.rows).update(from: bias.storage.pointer, count: w.rows) }
        }
        w.multiply(storage.pointer, m: m, ldx: w.columns, into: pc, ldy: w.rows, accumulate: bias != nil)
        return out
    }

    /// Rows of a compact table for `ids`, shaped `idsShape + [columns]` (no autodiff).
    public static func embedding(_ table: CompactMatrix, ids: [Int], shape idsShape: [Int]) -> Tensor {
        precondition(ids.count == idsShape.reduce(1, *), "\(ids.count) ids for shape \(idsShape)")
        let out = Tensor.empty(idsShape + [table.columns])
        for (i, id) in ids.enumerated() { table.row(id, into: out.storage.pointer + i * table.columns) }
        return out
    }
}
