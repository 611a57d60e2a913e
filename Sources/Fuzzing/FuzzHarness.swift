import Foundation
import TensorEngine

/// An input that made a parser fail in a way it must not: an error outside its typed errors.
/// (Traps, hangs and runaway allocation end the process instead; `FuzzCrashGuard` saves those inputs.)
public struct FuzzFinding: Sendable {
    public let iteration: Int
    public let input: [UInt8]
    public let message: String
}

/// What one campaign did.
public struct FuzzReport: Sendable, CustomStringConvertible {
    public var target: String
    /// Seed files, and the inputs the campaign kept to mutate further (accepted mutants).
    public var seedFiles = 0
    public var corpusSize = 0
    public var corpusBytes = 0
    public var executions = 0
    /// Inputs the parser accepted, and inputs it refused with one of its typed errors.
    public var accepted = 0
    public var rejected = 0
    public var findings: [FuzzFinding] = []
    public var slowestSeconds = 0.0
    public var slowestLength = 0
    public var elapsedSeconds = 0.0
    /// Peak resident memory of the whole process so far, in MiB.
    public var peakRSSMiB = 0.0

    public init(target: String) { self.target = target }

    public var description: String {
        String(format: "%@: %d executions (%d accepted, %d typed errors, %d findings), corpus %d inputs / %d bytes (%d seed files), %.1f s, %.0f exec/s, slowest input %.3f s (%d bytes), peak RSS %.0f MiB",
               target, executions, accepted, rejected, findings.count, corpusSize, corpusBytes, seedFiles, elapsedSeconds,
               elapsedSeconds > 0 ? Double(executions) / elapsedSeconds : 0, slowestSeconds, slowestLength, peakRSSMiB)
    }
}

/// Runs a parser over mutations of real files, in process, seeded: the same seed replays the same
/// inputs. Each seed file is run unmodified first; then every input is one to several stacked
/// mutations of a seed or of an earlier mutant the parser accepted (kept in a small pool, so
/// mutations reach deeper than one step from a valid file).
public struct FuzzHarness {
    public let target: FuzzTarget
    public let seeds: [[UInt8]]
    /// Accepted mutants kept for further mutation.
    public var poolLimit = 64

    public init(target: FuzzTarget, seeds: [[UInt8]]) {
        self.target = target
        self.seeds = seeds
    }

    /// The regular files of `directory`, sorted by name (so a corpus replays in a fixed order).
    public static func loadCorpus(_ directory: URL) throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        var out: [[UInt8]] = []
        for n in names where !n.hasPrefix(".") {
            let url = directory.appendingPathComponent(n)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else { continue }
            out.append([UInt8](try Data(contentsOf: url)))
        }
        return out
    }

    /// Runs `iterations` inputs (or fewer when `seconds` runs out). `willRun` sees each input before
    /// the parser does (the crash guard copies it there).
    public func run(iterations: Int, seed: UInt64, seconds: Double? = nil,
                    willRun: (([UInt8]) -> Void)? = nil) -> FuzzReport {
        var report = FuzzReport(target: target.name)
        report.seedFiles = seeds.count
        var rng = SeededRNG(seed: seed)
        let seedSet = Set(seeds)
        var pool: [[UInt8]] = []
        var poolNext = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = seconds.map { start + UInt64($0 * 1e9) }
        for i in 0..<iterations {
            if let d = deadline, i % 16 == 0, DispatchTime.now().uptimeNanoseconds >= d { break }
            let input: [UInt8]
            if i < seeds.count {
                input = seeds[i]
            } else if seeds.isEmpty {
                input = target.mutator.mutate([], others: [], rng: &rng)
            } else {
                let base = !pool.isEmpty && rng.nextInt(4) == 0 ? pool[rng.nextInt(pool.count)] : seeds[rng.nextInt(seeds.count)]
                input = target.mutator.mutate(base, others: seeds, rng: &rng)
            }
            willRun?(input)
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                try target.body(Data(input))
                report.accepted += 1
                if i >= seeds.count && !seedSet.contains(input) {
                    // Round-robin replacement keeps the pool fresh without unbounded growth.
                    if pool.count < poolLimit { pool.append(input) } else { pool[poolNext] = input; poolNext = (poolNext + 1) % poolLimit }
                }
            } catch {
                if target.isTypedError(error) {
                    report.rejected += 1
                } else {
                    report.findings.append(FuzzFinding(iteration: i, input: input, message: "\(type(of: error)): \(error)"))
                }
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if dt > report.slowestSeconds { report.slowestSeconds = dt; report.slowestLength = input.count }
            report.executions += 1
        }
        report.elapsedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        report.corpusSize = seeds.count + pool.count
        report.corpusBytes = (seeds + pool).reduce(0) { $0 + $1.count }
        report.peakRSSMiB = FuzzHarness.peakRSSMiB()
        return report
    }

    /// Peak resident set size of this process, in MiB.
    public static func peakRSSMiB() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024  // KiB on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
        #endif
    }
}
