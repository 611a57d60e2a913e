import Foundation
import MotionData
import TensorEngine

/// Errors finding training motion; each names the path.
public enum MotionSourceError: Error, CustomStringConvertible {
    case bad(String)
    public var description: String { switch self { case .bad(let s): return s } }
}

/// Motion features for training from the paths a user gives: HumanML3D-layout folders
/// (`new_joint_vecs/*.npy` with a split file) or single `.npy` feature files.
public enum MotionSources {
    /// Loads every clip of `split` from folders (all clips when the folder has no split file, unless
    /// `requireSplit`) and every listed `.npy` file.
    public static func load(_ paths: [String], split: String, nfeats: Int, requireSplit: Bool = false) throws -> MotionClips {
        guard !paths.isEmpty else { throw MotionSourceError.bad("no training data given") }
        var names: [String] = [], feats: [Tensor] = []
        let fm = FileManager.default
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { throw MotionSourceError.bad("\(path): no such file or folder") }
            if isDir.boolValue {
                let vecs = url.appendingPathComponent("new_joint_vecs")
                let folder = fm.fileExists(atPath: vecs.path) ? vecs : url
                let splitURL = url.appendingPathComponent("\(split).txt")
                var ids: [String]
                if let text = try? String(contentsOf: splitURL, encoding: .utf8) {
                    ids = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                } else if requireSplit {
                    throw MotionSourceError.bad("\(splitURL.path): no such split file")
                } else {
                    ids = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".npy") }
                        .map { String($0.dropLast(4)) }.sorted()
                }
                for id in ids {
                    let f = folder.appendingPathComponent(id + ".npy")
                    guard fm.fileExists(atPath: f.path) else { throw MotionSourceError.bad("\(f.path): listed in \(split).txt but missing") }
                    names.append(id); feats.append(try readFeatures(f, nfeats: nfeats))
                }
            } else {
                names.append(url.deletingPathExtension().lastPathComponent)
                feats.append(try readFeatures(url, nfeats: nfeats))
            }
        }
        guard !feats.isEmpty else { throw MotionSourceError.bad("no motion found in \(paths.joined(separator: ", "))") }
        return MotionClips(names: names, features: feats)
    }

    static func readFeatures(_ url: URL, nfeats: Int) throws -> Tensor {
        let t: Tensor
        do { t = try readNpy(url) } catch { throw MotionSourceError.bad("\(url.path): \(error)") }
        guard t.rank == 2, t.shape[1] == nfeats else {
            throw MotionSourceError.bad("\(url.path): features must be [frames, \(nfeats)], got \(t.shape)")
        }
        guard t.scalars.allSatisfy({ $0.isFinite }) else { throw MotionSourceError.bad("\(url.path): contains NaN or infinity") }
        return t
    }

    /// Mean/Std: `Mean.npy`/`Std.npy` in the first data folder (or beside the first file); otherwise
    /// computed from the clips, with a floor on the std so constant features do not divide by zero.
    public static func normalizer(for paths: [String], clips: MotionClips) throws -> FeatureNormalizer {
        let fm = FileManager.default
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: url.path, isDirectory: &isDir)
            let dir = isDir.boolValue ? url : url.deletingLastPathComponent()
            if fm.fileExists(atPath: dir.appendingPathComponent("Mean.npy").path) || fm.fileExists(atPath: dir.appendingPathComponent("mean.npy").path) {
                return try FeatureNormalizer(directory: dir)
            }
        }
        let d = clips.features[0].shape[1]
        var sum = [Double](repeating: 0, count: d), sq = [Double](repeating: 0, count: d), n = 0.0
        for f in clips.features {
            let v = f.scalars
            for i in v.indices { sum[i % d] += Double(v[i]); sq[i % d] += Double(v[i]) * Double(v[i]) }
            n += Double(f.shape[0])
        }
        let mean = sum.map { Float($0 / n) }
        let std = (0..<d).map { k in Float(Swift.max((sq[k] / n - (sum[k] / n) * (sum[k] / n)).squareRoot(), 1e-3)) }
        return try FeatureNormalizer(mean: mean, std: std)
    }
}

extension MotionSourceError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}

/// Caption texts as rows of one table (in order of first appearance), so a caption seen in several
/// clips or splits is encoded once; the trainers look its sentence features up by row.
struct CaptionRows {
    private(set) var texts: [String]
    private var rowOf: [String: Int]

    init(_ texts: [String]) {
        self.texts = texts
        rowOf = Dictionary(texts.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// The row of each text, adding the new ones.
    mutating func rows(_ captions: [String]) -> [Int] {
        captions.map { t in
            if let r = rowOf[t] { return r }
            rowOf[t] = texts.count
            texts.append(t)
            return texts.count - 1
        }
    }
}
