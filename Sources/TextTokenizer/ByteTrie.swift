/// A byte-wise prefix tree from UTF-8 strings to ids, used for the vocabulary lattice and for added-token
/// matching. Children are kept in small sorted arrays: vocabularies are sparse past the first two bytes.
struct ByteTrie {
    private var labels: [[UInt8]] = [[]]
    private var children: [[Int32]] = [[]]
    private var values: [Int32] = [-1]

    var isEmpty: Bool { values.count == 1 && values[0] < 0 }

    /// Inserts `key`; an existing key keeps its first id (as sentencepiece's InsertIfNotPresent).
    mutating func insert<S: Sequence>(_ key: S, id: Int) where S.Element == UInt8 {
        var node = 0
        for b in key {
            let ls = labels[node]
            var lo = 0, hi = ls.count
            while lo < hi { let mid = (lo + hi) / 2; if ls[mid] < b { lo = mid + 1 } else { hi = mid } }
            if lo < ls.count && ls[lo] == b {
                node = Int(children[node][lo])
            } else {
                let child = values.count
                labels.append([]); children.append([]); values.append(-1)
                labels[node].insert(b, at: lo)
                children[node].insert(Int32(child), at: lo)
                node = child
            }
        }
        if values[node] < 0 { values[node] = Int32(id) }
    }

    @inline(__always) private func child(_ node: Int, _ b: UInt8) -> Int? {
        let ls = labels[node]
        var lo = 0, hi = ls.count
        while lo < hi { let mid = (lo + hi) / 2; if ls[mid] < b { lo = mid + 1 } else { hi = mid } }
        return lo < ls.count && ls[lo] == b ? Int(children[node][lo]) : nil
    }

    /// Calls `body(length, id)` for every key that is a prefix of `bytes[start..<end]`, shortest first.
    func forEachPrefix(_ bytes: [UInt8], from start: Int, to end: Int, _ body: (Int, Int) -> Void) {
        var node = 0
        var i = start
        while i < end, let next = child(node, bytes[i]) {
            node = next
            i += 1
            if values[node] >= 0 { body(i - start, Int(values[node])) }
        }
    }

    /// The longest key that is a prefix of `bytes[start..<end]`, as (length, id).
    func longestPrefix(_ bytes: [UInt8], from start: Int, to end: Int) -> (length: Int, id: Int)? {
        var best: (Int, Int)?
        forEachPrefix(bytes, from: start, to: end) { best = ($0, $1) }
        return best
    }

    func lookup<S: Sequence>(_ key: S) -> Int? where S.Element == UInt8 {
        var node = 0
        for b in key {
            guard let next = child(node, b) else { return nil }
            node = next
        }
        return values[node] >= 0 ? Int(values[node]) : nil
    }
}
