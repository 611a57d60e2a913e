import Foundation

/// A PyTorch storage referenced from a checkpoint's pickle (`archive/data/<key>`).
public struct TorchStorageRef: Equatable, Sendable {
    /// The record name under `data/`.
    public let key: String
    /// Element type, from the storage class (`torch.FloatStorage` -> float32, ...).
    public let dtype: DType
    /// Device the storage was saved from ("cpu", "cuda:0"); the bytes are the same either way.
    public let location: String
}

/// A tensor in a checkpoint: a strided view of a storage, as `torch._utils._rebuild_tensor_v2` takes it.
public struct TorchTensorRef: Equatable, Sendable {
    public let storage: TorchStorageRef
    /// Offset into the storage, in elements.
    public let storageOffset: Int
    public let shape: [Int]
    /// Strides in elements (may be non-contiguous, e.g. a transposed view).
    public let strides: [Int]
    public var dtype: DType { storage.dtype }
}

/// A value decoded from a pickle. Nothing is ever executed: known constructors used by state dicts
/// (OrderedDict, tensor rebuilds, parameters) are interpreted, anything else becomes `.object`.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits: little-endian two's-complement bytes, as LONG1/LONG4 store it.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list([PickleValue])
    /// Entries in insertion order (keys need not be strings).
    case dict([(key: PickleValue, value: PickleValue)])
    case set([PickleValue])
    /// A class or function reference that was not called (`module.name`).
    case global(String)
    /// The result of calling an unknown class or function: an opaque record of what the pickle asked for.
    case object(type: String, args: [PickleValue], state: PickleValue?)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    /// The value for string key `key` when this is a dict.
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let items) = self else { return nil }
        for (k, v) in items { if case .string(let s) = k, s == key { return v } }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return "<int of \(b.count) bytes>"
        case .float(let d): return String(d)
        case .string(let s): return "'\(s)'"
        case .bytes(let d): return "<\(d.count) bytes>"
        case .tuple(let a): return "(" + a.map(\.description).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .list(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .set(let a): return "{" + a.map(\.description).joined(separator: ", ") + "}"
        case .global(let g): return g
        case .object(let t, let args, _): return "\(t)(" + args.map(\.description).joined(separator: ", ") + ")"
        case .storage(let s): return "<storage \(s.key) \(s.dtype.rawValue)>"
        case .tensor(let t): return "<tensor \(t.dtype.rawValue) \(t.shape)>"
        }
    }
}

/// Decodes a pickle (protocols 0-5, without out-of-band buffers or the extension registry) into a
/// `PickleValue`. `origin` names the file or member in errors.
public func unpickle(_ data: Data, origin: String = "<pickle>") throws -> PickleValue {
    var u = IOUnpickler(data: data, origin: origin)
    return try u.run()
}

// MARK: - Implementation

/// Mutable containers during unpickling are classes, so that memo references (BINPUT/BINGET) see
/// later APPENDs and SETITEMs, as Python's do.
private final class PNode {
    enum Kind {
        case list([PItem])
        case tuple([PItem])
        case dict([(PItem, PItem)])
        case set([PItem])
        case object(type: String, args: [PItem], state: PItem?)
    }
    var kind: Kind
    init(_ kind: Kind) { self.kind = kind }
}

/// Owns every node of one unpickling run. Releasing a graph nested 100 000 deep (or cyclic) by
/// reference counting would recurse once per level and overflow the stack, or leak; the arena
/// unlinks all nodes first, so each is freed on its own.
private final class PNodeArena {
    private var nodes: [PNode] = []

    func make(_ kind: PNode.Kind) -> PNode {
        let n = PNode(kind)
        nodes.append(n)
        return n
    }

    deinit {
        for n in nodes { n.kind = .list([]) }
    }
}

private enum PItem {
    case leaf(PickleValue)
    case node(PNode)
    /// A class or function reference waiting to be called.
    case global(String)

    var leaf: PickleValue? { if case .leaf(let v) = self { return v }; return nil }
}

private let torchStorageTypes: [String: DType] = [
    "torch.FloatStorage": .float32, "torch.DoubleStorage": .float64, "torch.HalfStorage": .float16,
    "torch.BFloat16Storage": .bfloat16, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
    "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8,
    "torch.BoolStorage": .bool, "torch.UntypedStorage": .uint8,
]

private struct IOUnpickler {
    let data: Data
    let origin: String
    var reader: IOByteReader
    var stack: [PItem] = []
    var marks: [Int] = []
    var memo: [Int: PItem] = [:]
    var opcodeStart = 0
    let arena = PNodeArena()

    init(data: Data, origin: String) {
        self.data = data
        self.origin = origin
        reader = IOByteReader(data, origin: origin)
    }

    func fail(_ what: String) -> TensorError {
        TensorError.io("\(origin): pickle byte \(opcodeStart): \(what)")
    }

    mutating func pop() throws -> PItem {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("popped past a MARK") }
        return v
    }

    mutating func popMark() throws -> [PItem] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK to pop to") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    mutating func line() throws -> String {
        let start = reader.position
        while true {
            let b = try reader.u8("a text line")
            if b == 0x0a { break }
        }
        var lineReader = IOByteReader(data, origin: origin, position: start)
        let bytes = try lineReader.bytes(reader.position - start - 1, "a text line")
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func string(_ length: UInt64) throws -> String {
        guard length <= UInt64(reader.remaining) else { throw fail("string length \(length) exceeds the data") }
        let bytes = try reader.bytes(Int(length), "a string")
        guard let s = String(data: bytes, encoding: .utf8) else { throw fail("string is not UTF-8") }
        return s
    }

    mutating func bytes(_ length: UInt64) throws -> Data {
        guard length <= UInt64(reader.remaining) else { throw fail("bytes length \(length) exceeds the data") }
        return Data(try reader.bytes(Int(length), "bytes"))
    }

    /// LONG1/LONG4 payload: little-endian two's complement.
    func long(_ bytes: Data) -> PickleValue {
        let b = [UInt8](bytes)
        if b.isEmpty { return .int(0) }
        if b.count > 8 { return .bigInt(b) }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        if b.count < 8, b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }
        return .int(Int(Int64(bitPattern: v)))
    }

    mutating func push(_ v: PickleValue) { stack.append(.leaf(v)) }

    mutating func memoGet(_ i: Int) throws -> PItem {
        guard let v = memo[i] else { throw fail("memo key \(i) was never stored") }
        return v
    }

    mutating func run() throws -> PickleValue {
        while true {
            opcodeStart = reader.position
            let op = try reader.u8("an opcode")
            switch op {
            case 0x80: _ = try reader.u8("protocol")  // PROTO
            case 0x95: _ = try reader.u64("frame size")  // FRAME: framing is only a read hint
            case 0x2e:  // STOP
                let origin = self.origin
                return try IOPickleConverter(fail: { TensorError.io("\(origin): \($0)") }).convert(try pop())
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32:  // DUP
                guard let top = stack.last else { throw fail("stack underflow") }
                stack.append(top)
            case 0x4e: push(.none)
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x4a: push(.int(Int(Int32(bitPattern: try reader.u32("BININT")))))
            case 0x4b: push(.int(Int(try reader.u8("BININT1"))))
            case 0x4d: push(.int(Int(try reader.u16("BININT2"))))
            case 0x8a: push(long(try bytes(UInt64(try reader.u8("LONG1 length")))))
            case 0x8b:
                let n = Int32(bitPattern: try reader.u32("LONG4 length"))
                guard n >= 0 else { throw fail("negative LONG4 length") }
                push(long(try bytes(UInt64(n))))
            case 0x49:  // INT (text); protocol 0 spells booleans 00 and 01
                let text = try line()
                if text == "00" { push(.bool(false)) } else if text == "01" { push(.bool(true)) } else {
                    guard let v = Int(text) else { throw fail("bad INT '\(text)'") }
                    push(.int(v))
                }
            case 0x4c:  // LONG (text)
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                if let v = Int(text) { push(.int(v)) } else { push(.bigInt([])) }
            case 0x46:  // FLOAT (text)
                let text = try line()
                guard let v = Double(text) else { throw fail("bad FLOAT '\(text)'") }
                push(.float(v))
            case 0x47: push(.float(Double(bitPattern: try reader.u64("BINFLOAT").byteSwapped)))  // big-endian
            case 0x58: push(.string(try string(UInt64(try reader.u32("BINUNICODE length")))))
            case 0x8c: push(.string(try string(UInt64(try reader.u8("SHORT_BINUNICODE length")))))
            case 0x8d: push(.string(try string(try reader.u64("BINUNICODE8 length"))))
            case 0x56: push(.string(try line()))  // UNICODE (raw-unicode-escape; ASCII in practice)
            case 0x53:  // STRING: a quoted Python 2 str
                var text = try line()
                if text.count >= 2, let q = text.first, q == "'" || q == "\"", text.last == q { text = String(text.dropFirst().dropLast()) }
                push(.string(text))
            case 0x54:  // BINSTRING
                let n = Int32(bitPattern: try reader.u32("BINSTRING length"))
                guard n >= 0 else { throw fail("negative BINSTRING length") }
                push(.bytes(try bytes(UInt64(n))))
            case 0x55: push(.bytes(try bytes(UInt64(try reader.u8("SHORT_BINSTRING length")))))
            case 0x42: push(.bytes(try bytes(UInt64(try reader.u32("BINBYTES length")))))
            case 0x43: push(.bytes(try bytes(UInt64(try reader.u8("SHORT_BINBYTES length")))))
            case 0x8e, 0x96: push(.bytes(try bytes(try reader.u64("BINBYTES8 length"))))
            case 0x97, 0x98: throw fail("out-of-band pickle buffers are not supported")
            case 0x82, 0x83, 0x84: throw fail("the pickle extension registry (EXT opcodes) is not supported")
            case 0x29: stack.append(.node(arena.make(.tuple([]))))  // EMPTY_TUPLE
            case 0x85: let a = try pop(); stack.append(.node(arena.make(.tuple([a]))))
            case 0x86:
                let b = try pop(), a = try pop()
                stack.append(.node(arena.make(.tuple([a, b]))))
            case 0x87:
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.node(arena.make(.tuple([a, b, c]))))
            case 0x74: stack.append(.node(arena.make(.tuple(try popMark()))))  // TUPLE
            case 0x5d: stack.append(.node(arena.make(.list([]))))  // EMPTY_LIST
            case 0x6c: stack.append(.node(arena.make(.list(try popMark()))))  // LIST
            case 0x7d: stack.append(.node(arena.make(.dict([]))))  // EMPTY_DICT
            case 0x8f: stack.append(.node(arena.make(.set([]))))  // EMPTY_SET
            case 0x91: stack.append(.node(arena.make(.set(try popMark()))))  // FROZENSET
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("DICT with an odd number of items") }
                stack.append(.node(arena.make(.dict(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }))))
            case 0x61:  // APPEND
                let v = try pop()
                try append([v])
            case 0x65: try append(try popMark())  // APPENDS
            case 0x90: try append(try popMark())  // ADDITEMS (sets)
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v])
            case 0x75: try setItems(try popMark())  // SETITEMS
            case 0x71: memo[Int(try reader.u8("BINPUT"))] = try top()
            case 0x72: memo[Int(try reader.u32("LONG_BINPUT"))] = try top()
            case 0x70:  // PUT
                let text = try line()
                guard let i = Int(text) else { throw fail("bad PUT '\(text)'") }
                memo[i] = try top()
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68: stack.append(try memoGet(Int(try reader.u8("BINGET"))))
            case 0x6a: stack.append(try memoGet(Int(try reader.u32("LONG_BINGET"))))
            case 0x67:  // GET
                let text = try line()
                guard let i = Int(text) else { throw fail("bad GET '\(text)'") }
                stack.append(try memoGet(i))
            case 0x63:  // GLOBAL
                let module = try line()
                let name = try line()
                stack.append(.global("\(module).\(name)"))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let n)? = name.leaf, case .string(let m)? = module.leaf else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global("\(m).\(n)"))
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x50:  // PERSID (text id)
                stack.append(try persistentLoad(.leaf(.string(try line()))))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try call(callable, args: try tupleItems(args)))
            case 0x81:  // NEWOBJ: cls.__new__(cls, *args)
                let args = try pop(), cls = try pop()
                stack.append(try call(cls, args: try tupleItems(args)))
            case 0x92:  // NEWOBJ_EX: keyword arguments are kept out of the record
                _ = try pop()
                let args = try pop(), cls = try pop()
                stack.append(try call(cls, args: try tupleItems(args)))
            case 0x69:  // INST
                let module = try line()
                let name = try line()
                stack.append(try call(.global("\(module).\(name)"), args: try popMark()))
            case 0x6f:  // OBJ
                var items = try popMark()
                guard !items.isEmpty else { throw fail("OBJ without a class") }
                let cls = items.removeFirst()
                stack.append(try call(cls, args: items))
            case 0x62:  // BUILD
                let state = try pop()
                try build(try top(), state: state)
            default:
                throw fail(String(format: "unsupported opcode 0x%02x", op))
            }
        }
    }

    func top() throws -> PItem {
        guard let t = stack.last else { throw fail("stack underflow") }
        return t
    }

    func tupleItems(_ item: PItem) throws -> [PItem] {
        guard case .node(let n) = item, case .tuple(let items) = n.kind else { throw fail("arguments are not a tuple") }
        return items
    }

    mutating func append(_ items: [PItem]) throws {
        guard case .node(let n) = try top() else { throw fail("APPEND to a non-list") }
        switch n.kind {
        case .list(var a): n.kind = .list([]); a += items; n.kind = .list(a)
        case .set(var a): n.kind = .set([]); a += items; n.kind = .set(a)
        // Unknown list subclasses built by REDUCE/NEWOBJ: keep the items as arguments.
        case .object(let t, var args, let s): args += items; n.kind = .object(type: t, args: args, state: s)
        default: throw fail("APPEND to a non-list")
        }
    }

    mutating func setItems(_ items: [PItem]) throws {
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        guard case .node(let n) = try top(), case .dict(var d) = n.kind else { throw fail("SETITEM on a non-dict") }
        n.kind = .dict([])  // drop the reference so the append does not copy
        for i in stride(from: 0, to: items.count, by: 2) { d.append((items[i], items[i + 1])) }
        n.kind = .dict(d)
    }

    mutating func build(_ target: PItem, state: PItem) throws {
        guard case .node(let n) = target else { return }
        if case .object(let t, let args, _) = n.kind { n.kind = .object(type: t, args: args, state: state) }
        // BUILD on a dict or list (OrderedDict's instance attributes such as _metadata) carries
        // nothing a state dict needs, so it is dropped.
    }

    /// torch.save's persistent ids: ('storage', storage_class, key, location, numel).
    func persistentLoad(_ pid: PItem) throws -> PItem {
        guard case .node(let n) = pid, case .tuple(let items) = n.kind, items.count >= 4,
              case .string("storage")? = items[0].leaf else {
            // Not a torch storage: keep an opaque record rather than failing the whole file.
            return .node(arena.make(.object(type: "persistent_id", args: [pid], state: nil)))
        }
        guard case .global(let cls) = items[1] else { throw fail("storage type is not a class") }
        guard let dtype = torchStorageTypes[cls] else { throw fail("unsupported storage type \(cls)") }
        guard case .string(let key)? = items[2].leaf else { throw fail("storage key is not a string") }
        let location = items[3].leaf?.stringValue ?? ""
        return .leaf(.storage(TorchStorageRef(key: key, dtype: dtype, location: location)))
    }

    /// Interprets the calls state dicts make; anything else becomes an opaque object.
    func call(_ callable: PItem, args: [PItem]) throws -> PItem {
        guard case .global(let name) = callable else {
            return .node(arena.make(.object(type: "<call>", args: args, state: nil)))
        }
        switch name {
        case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
            if args.isEmpty { return .node(arena.make(.dict([]))) }
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            return .leaf(.tensor(try rebuildTensor(args)))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            // Parameter(data, requires_grad, hooks): the data is the tensor.
            if let first = args.first, case .tensor? = first.leaf { return first }
        case "torch._tensor._rebuild_from_type_v2":
            // (func, new_type, args, state): a tensor subclass; rebuild the plain tensor.
            if args.count >= 3 { return try call(args[0], args: try tupleItems(args[2])) }
        case "builtins.set", "__builtin__.set", "builtins.frozenset":
            if args.isEmpty { return .node(arena.make(.set([]))) }
            if case .node(let n) = args[0], case .list(let items) = n.kind { return .node(arena.make(.set(items))) }
        case "_codecs.encode":
            // Protocol 2 spells bytes as _codecs.encode(text, 'latin1').
            if args.count == 2, case .string(let s)? = args[0].leaf {
                return .leaf(.bytes(Data(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })))
            }
        default:
            break
        }
        return .node(arena.make(.object(type: name, args: args, state: nil)))
    }

    func rebuildTensor(_ args: [PItem]) throws -> TorchTensorRef {
        guard args.count >= 4, case .storage(let storage)? = args[0].leaf else { throw fail("tensor rebuild without a storage") }
        guard case .int(let offset)? = args[1].leaf, offset >= 0 else { throw fail("bad storage offset") }
        func ints(_ item: PItem, _ what: String) throws -> [Int] {
            try tupleItems(item).map {
                guard case .int(let v)? = $0.leaf else { throw fail("\(what) holds a non-integer") }
                return v
            }
        }
        let shape = try ints(args[2], "size")
        let strides = try ints(args[3], "stride")
        guard shape.count == strides.count else { throw fail("size \(shape) and stride \(strides) differ in rank") }
        return TorchTensorRef(storage: storage, storageOffset: offset, shape: shape, strides: strides)
    }
}

/// Turns the class graph into values. Results are cached per node so memo-shared structure is
/// converted once (a hostile pickle of repeated references cannot blow up exponentially), cycles
/// become `.none`, and nesting is bounded so the recursion cannot exhaust the stack.
private final class IOPickleConverter {
    var cache: [ObjectIdentifier: PickleValue] = [:]
    var inProgress = Set<ObjectIdentifier>()
    let fail: (String) -> TensorError
    static let maxDepth = 200

    init(fail: @escaping (String) -> TensorError) { self.fail = fail }

    func convert(_ item: PItem, depth: Int = 0) throws -> PickleValue {
        guard depth < IOPickleConverter.maxDepth else { throw fail("values nested more than \(IOPickleConverter.maxDepth) deep") }
        switch item {
        case .leaf(let v): return v
        case .global(let g): return .global(g)
        case .node(let n):
            let id = ObjectIdentifier(n)
            if let v = cache[id] { return v }
            if inProgress.contains(id) { return .none }
            inProgress.insert(id)
            defer { inProgress.remove(id) }
            let c = { (x: PItem) throws -> PickleValue in try self.convert(x, depth: depth + 1) }
            let v: PickleValue
            switch n.kind {
            case .list(let a): v = .list(try a.map(c))
            case .tuple(let a): v = .tuple(try a.map(c))
            case .set(let a): v = .set(try a.map(c))
            case .dict(let d): v = .dict(try d.map { (key: try c($0.0), value: try c($0.1)) })
            case .object(let t, let args, let s): v = .object(type: t, args: try args.map(c), state: try s.map(c))
            }
            cache[id] = v
            return v
        }
    }
}
