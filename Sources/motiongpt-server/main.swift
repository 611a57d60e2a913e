import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MotionServer
import ServiceLifecycle

/// `motiongpt-server`: the HTTP API and the playground. Thin: parse, load the models, run the
/// application in a ServiceGroup whose graceful shutdown (SIGTERM, SIGINT) stops accepting
/// connections, lets in-flight requests finish, then exits 0.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motiongpt-server",
        abstract: "Serve MotionGPT over HTTP: a JSON API under /v1 and a playground page at /.",
        discussion: """
        Loads the bundled models (Models/default, Models/text-encoder, Models/evaluator) unless --model \
        names folders (each folder's config.json model_type says its role). Binds loopback unless --host \
        says otherwise; with --api-key-file, every /v1 route needs Authorization: Bearer <key>.

        Example: motiongpt-server --port 8080 --max-queue 8
        """)

    @Option(name: .long, help: ArgumentHelp("A model folder to serve (repeatable).", valueName: "dir")) var model: [String] = []
    @Option(name: .long, help: "Address to bind.") var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0 picks a free one).") var port = 8080
    @Option(name: .long, help: "Requests that may hold or wait for a model; more get 503.") var maxQueue = 8
    @Option(name: .long, help: ArgumentHelp("File holding the API key (its first line).", valueName: "file")) var apiKeyFile: String?
    @Option(name: .long, help: "Time limit of one request, in seconds.") var timeLimit = 60
    @Option(name: .long, help: "Longest motion to generate, in seconds.") var maxSeconds: Double = 10
    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).") var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
        guard maxQueue >= 1 else { throw ValidationError("--max-queue must be at least 1, got \(maxQueue)") }
        guard timeLimit >= 1 else { throw ValidationError("--time-limit must be at least 1 second, got \(timeLimit)") }
        guard maxSeconds > 0 else { throw ValidationError("--max-seconds must be positive, got \(maxSeconds)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
    }

    func run() async throws { try await serve() }

    /// Named apart from `run` so top-level code cannot pick ParsableCommand's synchronous `run()`
    /// (which prints the help) over this one.
    func serve() async throws {
        var logger = Logger(label: "motiongpt-server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.maxQueue = maxQueue
        config.timeLimit = .seconds(timeLimit)
        config.maxSeconds = maxSeconds
        config.maxFrames = Int((maxSeconds * 20).rounded())
        if let apiKeyFile {
            guard let text = try? String(contentsOfFile: apiKeyFile, encoding: .utf8) else { throw ValidationError("cannot read --api-key-file \(apiKeyFile)") }
            let key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !key.isEmpty else { throw ValidationError("--api-key-file \(apiKeyFile) is empty") }
            config.apiKey = key
        }
        let models: ServerModels
        do {
            models = try ServerModels.load(model.map { URL(fileURLWithPath: $0) })
        } catch {
            throw ValidationError("\(error)")
        }
        for m in models.listing { logger.info("serving \(m.name) (\(m.modelType)) from \(m.path)") }
        let app = buildApplication(configuration: config, models: models, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}

// Parsed by hand rather than `main()`: in main.swift the synchronous overload would be picked, and
// it cannot run an async command.
do {
    var command = try ServerCommand.parseAsRoot()
    guard let server = command as? ServerCommand else { try command.run(); exit(0) }
    try await server.serve()
} catch {
    ServerCommand.exit(withError: error)
}
