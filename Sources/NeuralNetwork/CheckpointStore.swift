import Foundation
import TensorEngine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything a training run needs to continue exactly where it stopped, as read back from a
/// checkpoint: model state, AdamW moments and step count, named random generators, extra tensors
/// (EMA statistics, ...) and free-form metadata (configuration JSON, loss history, ...).
public struct TrainingState {
    /// The file it was read from (nil for a state built in memory).
    public let url: URL?
    /// Training steps completed when it was saved.
    public let step: Int
    /// Module state by key (`Module.namedTensors()` names).
    public let model: [String: Tensor]
    /// AdamW's step count and moments by parameter key; nil when no optimizer was saved.
    public let optimizer: OptimizerState?
    /// Random generators by the name they were saved under.
    public let rngs: [String: SeededRNG]
    /// Tensors saved beside the model by name.
    public let extra: [String: Tensor]
    /// The caller's metadata, as given to `save`.
    public let metadata: [String: String]

    /// AdamW's state keyed by the model's parameter names.
    public struct OptimizerState {
        public let step: Int
        public let learningRate: Float
        public let firstMoments: [String: Tensor]
        public let secondMoments: [String: Tensor]
    }

    /// Writes the saved weights into `model` (all keys must match, see `Module.load(state:strict:)`)
    /// and the moments, step and learning rate into `optimizer`, whose parameters must be `model`'s.
    public func restore(model module: Module, optimizer adam: AdamW? = nil) throws {
        let path = url?.path ?? "<training state>"
        try module.load(state: model)
        guard let adam else { return }
        guard let o = optimizer else { throw CheckpointError.unreadable(path: path, reason: "it holds no optimizer state") }
        let names = try CheckpointStore.parameterNames(module, adam)
        var first: [Tensor] = [], second: [Tensor] = []
        for name in names {
            guard let m = o.firstMoments[name], let v = o.secondMoments[name] else {
                throw CheckpointError.unreadable(path: path, reason: "no optimizer moments for parameter \(name)")
            }
            first.append(m)
            second.append(v)
        }
        try adam.restore(step: o.step, first: first, second: second)
        adam.learningRate = o.learningRate
    }
}

/// Checkpoints of one training run in a folder: `step-00001200.safetensors`, each written atomically
/// with a checksum (see `CheckpointIO`), the newest `keep` kept.
///
/// Use from a training loop:
/// ```
/// let store = CheckpointStore(directory: runDir, keep: 3)
/// var step = 0
/// if let state = store.latestValid() {           // skips damaged or half-written files
///     try state.restore(model: model, optimizer: adam)
///     rng = state.rngs["data"] ?? rng
///     step = state.step
/// }
/// InterruptFlag.install()
/// while step < total {
///     ...one step...; step += 1
///     if step % every == 0 || InterruptFlag.requested || step == total {
///         try store.save(step: step, model: model, optimizer: adam, rngs: ["data": rng], metadata: [...])
///     }
///     if InterruptFlag.requested { break }
/// }
/// ```
///
/// Test hook: with the environment variable `MOTIONGPT_CRASH_DURING_CHECKPOINT=n` (n >= 1), the n-th
/// `save` of the process writes the first half of its temporary file, syncs it, prints one line on
/// standard error and ends the process with `_exit(137)`, as a kill in the middle of a write would.
/// The finished checkpoints before it are untouched and the half file is never under a checkpoint name.
public final class CheckpointStore {
    public let directory: URL
    /// How many of the newest checkpoints survive a save (at least 1).
    public var keep: Int
    /// Files `latestValid()` passed over, with the reason, newest first.
    public private(set) var skipped: [(url: URL, reason: String)] = []

    /// The environment variable of the crash hook.
    public static let crashHookVariable = "MOTIONGPT_CRASH_DURING_CHECKPOINT"
    private static var savesInProcess = 0
    private static let savesLock = NSLock()

    public init(directory: URL, keep: Int = 3) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    /// The file name of the checkpoint of `step`.
    public static func fileName(step: Int) -> String { String(format: "step-%08d.safetensors", step) }

    static func step(ofFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
        return Int(name.dropFirst(5).dropLast(12))
    }

    /// Checkpoint files present, oldest step first (temporary files are not listed).
    public func checkpoints() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { n in Self.step(ofFileName: n).map { ($0, n) } }
            .sorted { $0.0 < $1.0 }
            .map { directory.appendingPathComponent($0.1) }
    }

    /// Parameter names of `optimizer`'s parameters, found in `module` by identity.
    static func parameterNames(_ module: Module, _ optimizer: AdamW) throws -> [String] {
        var byIdentity: [ObjectIdentifier: String] = [:]
        for (name, t) in module.namedTensors() where byIdentity[ObjectIdentifier(t)] == nil { byIdentity[ObjectIdentifier(t)] = name }
        return try optimizer.parameters.enumerated().map { i, p in
            guard let name = byIdentity[ObjectIdentifier(p)] else {
                throw ModuleError.invalidConfiguration("optimizer parameter \(i) (shape \(p.shape)) is not a tensor of the module")
            }
            return name
        }
    }

    /// Writes a checkpoint of `step` and removes the oldest beyond `keep`. Metadata keys starting with
    /// `motiongpt.` are reserved. Returns the file.
    @discardableResult
    public func save(step: Int, model: Module, optimizer: AdamW? = nil, rngs: [String: SeededRNG] = [:],
                     extra: [(String, Tensor)] = [], metadata: [String: String] = [:]) throws -> URL {
        guard step >= 0 else { throw ModuleError.invalidConfiguration("checkpoint step \(step) is negative") }
        if let k = metadata.keys.first(where: { $0.hasPrefix("motiongpt.") }) {
            throw ModuleError.invalidConfiguration("metadata key '\(k)' uses the reserved prefix 'motiongpt.'")
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CheckpointError.writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        var tensors: [(String, Tensor)] = model.namedTensors().map { ("model." + $0.0, $0.1) }
        var meta = metadata
        meta["motiongpt.format"] = "training-state-1"
        meta["motiongpt.step"] = String(step)
        if let adam = optimizer {
            let names = try Self.parameterNames(model, adam)
            for (i, name) in names.enumerated() {
                tensors.append(("optimizer.exp_avg." + name, adam.firstMoments[i]))
                tensors.append(("optimizer.exp_avg_sq." + name, adam.secondMoments[i]))
            }
            meta["motiongpt.optimizer.step"] = String(adam.step)
            // Bit pattern, so a schedule's value is restored exactly.
            meta["motiongpt.optimizer.lr"] = String(adam.learningRate.bitPattern, radix: 16)
        }
        for (name, rng) in rngs { meta["motiongpt.rng." + name] = rng.state.text }
        tensors += extra.map { ("extra." + $0.0, $0.1) }

        let url = directory.appendingPathComponent(Self.fileName(step: step))
        let data = try CheckpointIO.data(tensors, metadata: meta)
        Self.savesLock.lock()
        Self.savesInProcess += 1
        let ordinal = Self.savesInProcess
        Self.savesLock.unlock()
        let crash = ProcessInfo.processInfo.environment[Self.crashHookVariable].flatMap(Int.init) == ordinal
        removeStaleTemporaries()
        try CheckpointIO.writeAtomically(data, to: url, crashAfterHalf: crash)
        let all = checkpoints()
        for old in all.dropLast(keep) where old != url { try? FileManager.default.removeItem(at: old) }
        return url
    }

    /// Temporary files of writes that never finished (a killed process leaves one behind).
    private func removeStaleTemporaries() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let own = ".tmp-\(getpid())"
        for n in names where n.hasPrefix(".step-") && n.contains(".tmp-") && !n.hasSuffix(own) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(n))
        }
    }

    /// Reads and verifies one checkpoint file.
    public func load(_ url: URL) throws -> TrainingState {
        let (tensors, meta) = try CheckpointIO.read(url)
        func bad(_ reason: String) -> CheckpointError { .unreadable(path: url.path, reason: reason) }
        guard meta["motiongpt.format"] == "training-state-1" else { throw bad("not a training state (motiongpt.format)") }
        guard let step = meta["motiongpt.step"].flatMap(Int.init), step >= 0 else { throw bad("no valid motiongpt.step") }
        var model: [String: Tensor] = [:], first: [String: Tensor] = [:], second: [String: Tensor] = [:], extra: [String: Tensor] = [:]
        for (k, t) in tensors {
            if k.hasPrefix("model.") { model[String(k.dropFirst(6))] = t }
            else if k.hasPrefix("optimizer.exp_avg_sq.") { second[String(k.dropFirst(21))] = t }
            else if k.hasPrefix("optimizer.exp_avg.") { first[String(k.dropFirst(18))] = t }
            else if k.hasPrefix("extra.") { extra[String(k.dropFirst(6))] = t }
            else { throw bad("unexpected tensor \(k)") }
        }
        var optimizer: TrainingState.OptimizerState?
        if let s = meta["motiongpt.optimizer.step"] {
            guard let os = Int(s), os >= 0, let lrBits = meta["motiongpt.optimizer.lr"].flatMap({ UInt32($0, radix: 16) }) else {
                throw bad("bad optimizer step or learning rate")
            }
            optimizer = .init(step: os, learningRate: Float(bitPattern: lrBits), firstMoments: first, secondMoments: second)
        }
        var rngs: [String: SeededRNG] = [:]
        var user: [String: String] = [:]
        for (k, v) in meta {
            if k.hasPrefix("motiongpt.rng.") {
                guard let s = SeededRNG.State(text: v) else { throw bad("bad generator state \(k)") }
                rngs[String(k.dropFirst(14))] = SeededRNG(state: s)
            } else if !k.hasPrefix("motiongpt.") {
                user[k] = v
            }
        }
        return TrainingState(url: url, step: step, model: model, optimizer: optimizer, rngs: rngs, extra: extra, metadata: user)
    }

    /// The newest checkpoint that reads and verifies, or nil when there is none. Damaged, truncated or
    /// foreign files are passed over (listed in `skipped`), so a run killed while writing resumes from
    /// the previous good checkpoint.
    public func latestValid() -> TrainingState? {
        skipped = []
        for url in checkpoints().reversed() {
            do { return try load(url) } catch { skipped.append((url, "\(error)")) }
        }
        return nil
    }
}

/// Ctrl-C for training loops: after `install()`, the first SIGINT (or SIGTERM) only sets `requested`,
/// so the loop can finish its step, save a checkpoint and exit cleanly; a second SIGINT ends the
/// process at once (status 130), for when saving hangs.
public enum InterruptFlag {
    /// Installs the handlers (idempotent).
    public static func install() {
        _ = interruptFlagStorage  // initialise the global before a handler can read it
        let handler: @convention(c) (Int32) -> Void = { sig in
            if interruptFlagStorage.pointee != 0 && sig == SIGINT { _exit(130) }
            interruptFlagStorage.pointee = 1
            let message: StaticString = "\ninterrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit now)\n"
            _ = message.withUTF8Buffer { write(2, $0.baseAddress, $0.count) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// Whether an interrupt arrived since `install()` or `reset()`.
    public static var requested: Bool { interruptFlagStorage.pointee != 0 }

    /// Clears the flag (tests, or a loop that handled it and goes on).
    public static func reset() { interruptFlagStorage.pointee = 0 }

    /// Sets the flag as a signal would (tests and programmatic stops).
    public static func request() { interruptFlagStorage.pointee = 1 }
}

/// The flag, as a plain word a signal handler can set (it can capture nothing and must not allocate).
private let interruptFlagStorage: UnsafeMutablePointer<Int32> = {
    let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
}()
