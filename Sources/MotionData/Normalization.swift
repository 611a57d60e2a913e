import Foundation
import TensorEngine

/// Per-feature mean/std normalisation, as HumanML3D's `Mean.npy` / `Std.npy`: `(x - mean) / std` and back.
public struct FeatureNormalizer: Sendable {
    public let mean: [Float]
    public let std: [Float]

    /// `mean` and `std` of equal length; a zero or non-finite std is refused (it would make infinities).
    public init(mean: [Float], std: [Float]) throws {
        guard mean.count == std.count, !mean.isEmpty else {
            throw MotionError.invalidShape("mean has \(mean.count) values, std \(std.count); they must match and be non-empty")
        }
        if let k = mean.firstIndex(where: { !$0.isFinite }) { throw MotionError.invalidValue("mean[\(k)] is not finite") }
        if let k = std.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw MotionError.invalidValue("std[\(k)] = \(std[k]) must be positive and finite")
        }
        self.mean = mean
        self.std = std
    }

    /// Reads `Mean.npy` and `Std.npy` (each `[D]`).
    public init(meanURL: URL, stdURL: URL) throws {
        func load(_ url: URL) throws -> [Float] {
            let t: Tensor
            do { t = try readNpy(url) } catch { throw MotionError.io("\(url.path): \(error)") }
            guard t.rank == 1 else { throw MotionError.invalidShape("\(url.path): expected a 1-D array, got shape \(t.shape)") }
            return t.scalars
        }
        try self.init(mean: try load(meanURL), std: try load(stdURL))
    }

    /// Reads `Mean.npy`/`Std.npy` (or `mean.npy`/`std.npy`, the model-directory names) from a folder.
    public init(directory: URL) throws {
        let fm = FileManager.default
        func pick(_ names: [String]) throws -> URL {
            for n in names where fm.fileExists(atPath: directory.appendingPathComponent(n).path) { return directory.appendingPathComponent(n) }
            throw MotionError.io("\(directory.path): none of \(names.joined(separator: ", ")) found")
        }
        try self.init(meanURL: try pick(["Mean.npy", "mean.npy"]), stdURL: try pick(["Std.npy", "std.npy"]))
    }

    public var dimension: Int { mean.count }

    /// `(x - mean) / std` over the last axis of `x` (any leading shape).
    public func normalize(_ x: Tensor) throws -> Tensor { try apply(x) { v, k in (v - mean[k]) / std[k] } }

    /// `x * std + mean` over the last axis of `x`.
    public func denormalize(_ x: Tensor) throws -> Tensor { try apply(x) { v, k in v * std[k] + mean[k] } }

    private func apply(_ x: Tensor, _ f: (Float, Int) -> Float) throws -> Tensor {
        guard x.shape.last == dimension else {
            throw MotionError.invalidShape("features have shape \(x.shape); the normaliser expects a last axis of \(dimension)")
        }
        let v = x.scalars
        var out = [Float](repeating: 0, count: v.count)
        for i in v.indices { out[i] = f(v[i], i % dimension) }
        return Tensor(out, shape: x.shape)
    }
}
