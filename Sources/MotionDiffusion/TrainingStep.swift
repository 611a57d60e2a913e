import Foundation
import NeuralNetwork
import TensorEngine

/// The randomness of one LMM training step, as the official training forward applies it
/// (`LargeMotionModel.forward` / `forward_train` in training mode), kept out of the denoiser so that a
/// trainer owns the generator (reproducible and resumable runs).
public struct LMMTrainingOptions: Sendable {
    /// Probability of dropping each condition of a sample (classifier-free guidance; official 0.1).
    public var conditionDropRate: Float = 0.1
    /// Probability of training a sample through the shared `all` read-in/read-out set (official 0.1).
    public var sharedSetRate: Float = 0.1
    /// Index of the shared set in `dataset_names`.
    public var sharedSetIndex: Int = 0
    /// Random masking: per sample a ratio r ~ U(0, 1) of its present (frame, part) cells is replaced by the
    /// mask token (the paper's masked pretraining); the loss stays on every originally present cell.
    public var randomMasking: Bool = true
    /// Weight of the template KL loss (official `template_kl_loss_weight`).
    public var templateKLWeight: Float = 1e-4
    /// Weight of the experts' load-balancing loss (official `moe_route_loss_weight`; no loss with one expert).
    public var routingWeight: Float = 10

    public init() {}
}

/// Part mask with random masking: for each sample a threshold r ~ U(0, 1), and each cell whose uniform draw
/// falls below r is masked (`new_motion_mask[rand < threshold] = 0`). Masked cells stay masked.
/// `[B, T, 10] -> [B, T, 10]`
public func randomlyMasked(_ mask: Tensor, rng: inout SeededRNG) -> Tensor {
    precondition(mask.rank == 3, "part mask must be [B, T, 10]")
    let b = mask.shape[0], per = mask.count / max(b, 1)
    var v = mask.scalars
    for i in 0..<b {
        let r = rng.nextFloat()
        for k in 0..<per where rng.nextFloat() < r { v[i * per + k] = 0 }
    }
    return Tensor(v, shape: mask.shape)
}

/// What one training step computed.
public struct LMMStepLoss {
    /// The total: reconstruction + weighted template KL (differentiable).
    public var loss: Tensor
    /// Masked per-part MSE of x0 on the originally present cells.
    public var reconstruction: Float
    /// The layers' template KL (unweighted).
    public var templateKL: Float
    /// The experts' load-balancing loss (unweighted; 0 with one expert).
    public var routing: Float
    /// The timesteps drawn.
    public var timesteps: [Int]
}

extension LargeMotionModel {
    /// One training forward: uniform timesteps, `x_t = q_sample(x0, t, noise)`, the official randomness
    /// (random part masking, condition dropout, the shared `all` set for some samples), x0 prediction and
    /// the loss (masked per-part MSE on the cells present in `inputs.partMask`, plus the weighted template
    /// KL and experts' load-balancing loss). Call in training mode; `backward()` the returned loss. `x0 [B, T, 669]` normalised features.
    public func trainingLoss(_ x0: Tensor, _ inputs: LMMInputs, schedule: NoiseSchedule = NoiseSchedule(),
                             options: LMMTrainingOptions = LMMTrainingOptions(), rng: inout SeededRNG) throws -> LMMStepLoss {
        let b = x0.shape.first ?? 0
        guard options.sharedSetIndex >= 0 && options.sharedSetIndex < config.datasetNames.count else {
            throw MotionDiffusionError.invalidConfiguration("shared set index \(options.sharedSetIndex) outside dataset_names")
        }
        let timesteps = (0..<b).map { _ in rng.nextInt(schedule.steps) }
        let noise = Tensor.randn(x0.shape, rng: &rng)
        let xt = schedule.addNoise(x0, noise: noise, timesteps: timesteps)
        var inp = inputs
        inp.timesteps = timesteps.map(Float.init)
        if options.randomMasking { inp.partMask = randomlyMasked(inputs.partMask, rng: &rng) }
        for name in inp.conditions.keys.sorted() {
            inp.conditions[name]!.present = inp.conditions[name]!.present.map { rng.nextFloat() < options.conditionDropRate ? 0 : $0 }
        }
        inp.datasetIndex = inp.datasetIndex.map { rng.nextFloat() < options.sharedSetRate ? options.sharedSetIndex : $0 }
        let prediction = try self(xt, inp)
        // Loss cells: present in the data and inside each sample's length.
        let cells = inputs.partMask * UnifiedMotion.lengthCells(inputs.lengths, frames: x0.shape[1])
        let recon = maskedPartMSE(prediction, x0, mask: cells)
        var loss = recon
        var kl: Float = 0
        if let k = templateKL {
            kl = k.item
            loss = loss + k * options.templateKLWeight
        }
        var route: Float = 0
        if let r = routingLoss {
            route = r.item
            loss = loss + r * options.routingWeight
        }
        return LMMStepLoss(loss: loss, reconstruction: recon.item, templateKL: kl, routing: route, timesteps: timesteps)
    }
}
