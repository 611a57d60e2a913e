/// Viterbi segmentation over a unigram vocabulary, shared by the sentencepiece-exact and the
/// Hugging Face-exact paths. The two differ only in arithmetic and in which pieces take part, so those
/// are parameters rather than two copies of the lattice.
struct UnigramLattice {
    /// Which reference the lattice reproduces.
    enum Flavor {
        /// sentencepiece's EncodeOptimized: float32 path scores, UNUSED pieces skipped, user-defined pieces
        /// get a bonus so they always win.
        case sentencePiece
        /// tokenizers' Unigram: float64 path scores, every vocabulary entry is an ordinary piece.
        case huggingFace
    }

    let trie: ByteTrie
    let scores: [Float]
    let types: [SentencePieceModel.PieceType]
    let unkID: Int
    let unkScore: Double
    let maxScore: Float
    let flavor: Flavor

    /// Segments `s[range]` and returns (piece byte range, id) in order, the id being `unkID` for characters
    /// no piece covers. Unknown runs are not merged here.
    func segment(_ s: [UInt8], _ range: Range<Int>) -> [(Range<Int>, Int)] {
        let start = range.lowerBound, size = range.count
        if size == 0 { return [] }
        // best[k]: the best path over s[start ..< start+k]; `from` = -1 means not reached yet.
        var bestScore = [Double](repeating: 0, count: size + 1)
        var bestFrom = [Int](repeating: -1, count: size + 1)
        var bestID = [Int](repeating: -1, count: size + 1)
        let f32 = flavor == .sentencePiece

        @inline(__always) func offer(_ k: Int, _ candidate: Double, _ from: Int, _ id: Int) {
            if bestFrom[k] == -1 || candidate > bestScore[k] {
                // sentencepiece stores path scores as float; round exactly where it does.
                bestScore[k] = f32 ? Double(Float(candidate)) : candidate
                bestFrom[k] = from
                bestID[k] = id
            }
        }

        var pos = 0
        while pos < size {
            let here = bestScore[pos]
            let charLength = min(UTF8Util.oneCharLength(s[start + pos]), size - pos)
            var hasSingle = false
            trie.forEachPrefix(s, from: start + pos, to: range.upperBound) { length, id in
                let type = id < types.count ? types[id] : .normal
                if f32 && type == .unused { return }
                let candidate: Double
                if f32 {
                    if type == .userDefined {
                        // unigram_model.cc: length * max_score - 0.1, computed in double.
                        candidate = Double(Float(length) * maxScore) - 0.1 + here
                    } else {
                        candidate = Double(scores[id] + Float(here))
                    }
                } else {
                    candidate = Double(scores[id]) + here
                }
                offer(pos + length, candidate, pos, id)
                if length == charLength { hasSingle = true }
            }
            if !hasSingle {
                let candidate = f32 ? Double(Float(unkScore) + Float(here)) : unkScore + here
                offer(pos + charLength, candidate, pos, unkID)
            }
            pos += charLength
        }
        var out: [(Range<Int>, Int)] = []
        var k = size
        while k > 0 {
            let from = bestFrom[k]
            // Cannot happen for a consistent lattice; guards against an infinite loop on odd input.
            if from < 0 || from >= k { break }
            out.append(((start + from)..<(start + k), bestID[k]))
            k = from
        }
        out.reverse()
        return out
    }
}
