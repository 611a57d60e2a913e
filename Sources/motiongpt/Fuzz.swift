import ArgumentParser
import Foundation
import Fuzzing

/// `motiongpt fuzz`: long seeded fuzz campaigns of the file parsers over mutations of the seed corpus
/// (`Tools/fuzz/corpus/<target>/`). A developer tool, hidden from the help. Untyped errors are written
/// to the output folder as `finding-<target>-<n>.bin`; a trap or an abort leaves `crash-<target>.bin`,
/// an input past the timeout `timeout-<target>.bin`. Exit status 1 when anything was found.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fuzz the file parsers with mutated seed files (developer tool).",
        discussion: """
        Example: motiongpt fuzz --target bvh --iterations 10000
        """,
        shouldDisplay: false)

    @Option(name: .long, help: "Parser to fuzz, or 'all' (see --list).") var target = "all"
    @Option(name: .long, help: "Inputs per target.") var iterations = 100_000
    @Option(name: .long, help: "Seed of the mutation sequence (the same seed replays the same inputs).") var seed: UInt64 = 1
    @Option(name: .long, help: "Stop each target after this many seconds.") var seconds: Double?
    @Option(name: .long, help: "Seed corpus folder holding one folder per target.") var corpus = "Tools/fuzz/corpus"
    @Option(name: .long, help: "Folder for findings and crash inputs (created).") var out = "fuzz-out"
    @Option(name: .long, help: "Seconds one input may run before it counts as a hang.") var timeout: Double = 10
    @Option(name: .customLong("memory-limit-mb"), help: "Address-space limit of the process (0: none).") var memoryLimitMB = 4096
    @Flag(name: .long, help: "List the targets and exit.") var list = false
    @Flag(name: .long, help: "Leave signal handling to the Swift runtime (its backtraces), no watchdog or memory limit.") var noCrashGuard = false
    @Option(name: .long, help: "Run one saved input through --target and print the outcome.") var replay: String?

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let s = seconds, !(s > 0) { throw ValidationError("--seconds must be positive") }
        if replay != nil && target == "all" { throw ValidationError("--replay needs a --target") }
        if target != "all" && FuzzTargets.named(target) == nil {
            throw ValidationError("unknown --target \(target); use one of \(FuzzTargets.all.map(\.name).joined(separator: ", ")) or all")
        }
    }

    func run() throws {
        if list {
            for t in FuzzTargets.all { print("\(t.name): \(t.summary)") }
            return
        }
        if let replay {
            let t = FuzzTargets.named(target)!
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: replay)) } catch { throw UserError("\(replay): cannot read (\(error.localizedDescription))") }
            do {
                try t.body(data)
                print("\(t.name): accepted")
            } catch {
                print("\(t.name): \(t.isTypedError(error) ? "typed error" : "UNTYPED ERROR") \(type(of: error)): \(error)")
                if !t.isTypedError(error) { throw ExitCode(1) }
            }
            return
        }
        let targets = target == "all" ? FuzzTargets.all : [FuzzTargets.named(target)!]
        let corpusURL = URL(fileURLWithPath: corpus)
        // Check every seed folder before the first long campaign starts.
        var seedSets: [[[UInt8]]] = []
        for t in targets {
            let dir = corpusURL.appendingPathComponent(t.name)
            guard FileManager.default.fileExists(atPath: dir.path) else { throw UserError("\(dir.path): no seed folder for target \(t.name)") }
            let seeds = try FuzzHarness.loadCorpus(dir)
            guard !seeds.isEmpty else { throw UserError("\(dir.path): no seed files") }
            seedSets.append(seeds)
        }
        let outURL = URL(fileURLWithPath: out)
        do { try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true) } catch {
            throw UserError("\(outURL.path): cannot create the output folder (\(error.localizedDescription))")
        }
        var found = 0
        for (t, seeds) in zip(targets, seedSets) {
            if !noCrashGuard {
                FuzzCrashGuard.install(outputDirectory: outURL, target: t.name, timeoutSeconds: timeout, memoryLimitMiB: memoryLimitMB)
            }
            let report = FuzzHarness(target: t, seeds: seeds).run(iterations: iterations, seed: seed, seconds: seconds,
                                                                    willRun: noCrashGuard ? nil : FuzzCrashGuard.willRun)
            FuzzCrashGuard.finished()
            print(report)
            fflush(stdout)  // campaigns run for minutes; show each target's line as it finishes
            for (n, f) in report.findings.enumerated() {
                let file = outURL.appendingPathComponent("finding-\(t.name)-\(n).bin")
                try Data(f.input).write(to: file)
                print("  finding at iteration \(f.iteration): \(f.message) -> \(file.path)")
            }
            found += report.findings.count
        }
        if found > 0 { throw ExitCode(1) }
    }
}
