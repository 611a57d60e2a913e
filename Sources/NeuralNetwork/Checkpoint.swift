import Foundation
import TensorEngine

extension Module {
    /// Writes every state tensor under its key to a safetensors file (F32), with optional metadata.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try writeSafeTensors(namedTensors(), metadata: metadata, to: url)
    }

    /// Reads a safetensors file and loads it through `load(state:strict:)`, so missing, unexpected
    /// and mis-shaped keys are reported together and nothing is written on failure.
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> [String] {
        let file = try SafeTensorsFile(url: url)
        var state: [String: Tensor] = [:]
        for name in file.names { state[name] = try file.tensor(name) }
        return try load(state: state, strict: strict)
    }
}
