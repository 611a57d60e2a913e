import Foundation

/// A model with mutable state (KV caches built per call, dropout generators, the tokenizer's added
/// tokens) behind an actor, so tasks that share it take turns: `perform` runs one body at a time.
/// Inference inside `perform` should use `Tensor.withNoGrad`, which is task-local, so a training step
/// on another task keeps recording its graph.
public actor ModelContainer<Model> {
    private let model: Model

    public init(_ model: Model) { self.model = model }

    /// Runs `body` with exclusive use of the model.
    public func perform<R>(_ body: (Model) throws -> R) rethrows -> R {
        try body(model)
    }
}
