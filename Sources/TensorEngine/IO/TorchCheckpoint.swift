import Foundation

/// A PyTorch checkpoint in the zip format of `torch.save` (PyTorch 1.6 and later): a ZIP holding
/// `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>` (one record per storage) and
/// `<archive>/byteorder`. The pickle is decoded without executing anything; tensors are read from
/// their storages only when asked for, so opening a large checkpoint is cheap.
///
/// Nested containers are flattened to dotted names: `{"epoch": 3, "state_dict": {"fc.weight": t}}`
/// has the tensor `state_dict.fc.weight`; list elements use their index.
public struct TorchCheckpoint {
    /// The whole unpickled object (a dict for state dicts and Lightning checkpoints).
    public let root: PickleValue
    /// Every tensor reachable through dicts, lists and tuples, by dotted name, in pickle order.
    public let tensorNames: [String]
    /// What each named tensor is a view of.
    public let tensorRefs: [String: TorchTensorRef]
    private let archive: IOZipArchive
    private let prefix: String
    private let bigEndian: Bool

    /// Opens the checkpoint at `url` (memory-mapped).
    public init(url: URL) throws {
        try self.init(data: try ioReadFile(url), name: url.path)
    }

    /// Opens a checkpoint held in memory; `name` is used in error messages.
    public init(data: Data, name: String = "<torch checkpoint>") throws {
        try self.init(data: data, name: name, checksCRC: true)
    }

    /// `checksCRC: false` is for fuzz tests, so corrupted pickles and records reach the decoders.
    init(data: Data, name: String, checksCRC: Bool) throws {
        // The legacy format (before PyTorch 1.6, or _use_new_zipfile_serialization=False) is a bare
        // pickle stream followed by raw storages: it starts with a pickle PROTO opcode, not "PK".
        if data.count >= 2, data[data.startIndex] == 0x80, data[data.startIndex + 1] <= 5 {
            throw TensorError.io("\(name): legacy (non-zip) torch.save format is not supported; re-save it with a PyTorch >= 1.6 torch.save")
        }
        let archive = try IOZipArchive(data: data, origin: name, checksCRC: checksCRC)
        // The top folder is named after the file torch.save wrote ("archive" for buffers).
        guard let pkl = archive.names.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) else {
            throw TensorError.io("\(name): no data.pkl member; not a torch.save checkpoint")
        }
        prefix = String(pkl.dropLast("data.pkl".count))
        if archive.contains(prefix + "byteorder") {
            let order = String(decoding: try archive.read(prefix + "byteorder"), as: UTF8.self)
            guard order == "little" || order == "big" else { throw TensorError.io("\(name): unknown byteorder '\(order)'") }
            bigEndian = order == "big"
        } else {
            bigEndian = false
        }
        self.archive = archive
        root = try unpickle(try archive.read(pkl), origin: "\(name): \(pkl)")
        var names: [String] = []
        var refs: [String: TorchTensorRef] = [:]
        var budget = 1_000_000
        try TorchCheckpoint.collect(root, path: "", depth: 0, budget: &budget, names: &names, refs: &refs, origin: name)
        tensorNames = names
        tensorRefs = refs
    }

    /// Walks containers for tensors. The budget bounds the walk: a pickle may share one container
    /// many times through its memo, and walking every path of such a graph could take forever.
    private static func collect(_ v: PickleValue, path: String, depth: Int, budget: inout Int,
                                names: inout [String], refs: inout [String: TorchTensorRef], origin: String) throws {
        budget -= 1
        guard budget >= 0, depth < 100 else { throw TensorError.io("\(origin): object graph too large or too deep to list its tensors") }
        func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        switch v {
        case .tensor(let t):
            if refs[path] == nil { names.append(path) }
            refs[path] = t
        case .dict(let items):
            for (k, value) in items {
                let key: String
                switch k {
                case .string(let s): key = s
                case .int(let i): key = String(i)
                default: continue
                }
                try collect(value, path: child(key), depth: depth + 1, budget: &budget, names: &names, refs: &refs, origin: origin)
            }
        case .list(let items), .tuple(let items):
            for (i, value) in items.enumerated() {
                try collect(value, path: child(String(i)), depth: depth + 1, budget: &budget, names: &names, refs: &refs, origin: origin)
            }
        default:
            break
        }
    }

    private func view(_ name: String) throws -> IOArrayView {
        guard let ref = tensorRefs[name] else { throw TensorError.io("\(archive.origin): no tensor named '\(name)'") }
        let member = prefix + "data/" + ref.storage.key
        guard archive.contains(member) else { throw TensorError.io("\(archive.origin): tensor '\(name)': storage record \(member) is missing") }
        return try IOArrayView(dtype: ref.dtype, shape: ref.shape, strides: ref.strides, offset: ref.storageOffset,
                               bigEndian: bigEndian, bytes: try archive.read(member),
                               origin: "\(archive.origin): tensor '\(name)'")
    }

    /// Tensor `name` as Float32, gathered into row-major order whatever its strides.
    public func tensor(_ name: String) throws -> Tensor { try view(name).tensor() }

    /// Tensor `name` as integers (integer and bool dtypes only).
    public func integers(_ name: String) throws -> [Int] { try view(name).integers() }

    /// Every tensor by dotted name, as Float32.
    public var tensors: [String: Tensor] {
        get throws {
            var out: [String: Tensor] = [:]
            for n in tensorNames { out[n] = try tensor(n) }
            return out
        }
    }

    /// The model weights: the tensors under `state_dict` (Lightning) or `model` / `module` when the
    /// root holds one of those dicts, with that prefix removed; otherwise every tensor.
    public func stateDict() throws -> [String: Tensor] {
        for key in ["state_dict", "model", "module"] {
            if case .dict? = root[key] {
                let p = key + "."
                var out: [String: Tensor] = [:]
                for n in tensorNames where n.hasPrefix(p) { out[String(n.dropFirst(p.count))] = try tensor(n) }
                return out
            }
        }
        return try tensors
    }
}
