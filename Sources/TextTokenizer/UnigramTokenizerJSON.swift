import Foundation

extension SentencePieceTokenizer {
    /// A T5 tokenizer from a Hugging Face `tokenizer.json` whose model is `Unigram` (what transformers 5's
    /// `save_pretrained` writes for T5, with no `spiece.model` beside it). The pieces, scores, unknown id,
    /// byte fallback and the normalizer's precompiled charsmap come from the file; the trailing
    /// `<extra_id_N>` pieces that transformers' converter appended become the tokenizer's `extraIDs`
    /// again (so they get the same ids and scores); special added tokens in the vocabulary are control
    /// pieces, as in the `spiece.model` they were converted from. `padToken`/`eosToken` are
    /// `tokenizer_config.json`'s.
    public static func load(tokenizerJSON url: URL, padToken: String = "<pad>", eosToken: String = "</s>") throws -> SentencePieceTokenizer {
        func bad(_ reason: String) -> TokenizerError { .invalidModel("\(url.path): \(reason)") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not a JSON object") }
        guard let model = root["model"] as? [String: Any], (model["type"] as? String) == "Unigram" else {
            throw bad("model.type is \((root["model"] as? [String: Any])?["type"] ?? "missing"), not Unigram")
        }
        guard let vocab = model["vocab"] as? [[Any]], !vocab.isEmpty else { throw bad("model.vocab is not a list of [piece, score]") }
        var entries: [(String, Float)] = []
        entries.reserveCapacity(vocab.count)
        for (i, e) in vocab.enumerated() {
            guard e.count == 2, let piece = e[0] as? String, let score = (e[1] as? NSNumber)?.floatValue else {
                throw bad("model.vocab[\(i)] is not [piece, score]")
            }
            entries.append((piece, score))
        }
        guard let unk = model["unk_id"] as? Int, unk >= 0, unk < entries.count else { throw bad("model.unk_id is missing or out of range") }
        // Sentinels at the end in the converter's order (<extra_id_K-1> ... <extra_id_0>) go back to extraIDs.
        var extra = 0
        while extra < entries.count, entries[entries.count - 1 - extra].0 == "<extra_id_\(extra)>" { extra += 1 }
        let pieceCount = entries.count - extra
        let specials = Set((root["added_tokens"] as? [[String: Any]] ?? []).filter { $0["special"] as? Bool ?? false }
            .compactMap { $0["content"] as? String })
        var pieces: [SentencePieceModel.Piece] = []
        for (i, (p, score)) in entries.prefix(pieceCount).enumerated() {
            let type: SentencePieceModel.PieceType = i == unk ? .unknown : (specials.contains(p) ? .control : .normal)
            pieces.append(.init(piece: p, score: score, type: type))
        }
        var trainer = SentencePieceModel.TrainerSpec()
        trainer.modelType = 1
        trainer.vocabSize = pieceCount
        trainer.byteFallback = model["byte_fallback"] as? Bool ?? false
        trainer.unkID = unk
        trainer.unkPiece = entries[unk].0
        let ids = Dictionary(entries.prefix(pieceCount).enumerated().map { ($0.element.0, $0.offset) }, uniquingKeysWith: { a, _ in a })
        trainer.padID = ids[padToken] ?? -1
        trainer.eosID = ids[eosToken] ?? -1
        trainer.bosID = -1
        var normalizer = SentencePieceModel.NormalizerSpec()
        normalizer.name = "tokenizer.json"
        normalizer.precompiledCharsmap = try charsmap(root["normalizer"], bad: bad)
        if let pre = root["pre_tokenizer"] as? [String: Any] {
            // Metaspace's prepend_scheme "never" is add_dummy_prefix off; "always"/"first" keep it on.
            let metas = ((pre["pretokenizers"] as? [[String: Any]]) ?? [pre]).filter { ($0["type"] as? String) == "Metaspace" }
            if let m = metas.first {
                if let scheme = m["prepend_scheme"] as? String { normalizer.addDummyPrefix = scheme != "never" }
                else if let add = m["add_prefix_space"] as? Bool { normalizer.addDummyPrefix = add }
            }
        }
        let spm = SentencePieceModel(pieces: pieces, trainerSpec: trainer, normalizerSpec: normalizer)
        return try SentencePieceTokenizer(model: spm, extraIDs: extra)
    }

    /// The precompiled charsmap of a `Precompiled` normalizer (alone or inside a `Sequence`); none when
    /// the file has no normalizer.
    private static func charsmap(_ normalizer: Any?, bad: (String) -> TokenizerError) throws -> [UInt8] {
        guard let n = normalizer as? [String: Any] else { return [] }
        let list = (n["normalizers"] as? [[String: Any]]) ?? [n]
        for item in list where (item["type"] as? String) == "Precompiled" {
            guard let b64 = item["precompiled_charsmap"] as? String, let blob = Data(base64Encoded: b64) else {
                throw bad("normalizer.precompiled_charsmap is not base64")
            }
            return [UInt8](blob)
        }
        return []
    }
}
