import NeuralNetwork
import TensorEngine

/// Learning rate of update `step` (0-based): a linear warm-up to `peak` over `warmup` steps, then
/// `peak` (MotionGPT's constant rate; a cosine from `peak` to `peak` is exactly constant), or, with
/// `cosineFloor`, cosine decay to that floor at `total`.
func scheduledLearningRate(peak: Float, warmup: Int, step: Int, total: Int, cosineFloor: Float?) -> Float {
    WarmupCosineSchedule(peak: peak, floor: cosineFloor ?? peak, warmupSteps: warmup, totalSteps: total).learningRate(at: step)
}

/// The generator of training step `step`, seeded by (seed, step) alone, so a run resumed at `step`
/// draws exactly what the uninterrupted run drew. `mix` keeps each trainer's streams apart.
func stepGenerator(seed: UInt64, step: Int, mix: (UInt64, UInt64, UInt64)) -> SeededRNG {
    SeededRNG(seed: seed &* mix.0 &+ UInt64(step) &* mix.1 &+ mix.2)
}
