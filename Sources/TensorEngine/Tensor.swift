import CKernels
import Foundation

/// Errors raised by tensor construction, shape checks and file IO. Each names what was wrong.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case invalidArgument(String)
    case io(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let s): return "shape mismatch: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .io(let s): return s
        }
    }
}

/// glibc serves large blocks with a fresh mmap each (above a threshold that only adapts up to 32 MB) and
/// returns the top of the heap to the system past 2x that; a training step allocates and frees the same
/// large tensors every step, so each step faulted and zeroed its pages again (7% of an LMM training step
/// in `clear_page`). Large blocks from the heap and a high trim threshold keep freed pages for reuse:
/// the T5-small step took 1092 ms instead of 1321, the LMM step 757 instead of 868. Set through
/// glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ variables, which win when present.
let allocatorTuned: Void = {
    let env = ProcessInfo.processInfo.environment
    mgpt_tune_allocator(env["MALLOC_MMAP_THRESHOLD_"] == nil ? 256 << 20 : 0, env["MALLOC_TRIM_THRESHOLD_"] == nil ? 1 << 30 : 0)
}()

/// Owned, uninitialised-on-allocation Float32 memory. A class so tensors that are views of the
/// same data (reshape) share it, and so backward closures can hold an output's values without
/// holding the output tensor (which would make a reference cycle through its grad node).
public final class TensorStorage {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        _ = allocatorTuned
        self.count = count
        // 64-byte alignment keeps AVX loads aligned and matches what BLAS prefers.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// A dense Float32 tensor: contiguous, row-major, with a shape. Operations that have a gradient
/// record it when any input requires a gradient and grad mode is on (see `Tensor.withNoGrad`).
public final class Tensor {
    /// Extent of each dimension; `[]` is a scalar.
    public let shape: [Int]
    /// The values, `shape.product` of them, row-major.
    public let storage: TensorStorage
    /// Whether gradients flow to this tensor (true for trainable parameters).
    public var requiresGrad: Bool
    /// Accumulated gradient after `backward()`, same shape as the tensor.
    public var grad: Tensor?
    /// The operation that produced this tensor, when recorded for autodiff.
    var gradNode: GradNode?
    /// Set once `backward()` has run through (and freed) this tensor's operation.
    var graphReleased = false

    /// Wraps existing storage (no copy). `storage.count` must equal the shape's element count.
    public init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not fit \(storage.count) values")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// An uninitialised tensor; every element must be written before it is read.
    public static func empty(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(count: shape.reduce(1, *)))
    }

    /// A tensor filled with `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        let s = TensorStorage(count: shape.reduce(1, *))
        s.pointer.initialize(repeating: value, count: s.count)
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A tensor holding a copy of `values`; `values.count` must match the shape.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fit shape \(shape)")
        let s = TensorStorage(count: values.count)
        values.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A 1-D tensor of `values`.
    public convenience init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A scalar (shape `[]`).
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(repeating: 0, shape: shape, requiresGrad: requiresGrad)
    }

    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(repeating: 1, shape: shape, requiresGrad: requiresGrad)
    }

    /// `[start, start+1, ..., end-1]` as floats.
    public static func arange(_ start: Int, _ end: Int) -> Tensor {
        Tensor((start..<end).map { Float($0) }, shape: [Swift.max(0, end - start)])
    }

    /// Standard normal values times `std` plus `mean`, from the seeded generator.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout SeededRNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor.empty(shape)
        for i in 0..<t.count { t.storage.pointer[i] = mean + std * rng.nextNormal() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform values in `[low, high)` from the seeded generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout SeededRNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor.empty(shape)
        for i in 0..<t.count { t.storage.pointer[i] = low + (high - low) * rng.nextFloat() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// The values as an array (a copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }
    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item() needs exactly one element, shape is \(shape)")
        return storage.pointer[0]
    }

    /// Resolves a possibly negative dimension index.
    public func axis(_ d: Int) -> Int {
        let a = d < 0 ? d + rank : d
        precondition(a >= 0 && a < rank, "dimension \(d) out of range for shape \(shape)")
        return a
    }

    /// Element at a multi-index (slow; for tests and small lookups).
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set { storage.pointer[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) for shape \(shape)")
        var off = 0
        for (i, d) in zip(index, shape) { precondition(i >= 0 && i < d, "index \(index) out of bounds for \(shape)"); off = off * d + i }
        return off
    }

    /// A copy with its own storage and no autodiff history.
    public func copy() -> Tensor {
        let t = Tensor.empty(shape)
        t.storage.pointer.update(from: storage.pointer, count: count)
        return t
    }

    /// Same values, cut from the autodiff graph.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Overwrites the values in place from `other` (same element count); used by loaders and optimisers.
    public func assign(_ other: Tensor) {
        precondition(other.shape == shape, "assign: shape \(other.shape) into \(shape)")
        storage.pointer.update(from: other.storage.pointer, count: count)
    }

    /// Sets every element to `value` in place.
    public func fill(_ value: Float) { storage.pointer.update(repeating: value, count: count) }

    /// Largest absolute elementwise difference to `other` (same shape).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(other.shape == shape, "compare: \(other.shape) vs \(shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(storage.pointer[i] - other.storage.pointer[i])) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

/// Row-major strides for a shape.
@inlinable public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = acc; acc *= shape[i] }
    return strides
}
