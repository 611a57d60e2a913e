import TensorEngine

/// One step of an iterative denoising sampler: where it is and the current estimate.
public struct DenoisingStep {
    /// 1-based index of this step.
    public var step: Int
    /// Steps the sampler will take in all.
    public var totalSteps: Int
    /// The diffusion timestep this step denoised from (the model's own scale, e.g. 999...0).
    public var timestep: Int
    /// The sample after this step (`x_{t-1}`), in the sampler's space.
    public var latent: Tensor

    public init(step: Int, totalSteps: Int, timestep: Int, latent: Tensor) {
        self.step = step
        self.totalSteps = totalSteps
        self.timestep = timestep
        self.latent = latent
    }

    /// Share of the work done, in (0, 1].
    public var fraction: Double { Double(step) / Double(max(totalSteps, 1)) }
}

/// What a progress callback answers: go on, or stop after this step.
public enum IterationControl: Sendable, Equatable {
    case proceed
    case stop
}

/// A denoising sampler as an iterator (the diffusion model's DDIM sampler implements it): each
/// `next()` runs one denoising step and returns it, nil after the last. Driving it step by step
/// is what gives callers progress, previews and cancellation without the sampler knowing about them.
public protocol DenoisingIterator: IteratorProtocol where Element == DenoisingStep {
    /// Steps in all.
    var totalSteps: Int { get }
}

/// How a denoising run ended.
public struct DenoisingResult {
    /// The last sample produced (the final one when the run finished).
    public var latent: Tensor?
    /// Steps that ran.
    public var stepsRun: Int
    /// True when the callback stopped the run, or its task was cancelled, before the last step.
    public var stopped: Bool
}

extension DenoisingIterator {
    /// Runs the sampler to the end, calling `progress` after every step; `.stop` (or cancellation of
    /// the current task) ends the run after that step. Runs with recording off: sampling never
    /// needs gradients.
    public mutating func run(progress: (DenoisingStep) -> IterationControl = { _ in .proceed }) -> DenoisingResult {
        var last: Tensor? = nil, count = 0
        return Tensor.withNoGrad {
            while let s = next() {
                last = s.latent
                count = s.step
                if progress(s) == .stop || Task.isCancelled {
                    return DenoisingResult(latent: last, stepsRun: count, stopped: s.step < totalSteps)
                }
            }
            return DenoisingResult(latent: last, stepsRun: count, stopped: false)
        }
    }
}
