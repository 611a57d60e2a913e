import Foundation
import TensorEngine

/// Errors from building, loading and saving modules. Each names the key or file at fault.
public enum ModuleError: Error, CustomStringConvertible, Equatable {
    /// Loading found keys the module lacks, keys the file lacks, or shapes that differ.
    case stateMismatch(missing: [String], unexpected: [String], misshapen: [String])
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .stateMismatch(missing, unexpected, misshapen):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: \(Self.list(missing))") }
            if !unexpected.isEmpty { parts.append("unexpected keys: \(Self.list(unexpected))") }
            if !misshapen.isEmpty { parts.append("shape mismatches: \(Self.list(misshapen))") }
            return "weights do not fit the model: " + parts.joined(separator: "; ")
        case .invalidConfiguration(let s):
            return "invalid configuration: \(s)"
        }
    }

    private static func list(_ keys: [String]) -> String {
        keys.count <= 8 ? keys.joined(separator: ", ") : keys.prefix(8).joined(separator: ", ") + " and \(keys.count - 8) more"
    }
}

/// Base class of every layer and model. Its state (parameters and buffers) is discovered by
/// reflection over stored properties, so the property path *is* the checkpoint key:
/// a `Tensor` property `weight` is `weight`, a child module `fc1` contributes `fc1.weight`,
/// an array `[Module]` named `block` contributes `block.0.…`. Properties whose names start with
/// `_` are private scratch and skipped. `keyOverrides` renames a property where a checkpoint
/// format uses a key that is not a good Swift name; renaming an array to `""` puts its items
/// directly at the indices (as `nn.Sequential` does).
///
/// Tensors are reference types: loading and optimiser updates write into the existing storage,
/// so every property keeps pointing at the live weights.
open class Module {
    /// Training mode (dropout active). Set for a whole tree with `train(_:)`.
    public private(set) var isTraining = true

    public init() {}

    /// Property name -> checkpoint key renames for this class (default: none).
    open var keyOverrides: [String: String] { [:] }

    /// Direct children and own tensors, in declaration order, with their keys.
    private func directEntries() -> (tensors: [(String, Tensor)], children: [(String, Module)]) {
        var tensors: [(String, Tensor)] = []
        var children: [(String, Module)] = []
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let cur = m { mirrors.append(cur); m = cur.superclassMirror }
        let renames = keyOverrides
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard let label = child.label, !label.hasPrefix("_"), !label.hasPrefix("$") else { continue }
                let key = renames[label] ?? label
                switch child.value {
                case let t as Tensor: tensors.append((key, t))
                case let t as Tensor?: if let t { tensors.append((key, t)) }
                case let mod as Module: children.append((key, mod))
                case let mod as Module?: if let mod { children.append((key, mod)) }
                case let mods as [Module]: for (i, mod) in mods.enumerated() { children.append((key.isEmpty ? "\(i)" : "\(key).\(i)", mod)) }
                case let ts as [Tensor]: for (i, t) in ts.enumerated() { tensors.append((key.isEmpty ? "\(i)" : "\(key).\(i)", t)) }
                default: continue
                }
            }
        }
        return (tensors, children)
    }

    /// Every tensor of the state (parameters and buffers) with its full dotted key.
    public func namedTensors(prefix: String = "") -> [(String, Tensor)] {
        let (own, children) = directEntries()
        var result = own.map { (prefix + $0.0, $0.1) }
        for (key, child) in children { result += child.namedTensors(prefix: prefix + key + ".") }
        return result
    }

    /// The trainable tensors (those with `requiresGrad`), with keys.
    public func namedParameters() -> [(String, Tensor)] { namedTensors().filter { $0.1.requiresGrad } }

    /// The trainable tensors.
    public func parameters() -> [Tensor] { namedParameters().map { $0.1 } }

    /// Child modules, recursively, with keys (the module itself first, key "").
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var result: [(String, Module)] = [(prefix, self)]
        for (key, child) in directEntries().children {
            result += child.namedModules(prefix: prefix.isEmpty ? key : prefix + "." + key)
        }
        return result
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Switches this module and all its children between training and inference behaviour.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.grad = nil } }

    /// Copies `state` into the module's tensors. With `strict`, any key the module has that `state`
    /// lacks, any extra key in `state`, or any shape difference is an error and nothing is written.
    /// Returns the keys that were loaded.
    @discardableResult
    public func load(state: [String: Tensor], strict: Bool = true) throws -> [String] {
        let own = namedTensors()
        let ownKeys = Set(own.map { $0.0 })
        let missing = own.map { $0.0 }.filter { state[$0] == nil }
        let unexpected = state.keys.filter { !ownKeys.contains($0) }.sorted()
        let misshapen = own.compactMap { key, t -> String? in
            guard let s = state[key], s.shape != t.shape else { return nil }
            return "\(key) (model \(t.shape), file \(s.shape))"
        }
        if !misshapen.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw ModuleError.stateMismatch(missing: strict ? missing : [], unexpected: strict ? unexpected : [], misshapen: misshapen)
        }
        var loaded: [String] = []
        for (key, t) in own { if let s = state[key] { t.assign(s); loaded.append(key) } }
        refreshCompactWeights()
        stateDidLoad()
        return loaded
    }

    /// Called after `load(state:strict:)` wrote new weights, so a module can refresh what it derives
    /// from them (a quantizer's EMA statistics, say). Does nothing by default.
    open func stateDidLoad() {}
}

/// A module mapping one tensor to one tensor.
public protocol UnaryLayer: AnyObject {
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension ModuleError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .stateMismatch: return .modelFault
        case .invalidConfiguration: return .badInput
        }
    }
}
