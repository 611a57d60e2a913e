import Foundation
import Hummingbird
import Prometheus

/// The server's Prometheus metrics in a registry of its own (not the process-wide MetricsSystem, so
/// two applications in one test process count separately): requests by route, method and status,
/// latency by route, queue depth.
public final class ServerMetrics: Sendable {
    /// Every metric of one server.
    public let registry = PrometheusCollectorRegistry()
    let queueDepth: Gauge
    let rejected: Counter
    let clientsGone: Counter

    /// An empty registry with the queue gauge and the rejection and abandoned-stream counters.
    public init() {
        queueDepth = registry.makeGauge(descriptor: Self.name("motiongpt_queue", unit: "depth", "Requests holding or waiting for a model"))
        rejected = registry.makeCounter(descriptor: Self.name("motiongpt_queue_rejected", unit: "total", "Requests answered 503 because the queue was full"))
        clientsGone = registry.makeCounter(descriptor: Self.name("motiongpt_streams_abandoned", unit: "total", "Streamed requests whose client went away before the answer (their generation stopped)"))
    }

    func record(route: String, method: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.duration, labels: [("route", route)], buckets: Self.buckets).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metric, unitName: unit, helpText: help)
    }
    nonisolated(unsafe) static let requests = name("motiongpt_requests", unit: "total", "HTTP requests answered")
    nonisolated(unsafe) static let duration = name("motiongpt_request_duration", unit: "seconds", "Time to the response head")

    static let buckets: [Duration] = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60].map { .nanoseconds(Int64($0 * 1e9)) }

    /// The text exposition format.
    public func exposition() -> String { registry.emitToString() }
}

/// Counts every request by its route pattern (not the raw path, so unknown paths cannot grow the
/// label set) and its final status.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do { response = try await next(request, context) } catch {
            response = APIError.from(error).response()
        }
        let d = ContinuousClock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        metrics.record(route: context.endpointPath ?? "NotFound", method: request.method.rawValue, status: response.status.code, seconds: seconds)
        return response
    }
}

/// A bounded admission count: requests that need a model enter before they queue on its container
/// and leave when done; when `capacity` are inside, the next is refused (503 + Retry-After) instead of
/// waiting without bound.
actor InferenceQueue {
    let capacity: Int
    private(set) var depth = 0
    private let metrics: ServerMetrics

    init(capacity: Int, metrics: ServerMetrics) { self.capacity = capacity; self.metrics = metrics }

    func enter() -> Bool {
        guard depth < capacity else { metrics.rejected.increment(); return false }
        depth += 1
        metrics.queueDepth.set(Double(depth))
        return true
    }

    func leave() {
        depth -= 1
        metrics.queueDepth.set(Double(depth))
    }
}

/// What one request's model work shares with its handler across threads: its deadline, whether the
/// client went away, and where progress goes. The generation callback reads it between tokens.
final class JobControl: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var timedOut = false
    let deadline: ContinuousClock.Instant
    let maxTokens: Int
    private let progress: AsyncStream<ProgressEvent>.Continuation?

    init(deadline: ContinuousClock.Instant, maxTokens: Int, progress: AsyncStream<ProgressEvent>.Continuation?) {
        self.deadline = deadline; self.maxTokens = maxTokens; self.progress = progress
    }

    func cancel() { lock.lock(); cancelled = true; lock.unlock() }

    var wasCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    var ranOutOfTime: Bool { lock.lock(); defer { lock.unlock() }; return timedOut }

    /// Whether work should stop now: the client left, the task was cancelled, or the deadline passed.
    func shouldStop() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if ContinuousClock.now >= deadline { timedOut = true }
        return cancelled || timedOut || Task.isCancelled
    }

    func report(step: Int) { progress?.yield(ProgressEvent(step: step, maxTokens: maxTokens)) }
    func finish() { progress?.finish() }
}
