import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// State the signal handler and the watchdog read. Plain globals because a signal handler can capture
// nothing; written only by the fuzzing thread, read by the handler (same thread) and the watchdog.
private var guardBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
private var guardCapacity = 1
private var guardCount = 0
private var guardCrashPath: UnsafeMutablePointer<CChar>?
private var guardTimeoutPath: UnsafeMutablePointer<CChar>?
private let guardStartNanos = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
private var guardTimeoutNanos: UInt64 = 10_000_000_000
private var guardWatchdogStarted = false

private func guardWriteInput(_ path: UnsafeMutablePointer<CChar>?) {
    guard let path else { return }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0 {
        var done = 0
        while done < guardCount {
            let n = write(fd, guardBuffer + done, guardCount - done)
            if n <= 0 { break }
            done += n
        }
        close(fd)
    }
}

private func guardSay(_ text: StaticString) {
    _ = text.withUTF8Buffer { write(2, $0.baseAddress, $0.count) }
}

/// Makes a standalone fuzz run leave evidence when the parser takes the process down: on a trap
/// (Swift's overflow and bounds checks raise SIGILL/SIGTRAP), a segfault or an abort (allocation
/// failure under the memory limit) the current input is written to `crash-<target>.bin`; an input that
/// runs longer than the timeout is written to `timeout-<target>.bin` and the process exits with 70.
/// For the `motiongpt fuzz` command only: it replaces the process's signal handlers.
public enum FuzzCrashGuard {
    /// Installs the handlers, the watchdog and an address-space limit (0 for none).
    public static func install(outputDirectory: URL, target: String, timeoutSeconds: Double, memoryLimitMiB: Int) {
        guardCrashPath = strdup(outputDirectory.appendingPathComponent("crash-\(target).bin").path)
        guardTimeoutPath = strdup(outputDirectory.appendingPathComponent("timeout-\(target).bin").path)
        guardStartNanos.pointee = 0
        if memoryLimitMiB > 0 {
            let bytes = rlim_t(memoryLimitMiB) * 1_048_576
            var limit = rlimit(rlim_cur: bytes, rlim_max: bytes)
            #if os(Linux)
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
            #else
            setrlimit(RLIMIT_AS, &limit)
            #endif
        }
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            signal(sig) { s in
                guardWriteInput(guardCrashPath)
                guardSay("motiongpt fuzz: the parser crashed; the input is saved as crash-<target>.bin\n")
                signal(s, SIG_DFL)
                raise(s)
            }
        }
        guardTimeoutNanos = UInt64(timeoutSeconds * 1e9)
        guard !guardWatchdogStarted else { return }
        guardWatchdogStarted = true
        let watchdog = Thread {
            while true {
                usleep(200_000)
                let started = guardStartNanos.pointee
                if started != 0 && DispatchTime.now().uptimeNanoseconds &- started > guardTimeoutNanos {
                    guardWriteInput(guardTimeoutPath)
                    guardSay("motiongpt fuzz: an input ran past the timeout; saved as timeout-<target>.bin\n")
                    _exit(70)
                }
            }
        }
        watchdog.start()
    }

    /// Stops the watchdog from timing the last input (call when a campaign ends).
    public static func finished() { guardStartNanos.pointee = 0 }

    /// Records the input about to run (pass as `willRun` to `FuzzHarness.run`).
    public static func willRun(_ input: [UInt8]) {
        guardStartNanos.pointee = 0
        if input.count > guardCapacity {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: input.count)
            let old = guardBuffer
            guardBuffer = bigger
            guardCapacity = input.count
            old.deallocate()
        }
        if !input.isEmpty { input.withUnsafeBufferPointer { guardBuffer.update(from: $0.baseAddress!, count: input.count) } }
        guardCount = input.count
        guardStartNanos.pointee = DispatchTime.now().uptimeNanoseconds
    }
}
