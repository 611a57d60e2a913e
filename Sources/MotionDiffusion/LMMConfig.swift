import Foundation

/// The Large Motion Model's configuration, read from a model folder's `config.json`. Field names are the
/// official ones (`configs/lmm/lmm.py`: `model.model.*` and its `ca_block_cfg`), snake_case in JSON.
/// Defaults are the official `lmm.py` values except where noted.
public struct LMMConfig: Codable, Equatable, Sendable {
    /// `"lmm"`: the model-folder registry picks the family by it.
    public var modelType: String = "lmm"
    /// Values a frame (669, the unified layout).
    public var inputFeats: Int = 669
    /// Frames the learned per-frame embedding covers (`motion_moe.embedding`); longer motions need windows.
    public var maxSeqLen: Int = 200
    /// Body parts (tokens a frame); the layout fixes it at 10.
    public var numParts: Int = 10
    /// Width of one part token.
    public var latentPartDim: Int = 64
    /// Width of the diffusion-timestep embedding.
    public var timeEmbedDim: Int = 2048
    /// ArtAttention + FFN layers.
    public var numLayers: Int = 4
    /// Layers of each condition encoder (`text_transformer`, ...).
    public var numCondLayers: Int = 2
    /// Names of the datasets with their own read-in/read-out linears; index 0 is conventionally `all`,
    /// the shared set (swapped in for 10% of training samples).
    public var datasetNames: [String] = ["all"]
    /// Experts of the motion and condition mixture-of-experts projections (official 16; default here 1,
    /// a plain FFN).
    public var numExperts: Int = 1
    /// Experts chosen per token (official 4).
    public var topk: Int = 1
    /// tutel's gate: `cosine_top` (official) or `top`.
    public var gateType: String = "cosine_top"
    /// Gate noise scale in training (official 1.0; must be positive with several experts, as tutel's load
    /// loss divides by it).
    public var gateNoise: Float = 1.0
    /// Width of the per-token text features the text condition reads (nil: no text condition).
    public var textInputDim: Int? = nil
    /// Width of per-frame music features (nil: no music condition).
    public var musicInputDim: Int? = nil
    /// Every how many music frames one token is kept (official default 3).
    public var musicInputStride: Int = 3
    /// Classifier-free guidance: w(t) = 1 + guidanceScale * t / 1000 (the official "linear" type).
    public var guidanceScale: Float = 5.5
    /// Probability of dropping a condition in training (classifier-free guidance).
    public var condDropRate: Float = 0.1
    /// Dropout in attention outputs and FFNs (training only).
    public var dropout: Float = 0
    /// The sentence-encoder folder whose per-token features are the text condition, relative to the
    /// model folder unless absolute (ours: `../text-encoder`); nil when the model reads no text.
    public var textEncoder: String? = nil
    /// Text tokens the condition holds: every caption's token features are zero-padded to this many, so
    /// a caption's condition does not depend on the batch it is in (too long a caption is an error).
    public var textMaxTokens: Int = 32
    /// The frame rate the model generates at unless asked for another (the rate of its fine-tuning data).
    public var fps: Float = 20

    public init() {}

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", inputFeats = "input_feats", maxSeqLen = "max_seq_len", numParts = "num_parts"
        case latentPartDim = "latent_part_dim", timeEmbedDim = "time_embed_dim", numLayers = "num_layers"
        case numCondLayers = "num_cond_layers", datasetNames = "dataset_names", numExperts = "num_experts", topk, gateType = "gate_type", gateNoise = "gate_noise"
        case textInputDim = "text_input_dim", musicInputDim = "music_input_dim", musicInputStride = "music_input_stride", guidanceScale = "guidance_scale"
        case condDropRate = "cond_drop_rate", dropout
        case textEncoder = "text_encoder", textMaxTokens = "text_max_tokens", fps
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LMMConfig()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType
        inputFeats = try c.decodeIfPresent(Int.self, forKey: .inputFeats) ?? d.inputFeats
        maxSeqLen = try c.decodeIfPresent(Int.self, forKey: .maxSeqLen) ?? d.maxSeqLen
        numParts = try c.decodeIfPresent(Int.self, forKey: .numParts) ?? d.numParts
        latentPartDim = try c.decodeIfPresent(Int.self, forKey: .latentPartDim) ?? d.latentPartDim
        timeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbedDim) ?? d.timeEmbedDim
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        numCondLayers = try c.decodeIfPresent(Int.self, forKey: .numCondLayers) ?? d.numCondLayers
        datasetNames = try c.decodeIfPresent([String].self, forKey: .datasetNames) ?? d.datasetNames
        numExperts = try c.decodeIfPresent(Int.self, forKey: .numExperts) ?? d.numExperts
        topk = try c.decodeIfPresent(Int.self, forKey: .topk) ?? d.topk
        gateType = try c.decodeIfPresent(String.self, forKey: .gateType) ?? d.gateType
        gateNoise = try c.decodeIfPresent(Float.self, forKey: .gateNoise) ?? d.gateNoise
        textInputDim = try c.decodeIfPresent(Int.self, forKey: .textInputDim)
        musicInputDim = try c.decodeIfPresent(Int.self, forKey: .musicInputDim)
        musicInputStride = try c.decodeIfPresent(Int.self, forKey: .musicInputStride) ?? d.musicInputStride
        guidanceScale = try c.decodeIfPresent(Float.self, forKey: .guidanceScale) ?? d.guidanceScale
        condDropRate = try c.decodeIfPresent(Float.self, forKey: .condDropRate) ?? d.condDropRate
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
        textEncoder = try c.decodeIfPresent(String.self, forKey: .textEncoder)
        textMaxTokens = try c.decodeIfPresent(Int.self, forKey: .textMaxTokens) ?? d.textMaxTokens
        fps = try c.decodeIfPresent(Float.self, forKey: .fps) ?? d.fps
    }

    /// The read-in/read-out set of the model's own data: index 1 when it has one besides the shared `all`
    /// set (index 0), which training swaps in for some samples; else the shared set.
    public var dataDatasetIndex: Int { datasetNames.count > 1 ? 1 : 0 }

    /// Width of a frame's token row (`latent_part_dim * num_parts`).
    public var latentDim: Int { latentPartDim * numParts }

    /// Checks the sizes; a bad one is a one-line error naming the field.
    public func validate() throws {
        func bad(_ s: String) -> MotionDiffusionError { .invalidConfiguration(s) }
        guard modelType == "lmm" else { throw bad("model_type is \"\(modelType)\", expected \"lmm\"") }
        guard inputFeats == UnifiedMotion.dimension else { throw bad("input_feats must be 669 (the unified layout), got \(inputFeats)") }
        guard numParts == BodyPart.allCases.count else { throw bad("num_parts must be 10, got \(numParts)") }
        for (name, v) in [("max_seq_len", maxSeqLen), ("latent_part_dim", latentPartDim), ("time_embed_dim", timeEmbedDim),
                          ("num_layers", numLayers), ("num_cond_layers", numCondLayers), ("music_input_stride", musicInputStride)] where v < 1 {
            throw bad("\(name) must be positive, got \(v)")
        }
        guard latentDim % 2 == 0 else { throw bad("latent_part_dim * num_parts must be even (sinusoidal embedding), got \(latentDim)") }
        guard !datasetNames.isEmpty else { throw bad("dataset_names is empty") }
        guard Set(datasetNames).count == datasetNames.count else { throw bad("dataset_names has duplicates") }
        guard numExperts >= 1, topk >= 1, topk <= numExperts else { throw bad("topk \(topk) must be in 1...num_experts (\(numExperts))") }
        guard ["top", "cosine_top"].contains(gateType) else { throw bad("gate_type \"\(gateType)\" is not top or cosine_top") }
        guard gateNoise.isFinite, gateNoise >= 0, numExperts == 1 || gateNoise > 0 else {
            throw bad("gate_noise must be positive with several experts (tutel's load loss divides by it), got \(gateNoise)")
        }
        if let t = textInputDim, t < 1 { throw bad("text_input_dim must be positive, got \(t)") }
        if let m = musicInputDim, m < 1 { throw bad("music_input_dim must be positive, got \(m)") }
        guard textMaxTokens >= 1 else { throw bad("text_max_tokens must be positive, got \(textMaxTokens)") }
        guard fps.isFinite, fps > 0 else { throw bad("fps must be positive, got \(fps)") }
        guard guidanceScale.isFinite else { throw bad("guidance_scale is not finite") }
        guard (0...1).contains(condDropRate), (0..<1).contains(dropout) else { throw bad("cond_drop_rate and dropout must be in [0, 1)") }
    }
}
