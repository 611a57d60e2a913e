import Foundation
import Generation
import ModelHub
import MotionT5
import MotionVQ
import TensorEngine
import XCTest

/// `MotionGPTCheckpoint.convert` on a tiny checkpoint with the key layout of MotionGPT's released
/// `motiongpt_s3_h3d.tar` (Tools/fixtures/make_motiongpt_checkpoint.py), against transformers and PyTorch.
final class ConvertCheckpointTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/MotionGPTTests/Fixtures/motiongpt-tiny")
    static let sample = root.appendingPathComponent("Data/humanml3d-sample")

    /// The Flan-T5 folder: the fixture's config.json plus the test SentencePiece model.
    func tokenizerFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("flan-t5-tokenizer/config.json"), to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model"), to: dir.appendingPathComponent("spiece.model"))
        return dir
    }

    func convert() throws -> (URL, MotionGPTCheckpoint.Report) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mgpt-\(UUID().uuidString)")
        let report = try MotionGPTCheckpoint.convert(checkpoint: Self.fixtures.appendingPathComponent("motiongpt_tiny.tar"),
                                                     tokenizerFolder: try tokenizerFolder(), statistics: Self.sample, to: out, force: false)
        return (out, report)
    }

    func testConvertedModelMatchesTransformersAndPyTorch() throws {
        let (dir, report) = try convert()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(report.kind, "full")
        XCTAssertEqual(report.skipped, ["t2m_textencoder": 1])
        XCTAssertEqual(report.tokenizerConfig.codeNum, 16); XCTAssertEqual(report.tokenizerConfig.width, 16)
        XCTAssertEqual(report.tokenizerConfig.depth, 2); XCTAssertEqual(report.tokenizerConfig.downT, 2)
        let expected = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("expected.safetensors"))
        func ints(_ n: String) throws -> [Int] { try expected.tensor(n).scalars.map { Int($0) } }

        let model = try MotionGPTModel.load(directory: dir)
        XCTAssertEqual(model.firstMotionID, 1100)
        let prompt = "Generate text: <motion_id_16><motion_id_3><motion_id_5><motion_id_7><motion_id_17>"
        let ids = model.textTokenizer.encode(prompt)
        XCTAssertEqual(ids, try ints("prompt_ids"))
        let logits = Tensor.withNoGrad {
            model.lm.decode([try! ints("decoder_ids")], encoderOutput: model.lm.encode([ids]))
        }
        let ref = try expected.tensor("logits")
        XCTAssertLessThan(logits.reshaped(ref.shape).maxAbsDifference(ref), 1e-4)
        var options = GenerationOptions(); options.maxNewTokens = 8
        let greedy = try Generator(model: model.lm).generate([ids], options: options)[0]
        XCTAssertEqual(greedy, Array(try ints("greedy").dropFirst()))
        let decoded = try model.motionTokenizer.model.decode(try ints("codes"))
        let dref = try expected.tensor("decoded")
        XCTAssertLessThan(decoded.reshaped(dref.shape).maxAbsDifference(dref), 1e-4)
        // The folder is also a plain T5 folder with added tokens (what `motiongpt lm` reads).
        let plain = try T5TextPipeline(directory: dir)
        XCTAssertEqual(plain.tokenizer.encode(prompt), ids)
    }

    func testConversionErrorsNameTheProblem() throws {
        let ckpt = Self.fixtures.appendingPathComponent("motiongpt_tiny.tar")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mgpt-\(UUID().uuidString)")
        XCTAssertThrowsError(try MotionGPTCheckpoint.convert(checkpoint: ckpt, tokenizerFolder: nil, statistics: Self.sample, to: out, force: false)) {
            XCTAssertTrue("\($0)".contains("Flan-T5 folder"), "\($0)")
        }
        let noStats = FileManager.default.temporaryDirectory
        XCTAssertThrowsError(try MotionGPTCheckpoint.convert(checkpoint: ckpt, tokenizerFolder: try tokenizerFolder(), statistics: noStats.appendingPathComponent("none-\(UUID().uuidString)"), to: out, force: false))
        XCTAssertThrowsError(try MotionGPTCheckpoint.convert(checkpoint: Self.sample.appendingPathComponent("Mean.npy"), tokenizerFolder: nil, statistics: Self.sample, to: out, force: false))
        // An existing model is not overwritten without force.
        let (dir, _) = try convert()
        defer { try? FileManager.default.removeItem(at: dir) }
        // (The library says what exists; the CLI adds "use --force", see CLITests.)
        XCTAssertThrowsError(try MotionGPTCheckpoint.convert(checkpoint: ckpt, tokenizerFolder: try tokenizerFolder(), statistics: Self.sample, to: dir, force: false)) {
            XCTAssertTrue("\($0)".hasSuffix("already exists"), "\($0)")
            XCTAssertEqual(ErrorKind.of($0), .badInput)
        }
    }
}
