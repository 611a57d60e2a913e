import Foundation
import Hummingbird
import HummingbirdTesting
@testable import MotionServer
import ModelHub
import MotionData
import MotionDiffusion
import NeuralNetwork
import TensorEngine
import XCTest

/// The bundled models, loaded once for the whole test process (loading is the slow part).
enum TestModels {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let all: ServerModels = {
        do {
            return try ServerModels.load(["default", "text-encoder", "evaluator"].map { root.appendingPathComponent("Models/\($0)") }, bundled: false)
        } catch { fatalError("cannot load the bundled models: \(error)") }
    }()
}

/// Short answers keep the suite quick: 8 motion tokens at most (32 frames).
let short = #""max_tokens": 8"#

func post(_ client: some TestClientProtocol, _ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> TestResponse {
    try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { $0 }
}

func object(_ r: TestResponse, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let data = Data(r.body.readableBytesView)
    guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        XCTFail("not a JSON object: \(String(decoding: data, as: UTF8.self).prefix(200))", file: file, line: line); return [:]
    }
    return o
}

/// Status and a JSON `{"error": ...}` body containing `fragment`.
func assertError(_ r: TestResponse, _ status: Int, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(r.status.code, status, String(decoding: r.body.readableBytesView, as: UTF8.self), file: file, line: line)
    XCTAssertEqual(r.headers[.contentType], "application/json; charset=utf-8", file: file, line: line)
    let o = try object(r, file: file, line: line)
    XCTAssertEqual(o.count, 1, "only the error key", file: file, line: line)
    let message = o["error"] as? String ?? ""
    XCTAssertTrue(message.contains(fragment), "\"\(message)\" should contain \"\(fragment)\"", file: file, line: line)
    XCTAssertFalse(message.contains("\n"), "one line", file: file, line: line)
}

/// Every route through Hummingbird's in-process client: the answers, and the refusals.
final class MotionServerTests: XCTestCase {

    func app(_ configure: (inout ServerConfiguration) -> Void = { _ in }) -> (MotionServer, some ApplicationProtocol) {
        var c = ServerConfiguration()
        configure(&c)
        let server = MotionServer(configuration: c, models: TestModels.all)
        return (server, Application(router: server.buildRouter()))
    }

    // MARK: plain routes

    func testHealthModelsMetricsAndPlayground() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let h = try object(try await client.execute(uri: "/health", method: .get) { $0 })
            XCTAssertEqual(h["status"] as? String, "ok")
            XCTAssertEqual(h["queue_depth"] as? Int, 0)
            let models = try object(try await client.execute(uri: "/v1/models", method: .get) { $0 })
            let list = models["models"] as? [[String: Any]] ?? []
            XCTAssertEqual(Set(list.compactMap { $0["model_type"] as? String }), ["motiongpt", "bert", "motion-text-evaluator"])
            XCTAssertEqual(models["part_editing"] as? Bool, false)
            let page = try await client.execute(uri: "/", method: .get) { $0 }
            XCTAssertEqual(page.status, .ok)
            let html = String(buffer: page.body)
            XCTAssertTrue(html.contains("function MotionViewer("), "the playground carries the HTML viewer's code")
            // No CDN: nothing is fetched from elsewhere (the icon is an empty data: URL, so no /favicon.ico 404).
            for forbidden in ["http://", "https://", "<script src", "<link rel=\"stylesheet\""] { XCTAssertFalse(html.contains(forbidden), forbidden) }
            _ = try await client.execute(uri: "/nowhere", method: .get) { $0 }
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get) { $0 }.body)
            XCTAssertTrue(metrics.contains(#"motiongpt_requests_total{route="/health",method="GET",status="200"} 1"#), metrics)
            XCTAssertTrue(metrics.contains(#"motiongpt_requests_total{route="NotFound",method="GET",status="404"} 1"#), metrics)
            XCTAssertTrue(metrics.contains("motiongpt_request_duration_seconds_bucket"), metrics)
            XCTAssertTrue(metrics.contains("motiongpt_queue_depth"), metrics)
        }
    }

    /// The OpenAPI document in the repository lists exactly the router's routes.
    func testOpenAPIDocumentMatchesTheRouter() async throws {
        let (server, app) = app()
        let routes = Set(server.buildRouter().routes.map { "\($0.method.rawValue) \($0.path.description.hasPrefix("/") ? "" : "/")\($0.path)" })
        let doc = try JSONSerialization.jsonObject(with: try OpenAPIDocument.data()) as! [String: Any]
        XCTAssertEqual(doc["openapi"] as? String, "3.1.0")
        let paths = doc["paths"] as! [String: [String: Any]]
        let documented = Set(paths.flatMap { path, ops in ops.keys.map { "\($0.uppercased()) \(path)" } })
        XCTAssertEqual(routes.count, 12)
        XCTAssertEqual(routes, documented, "router only: \(routes.subtracting(documented)); document only: \(documented.subtracting(routes))")
        try await app.test(.router) { client in
            let served = try await client.execute(uri: "/openapi.json", method: .get) { $0 }
            XCTAssertEqual(Data(served.body.readableBytesView), try OpenAPIDocument.data())
        }
    }

    func testUnknownRouteAndMethod() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            try assertError(try await client.execute(uri: "/v1/dance", method: .post) { $0 }, 404, "no such route")
            let r = try await client.execute(uri: "/v1/generate", method: .get) { $0 }
            try assertError(r, 405, "GET is not allowed")
            XCTAssertEqual(r.headers[.allow], "POST")
            try assertError(try await client.execute(uri: "/health", method: .delete) { $0 }, 405, "use GET")
        }
    }

    // MARK: tasks

    func testGenerateAnswersJointsCodesAndBVHAndIsSeeded() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let body = #"{"text": "a person walks forward", "frames": 16, "seed": 3, "bvh": true, \#(short)}"#
            let r = try await post(client, "/v1/generate", body)
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
            let o = try object(r)
            let motion = o["motion"] as! [String: Any]
            let joints = motion["joints"] as! [[[Double]]]
            let codes = motion["codes"] as! [Int]
            XCTAssertEqual(motion["frames"] as? Int, joints.count)
            XCTAssertEqual(joints.count, codes.count * 4, "4 frames per code")
            XCTAssertTrue(joints.allSatisfy { $0.count == 22 && $0.allSatisfy { $0.count == 3 && $0.allSatisfy(\.isFinite) } })
            XCTAssertEqual((motion["joint_names"] as? [String])?.count, 22)
            let sampler = o["sampler"] as! [String: Any]
            XCTAssertEqual(sampler["do_sample"] as? Bool, true)
            XCTAssertEqual(sampler["seed"] as? Int, 3)
            XCTAssertEqual(sampler["max_tokens"] as? Int, 8)
            // The BVH is the same motion: read back, its root follows the JSON root to BVH's rounding (the
            // limbs are refitted as rotations of fixed bones, so they only come close).
            let bvh = try BVH(text: motion["bvh"] as! String).motion(fps: nil)
            XCTAssertEqual(bvh.frameCount, joints.count)
            var root: Float = 0, sum: Float = 0
            for (t, frame) in bvh.positions.enumerated() { for (j, p) in frame.enumerated() {
                let d = simd_distance(p, SIMD3(Float(joints[t][j][0]), Float(joints[t][j][1]), Float(joints[t][j][2])))
                sum += d
                if j == 0 { root = max(root, d) }
            } }
            XCTAssertLessThan(root, 0.002, "BVH root within 2 mm of the JSON root")
            XCTAssertLessThan(sum / Float(joints.count * 22), 0.05, "BVH joints within 5 cm of the JSON joints on average")
            XCTAssertNil(motion["gif"])
            // Same seed, same motion; another seed, another.
            let again = try object(try await post(client, "/v1/generate", body))
            XCTAssertEqual((again["motion"] as! [String: Any])["codes"] as! [Int], codes)
        }
    }

    /// The smallest max_tokens the document allows (2: the span's start token and one code) still gives a
    /// motion, with the settings of the schemathesis case that found max_tokens 1 answering 422.
    func testTwoTokensGiveAMotion() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            for seed in 0..<4 {
                let r = try await post(client, "/v1/generate", #"{"text": "0", "frames": 4, "max_tokens": 2, "top_p": 0.0001, "repetition_penalty": 6.555, "temperature": 0.01, "seed": \#(seed)}"#)
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                XCTAssertEqual(((try object(r)["motion"] as? [String: Any])?["codes"] as? [Int])?.count, 1)
            }
        }
    }

    func testGenerateGIFAndScore() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let r = try await post(client, "/v1/generate", #"{"text": "a person jumps", "gif": true, "score": true, "codes": false, \#(short)}"#)
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
            let o = try object(r)
            let motion = o["motion"] as! [String: Any]
            let gif = Data(base64Encoded: motion["gif"] as! String)!
            XCTAssertEqual(String(decoding: gif.prefix(6), as: UTF8.self), "GIF89a")
            XCTAssertNil(motion["codes"])
            let score = o["score"] as! Double
            XCTAssertTrue((-1.0001...1.0001).contains(score), "a cosine: \(score)")
        }
    }

    func testStreamedGenerateReportsProgressThenResult() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let r = try await post(client, "/v1/generate", #"{"text": "a person waves", "stream": true, "seed": 1, \#(short)}"#)
            XCTAssertEqual(r.status, .ok)
            XCTAssertEqual(r.headers[.contentType], "text/event-stream")
            let events = String(buffer: r.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
            let progress = events.filter { $0.hasPrefix("event: progress\n") }
            XCTAssertGreaterThanOrEqual(progress.count, 1)
            XCTAssertTrue(progress[0].contains(#""step":1"#), progress[0])
            let last = try XCTUnwrap(events.last)
            XCTAssertTrue(last.hasPrefix("event: result\ndata: {"), last)
            let data = Data(last.dropFirst("event: result\ndata: ".count).utf8)
            let o = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            let codes = (o["motion"] as! [String: Any])["codes"] as! [Int]
            XCTAssertEqual(progress.count, o["tokens"] as? Int, "one progress event per generated token")
            XCTAssertGreaterThan(codes.count, 0)
        }
    }

    /// A generated motion goes back in as joints and as BVH for caption, predict, in-between and chat.
    func testMotionTasksTakeJointsAndBVH() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let g = try object(try await post(client, "/v1/generate", #"{"text": "a person walks", "frames": 16, "bvh": true, \#(short)}"#))
            let motion = g["motion"] as! [String: Any]
            let jointsJSON = String(decoding: try JSONSerialization.data(withJSONObject: ["joints": motion["joints"]!]), as: UTF8.self)
            let bvhJSON = String(decoding: try JSONSerialization.data(withJSONObject: ["bvh": motion["bvh"]!]), as: UTF8.self)
            for input in [jointsJSON, bvhJSON] {
                let c = try await post(client, "/v1/caption", #"{"motion": \#(input), "max_tokens": 12}"#)
                XCTAssertEqual(c.status, .ok, String(buffer: c.body))
                XCTAssertEqual(try object(c)["sampler"].flatMap { ($0 as? [String: Any])?["do_sample"] as? Bool }, false, "captions are greedy by default")
                let p = try await post(client, "/v1/predict", #"{"motion": \#(input), "seed": 2, \#(short)}"#)
                XCTAssertEqual(p.status, .ok, String(buffer: p.body))
                let pj = (try object(p)["motion"] as! [String: Any])["joints"] as! [[Any]]
                XCTAssertGreaterThan(pj.count, (motion["joints"] as! [Any]).count / 2, "prefix and continuation")
            }
            let i = try await post(client, "/v1/inbetween", #"{"first": \#(jointsJSON), "second": \#(bvhJSON), "frames": 8, \#(short)}"#)
            XCTAssertEqual(i.status, .ok, String(buffer: i.body))
            let chat = try await post(client, "/v1/chat", #"{"messages": [{"role": "user", "content": "Describe <motion> please", "motions": [\#(jointsJSON)]}], "max_tokens": 12}"#)
            XCTAssertEqual(chat.status, .ok, String(buffer: chat.body))
            XCTAssertNotNil(try object(chat)["text"] as? String)
        }
    }

    func testEmbedMatchesTheSentenceEncoder() async throws {
        let (_, app) = app()
        let texts = ["a person walks forward", "a man strolls ahead"]
        let direct = try await TestModels.all.textEncoder!.container.perform { try $0.embed(texts).map(\.vector) }
        try await app.test(.router) { client in
            let r = try await post(client, "/v1/embed", #"{"texts": ["a person walks forward", "a man strolls ahead"]}"#)
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
            let o = try object(r)
            XCTAssertEqual(o["dimension"] as? Int, 384)
            let vectors = o["vectors"] as! [[Double]]
            XCTAssertEqual(vectors.count, 2)
            for (v, d) in zip(vectors, direct) { XCTAssertEqual(v.map { Float($0) }, d, "the JSON carries the encoder's exact floats") }
        }
    }

    func testEditSaysNoLMMIsLoaded() async throws {
        let (_, app) = app()
        try await app.test(.router) { client in
            let joints = #"{"joints": \#(Array(repeating: "[" + Array(repeating: "[0,1,0]", count: 22).joined(separator: ",") + "]", count: 8).joined(separator: ",").wrappedInBrackets)}"#
            try assertError(try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["larm"], "text": "wave"}"#), 501, "no LMM model loaded")
            try assertError(try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["tail"], "text": "wave"}"#), 422, "unknown body part \"tail\"")
        }
    }

    /// A tiny random LMM (1 layer, 16-frame windows, MiniLM text) served next to the bundled models.
    func lmmModels() throws -> ServerModels {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("server-lmm-\(UUID().uuidString)/lmm")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        var c = LMMConfig()
        c.latentPartDim = 4; c.timeEmbedDim = 8; c.numLayers = 1; c.numCondLayers = 1; c.maxSeqLen = 16
        c.textInputDim = 384; c.textEncoder = TestModels.root.appendingPathComponent("Models/text-encoder").path
        let m = try LargeMotionModel(config: c, seed: 1)
        var rng = SeededRNG(seed: 2)
        for (_, p) in m.namedParameters() { p.assign(Tensor.randn(p.shape, std: 0.2, rng: &rng)) }
        let stats = try LMMModel.unifiedNormalizer(humanML3D: try FeatureNormalizer(directory: TestModels.root.appendingPathComponent("Data/cmu-mocap-h3d")))
        try LMMModel(denoiser: m, normalizer: stats, textEncoder: nil).save(directory: dir)
        var models = TestModels.all
        try models.add(dir)
        return models
    }

    func testEditWithAnLMMKeepsTheOtherParts() async throws {
        let server = MotionServer(configuration: ServerConfiguration(), models: try lmmModels())
        let app = Application(router: server.buildRouter())
        // A real CMU clip, 12 frames of joints.
        let clip = try Motion(features: try readNpy(TestModels.root.appendingPathComponent("Data/cmu-mocap-h3d/new_joint_vecs/03_02_00.npy")).slice(dim: 0, 0, 12))
        let joints = "{\"joints\": [" + clip.positions.map { "[" + $0.map { "[\($0.x),\($0.y),\($0.z)]" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]}"
        // What the server edits: the clip's HumanML3D features (canonical placement, one frame fewer).
        let given = try UnifiedMotion(motion: clip).motion()
        try await app.test(.router) { client in
            let models = try object(try await client.execute(uri: "/v1/models", method: .get) { $0 })
            XCTAssertEqual(models["part_editing"] as? Bool, true)
            let r = try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["larm", "rarm"], "text": "a person waves", "steps": 3, "seed": 4}"#)
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
            let o = try object(r)
            XCTAssertEqual(o["parts"] as? [String], ["rarm", "larm"])
            XCTAssertEqual(o["steps"] as? Int, 3)
            XCTAssertEqual(o["model"] as? String, "lmm")
            let motion = o["motion"] as! [String: Any]
            let out = (motion["joints"] as! [[[Double]]]).map { $0.map { SIMD3<Float>(Float($0[0]), Float($0[1]), Float($0[2])) } }
            XCTAssertEqual(out.count, 11)
            var legs: Float = 0, arms: Float = 0
            for (a, b) in zip(out, given.positions) {
                for j in [0, 1, 2, 4, 5, 7, 8, 10, 11] { let d = a[j] - b[j]; legs = max(legs, (d * d).sum().squareRoot()) }
                for j in [18, 19, 20, 21] { let d = a[j] - b[j]; arms = max(arms, (d * d).sum().squareRoot()) }
            }
            XCTAssertLessThan(legs, 0.01, "the legs hang on the kept root")
            XCTAssertGreaterThan(arms, 0.05, "the arms are regenerated")
            try assertError(try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["lhand"], "text": "wave"}"#), 422, "no lhand part")
            try assertError(try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["larm"], "text": "wave", "steps": 0}"#), 422, "steps must be in 1...1000")
            try assertError(try await post(client, "/v1/edit", #"{"motion": \#(joints), "parts": ["larm"], "text": "wave", "model": "other"}"#), 404, "loaded: lmm")
        }
    }

    // MARK: refusals

    /// Each POST route refuses malformed JSON, wrong types, unknown fields, huge numbers, empty text and
    /// oversized bodies with the right status and a one-line JSON error.
    func testEveryPostRouteRefusesBadInput() async throws {
        let (_, app) = app { $0.maxBodyBytes = 64 * 1024 }
        // A valid motion (4 frames of 22 joints), so every check after reading the motion is reached.
        let motion = #"{"joints": \#(Array(repeating: "[" + Array(repeating: "[0,1,0]", count: 22).joined(separator: ",") + "]", count: 4).joined(separator: ",").wrappedInBrackets)}"#
        let valid: [String: String] = [
            "/v1/generate": #""text": "a person walks""#, "/v1/caption": #""motion": \#(motion)"#, "/v1/predict": #""motion": \#(motion)"#,
            "/v1/inbetween": #""first": \#(motion), "second": \#(motion)"#, "/v1/edit": #""motion": \#(motion), "parts": ["larm"], "text": "wave""#,
            "/v1/chat": #""messages": [{"role": "user", "content": "hi"}]"#, "/v1/embed": #""texts": ["hi"]"#,
        ]
        try await app.test(.router) { client in
            for (route, fields) in valid.sorted(by: { $0.key < $1.key }) {
                try assertError(try await post(client, route, "{" + fields), 400, "not valid JSON")
                try assertError(try await post(client, route, ""), 400, "not valid JSON")
                try assertError(try await post(client, route, "[1, 2]"), 422, "must be a JSON object")
                try assertError(try await post(client, route, "{" + fields + #", "colour": "red"}"#), 422, "unknown field \"colour\"")
                try assertError(try await post(client, route, "{}"), 422, "missing field")
                try assertError(try await post(client, route, "{" + fields + #", "model": 5}"#), 422, "model must be a string")
                try assertError(try await post(client, route, "{" + fields + #", "model": "nope"}"#), 404, "\"nope\"")
                if route != "/v1/embed" {
                    try assertError(try await post(client, route, "{" + fields + #", "seed": 1e40}"#), 422, "seed")
                    try assertError(try await post(client, route, "{" + fields + #", "seed": -1}"#), 422, "seed")
                }
                let huge = "{" + fields + #", "pad": ""# + String(repeating: "x", count: 70 * 1024) + "\"}"
                try assertError(try await post(client, route, huge), 413, "larger than the limit")
            }
            // Text, lengths and numbers.
            try assertError(try await post(client, "/v1/generate", #"{"text": "   "}"#), 422, "text is empty")
            try assertError(try await post(client, "/v1/generate", #"{"text": 7}"#), 422, "text must be a string")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "frames": "ten"}"#), 422, "frames must be an integer")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "frames": 99999999999999999999}"#), 422, "frames")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "frames": 100000}"#), 422, "at most 200")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "seconds": 1e300}"#), 422, "at most 10")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "seconds": -2}"#), 422, "at least 0.2")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "seconds": 2, "frames": 40}"#), 422, "not both")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "max_tokens": 100000}"#), 422, "max_tokens")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "top_p": 3}"#), 422, "top_p")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "max_tokens": 1}"#), 422, "at least 2")
            try assertError(try await post(client, "/v1/generate", #"{"text": "a", "temperature": 0.5, "greedy": true}"#), 422, "greedy")
            try assertError(try await post(client, "/v1/generate", #"{"text": "\#(String(repeating: "walk ", count: 50))"}"#), 422, "at most 200")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {}}"#), 422, "needs joints or bvh")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {"joints": [[[0,0]]]}}"#), 422, "motion")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {"bvh": "HIERARCHY nonsense"}}"#), 422, "motion")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {"joints": [], "speed": 2}}"#), 422, "unknown field \"motion.speed\"")
            try assertError(try await post(client, "/v1/inbetween", #"{"first": \#(motion), "second": \#(motion), "frames": 5000}"#), 422, "at most 200")
            try assertError(try await post(client, "/v1/chat", #"{"messages": []}"#), 422, "messages is empty")
            try assertError(try await post(client, "/v1/chat", #"{"messages": [{"role": "robot", "content": "hi"}]}"#), 422, "role")
            try assertError(try await post(client, "/v1/chat", #"{"messages": [{"role": "user", "content": "see <motion>"}]}"#), 422, "placeholders")
            try assertError(try await post(client, "/v1/embed", #"{"texts": []}"#), 422, "texts is empty")
            try assertError(try await post(client, "/v1/embed", #"{"texts": ["ok", ""]}"#), 422, "texts[1] is empty")
            try assertError(try await post(client, "/v1/embed", #"{"texts": ["ok"], "model": null}"#), 422, "model must not be null")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {"joints": null}}"#), 422, "motion.joints must not be null")
            try assertError(try await post(client, "/v1/caption", #"{"motion": {"joints": [[[1e300, 0, 0]]]}}"#), 422, "within a million")
            try assertError(try await post(client, "/v1/chat", #"{"messages": [{"role": "system", "content": " "}, {"role": "user", "content": "hi"}]}"#), 422, "messages[0].content is empty")
        }
        // A prompt longer than the model takes is the library's tooLarge: 413.
        let (_, small) = self.app { $0.maxTextLength = 5000 }
        try await small.test(.router) { c in
            try assertError(try await post(c, "/v1/generate", #"{"text": "\#(String(repeating: "walk ", count: 400))"}"#), 413, "at most 256")
        }
    }

    func testAPIKey() async throws {
        let (_, app) = app { $0.apiKey = "s3cret" }
        try await app.test(.router) { client in
            let missing = try await client.execute(uri: "/v1/models", method: .get) { $0 }
            try assertError(missing, 401, "needs an API key")
            XCTAssertEqual(missing.headers[.wwwAuthenticate], "Bearer")
            try assertError(try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cre"]) { $0 }, 401, "wrong")
            try assertError(try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Basic s3cret"]) { $0 }, 401, "wrong")
            try assertError(try await post(client, "/v1/embed", #"{"texts": ["hi"]}"#), 401, "API key")
            let status1 = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer s3cret"]) { $0 }.status
            XCTAssertEqual(status1, .ok)
            let status2 = try await post(client, "/v1/embed", #"{"texts": ["hi"]}"#, headers: [.authorization: "Bearer s3cret"]).status
            XCTAssertEqual(status2, .ok)
            let status3 = try await client.execute(uri: "/health", method: .get) { $0 }.status
            XCTAssertEqual(status3, .ok, "health needs no key")
        }
    }

    /// A full queue answers 503 with Retry-After, and takes requests again once a place is free.
    func testFullQueueAnswers503WithRetryAfter() async throws {
        let (server, app) = app { $0.maxQueue = 1 }
        try await app.test(.router) { client in
            let entered = await server.queue.enter()
            XCTAssertTrue(entered)
            let busy = try await post(client, "/v1/embed", #"{"texts": ["hi"]}"#)
            try assertError(busy, 503, "busy")
            XCTAssertEqual(busy.headers[.retryAfter], "1")
            await server.queue.leave()
            let status4 = try await post(client, "/v1/embed", #"{"texts": ["hi"]}"#).status
            XCTAssertEqual(status4, .ok)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get) { $0 }.body)
            XCTAssertTrue(metrics.contains("motiongpt_queue_rejected_total 1"), metrics)
        }
    }

    /// Work past the time limit stops at its next token and answers 503; streamed, it ends in an error event.
    func testTimeLimit() async throws {
        let (_, app) = app { $0.timeLimit = .zero }
        try await app.test(.router) { client in
            try assertError(try await post(client, "/v1/generate", #"{"text": "a person runs"}"#), 503, "time limit")
            let s = String(buffer: try await post(client, "/v1/generate", #"{"text": "a person runs", "stream": true}"#).body)
            XCTAssertTrue(s.hasPrefix("event: error\ndata: {"), s)
            XCTAssertTrue(s.contains(#""status":503"#), s)
        }
    }

    /// The generation callback stops a running generation once its client is gone.
    func testCancelledJobStopsGeneration() async throws {
        let job = JobControl(deadline: .now + .seconds(60), maxTokens: 64, progress: nil)
        let steps = try await TestModels.all.motionGPT!.container.perform { model -> Int in
            var n = 0
            let onToken = job.onToken
            _ = try? model.generateMotion("a person walks", options: { var o = model.motionOnly(.init()); o.maxNewTokens = 64; o.doSample = true; return o }(),
                                         onToken: { e in n += 1; if n == 3 { job.cancel() }; return onToken(e) })
            return n
        }
        XCTAssertEqual(steps, 3, "no token after the cancel")
    }
}

func simd_distance(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { let d = a - b; return (d * d).sum().squareRoot() }

extension String {
    var wrappedInBrackets: String { "[" + self + "]" }
}
