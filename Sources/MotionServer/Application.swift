import Foundation
import Generation
import Hummingbird
import Logging
import ModelHub
import MotionData
import MotionDiffusion
import MotionRender
import NeuralNetwork
import TensorEngine
import TextEncoder

/// The request context of every route.
public typealias ServerContext = BasicRequestContext

/// The HTTP application: the routes of `buildRouter` on the configured address. Tests drive it in
/// process (`app.test(.router)`); the executable runs it in a ServiceGroup that drains on SIGTERM.
public func buildApplication(configuration: ServerConfiguration, models: ServerModels,
                             logger: Logger = Logger(label: "motiongpt-server")) -> some ApplicationProtocol {
    let server = MotionServer(configuration: configuration, models: models, logger: logger)
    return Application(router: server.buildRouter(),
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "motiongpt-server"),
                       logger: logger)
}

/// The routes and the state they share (models, queue, metrics). A thin layer: handlers check the
/// request against the server's limits, call the task pipeline on the model's container and encode
/// the answer.
public final class MotionServer: Sendable {
    /// Address and limits.
    public let configuration: ServerConfiguration
    /// The models requests are answered with.
    public let models: ServerModels
    /// What `/metrics` reports.
    public let metrics = ServerMetrics()
    let queue: InferenceQueue
    let logger: Logger

    /// A server over `models`; `buildRouter` gives its routes.
    public init(configuration: ServerConfiguration, models: ServerModels, logger: Logger = Logger(label: "motiongpt-server")) {
        self.configuration = configuration
        self.models = models
        self.logger = logger
        self.queue = InferenceQueue(capacity: max(configuration.maxQueue, 1), metrics: metrics)
    }

    /// Every route, in one table so the 405 check knows each path's methods before they are added.
    var routeTable: [(HTTPRequest.Method, String, @Sendable (Request, ServerContext) async throws -> Response)] {
        [
            (.get, "/", { [self] _, _ in playground() }),
            (.get, "/health", { [self] _, _ in try await health() }),
            (.get, "/metrics", { [self] _, _ in metricsText() }),
            (.get, "/openapi.json", { _, _ in try OpenAPIDocument.response() }),
            (.get, "/v1/models", { [self] _, _ in try listModels() }),
            (.post, "/v1/generate", { [self] r, _ in try await generate(r) }),
            (.post, "/v1/caption", { [self] r, _ in try await caption(r) }),
            (.post, "/v1/predict", { [self] r, _ in try await predict(r) }),
            (.post, "/v1/inbetween", { [self] r, _ in try await inbetween(r) }),
            (.post, "/v1/edit", { [self] r, _ in try await edit(r) }),
            (.post, "/v1/chat", { [self] r, _ in try await chat(r) }),
            (.post, "/v1/embed", { [self] r, _ in try await embed(r) }),
        ]
    }

    /// The router: metrics outermost (they see the final status), then JSON errors, then the key check.
    public func buildRouter() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        let table = routeTable
        var methods: [String: [HTTPRequest.Method]] = [:]
        for (method, path, _) in table { methods[path, default: []].append(method) }
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware(methods: methods, logger: logger))
        if let key = configuration.apiKey { router.add(middleware: BearerKeyMiddleware(key: key)) }
        for (method, path, handler) in table {
            router.on(RouterPath(path), method: method) { request, context in try await handler(request, context) }
        }
        return router
    }

    // MARK: plain routes

    func playground() -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: Playground.page(partEditing: models.lmm != nil, keyRequired: configuration.apiKey != nil))))
    }

    func health() async throws -> Response {
        try json(HealthResponse(status: "ok", queueDepth: await queue.depth, maxQueue: queue.capacity))
    }

    func metricsText() -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
    }

    func listModels() throws -> Response {
        try json(ModelsResponse(models: models.listing.map { ModelInfo(name: $0.name, modelType: $0.modelType, role: $0.role, summary: $0.summary, path: $0.path) },
                                partEditing: models.lmm != nil))
    }

    // MARK: tasks

    func generate(_ request: Request) async throws -> Response {
        let req = try await decode(GenerateRequest.self, request)
        let text = try checkText(req.text, field: "text")
        if req.seconds != nil && req.frames != nil { throw APIError(.unprocessableContent, "give seconds or frames, not both") }
        if let s = req.seconds {
            guard s >= 0.2 else { throw APIError(.unprocessableContent, "seconds must be at least 0.2 (one motion token), got \(s)") }
            guard s <= configuration.maxSeconds else { throw APIError.aboveLimit("seconds is \(s); this server makes at most \(configuration.maxSeconds)") }
        }
        if let f = req.frames?.value {
            guard f >= 4 else { throw APIError(.unprocessableContent, "frames must be at least 4, got \(f)") }
            guard f <= configuration.maxFrames else { throw APIError.aboveLimit("frames is \(f); this server makes at most \(configuration.maxFrames)") }
        }
        let options = try generationOptions(req.sampling, sampleByDefault: true)
        let loaded = try motionModel(req.model)
        let evaluator = req.score == true ? models.evaluator : nil
        if req.score == true && evaluator == nil { throw APIError(.notFound, "no evaluator model loaded, so no score (serve a motion-text-evaluator folder)") }
        let frames = req.frames?.value, seconds = req.seconds.map(Float.init), want = Formats(req.bvh, req.gif, req.codes)
        return try await run(loaded, stream: req.stream ?? false, maxTokens: options.maxNewTokens, work: { model, job in
            let r = try model.generateMotion(text, frames: frames, seconds: seconds, options: options, onToken: job.onToken)
            return TaskResult(text: r.text, codes: r.codes, motions: r.motions, tokens: r.ids.count, unterminated: r.unterminated)
        }, finish: { [self] r in
            var score: Float?
            if let evaluator {
                let motion = r.motions[0]
                score = try await evaluator.container.perform { e in
                    let t = try e.embed(texts: [text]).scalars, m = try e.embed(motions: [try motion.features()]).scalars
                    return zip(t, m).reduce(0) { $0 + $1.0 * $1.1 }
                }
            }
            return GenerateResponse(model: loaded.name, text: text, motion: try answer(r.motions[0], codes: r.codes[0], want, title: text),
                                    sampler: SamplerInfo(options), tokens: r.tokens, unterminated: r.unterminated, score: score)
        })
    }

    func caption(_ request: Request) async throws -> Response {
        let req = try await decode(CaptionRequest.self, request)
        let motion = try readMotion(req.motion, field: "motion")
        let options = try generationOptions(req.sampling, sampleByDefault: false)
        let loaded = try motionModel(req.model)
        return try await run(loaded, stream: req.stream ?? false, maxTokens: options.maxNewTokens, work: { model, job in
            try model.caption(motion, options: options, onToken: job.onToken)
        }, finish: { text in CaptionResponse(model: loaded.name, text: text, sampler: SamplerInfo(options)) })
    }

    func predict(_ request: Request) async throws -> Response {
        let req = try await decode(PredictRequest.self, request)
        let motion = try readMotion(req.motion, field: "motion")
        let options = try generationOptions(req.sampling, sampleByDefault: true)
        let loaded = try motionModel(req.model)
        let want = Formats(req.bvh, req.gif, req.codes)
        return try await run(loaded, stream: req.stream ?? false, maxTokens: options.maxNewTokens, work: { model, job in
            let r = try model.predict(motion, options: options, onToken: job.onToken)
            return TaskResult(text: r.text, codes: r.codes, motions: r.motions, tokens: r.ids.count, unterminated: r.unterminated)
        }, finish: { [self] r in
            MotionTaskResponse(model: loaded.name, motion: try answer(r.motions[0], codes: r.codes[0], want, title: "prediction"),
                               sampler: SamplerInfo(options), tokens: r.tokens, unterminated: r.unterminated)
        })
    }

    func inbetween(_ request: Request) async throws -> Response {
        let req = try await decode(InbetweenRequest.self, request)
        let a = try readMotion(req.first, field: "first"), b = try readMotion(req.second, field: "second")
        let gap = req.frames?.value ?? 40
        guard gap >= 4 else { throw APIError(.unprocessableContent, "frames must be at least 4, got \(gap)") }
        guard gap <= configuration.maxFrames else { throw APIError.aboveLimit("frames is \(gap); this server fills at most \(configuration.maxFrames)") }
        let options = try generationOptions(req.sampling, sampleByDefault: true)
        let loaded = try motionModel(req.model)
        let want = Formats(req.bvh, req.gif, req.codes)
        return try await run(loaded, stream: req.stream ?? false, maxTokens: options.maxNewTokens, work: { model, job in
            let r = try model.inbetween(a, b, gapFrames: gap, options: options, onToken: job.onToken)
            return TaskResult(text: r.text, codes: r.codes, motions: r.motions, tokens: r.ids.count, unterminated: r.unterminated)
        }, finish: { [self] r in
            MotionTaskResponse(model: loaded.name, motion: try answer(r.motions[0], codes: r.codes[0], want, title: "in-between"),
                               sampler: SamplerInfo(options), tokens: r.tokens, unterminated: r.unterminated)
        })
    }

    /// Part editing with the loaded Large Motion Model: the chosen parts regenerated under the text,
    /// every other part kept (`LMMPipeline.edit`). Without an LMM a valid request is answered 501 (after
    /// the same checks a served one gets, so clients see their mistakes first).
    func edit(_ request: Request) async throws -> Response {
        let req = try await decode(EditRequest.self, request)
        let motion = try readMotion(req.motion, field: "motion")
        let text = try checkText(req.text, field: "text")
        guard !req.parts.isEmpty else { throw APIError(.unprocessableContent, "parts is empty (name some of \(Self.parts.joined(separator: ", ")))") }
        if let bad = req.parts.first(where: { !Self.parts.contains($0) }) {
            throw APIError(.unprocessableContent, "unknown body part \"\(bad.prefix(40))\" (use \(Self.parts.joined(separator: ", ")))")
        }
        let steps = req.steps?.value ?? 50
        guard (1...1000).contains(steps) else { throw APIError(.unprocessableContent, "steps must be in 1...1000, got \(steps)") }
        if let g = req.guidance, !(g.isFinite && abs(g) <= 1000) { throw APIError(.unprocessableContent, "guidance must be in -1000...1000, got \(g)") }
        guard let loaded = models.lmm else {
            if let name = req.model { throw APIError(.notFound, "no model named \"\(name.prefix(80))\" can edit parts: no LMM model is loaded") }
            throw APIError(.notImplemented, "no LMM model loaded: part editing needs a Large Motion Model folder (model_type lmm) served with --model")
        }
        if let name = req.model, name != loaded.name { throw APIError(.notFound, "no model named \"\(name.prefix(80))\" can edit parts (loaded: \(loaded.name))") }
        let chosen = try BodyPart.parseList(req.parts.joined(separator: ","), available: LMMPipeline.generatedParts)
        let unified = try UnifiedMotion(motion: motion)
        let options = LMMSampling(guidance: req.guidance.map(Float.init), steps: steps, seed: req.seed?.value ?? 0)
        let want = Formats(req.bvh, req.gif, false)
        return try await run(loaded, stream: false, maxTokens: steps, work: { model, job in
            try LMMPipeline(model: model).edit(motion: unified, parts: chosen, text: text, options: options) { step in
                job.shouldStop() ? .stop : .proceed
            }
        }, finish: { [self] r in
            EditResponse(model: loaded.name, motion: try answer(try r.motion(), codes: [], want, title: text),
                         parts: chosen.map(\.userName), steps: steps, seed: options.seed)
        })
    }

    static let parts = ["root", "head", "stem", "larm", "rarm", "lleg", "rleg", "lhand", "rhand", "face", "upper", "lower", "body"]

    func chat(_ request: Request) async throws -> Response {
        let req = try await decode(ChatRequest.self, request)
        guard !req.messages.isEmpty else { throw APIError(.unprocessableContent, "messages is empty") }
        guard req.messages.count <= configuration.maxMessages else { throw APIError.aboveLimit("\(req.messages.count) messages; at most \(configuration.maxMessages)") }
        for (i, m) in req.messages.enumerated() {
            guard ["system", "user", "assistant"].contains(m.role) else {
                throw APIError(.unprocessableContent, "messages[\(i)].role must be system, user or assistant, got \"\(m.role.prefix(40))\"")
            }
            _ = try checkText(m.content, field: "messages[\(i)].content")
            guard m.content.count <= configuration.maxTextLength else { throw APIError.aboveLimit("messages[\(i)].content has \(m.content.count) characters; at most \(configuration.maxTextLength)") }
        }
        // The instruction: the last user message, else the last message (a client that sends only a
        // system prompt still gets an answer to it).
        let lastIndex = req.messages.lastIndex(where: { $0.role == "user" }) ?? req.messages.count - 1
        let last = req.messages[lastIndex]
        let content = try checkText(last.content, field: "messages[\(lastIndex)].content")
        let inputs = try (last.motions ?? []).enumerated().map { try readMotion($0.element, field: "messages[\(lastIndex)].motions[\($0.offset)]") }
        // Motions without placeholders follow the text, in order.
        var pieces = content.components(separatedBy: "<motion>")
        if pieces.count == 1 && !inputs.isEmpty { pieces += Array(repeating: "", count: inputs.count); pieces[0] += " " }
        guard pieces.count - 1 == inputs.count else {
            throw APIError(.unprocessableContent, "messages[\(lastIndex)] has \(pieces.count - 1) <motion> placeholders and \(inputs.count) motions; give one motion per placeholder")
        }
        let options = try generationOptions(req.sampling, sampleByDefault: true)
        let loaded = try motionModel(req.model)
        let want = Formats(req.bvh, req.gif, req.codes)
        let parts = pieces
        return try await run(loaded, stream: req.stream ?? false, maxTokens: options.maxNewTokens, work: { model, job in
            var prompt = parts[0]
            for (i, m) in inputs.enumerated() { prompt += model.motionString(try model.codes(of: m)) + parts[i + 1] }
            let r = try model.respond(to: prompt, options: options, onToken: job.onToken)
            return TaskResult(text: r.text, codes: r.codes, motions: r.motions, tokens: r.ids.count, unterminated: r.unterminated)
        }, finish: { [self] r in
            ChatResponse(model: loaded.name, text: r.text, motions: try zip(r.motions, r.codes).map { try answer($0, codes: $1, want, title: "reply") },
                         sampler: SamplerInfo(options), tokens: r.tokens)
        })
    }

    func embed(_ request: Request) async throws -> Response {
        let req = try await decode(EmbedRequest.self, request)
        guard let loaded = models.textEncoder else { throw APIError(.notFound, "no text encoder loaded (serve a bert folder, such as Models/text-encoder)") }
        if let name = req.model, name != loaded.name { throw APIError(.notFound, "no text encoder named \"\(name.prefix(80))\" (loaded: \(loaded.name))") }
        guard !req.texts.isEmpty else { throw APIError(.unprocessableContent, "texts is empty") }
        guard req.texts.count <= configuration.maxEmbedTexts else { throw APIError.aboveLimit("\(req.texts.count) texts; at most \(configuration.maxEmbedTexts) per request") }
        let texts = try req.texts.enumerated().map { try checkText($0.element, field: "texts[\($0.offset)]") }
        return try await run(loaded, stream: false, maxTokens: 0, work: { encoder, _ in
            let r = try encoder.embed(texts)
            return EmbedResponse(model: loaded.name, dimension: r.first?.vector.count ?? 0, vectors: r.map(\.vector), truncated: r.map(\.truncated))
        }, finish: { $0 })
    }

    // MARK: checks

    func decode<T: StrictBody>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
        return try JSONDecoder().decode(Strict<T>.self, from: Data(buffer.readableBytesView)).value
    }

    func checkText(_ text: String, field: String) throws -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { throw APIError(.unprocessableContent, "\(field) is empty") }
        guard t.count <= configuration.maxTextLength else { throw APIError.aboveLimit("\(field) has \(t.count) characters; at most \(configuration.maxTextLength)") }
        return t
    }

    func motionModel(_ name: String?) throws -> LoadedServerModel<MotionGPTModel> {
        guard let m = models.motionGPT else { throw APIError(.notFound, "no MotionGPT model loaded") }
        if let name, name != m.name { throw APIError(.notFound, "no model named \"\(name.prefix(80))\" (loaded: \(m.name))") }
        return m
    }

    /// A motion from joints or BVH text, within the server's frame limit, at the model's 20 fps.
    func readMotion(_ input: MotionInput, field: String) throws -> Motion {
        let motion: Motion
        switch (input.joints, input.bvh) {
        case (nil, nil): throw APIError(.unprocessableContent, "\(field) needs joints or bvh")
        case (.some, .some): throw APIError(.unprocessableContent, "\(field): give joints or bvh, not both")
        case (nil, .some(let text)):
            if input.fps != nil || input.skeleton != nil { throw APIError(.unprocessableContent, "\(field): fps and skeleton go with joints; a BVH carries its own") }
            motion = try BVH(text: text, source: field).motion(source: field)
        case (.some(let joints), nil):
            guard joints.count <= configuration.maxInputFrames else { throw APIError.aboveLimit("\(field) has \(joints.count) frames; at most \(configuration.maxInputFrames)") }
            if let fps = input.fps, fps != 20 { throw APIError(.unprocessableContent, "\(field).fps must be 20 (the model's rate), got \(fps)") }
            if let bad = joints.lazy.flatMap({ $0 }).flatMap({ $0 }).first(where: { !$0.isFinite || abs($0) > 1e6 }) {
                throw APIError(.unprocessableContent, "\(field).joints holds \(bad); positions are metres, within a million")
            }
            struct Joints: Encodable { var fps: Double?; var skeleton: String?; var joints: [[[Double]]] }
            let data = try JSONEncoder().encode(Joints(fps: input.fps, skeleton: input.skeleton, joints: joints))
            motion = try MotionFile.motion(json: data, source: field)
        }
        guard motion.frameCount <= configuration.maxInputFrames else {
            throw APIError(.contentTooLarge, "\(field) has \(motion.frameCount) frames at 20 fps; at most \(configuration.maxInputFrames)")
        }
        guard motion.skeleton == .humanML3D else { throw APIError(.unprocessableContent, "\(field): the model reads 22-joint HumanML3D motions, got \(motion.skeleton.name)") }
        return motion
    }

    func generationOptions(_ s: SamplingFields, sampleByDefault: Bool) throws -> GenerationOptions {
        var o = GenerationOptions()
        o.maxNewTokens = s.maxTokens ?? configuration.maxTokens
        guard o.maxNewTokens >= 2 else { throw APIError(.unprocessableContent, "max_tokens must be at least 2 (a motion answer is its start token and codes), got \(o.maxNewTokens)") }
        guard o.maxNewTokens <= configuration.maxTokens else { throw APIError.aboveLimit("max_tokens is \(o.maxNewTokens); at most \(configuration.maxTokens)") }
        let asked = s.temperature != nil || s.topK != nil || s.topP != nil
        if asked && s.greedy == true { throw APIError(.unprocessableContent, "temperature, top_k and top_p sample; they do not go with greedy") }
        o.doSample = s.greedy != true && (sampleByDefault || asked)
        // Doubles on the wire: a Float field would turn 1e39 into "not valid JSON" (see Integer).
        // The ranges are the OpenAPI document's; they also keep every value a normal Float (5e-324 would be 0).
        for (name, v, range) in [("temperature", s.temperature, 0.01...100), ("top_p", s.topP, 0.0001...1), ("repetition_penalty", s.repetitionPenalty, 0.01...100)] {
            if let v, !range.contains(v) { throw APIError(.unprocessableContent, "\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        }
        o.temperature = s.temperature.map(Float.init) ?? 1
        if let k = s.topK, !(0...1_000_000).contains(k) { throw APIError(.unprocessableContent, "top_k must be in 0...1000000, got \(k)") }
        o.topK = s.topK ?? 0
        o.topP = s.topP.map(Float.init) ?? 1
        o.repetitionPenalty = s.repetitionPenalty.map(Float.init) ?? 1
        o.seed = s.seed ?? 0
        do { try o.validate() } catch let e as GenerationError {
            let names = ["max new tokens": "max_tokens", "temperature": "temperature", "top-k": "top_k", "top-p": "top_p", "repetition penalty": "repetition_penalty"]
            var m = e.description
            for (k, field) in names where m.hasPrefix(k) { m = field + m.dropFirst(k.count) }
            throw APIError(APIError.status(of: e.kind), m)
        }
        return o
    }

    struct Formats: Sendable {
        var bvh: Bool, gif: Bool, codes: Bool
        init(_ bvh: Bool?, _ gif: Bool?, _ codes: Bool?) { self.bvh = bvh ?? false; self.gif = gif ?? false; self.codes = codes ?? true }
    }

    func answer(_ m: Motion, codes: [Int], _ want: Formats, title: String) throws -> MotionAnswer {
        var gif: String?
        if want.gif {
            var o = RenderOptions()
            o.width = 320; o.height = 280; o.title = String(title.prefix(60))
            gif = try GIFEncoder.encode(try StickFigureRenderer(motion: m, options: o).frames(), fps: m.fps).base64EncodedString()
        }
        return MotionAnswer(fps: m.fps, frames: m.frameCount, skeleton: m.skeleton.name, jointNames: m.skeleton.jointNames, parents: m.skeleton.parents,
                            sides: HTMLViewer.sides(of: m.skeleton), joints: m.positions.map { $0.map { [$0.x, $0.y, $0.z] } },
                            codes: want.codes ? codes : nil, bvh: want.bvh ? try m.bvh().text : nil, gif: gif)
    }

    // MARK: running model work

    /// Admits the request to the bounded queue, runs `work` on the model's container (off the event
    /// loop, one request at a time per model), then `finish` outside it. With `stream`, answers at once
    /// with server-sent events: `progress` per generated token, then `result` (or `error`); when the
    /// client goes away, the generation stops at its next token.
    func run<M, R: Sendable, Out: Encodable & Sendable>(_ loaded: LoadedServerModel<M>, stream: Bool, maxTokens: Int,
                                                        work: @escaping @Sendable (M, JobControl) throws -> R,
                                                        finish: @escaping @Sendable (R) async throws -> Out) async throws -> Response {
        guard await queue.enter() else {
            throw APIError(.serviceUnavailable, "the server is busy (\(queue.capacity) requests queued); retry later",
                           headers: [.retryAfter: String(configuration.retryAfterSeconds)])
        }
        let deadline = ContinuousClock.now + configuration.timeLimit
        let limit = configuration.timeLimit
        @Sendable func perform(_ job: JobControl) async throws -> Out {
            let r: R = try await loaded.container.perform { model in
                do {
                    if job.shouldStop() { throw Self.stopped(job, limit) }
                    let r = try work(model, job)
                    if job.ranOutOfTime || job.wasCancelled { throw Self.stopped(job, limit) }
                    return r
                } catch let e as APIError { throw e } catch {
                    if job.ranOutOfTime || job.wasCancelled { throw Self.stopped(job, limit) }
                    throw error
                }
            }
            return try await finish(r)
        }
        if !stream {
            let job = JobControl(deadline: deadline, maxTokens: maxTokens, progress: nil)
            do {
                let out = try await perform(job)
                await queue.leave()
                return try json(out)
            } catch {
                await queue.leave()
                throw error
            }
        }
        let (events, continuation) = AsyncStream<ProgressEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let job = JobControl(deadline: deadline, maxTokens: maxTokens, progress: continuation)
        // The work starts now and leaves the queue itself, so a client that never reads the body cannot
        // hold a queue place beyond the time limit.
        let task = Task { [queue] () -> Result<Data, APIError> in
            let result: Result<Data, APIError>
            do { result = .success(try Self.encoder.encode(try await perform(job))) } catch { result = .failure(APIError.from(error)) }
            job.finish()
            await queue.leave()
            return result
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let metrics = self.metrics
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var connected = true
            for await event in events where connected {
                do { try await writer.write(ByteBuffer(string: Self.sse("progress", try Self.encoder.encode(event)))) } catch {
                    connected = false
                    job.cancel()
                    metrics.clientsGone.increment()
                }
            }
            let result = await task.value
            guard connected else { return }
            switch result {
            case .success(let data): try await writer.write(ByteBuffer(string: Self.sse("result", data)))
            case .failure(let e):
                try await writer.write(ByteBuffer(string: Self.sse("error", try Self.encoder.encode(StreamError(error: e.message, status: e.status.code)))))
            }
            try await writer.finish(nil)
        })
    }

    static func stopped(_ job: JobControl, _ limit: Duration) -> APIError {
        if job.wasCancelled { return APIError(.serviceUnavailable, "the request was cancelled: its client went away") }
        return APIError(.serviceUnavailable, "the request ran past the time limit of \(limit.components.seconds) s", headers: [.retryAfter: "1"])
    }

    static func sse(_ event: String, _ data: Data) -> String { "event: \(event)\ndata: \(String(decoding: data, as: UTF8.self))\n\n" }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var h = HTTPFields()
        h[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(value))))
    }
}

/// The last event of a stream that failed.
struct StreamError: Encodable { var error: String; var status: Int }

/// What a task answered, carried out of the model's container.
struct TaskResult: Sendable {
    var text: String
    var codes: [[Int]]
    var motions: [Motion]
    var tokens: Int
    var unterminated: Bool
}

extension SamplerInfo {
    init(_ o: GenerationOptions) {
        self.init(doSample: o.doSample, seed: o.seed, temperature: o.temperature, topK: o.topK, topP: o.topP,
                  repetitionPenalty: o.repetitionPenalty, maxTokens: o.maxNewTokens)
    }
}

extension JobControl {
    /// The generation callback: reports the step, stops when the client left or time ran out.
    var onToken: (TokenEvent) -> IterationControl {
        { [self] event in
            report(step: event.step)
            return shouldStop() ? .stop : .proceed
        }
    }
}

/// The OpenAPI 3.1 document, kept in the repository as `Resources/openapi.json`.
public enum OpenAPIDocument {
    /// The document's bytes, as served at `/openapi.json`.
    public static func data() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw APIError(.internalServerError, "openapi.json is missing from the MotionServer bundle")
        }
        return try Data(contentsOf: url)
    }

    static func response() throws -> Response {
        var h = HTTPFields()
        h[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: try data())))
    }
}
