import CKernels
import Foundation

/// Worker count for the engine's own loops and its split GEMMs (OpenBLAS itself runs single-threaded:
/// see `blasOwnThreads`). `MOTIONGPT_THREADS` overrides the core count (at most 64).
public let engineThreads: Int = {
    if let s = ProcessInfo.processInfo.environment["MOTIONGPT_THREADS"], let n = Int(s), n >= 1 { return min(n, 64) }
    return max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
}()

/// The worker pool, started on first use. Its workers spin for 100 µs after a job before sleeping:
/// a training step or a decoded token is a chain of short parallel operations, and a worker that has
/// to be woken through the kernel for each costs more than the operation (libdispatch's wake-ups
/// took about a third of a decoded token's time).
private let poolStarted: Void = mgpt_pool_init(Int32(engineThreads), 100)

/// Runs `body(0 ..< parts)` on the engine's threads (the caller included); returns when all are done.
/// Nested calls (from inside a part) and calls from a second thread while the pool is busy run their
/// parts on the calling thread.
@inline(__always)
public func parallelParts(_ parts: Int, _ body: (Int) -> Void) {
    if parts <= 1 { if parts == 1 { body(0) }; return }
    _ = poolStarted
    withoutActuallyEscaping(body) { escapable in
        var task = escapable
        withUnsafeMutablePointer(to: &task) { ctx in
            mgpt_pool_run(parts, { raw, part in
                raw!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(part)
            }, ctx)
        }
    }
}

/// Runs `body` over `0..<count` in contiguous chunks, in parallel when the work is large enough to
/// pay for the dispatch (roughly `count * costPerItem` above ~64k element-operations).
@inline(__always)
func parallelChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let work = count * costPerItem
    if engineThreads == 1 || work < 1 << 16 || count < 2 {
        body(0..<count)
        return
    }
    let chunks = min(engineThreads, count)
    let per = (count + chunks - 1) / chunks
    parallelParts(chunks) { c in
        let lo = c * per, hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}
