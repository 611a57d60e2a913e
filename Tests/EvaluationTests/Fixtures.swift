import Foundation
import XCTest

/// The fixtures written by Tools/fixtures/make_caption_metric_fixtures.py (pycocoevalcap) and
/// Tools/fixtures/make_motion_metric_fixtures.py (numpy).
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

    static let captions: CaptionFile = load("caption_metrics.json")
    static let motions: MotionFile = load("motion_metrics.json")

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
