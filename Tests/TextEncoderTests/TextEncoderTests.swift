import Foundation
import XCTest
import ModelHub
import NeuralNetwork
import TensorEngine
import TextTokenizer
@testable import TextEncoder

/// The bundled all-MiniLM-L6-v2 (`Models/text-encoder`, F16) against sentence-transformers' `encode`
/// of the F32 model (fixtures of `Tools/fixtures/make_bert_fixtures.py`), and the pieces of the BERT family.
final class TextEncoderTests: XCTestCase {
    static let fixtures: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bundled = packageRoot.appendingPathComponent("Models/text-encoder")

    struct Sentences: Decodable { let texts: [String]; let feature_texts: Int }
    static let sentences: Sentences = try! JSONDecoder().decode(Sentences.self, from: Data(contentsOf: fixtures.appendingPathComponent("minilm_sentences.json")))
    static let reference = try! SafeTensorsFile(url: fixtures.appendingPathComponent("minilm_reference.safetensors"))

    // Loaded once: the tests share one encoder (reads only).
    nonisolated(unsafe) static var cached: SentenceEncoder?
    static func bundledEncoder() throws -> SentenceEncoder {
        if let cached { return cached }
        let e = try SentenceEncoder.load(directory: bundled)
        cached = e
        return e
    }

    /// Worst absolute error and lowest cosine of `encoder`'s vectors and token features against the fixture.
    func compare(_ encoder: SentenceEncoder) throws -> (vectorError: Float, vectorCosine: Float, featureError: Float, featureCosine: Float) {
        let texts = Self.sentences.texts
        XCTAssertGreaterThanOrEqual(texts.count, 100)
        let expected = try Self.reference.tensor("vectors")                    // [N, 384]
        XCTAssertEqual(expected.shape, [texts.count, 384])
        let got = try encoder.embed(texts)
        var vErr: Float = 0, vCos: Float = 1, fErr: Float = 0, fCos: Float = 1
        let e = expected.scalars
        for (i, g) in got.enumerated() {
            let ref = Array(e[(i * 384)..<((i + 1) * 384)])
            vErr = max(vErr, zip(g.vector, ref).map { abs($0 - $1) }.max()!)
            vCos = min(vCos, cosineSimilarity(g.vector, ref))
        }
        for i in 0..<Self.sentences.feature_texts {
            let ref = try Self.reference.tensor("features.\(i)")               // [T, 384]
            XCTAssertEqual(got[i].tokenFeatures.shape, ref.shape, "text \(i)")
            guard got[i].tokenFeatures.shape == ref.shape else { continue }
            fErr = max(fErr, got[i].tokenFeatures.maxAbsDifference(ref))
            let (a, b) = (got[i].tokenFeatures.scalars, ref.scalars)
            for t in 0..<ref.shape[0] {
                fCos = min(fCos, cosineSimilarity(Array(a[(t * 384)..<((t + 1) * 384)]), Array(b[(t * 384)..<((t + 1) * 384)])))
            }
        }
        return (vErr, vCos, fErr, fCos)
    }

    func testBundledF16FolderMatchesSentenceTransformers() throws {
        let r = try compare(try Self.bundledEncoder())
        print("bundled F16 vs sentence-transformers F32 on \(Self.sentences.texts.count) texts: vectors worst abs error \(r.vectorError), lowest cosine \(r.vectorCosine); token features worst abs error \(r.featureError), lowest cosine \(r.featureCosine)")
        XCTAssertGreaterThan(r.vectorCosine, 0.9999)
        XCTAssertGreaterThan(r.featureCosine, 0.9999)
        XCTAssertLessThan(r.vectorError, 2e-3)
    }

    /// The F32 weights themselves (not committed): `MOTIONGPT_BERT_F32_DIR` names the wheel's folder
    /// (`Tools/fixtures/make_bert_fixtures.py --print-source`). Skipped without it.
    func testF32FolderMatchesSentenceTransformersWithin1e4() throws {
        guard let dir = ProcessInfo.processInfo.environment["MOTIONGPT_BERT_F32_DIR"], !dir.isEmpty else {
            throw XCTSkip("MOTIONGPT_BERT_F32_DIR is not set")
        }
        let r = try compare(try SentenceEncoder.load(directory: URL(fileURLWithPath: dir)))
        print("F32 vs sentence-transformers F32: vectors worst abs error \(r.vectorError), lowest cosine \(r.vectorCosine); token features worst abs error \(r.featureError), lowest cosine \(r.featureCosine)")
        XCTAssertLessThan(r.vectorError, 1e-4)
        XCTAssertLessThan(r.featureError, 1e-4)
    }

    func testPipelineFromFolderFiles() throws {
        let e = try Self.bundledEncoder()
        XCTAssertEqual(e.pipeline.maxSeqLength, 256)
        XCTAssertTrue(e.pipeline.normalize)
        XCTAssertTrue(e.pipeline.pooling.poolingModeMeanTokens)
        XCTAssertEqual(e.dimension, 384)
        let long = String(repeating: "a person walks forward ", count: 100)
        let (ids, cut) = e.tokenize(long)
        XCTAssertTrue(cut)
        XCTAssertEqual(ids.count, 256)
        XCTAssertEqual(ids.last, e.tokenizer.sepID)
        XCTAssertFalse(e.tokenize("a person walks").truncated)
        let v = try e.embed(["a person walks"])[0].vector
        XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        XCTAssertThrowsError(try e.embed([]))
    }

    /// Each motion caption is nearer its paraphrase than every other caption's paraphrase.
    func testParaphrasesAreNearest() throws {
        let pairs: [(String, String)] = [
            ("a person walks forward", "a man strolls ahead"),
            ("someone jumps up and down", "a person hops in place repeatedly"),
            ("a person waves with the right hand", "a man greets someone by raising his right hand"),
            ("a person sits down on a chair", "someone takes a seat"),
            ("the person runs in a circle", "a man jogs around in a loop"),
            ("a person kicks with the left leg", "someone does a kick using the left foot"),
            ("a person throws a ball", "someone tosses a ball overhand"),
            ("a person climbs up the stairs", "someone goes up a staircase"),
            ("a person dances happily", "someone is dancing cheerfully"),
            ("a person crouches low to the ground", "someone squats low"),
            ("a person turns around to the left", "someone spins to face the other way"),
            ("a person picks something up from the floor", "someone bends down to lift an item"),
            ("a person does push-ups", "someone performs press-ups"),
            ("a person swims breaststroke", "someone makes swimming motions with the arms"),
            ("a person stretches the arms above the head", "someone reaches both arms up high"),
            ("a person boxes, punching the air", "someone throws punches like a boxer"),
            ("a person walks backwards slowly", "someone moves in reverse at a slow pace"),
            ("a person lies down on the ground", "someone is lying flat on their back"),
            ("a person claps the hands", "someone applauds"),
            ("a person drinks from a cup", "someone sips a beverage from a mug"),
        ]
        let e = try Self.bundledEncoder()
        let a = try e.embed(pairs.map(\.0)).map(\.vector)
        let b = try e.embed(pairs.map(\.1)).map(\.vector)
        var misses: [String] = []
        var worstMargin: Float = .infinity
        for i in pairs.indices {
            let own = cosineSimilarity(a[i], b[i])
            let (j, other) = pairs.indices.filter { $0 != i }.map { ($0, cosineSimilarity(a[i], b[$0])) }.max { $0.1 < $1.1 }!
            worstMargin = min(worstMargin, own - other)
            if own <= other { misses.append("\"\(pairs[i].0)\": own \(own), nearer \"\(pairs[j].1)\" \(other)") }
        }
        print("paraphrase test: \(pairs.count - misses.count)/\(pairs.count) captions nearest their paraphrase, smallest margin \(worstMargin)")
        XCTAssertEqual(misses, [])
    }

    func testSanitizeTakesTaskCheckpointsAndDropsBuffers() {
        let t = Tensor.zeros([1])
        let state = ["bert.embeddings.word_embeddings.weight": t, "bert.embeddings.position_ids": t, "bert.pooler.dense.weight": t,
                     "cls.predictions.bias": t, "bert.encoder.layer.0.output.dense.bias": t]
        XCTAssertEqual(Set(BertFamily.sanitize(state).keys), ["embeddings.word_embeddings.weight", "encoder.layer.0.output.dense.bias"])
        XCTAssertEqual(Set(BertFamily.sanitize(["embeddings.position_ids": t, "embeddings.LayerNorm.weight": t]).keys), ["embeddings.LayerNorm.weight"])
    }

    func testModuleKeysAreTransformersKeys() throws {
        var c = BertConfig()
        c.vocabSize = 10; c.hiddenSize = 8; c.numHiddenLayers = 1; c.numAttentionHeads = 2; c.intermediateSize = 16; c.maxPositionEmbeddings = 8
        let keys = Set(try BertModel(config: c).namedTensors().map(\.0))
        XCTAssertTrue(keys.isSuperset(of: ["embeddings.word_embeddings.weight", "embeddings.LayerNorm.bias", "embeddings.token_type_embeddings.weight",
                                           "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.output.LayerNorm.weight",
                                           "encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.output.dense.bias"]), "\(keys.sorted())")
        c.hiddenAct = "mystery"
        XCTAssertThrowsError(try BertModel(config: c)) { XCTAssertTrue("\($0)".contains("hidden_act \"mystery\"")) }
    }

    /// A copy of the bundled folder (weights linked) with one file replaced; errors name the file at fault.
    func testBrokenFoldersNameTheFile() throws {
        let fm = FileManager.default
        func folder(_ replace: [String: String], drop: [String] = []) throws -> URL {
            let dir = fm.temporaryDirectory.appendingPathComponent("bert-\(UUID())")
            try fm.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
            for name in ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "modules.json",
                         "sentence_bert_config.json", "1_Pooling/config.json"] where !drop.contains(name) {
                let target = dir.appendingPathComponent(name)
                if let text = replace[name] { try Data(text.utf8).write(to: target) }
                else { try fm.createSymbolicLink(at: target, withDestinationURL: Self.bundled.appendingPathComponent(name)) }
            }
            return dir
        }
        let modules = try folder(["modules.json": #"[{"type": "sentence_transformers.models.Transformer", "path": ""}, {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}]"#])
        defer { try? fm.removeItem(at: modules) }
        XCTAssertThrowsError(try SentenceEncoder.load(directory: modules)) {
            XCTAssertTrue("\($0)".contains("modules.json: module sentence_transformers.models.Dense is not supported"), "\($0)")
        }
        let noTokenizer = try folder([:], drop: ["tokenizer.json", "vocab.txt"])
        defer { try? fm.removeItem(at: noTokenizer) }
        XCTAssertThrowsError(try SentenceEncoder.load(directory: noTokenizer)) { XCTAssertTrue("\($0)".contains("vocab.txt"), "\($0)") }
        let layers = try String(contentsOf: Self.bundled.appendingPathComponent("config.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"num_hidden_layers\": 6", with: "\"num_hidden_layers\": 7")
        let deeper = try folder(["config.json": layers])
        defer { try? fm.removeItem(at: deeper) }
        XCTAssertThrowsError(try SentenceEncoder.load(directory: deeper)) {
            XCTAssertTrue("\($0)".contains("missing keys: encoder.layer.6."), "\($0)")
            XCTAssertEqual(ErrorKind.of($0), .modelFault)
        }
    }

    func testRegisteredAsBert() throws {
        XCTAssertTrue(ModelRegistry.shared.modelTypes.contains("bert"))
        XCTAssertEqual(try ModelFolder(Self.bundled).modelType, "bert")
        // The shared encoder came through ModelHub.load(_:as:expected:), i.e. the registry's bert family.
        XCTAssertEqual(try Self.bundledEncoder().dimension, 384)
    }
}
