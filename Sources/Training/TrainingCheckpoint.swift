import Foundation
import TensorEngine

/// Training checkpoints in a run folder: `step-00001200.safetensors`, written to a temporary name and
/// renamed, so a reader never sees a half-written file under a checkpoint name.
public enum TrainingCheckpoint {
    static func name(step: Int) -> String { String(format: "step-%08d.safetensors", step) }

    /// Writes a checkpoint for `step` and keeps the `keep` newest.
    @discardableResult
    public static func save(_ tensors: [(String, Tensor)], metadata: [String: String], step: Int, in dir: URL, keep: Int = 3) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name(step: step))
        let tmp = dir.appendingPathComponent(".\(name(step: step)).tmp")
        try safeTensorsData(tensors, metadata: metadata).write(to: tmp)
        _ = try? fm.removeItem(at: url)
        try fm.moveItem(at: tmp, to: url)
        let all = try checkpoints(in: dir)
        for old in all.dropLast(keep) { try? fm.removeItem(at: old) }
        return url
    }

    /// Checkpoint files in `dir`, oldest first.
    public static func checkpoints(in dir: URL) throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// The newest readable checkpoint: its tensors, metadata and file.
    public static func latest(in dir: URL) throws -> ([String: Tensor], [String: String], URL)? {
        for url in try checkpoints(in: dir).reversed() {
            guard let file = try? SafeTensorsFile(url: url) else { continue }
            var tensors: [String: Tensor] = [:]
            var ok = true
            for n in file.names { if let t = try? file.tensor(n) { tensors[n] = t.copy() } else { ok = false; break } }
            if ok { return (tensors, file.metadata, url) }
        }
        return nil
    }
}
