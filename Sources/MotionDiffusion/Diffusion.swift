import Foundation
import NeuralNetwork
import TensorEngine

/// The Large Motion Model's Gaussian diffusion (official `gaussian_diffusion.py`, from guided-diffusion):
/// the linear beta schedule over 1000 steps, x0 ("start_x") prediction, and the respaced DDIM timesteps.
/// Coefficients are computed in Double, as the official code does in float64, and applied in Float.
public struct NoiseSchedule: Sendable {
    /// Training timesteps (1000).
    public let steps: Int
    /// `beta_t`, linear from 1e-4 to 0.02 (scaled by 1000 / steps, `get_named_beta_schedule("linear")`).
    public let betas: [Double]
    /// `alpha_bar_t = prod_{s <= t} (1 - beta_s)`.
    public let alphasCumprod: [Double]

    public init(steps: Int = 1000) {
        precondition(steps >= 2, "a schedule needs at least 2 steps")
        self.steps = steps
        let scale = 1000 / Double(steps)
        let (start, end) = (scale * 0.0001, scale * 0.02)
        // np.linspace: start + i * (end - start) / (n - 1), the last value exactly `end`.
        let step = (end - start) / Double(steps - 1)
        var b = (0..<steps).map { start + Double($0) * step }
        b[steps - 1] = end
        betas = b
        var acc = 1.0
        alphasCumprod = b.map { acc *= 1 - $0; return acc }
    }

    /// `q_sample`: `sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise`, per sample timestep. `[B, ...]`
    public func addNoise(_ x0: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        precondition(x0.shape == noise.shape && timesteps.count == x0.shape[0], "addNoise: shapes \(x0.shape), \(noise.shape), \(timesteps.count) timesteps")
        let b = x0.shape[0]
        var shape = [Int](repeating: 1, count: x0.rank); shape[0] = b
        let a = Tensor(timesteps.map { Float(alphasCumprod[$0].squareRoot()) }, shape: shape)
        let s = Tensor(timesteps.map { Float((1 - alphasCumprod[$0]).squareRoot()) }, shape: shape)
        return x0 * a + noise * s
    }

    /// The official respacing (`space_timesteps`): the 1000 steps cut into `sections.count` equal portions
    /// (the first `steps % count` one longer), each strided to its count with rounded fractional strides.
    /// `[15, 15, 8, 6, 6]` is the official 50-step DDIM for LMM. Ascending.
    public func respacedTimesteps(sections: [Int]) throws -> [Int] {
        guard !sections.isEmpty, sections.allSatisfy({ $0 >= 1 }) else {
            throw MotionDiffusionError.invalidConfiguration("respacing sections must be positive counts, got \(sections)")
        }
        let per = steps / sections.count, extra = steps % sections.count
        var start = 0
        var all = Set<Int>()
        for (i, count) in sections.enumerated() {
            let size = per + (i < extra ? 1 : 0)
            guard size >= count else {
                throw MotionDiffusionError.invalidConfiguration("cannot divide a section of \(size) steps into \(count)")
            }
            let stride = count <= 1 ? 1 : Double(size - 1) / Double(count - 1)
            var cur = 0.0
            for _ in 0..<count {
                // Python's round(): halves to even.
                all.insert(start + Int(cur.rounded(.toNearestOrEven)))
                cur += stride
            }
            start += size
        }
        return all.sorted()
    }

    /// The official 50 DDIM steps (`"15,15,8,6,6"`).
    public static let officialSections = [15, 15, 8, 6, 6]

    /// One deterministic DDIM step (eta 0) from `x_t` and the model's x0 to timestep `previous` (-1: the end,
    /// where the official respaced chain has `alpha_bar_prev = 1`, so the result is x0 itself):
    /// `eps = (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t)`, `x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev) eps`,
    /// folded into two coefficients computed in Double: `x_prev = c_x x_t + c_0 x0`. (The official code's
    /// `(x_t / sqrt(ab_t) - x0) / sqrt(1 / ab_t - 1)` is the same number but loses digits in Float at large t.)
    public func ddimStep(sample x: Tensor, predictedX0 x0: Tensor, timestep t: Int, previous: Int) -> Tensor {
        precondition(t >= 0 && t < steps && previous < t, "ddimStep from \(t) to \(previous)")
        let ab = alphasCumprod[t]
        let abPrev = previous >= 0 ? alphasCumprod[previous] : 1
        let cx = ((1 - abPrev) / (1 - ab)).squareRoot()
        let c0 = abPrev.squareRoot() - cx * ab.squareRoot()
        return x * Float(cx) + x0 * Float(c0)
    }
}

/// DDIM sampling (eta 0) as a denoising iterator: starts from noise, each `next()` asks `denoise` for x0 at
/// the current timestep and steps to the next one of the respaced chain. Known values (`known` where
/// `knownMask` is 1: given frames or parts) are put back, noised to the current timestep without noise
/// (the official `context_mask` path: `sqrt(alpha_bar_t) x_known`), before every model call, and pasted
/// into the final sample.
public struct DDIMSampler: DenoisingIterator {
    public let schedule: NoiseSchedule
    /// Descending timesteps the chain visits.
    public let timesteps: [Int]
    /// x0 from `(x_t, t)`.
    public let denoise: (Tensor, Int) throws -> Tensor
    public var known: Tensor?
    public var knownMask: Tensor?
    /// The current sample.
    public private(set) var sample: Tensor
    /// The model input of the last step (the sample with the known values put back).
    public private(set) var lastInput: Tensor?
    /// The last model error, when `denoise` threw (the iterator then stops).
    public private(set) var error: Error?
    private var index = 0

    public var totalSteps: Int { timesteps.count }

    /// `noise`: the start `x_T` (`[B, T, 669]`); `sections`: the respacing (official 50 steps by default).
    public init(schedule: NoiseSchedule = NoiseSchedule(), sections: [Int] = NoiseSchedule.officialSections, noise: Tensor,
                known: Tensor? = nil, knownMask: Tensor? = nil, denoise: @escaping (Tensor, Int) throws -> Tensor) throws {
        self.schedule = schedule
        timesteps = try schedule.respacedTimesteps(sections: sections).reversed()
        if let known, known.shape != noise.shape { throw MotionDiffusionError.invalidShape("known values \(known.shape) for samples \(noise.shape)") }
        if let m = knownMask, known == nil || broadcastShapes(m.shape, noise.shape) != noise.shape {
            throw MotionDiffusionError.invalidShape("known mask \(m.shape) needs known values and must broadcast to \(noise.shape)")
        }
        self.known = known
        self.knownMask = knownMask
        self.denoise = denoise
        sample = noise
    }

    public mutating func next() -> DenoisingStep? {
        guard index < timesteps.count, error == nil else { return nil }
        let t = timesteps[index]
        let previous = index + 1 < timesteps.count ? timesteps[index + 1] : -1
        var x = sample
        if let known, let m = knownMask {
            let kt = known * Float(schedule.alphasCumprod[t].squareRoot())
            x = kt * m + x * (1 - m)
        }
        lastInput = x
        do {
            let x0 = try denoise(x, t)
            sample = schedule.ddimStep(sample: x, predictedX0: x0, timestep: t, previous: previous)
            if previous < 0, let known, let m = knownMask {
                // The official loop leaves the known values to the model at the end; pasting them makes
                // kept parts and given frames exact in the result whatever the model predicts there.
                sample = known * m + sample * (1 - m)
            }
        } catch {
            self.error = error
            return nil
        }
        index += 1
        return DenoisingStep(step: index, totalSteps: timesteps.count, timestep: t, latent: sample)
    }
}

/// The denoising loss on the unified layout: squared error of x0 averaged over the present (frame, part)
/// cells only, each cell's values weighted equally (absent parts and padding take no part).
/// `prediction`, `target [B, T, 669]`, `mask [B, T, 10]` -> scalar.
public func maskedPartMSE(_ prediction: Tensor, _ target: Tensor, mask: Tensor) -> Tensor {
    precondition(prediction.shape == target.shape && mask.shape == [target.shape[0], target.shape[1], 10], "maskedPartMSE shapes")
    // Per value, the mask of the part it belongs to: [B, T, 669].
    let perValue = UnifiedMotion.valueMask(mask)
    let count = perValue.sum().item
    let d = prediction - target
    return (d * d * perValue).sum() / Swift.max(count, 1)
}

extension LargeMotionModel {
    /// A DDIM sampler over this denoiser: every step predicts x0 at the step's timestep for the whole batch,
    /// with classifier-free guidance when `guidance` is given (conditional and unconditional halves in one
    /// batch, `w(t) = 1 + guidance * t / 1000`). `inputs.timesteps` is ignored; the sampler sets it.
    public func ddimSampler(noise: Tensor, inputs: LMMInputs, guidance: Float?, sections: [Int] = NoiseSchedule.officialSections,
                            known: Tensor? = nil, knownMask: Tensor? = nil) throws -> DDIMSampler {
        let b = noise.shape.first ?? 0
        return try DDIMSampler(sections: sections, noise: noise, known: known, knownMask: knownMask) { [self] x, t in
            var inp = inputs
            inp.timesteps = [Float](repeating: Float(t), count: b)
            return try self(x, inp, guidance: guidance)
        }
    }
}
