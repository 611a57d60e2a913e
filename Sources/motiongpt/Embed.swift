import ArgumentParser
import Foundation
import ModelHub
import TensorEngine
import TextEncoder

/// `motiongpt embed`: sentence vectors of texts from a BERT / sentence-transformers folder.
struct Embed: ParsableCommand {
    static let environmentVariable = "MOTIONGPT_TEXT_ENCODER"

    static let configuration = CommandConfiguration(
        abstract: "Print the sentence vector of each text (a BERT / sentence-transformers model folder).",
        discussion: """
        One line per text: the sentence vector (normalised when the folder's modules.json says so, as
        sentence-transformers' encode does) as space-separated decimals. With no TEXT, one text per line
        of standard input. The model is --model DIR, else $MOTIONGPT_TEXT_ENCODER, else the bundled
        Models/text-encoder (all-MiniLM-L6-v2); $MOTIONGPT_MODEL is not used (it names a MotionGPT model).
        A text longer than the folder's max_seq_length is cut as sentence-transformers cuts it, with a
        note on standard error. --tokens adds, after each vector line, one line per token (the piece, a
        tab, its features) and a blank line; --json prints one JSON array instead.

        Example: motiongpt embed "a person walks forward" "a man strolls ahead" --json
        """)

    @Argument(help: "Texts to embed (default: the lines of standard input).") var texts: [String] = []
    @Option(name: .long, help: ArgumentHelp("Model folder (default: $MOTIONGPT_TEXT_ENCODER, else the bundled Models/text-encoder).", valueName: "dir"))
    var model: String?
    @Flag(name: .long, help: "Also print the per-token features.") var tokens = false
    @Flag(name: .long, help: "Print JSON: [{text, vector, truncated[, tokens]}].") var json = false

    func run() throws {
        var inputs = texts
        if inputs.isEmpty {
            while let line = readLine(strippingNewline: true) { inputs.append(line) }
            guard !inputs.isEmpty else { throw UserError("no text to embed: pass TEXT arguments or lines on standard input") }
        }
        let dir: URL
        do {
            dir = try ModelLocator.resolve(model ?? ProcessInfo.processInfo.environment[Self.environmentVariable],
                                           bundled: "text-encoder", environment: [:])
        } catch let e as ModelHubError {
            throw UserError("\(e.description); pass --model DIR or set \(Self.environmentVariable)")
        }
        let encoder = try SentenceEncoder.load(directory: dir)
        let results = try encoder.embed(inputs)
        for (i, r) in results.enumerated() where r.truncated {
            let full = encoder.tokenizer.encode(inputs[i]).count
            FileHandle.standardError.write(Data("embed: text \(i + 1) has \(full) tokens; cut to \(encoder.pipeline.maxSeqLength) (max_seq_length of \(dir.path))\n".utf8))
        }
        if json {
            print(try Self.json(inputs, results, encoder: encoder, tokens: tokens))
            return
        }
        var out = ""
        for r in results {
            out += r.vector.map { "\($0)" }.joined(separator: " ") + "\n"
            guard tokens else { continue }
            let h = r.tokenFeatures.shape[1], f = r.tokenFeatures.scalars
            for (t, id) in r.tokenIDs.enumerated() {
                out += (encoder.tokenizer.piece(for: id) ?? "?") + "\t" + f[(t * h)..<((t + 1) * h)].map { "\($0)" }.joined(separator: " ") + "\n"
            }
            out += "\n"
        }
        print(out, terminator: "")
    }

    struct TokenJSON: Encodable { let token: String; let id: Int; let features: [Float] }
    struct TextJSON: Encodable { let text: String; let vector: [Float]; let truncated: Bool; let tokens: [TokenJSON]? }

    static func json(_ texts: [String], _ results: [TextEmbedding], encoder: SentenceEncoder, tokens: Bool) throws -> String {
        let items = zip(texts, results).map { text, r -> TextJSON in
            var toks: [TokenJSON]?
            if tokens {
                let h = r.tokenFeatures.shape[1], f = r.tokenFeatures.scalars
                toks = r.tokenIDs.enumerated().map { t, id in
                    TokenJSON(token: encoder.tokenizer.piece(for: id) ?? "?", id: id, features: Array(f[(t * h)..<((t + 1) * h)]))
                }
            }
            return TextJSON(text: text, vector: r.vector, truncated: r.truncated, tokens: toks)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(items), as: UTF8.self)
    }
}
