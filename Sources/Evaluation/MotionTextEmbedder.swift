import Foundation
import MotionData
import TensorEngine

/// A learned evaluator: maps captions and motions into one space where a motion lies near its
/// caption (Euclidean distance), the space in which the HumanML3D protocol computes R-precision,
/// MM-Dist, FID, Diversity and MultiModality. Two kinds exist: the T2M evaluator of Guo et al. 2022
/// (official weights when a user has them) and ours (`motion-text-evaluator`, trained here against
/// the shipped sentence encoder).
///
/// Motions go in as raw (un-normalised) HumanML3D features; each evaluator applies its own
/// statistics. That is the one correct order for generated motion (de-normalise with the
/// generating model's Mean/Std, then normalise with the evaluator's): a model's normalised output
/// fed straight to an evaluator trained on other statistics is a pitfall several codebases fell into.
public protocol MotionTextEmbedder: AnyObject {
    /// A short name for tables and JSON ("T2M evaluator (Guo et al. 2022)", "ours: Models/evaluator").
    var evaluatorName: String { get }
    /// Width of the embeddings.
    var embeddingDimension: Int { get }
    /// The shortest motion, in frames, the motion encoder accepts (the T2M evaluator needs one
    /// step after its 4x down-sampling).
    var minimumFrames: Int { get }
    /// Whether the text encoder reads the captions' `word/POS` tokens (the T2M evaluator) rather than
    /// their text (ours). Captions tagged `X` make such an evaluator meaningless; tables say so.
    var readsPartOfSpeech: Bool { get }
    /// Caption embeddings, `[captions.count, embeddingDimension]`.
    func embed(captions: [MotionCaption]) throws -> Tensor
    /// Motion embeddings, `[motions.count, embeddingDimension]`; each motion is `[T_i, 263]` raw
    /// features with `T_i >= minimumFrames`; lengths may differ (padded batches are the embedder's
    /// business).
    func embed(motions: [Tensor]) throws -> Tensor
}
