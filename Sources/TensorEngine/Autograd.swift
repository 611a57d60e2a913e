import Foundation

/// One recorded operation: the inputs it read and how to turn the gradient of its output into
/// gradients of those inputs. The closure must not capture the output tensor itself (capture its
/// storage instead) or the output would keep itself alive.
final class GradNode {
    let inputs: [Tensor]
    let backward: (Tensor) -> [Tensor?]
    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

/// Grad mode, per task: a `@TaskLocal`, so an inference running on one task (which turns recording
/// off) never stops a training step on another task from recording, and the reverse. Outside any
/// task (plain synchronous code) the value is per thread. Parallel loops inside ops never record.
enum GradMode {
    @TaskLocal static var enabled = true
}

extension Tensor {
    /// Whether operations on the current task record autodiff history.
    public static var isGradEnabled: Bool { GradMode.enabled }

    /// Runs `body` with recording off on the current task (inference, optimiser updates), restoring
    /// the previous mode afterwards. Other tasks keep their own mode.
    @discardableResult
    public static func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
        try GradMode.$enabled.withValue(false, operation: body)
    }

    /// `withNoGrad` for asynchronous work: recording stays off across suspension points of `body`.
    @discardableResult
    public static func withNoGrad<T>(_ body: () async throws -> T) async rethrows -> T {
        try await GradMode.$enabled.withValue(false, operation: body)
    }

    /// Runs `body` with recording on (a training step inside an inference scope, say).
    @discardableResult
    public static func withGrad<T>(_ body: () throws -> T) rethrows -> T {
        try GradMode.$enabled.withValue(true, operation: body)
    }

    /// True when an op on `inputs` must be recorded.
    static func needsGrad(_ inputs: Tensor...) -> Bool {
        GradMode.enabled && inputs.contains { $0.requiresGrad }
    }

    static func needsGrad(_ inputs: [Tensor]) -> Bool {
        GradMode.enabled && inputs.contains { $0.requiresGrad }
    }

    /// Attaches a backward to `self` (the result of an op) if any input requires a gradient.
    @discardableResult
    func recording(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        if Tensor.needsGrad(inputs) {
            requiresGrad = true
            gradNode = GradNode(inputs: inputs, backward: backward)
        }
        return self
    }

    /// Back-propagates from this tensor. With no argument it must be a one-element tensor (a loss)
    /// and its gradient is 1. Gradients accumulate into `.grad` of leaf tensors that require them.
    public func backward(_ seed: Tensor? = nil) {
        let seedGrad: Tensor
        if let seed {
            precondition(seed.shape == shape, "backward seed \(seed.shape) for tensor \(shape)")
            seedGrad = seed
        } else {
            precondition(count == 1, "backward() without a seed needs a scalar, shape is \(shape)")
            seedGrad = Tensor(repeating: 1, shape: shape)
        }
        // Topological order by iterative depth-first search (graphs can be thousands of ops deep).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (t, i) = stack.popLast() {
            if let node = t.gradNode, i < node.inputs.count {
                stack.append((t, i + 1))
                let child = node.inputs[i]
                if child.requiresGrad, visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(t)
            }
        }
        Tensor.withNoGrad {
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seedGrad]
            // Children first in `order`: popping from the end walks it backwards and drops the list's
            // reference to each tensor as it goes.
            while let t = order.popLast() {
                let node = t.gradNode
                // Free what the op saved for its backward (the closure's tensors) as soon as it has run,
                // as PyTorch does without retain_graph: a training step's peak then holds the activations
                // not yet back-propagated, not the whole graph. A second backward through it is refused.
                precondition(!t.graphReleased, "backward through a graph that was already back-propagated (run the forward pass again)")
                if node != nil { t.gradNode = nil; t.graphReleased = true }
                guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                guard let node else {
                    // A leaf: accumulate.
                    // Copy: an op may hand the same gradient tensor to several inputs.
                    if let existing = t.grad { existing.addInPlace(g) } else { t.grad = g.copy() }
                    continue
                }
                let inputGrads = node.backward(g)
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.requiresGrad else { continue }
                    precondition(ig.shape == input.shape, "gradient shape \(ig.shape) for input \(input.shape)")
                    let key = ObjectIdentifier(input)
                    if let existing = grads[key] {
                        // Never mutate a gradient tensor an op may have returned twice (x + x).
                        grads[key] = existing.storage === ig.storage ? existing.scaled(2) : existing.adding(ig)
                    } else {
                        grads[key] = ig
                    }
                }
            }
        }
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}
