import Foundation
import Generation
import ModelHub
import MotionData
import MotionT5
import MotionVQ
import NeuralNetwork
import TensorEngine
import XCTest

/// The model-folder layer: one call loads every kind of folder there is, `model_type` picks the
/// family, errors name the file, families from above register the same way, F16 folders load.
final class ModelFolderTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = root.appendingPathComponent("Tests/MotionGPTTests/Fixtures/motiongpt-tiny")
    static let sample = root.appendingPathComponent("Data/humanml3d-sample")

    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    /// MotionGPT's tiny released-layout checkpoint, converted (the conversion uses the families' key lists).
    func converted() throws -> URL {
        let flan = temp.appendingPathComponent("flan")
        try FileManager.default.createDirectory(at: flan, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.tiny.appendingPathComponent("flan-t5-tokenizer/config.json"), to: flan.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("Tests/TextTokenizerTests/Fixtures/t5like.model"), to: flan.appendingPathComponent("spiece.model"))
        let out = temp.appendingPathComponent("converted")
        _ = try MotionGPTCheckpoint.convert(checkpoint: Self.tiny.appendingPathComponent("motiongpt_tiny.tar"), tokenizerFolder: flan,
                                            statistics: Self.sample, to: out, force: false)
        return out
    }

    func testOneCallLoadsEveryKindOfModelFolder() throws {
        let conv = try converted()
        let model = try MotionGPTModel.load(directory: conv)
        // A MotionGPT folder written by our own save (what training writes), F16 this time.
        let saved = temp.appendingPathComponent("saved")
        try model.save(directory: saved, dtype: .float16)
        // A plain Hugging Face T5 folder: config.json (model_type t5), weights, spiece.model, added tokens.
        let t5 = temp.appendingPathComponent("t5")
        try model.lm.save(directory: t5)
        for f in ["spiece.model", "added_tokens.json"] { try FileManager.default.copyItem(at: conv.appendingPathComponent(f), to: t5.appendingPathComponent(f)) }
        // A stand-alone tokenizer folder (config.json, model.safetensors, mean.npy, std.npy).
        let vq = temp.appendingPathComponent("vq")
        try model.motionTokenizer.save(directory: vq)

        let cases: [(URL, String)] = [(conv, "motiongpt"), (saved, "motiongpt"), (t5, "t5"), (vq, "motion_vqvae")]
        for (dir, type) in cases {
            let loaded = try ModelHub.load(dir)
            XCTAssertEqual(loaded.family.modelType, type, dir.lastPathComponent)
            switch type {
            case "motiongpt": XCTAssertTrue(loaded.model is MotionGPTModel, dir.lastPathComponent)
            case "t5":
                let text = try loaded.as(T5TextModel.self, expected: "t5")
                XCTAssertEqual(text.tokenizer.vocabularySize, model.textTokenizer.vocabularySize)
                XCTAssertEqual(text.model.namedTensors().map(\.0), model.lm.namedTensors().map(\.0))
            default:
                let tok = try loaded.as(MotionTokenizer.self, expected: "motion_vqvae")
                XCTAssertEqual(try tok.encode(features: try readNpy(Self.sample.appendingPathComponent("new_joint_vecs_012314.npy"))),
                               try model.motionTokenizer.encode(features: try readNpy(Self.sample.appendingPathComponent("new_joint_vecs_012314.npy"))))
            }
        }
        // The F16 folder is half the size and answers within half precision of the F32 one.
        let f32Size = try FileManager.default.attributesOfItem(atPath: conv.appendingPathComponent("model.safetensors").path)[.size] as! Int
        let f16Size = try FileManager.default.attributesOfItem(atPath: saved.appendingPathComponent("model.safetensors").path)[.size] as! Int
        XCTAssertLessThan(Double(f16Size), 0.55 * Double(f32Size))
        let half = try ModelHub.load(saved, as: MotionGPTModel.self, expected: "motiongpt")
        let ids = model.textTokenizer.encode("Generate text: <motion_id_16><motion_id_3><motion_id_17>")
        let (a, b) = Tensor.withNoGrad { (model.lm.decode([[0, 5]], encoderOutput: model.lm.encode([ids])),
                                          half.lm.decode([[0, 5]], encoderOutput: half.lm.encode([ids]))) }
        XCTAssertLessThan(a.maxAbsDifference(b), 0.05)
        XCTAssertGreaterThan(a.maxAbsDifference(b), 0, "F16 weights are rounded, so the logits cannot be bit-identical")
    }

    func testUnknownAndMissingModelTypesNameTheFile() throws {
        let dir = temp.appendingPathComponent("roberta")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type": "roberta", "hidden_size": 384}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { e in
            XCTAssertEqual(ErrorKind.of(e), .badInput)
            XCTAssertEqual("\(e)", "\(dir.path)/config.json: model_type \"roberta\" is not a known model family (known: bert, lmm, motion_vqvae, motiongpt, t5)")
        }
        try Data(#"{"d_model": 8}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertTrue("\($0)".hasPrefix("\(dir.path)/config.json: no model_type"), "\($0)") }
        try Data("[1, 2]".utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir)) { XCTAssertEqual("\($0)", "\(dir.path)/config.json: not a JSON object") }
        let none = temp.appendingPathComponent("none")
        XCTAssertThrowsError(try ModelHub.load(none)) { e in
            XCTAssertEqual(ErrorKind.of(e), .notFound)
            XCTAssertEqual("\(e)", "\(none.path): no such model folder (no config.json)")
        }
    }

    func testWrongFamilyAndBrokenWeightsAreClearErrors() throws {
        let conv = try converted()
        let vq = conv.appendingPathComponent("motion_tokenizer")
        XCTAssertThrowsError(try ModelHub.load(vq, as: MotionGPTModel.self, expected: "motiongpt")) {
            XCTAssertEqual("\($0)", "\(vq.path) holds a motion_vqvae model, not a motiongpt model")
        }
        // Weights that lack a tensor: the one loading path names the folder and the key.
        let file = try SafeTensorsFile(url: conv.appendingPathComponent("model.safetensors"))
        var state: [String: Tensor] = [:]
        for n in file.names where n != "lm_head.weight" { state[n] = try file.tensor(n) }
        try writeSafeTensors(state, to: conv.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try ModelHub.load(conv)) { e in
            XCTAssertEqual(ErrorKind.of(e), .modelFault)
            XCTAssertTrue("\(e)".hasPrefix(conv.path) && "\(e)".contains("lm_head.weight"), "\(e)")
        }
    }

    /// A family defined outside ModelHub (as the evaluator will be) registers and loads the same way.
    func testFamiliesFromAboveRegisterAndLoad() throws {
        final class Toy { let width: Int; init(width: Int) { self.width = width } }
        struct ToyConfig: Decodable { let width: Int }
        let registry = ModelRegistry(families: [T5Family.family])
        let dir = temp.appendingPathComponent("toy")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type": "toy", "width": 7}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir, registry: registry))
        registry.register(ModelFamily(modelType: "toy", summary: "a test family") { folder in
            Toy(width: try folder.decodeConfig(ToyConfig.self, what: "toy").width)
        })
        XCTAssertEqual(registry.modelTypes, ["t5", "toy"])
        XCTAssertEqual(try ModelHub.load(dir, as: Toy.self, expected: "toy", registry: registry).width, 7)
        try Data(#"{"model_type": "toy", "width": "wide"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelHub.load(dir, registry: registry)) { XCTAssertTrue("\($0)".contains("width"), "\($0)") }
    }

    func testDefaultModelLookupOrder() throws {
        // A fake package: Package.swift, Models/default/config.json, and a build folder holding the executable.
        let pkg = temp.appendingPathComponent("pkg")
        let exe = pkg.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/motiongpt")
        try FileManager.default.createDirectory(at: exe.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: pkg.appendingPathComponent("Models/default"), withIntermediateDirectories: true)
        try Data().write(to: pkg.appendingPathComponent("Package.swift"))
        try Data("{}".utf8).write(to: pkg.appendingPathComponent("Models/default/config.json"))
        try Data().write(to: exe)
        XCTAssertEqual(try ModelLocator.resolve("/given", environment: ["MOTIONGPT_MODEL": "/env"], executable: exe).path, "/given")
        XCTAssertEqual(try ModelLocator.resolve(nil, environment: ["MOTIONGPT_MODEL": "/env"], executable: exe).path, "/env")
        XCTAssertEqual(try ModelLocator.resolve(nil, environment: [:], executable: exe).standardizedFileURL.path,
                       pkg.appendingPathComponent("Models/default").standardizedFileURL.path)
        // Through a symbolic link to the executable (`.build/release` is one), too.
        let link = temp.appendingPathComponent("bin/motiongpt")
        try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: exe)
        XCTAssertEqual(try ModelLocator.resolve(nil, environment: [:], executable: link).standardizedFileURL.path,
                       pkg.appendingPathComponent("Models/default").resolvingSymlinksInPath().standardizedFileURL.path)
        XCTAssertThrowsError(try ModelLocator.resolve(nil, bundled: "lmm", environment: [:], executable: exe)) { e in
            XCTAssertEqual(ErrorKind.of(e), .notFound)
            XCTAssertTrue("\(e)".contains("Models/lmm"), "\(e)")
        }
    }
}
