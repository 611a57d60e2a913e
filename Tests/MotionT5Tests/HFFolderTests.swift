import Foundation
import XCTest
import Generation
import ModelHub
import MotionT5
import TextTokenizer

/// Hugging Face T5 folders in the shapes transformers writes (`Tools/fixtures/make_hf_folder_fixtures.py`):
/// each loads through the model-folder layer and tokenizes, generates and decodes as transformers does.
final class HFFolderTests: XCTestCase {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("hf-folders")

    struct Case: Decodable { let prompt: String; let ids: [Int]; let generated: [Int]; let text: String; let default_generated: [Int]? }
    struct Expected: Decodable { let vocabulary: Int; let cases: [Case] }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = Self.root.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let pipeline = try T5TextPipeline(directory: dir)
        XCTAssertEqual(pipeline.tokenizer.vocabularySize, expected.vocabulary, "\(name): len(tokenizer)", file: file, line: line)
        // generate(max_new_tokens=8, do_sample=False, num_beams=1): the arguments override the folder's
        // generation_config.json, which still supplies the rest (extra0's repetition penalty).
        var options = pipeline.defaultOptions
        options.maxNewTokens = 8
        options.numBeams = 1
        options.doSample = false
        for c in expected.cases {
            let ids = pipeline.tokenizer.encode(c.prompt)
            XCTAssertEqual(ids, c.ids, "\(name): ids of \(c.prompt)", file: file, line: line)
            let out = try Generator(model: pipeline.model).generate([ids], options: options)[0]
            XCTAssertEqual(out, c.generated, "\(name): generation for \(c.prompt)", file: file, line: line)
            XCTAssertEqual(pipeline.tokenizer.decode(out, skipSpecialTokens: true), c.text, "\(name): decoded", file: file, line: line)
            if let d = c.default_generated {
                XCTAssertEqual(try Generator(model: pipeline.model).generate([ids], options: pipeline.defaultOptions)[0], d,
                               "\(name): generate() with generation_config.json's defaults", file: file, line: line)
            }
        }
    }

    /// `extra_ids: 0`: no sentinels, so a 1000-piece tokenizer fits a 1000-token model (this used to fail
    /// with "the tokenizer has 1100 tokens but the model only 1000"), and "<extra_id_0>" is plain text.
    func testExtraIdsZeroFolder() throws {
        try check("extra0")
        let p = try T5TextPipeline(directory: Self.root.appendingPathComponent("extra0"))
        XCTAssertEqual([p.defaultOptions.numBeams, p.defaultOptions.maxNewTokens], [2, 6])
        XCTAssertEqual(p.defaultOptions.repetitionPenalty, 1.3)
        XCTAssertEqual(try T5TextPipeline(directory: Self.root.appendingPathComponent("bin")).defaultOptions.maxNewTokens, 19,
                       "no generation_config.json: transformers' max_length 20")
    }

    /// Only `tokenizer.json` (transformers 5's `save_pretrained` of a T5 tokenizer): the Unigram model,
    /// charsmap and sentinels are read from it.
    func testTokenizerJSONOnlyFolder() throws { try check("tokjson") }

    /// Only `pytorch_model.bin` (with the tied embedding copies torch.save keeps), read with the torch reader.
    func testPytorchBinOnlyFolder() throws { try check("bin") }

    /// `pytorch_model.bin.index.json` with two `.bin` shards.
    func testShardedPytorchBinFolder() throws { try check("bin-sharded") }

    func testTokenizerJSONEqualsSpieceModel() throws {
        let json = try SentencePieceTokenizer.load(tokenizerJSON: Self.root.appendingPathComponent("tokjson/tokenizer.json"))
        let spm = try SentencePieceTokenizer(modelURL: Self.root.appendingPathComponent("bin/spiece.model"))
        XCTAssertEqual(json.vocabularySize, spm.vocabularySize)
        XCTAssertEqual(json.extraIDs, 100)
        for text in ["a person walks forward", "Ünïcödé ﬁ ① text", "  many   spaces ", "<extra_id_5> and </s>", "日本語"] {
            XCTAssertEqual(json.encode(text), spm.encode(text), text)
        }
    }
}
