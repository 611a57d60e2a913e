import Foundation

/// Worker count for the engine's own loops (BLAS runs its own threads).
public let engineThreads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

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
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * per, hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}
