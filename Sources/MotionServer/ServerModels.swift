import Evaluation
import Foundation
import ModelHub
import TextEncoder

/// One loaded model behind its container: the name clients use (the folder's name), where it came
/// from and its family.
public struct LoadedServerModel<Model>: Sendable {
    /// What requests' `model` field names: the folder's last path component.
    public let name: String
    /// The folder it was loaded from.
    public let path: String
    /// `config.json`'s `model_type`.
    public let modelType: String
    /// The family's one-line summary, for `/v1/models`.
    public let summary: String
    /// The model behind its actor; every use goes through `perform`.
    public let container: ModelContainer<Model>
}

/// The models a server answers with. MotionGPT answers the motion and text tasks, the sentence encoder
/// `/v1/embed`, the evaluator (when present) scores text-motion agreement, a Large Motion Model (when
/// present) edits body parts (`/v1/edit`, 501 without one).
public struct ServerModels: Sendable {
    /// A MotionGPT folder for serving: F16 weights in memory when the folder stores F16 (the same values,
    /// half the bytes a token reads; see `MotionGPTModel.storedCompactFormat`).
    static func loadMotionGPT(_ dir: URL) throws -> MotionGPTModel {
        let m = try MotionGPTModel.load(directory: dir)
        if let f = MotionGPTModel.storedCompactFormat(dir) { m.lm.useCompactWeights(f) }
        return m
    }

    /// Text to motion, captions, prediction, in-between, chat.
    public var motionGPT: LoadedServerModel<MotionGPTModel>?
    /// Sentence vectors for `/v1/embed`.
    public var textEncoder: LoadedServerModel<SentenceEncoder>?
    /// Text-motion agreement (`score` in `/v1/generate`).
    public var evaluator: LoadedServerModel<MotionTextEvaluator>?
    /// Part editing (`/v1/edit`).
    public var lmm: LoadedServerModel<LMMModel>?

    /// Models loaded elsewhere (tests, embedding the server in another program).
    public init(motionGPT: LoadedServerModel<MotionGPTModel>? = nil, textEncoder: LoadedServerModel<SentenceEncoder>? = nil,
                evaluator: LoadedServerModel<MotionTextEvaluator>? = nil, lmm: LoadedServerModel<LMMModel>? = nil) {
        self.motionGPT = motionGPT; self.textEncoder = textEncoder; self.evaluator = evaluator; self.lmm = lmm
    }

    /// Every loaded model, for `/v1/models`.
    public var listing: [(name: String, path: String, modelType: String, summary: String, role: String)] {
        var out: [(String, String, String, String, String)] = []
        if let m = motionGPT { out.append((m.name, m.path, m.modelType, m.summary, "motion and text tasks")) }
        if let m = textEncoder { out.append((m.name, m.path, m.modelType, m.summary, "sentence vectors (/v1/embed)")) }
        if let m = evaluator { out.append((m.name, m.path, m.modelType, m.summary, "text-motion agreement (score in /v1/generate)")) }
        if let m = lmm { out.append((m.name, m.path, m.modelType, m.summary, "part editing (/v1/edit)")) }
        return out.map { (name: $0.0, path: $0.1, modelType: $0.2, summary: $0.3, role: $0.4) }
    }

    /// Loads model folders; each folder's `config.json` `model_type` says which role it takes. With no
    /// folder of a role given, the bundled one (`Models/default`, `Models/text-encoder`,
    /// `Models/evaluator`, `Models/lmm`, found by `ModelLocator`) is loaded when present; `requireMotionGPT` makes a
    /// missing MotionGPT model an error (the server's default; tests load only what they need).
    public static func load(_ directories: [URL], bundled: Bool = true, requireMotionGPT: Bool = true,
                            executable: URL? = Bundle.main.executableURL) throws -> ServerModels {
        var models = ServerModels()
        for dir in directories { try models.add(dir) }
        if bundled {
            let roles: [(String, Bool)] = [("default", models.motionGPT == nil), ("text-encoder", models.textEncoder == nil),
                                           ("evaluator", models.evaluator == nil), ("lmm", models.lmm == nil)]
            for (name, missing) in roles where missing {
                if let dir = try? ModelLocator.resolve(nil, bundled: name, environment: [:], executable: executable) { try models.add(dir) }
            }
        }
        if requireMotionGPT && models.motionGPT == nil {
            throw ModelHubError.notFound("no MotionGPT model: pass --model DIR (a folder whose config.json has model_type \"motiongpt\")")
        }
        return models
    }

    /// Loads one folder into the role its family answers.
    public mutating func add(_ dir: URL) throws {
        let folder = try ModelFolder(dir)
        let name = dir.standardizedFileURL.lastPathComponent
        // The shared registry is left as it is (a test process shares it with other suites); the
        // evaluator's family lives in Evaluation, above ModelHub, so its summary is asked of it directly.
        let summary = folder.modelType == MotionTextEvaluator.modelType ? MotionTextEvaluator.family.summary
            : ModelRegistry.shared.family(folder.modelType)?.summary ?? folder.modelType
        switch folder.modelType {
        case MotionGPTFamily.modelType:
            motionGPT = LoadedServerModel(name: name, path: dir.path, modelType: folder.modelType, summary: summary,
                                          container: ModelContainer(try Self.loadMotionGPT(dir)))
        case BertFamily.modelType:
            textEncoder = LoadedServerModel(name: name, path: dir.path, modelType: folder.modelType, summary: summary,
                                            container: ModelContainer(try SentenceEncoder.load(directory: dir)))
        case MotionTextEvaluator.modelType:
            evaluator = LoadedServerModel(name: name, path: dir.path, modelType: folder.modelType, summary: summary,
                                          container: ModelContainer(try MotionTextEvaluator.load(directory: dir)))
        case LMMFamily.modelType:
            lmm = LoadedServerModel(name: name, path: dir.path, modelType: folder.modelType, summary: summary,
                                    container: ModelContainer(try LMMModel.load(folder)))
        default:
            throw ModelHubError.notFound("\(dir.path): model_type \"\(folder.modelType)\" is not served (serve motiongpt, bert, motion-text-evaluator or lmm folders)")
        }
    }
}
