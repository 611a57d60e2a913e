import Foundation
import Generation
import ModelHub
import MotionDiffusion
import TensorEngine

/// The Large Motion Model as the protocol evaluation samples it: all samples of a caption in one batch,
/// at the caption's ground-truth length, returned as HumanML3D features.
public struct LMMTextToMotion: TextToMotionGenerator {
    public let pipeline: LMMPipeline
    /// Guidance, steps and frame rate (the seed comes per sample).
    public var options: LMMSampling

    public init(model: LMMModel, options: LMMSampling = LMMSampling()) {
        pipeline = LMMPipeline(model: model)
        self.options = options
    }

    public func generateFeatures(_ caption: String, frames: Int, seeds: [UInt64]) throws -> [Tensor] {
        try pipeline.generate(text: caption, frames: frames, seeds: seeds, options: options).map { try $0.humanML3DFeatures() }
    }
}
