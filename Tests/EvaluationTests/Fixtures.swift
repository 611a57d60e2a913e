import Foundation
import XCTest

/// The fixtures written by Tools/fixtures/make_caption_metric_fixtures.py (pycocoevalcap),
/// Tools/fixtures/make_motion_metric_fixtures.py (numpy) and Tools/fixtures/make_protocol_metric_fixtures.py
/// (numpy, scipy).
enum Fixtures {
    static let folder: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    struct CaptionFile: Decodable {
        struct Scores: Decodable { let corpus: Double; let per_item: [Double] }
        struct Bleu: Decodable { let corpus: [Double]; let per_item: [[Double]] }
        struct Corpus: Decodable {
            let name: String
            let candidates: [String]
            let references: [[String]]
            let bleu: Bleu
            let rouge_l: Scores
            let cider: Scores
        }
        let pycocoevalcap: String
        let corpora: [Corpus]
    }

    struct MotionFile: Decodable {
        struct Errors: Decodable { let ade: Double; let fde: Double }
        struct Displacement: Decodable { let start: Int; let end: Int; let pose_norm: Errors; let mean_joint_distance: Errors }
        struct MPJPECase: Decodable { let predicted: [[[Double]]]; let ground_truth: [[[Double]]]; let mpjpe: Double; let root_aligned_mpjpe: Double }
        struct PredictionCase: Decodable { let predicted: [[[Double]]]; let ground_truth: [[[Double]]]; let `default`: Displacement; let given_10: Displacement }
        struct InbetweenCase: Decodable { let predicted: [[[Double]]]; let ground_truth: [[[Double]]]; let `default`: Displacement; let prefix_3_suffix_5: Displacement }
        struct Cases: Decodable { let mpjpe: MPJPECase; let prediction: PredictionCase; let inbetween: InbetweenCase }
        let joints: Int
        let cases: Cases
    }

    struct ProtocolFile: Decodable {
        struct FID: Decodable { let name: String; let a: [[Double]]; let b: [[Double]]; let rank_a: Int; let rank_b: Int; let fid_sqrtm: Double; let fid_eig: Double }
        struct Statistics: Decodable { let x: [[Double]]; let mean: [Double]; let cov: [[Double]] }
        struct Diversity: Decodable { let x: [[Double]]; let first: [Int]; let second: [Int]; let value: Double }
        struct MultiModality: Decodable { let groups: [[[Double]]]; let first: [Int]; let second: [Int]; let value: Double }
        struct RPrecision: Decodable { let name: String; let texts: [[Double]]; let motions: [[Double]]; let top_k: Int; let r_precision: [Double]; let matching_score: Double }
        struct Pools: Decodable {
            let texts: [[Double]]; let motions: [[Double]]; let order: [Int]; let pool_size: Int; let pools: Int
            let r_precision: [Double]; let matching_score: Double
        }
        struct SkatingCase: Decodable { let name: String; let fps: Double; let feet: [Int]; let window: Int; let ratio: Double; let skating_frames: Int }
        struct Skating: Decodable { let positions: [[[Double]]]; let cases: [SkatingCase] }
        struct JitterCase: Decodable { let fps: Double; let value: Double }
        struct Jitter: Decodable { let positions: [[[Double]]]; let cases: [JitterCase] }
        let fid: [FID]
        let statistics: Statistics
        let diversity: Diversity
        let multimodality: MultiModality
        let r_precision: [RPrecision]
        let r_precision_pools: Pools
        let foot_skating: Skating
        let jitter: Jitter
    }

    static let captions: CaptionFile = load("caption_metrics.json")
    static let motions: MotionFile = load("motion_metrics.json")
    static let protocolMetrics: ProtocolFile = load("protocol_metrics.json")

    static func corpus(_ name: String) -> CaptionFile.Corpus { captions.corpora.first { $0.name == name }! }

    private static func load<T: Decodable>(_ name: String) -> T {
        let data = try! Data(contentsOf: folder.appendingPathComponent(name))
        return try! JSONDecoder().decode(T.self, from: data)
    }
}

/// Positions as the fixture script computed on them: each stored decimal read as a Double, then rounded to
/// Float, as numpy's `astype(np.float32)` did (reading straight into Float could round differently).
func frames(_ values: [[[Double]]]) -> [[SIMD3<Float>]] {
    values.map { $0.map { SIMD3(Float($0[0]), Float($0[1]), Float($0[2])) } }
}

/// Relative agreement to `rtol`, with a tiny absolute floor so an expected 0 needs an actual (near) 0.
func assertClose(_ actual: Double, _ expected: Double, rtol: Double = 1e-6, _ message: @autoclosure () -> String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    let ok = abs(actual - expected) <= rtol * abs(expected) + 1e-12
    XCTAssertTrue(ok, "\(actual) vs expected \(expected) \(message())", file: file, line: line)
}
