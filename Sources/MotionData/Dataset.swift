import Foundation
import TensorEngine

/// Errors reading a HumanML3D-layout folder; each names the file (and line) at fault.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// A file the layout needs is not there.
    case missingFile(String)
    /// A file is there but unreadable or of the wrong shape/content.
    case corruptFile(String, String)
    /// A text line is not `caption#tokens#start#end`.
    case badLine(file: String, line: Int, String)
    /// Nothing of the split survived (all clips filtered out or the split is empty).
    case empty(String)
    /// A request the data cannot meet (e.g. a window longer than every clip).
    case unsatisfiable(String)

    public var description: String {
        switch self {
        case .missingFile(let f): return "\(f): no such file"
        case .corruptFile(let f, let why): return "\(f): \(why)"
        case .badLine(let f, let n, let why): return "\(f) line \(n): \(why)"
        case .empty(let s): return s
        case .unsatisfiable(let s): return s
        }
    }
}

/// One line of `texts/ID.txt`: `caption#word/POS word/POS ...#start#end`.
public struct MotionCaption: Equatable, Sendable {
    public var text: String
    /// The tagged tokens as written (`word/POS`).
    public var tokens: [String]
    /// Start and end in seconds; both 0 means the whole clip.
    public var start: Double
    public var end: Double

    public init(text: String, tokens: [String], start: Double, end: Double) {
        self.text = text; self.tokens = tokens; self.start = start; self.end = end
    }

    /// Whether the caption describes the whole clip (`0.0#0.0`).
    public var isWholeClip: Bool { start == 0 && end == 0 }

    /// The words of the tokens without their POS tags (HumanML3D's `all_captions` form).
    public var words: [String] { tokens.map { String($0.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") } }

    /// Frames `Int(start*fps) ..< Int(end*fps)` of a `frameCount`-frame clip, clamped as Python slicing
    /// clamps; the whole clip for `0.0#0.0`.
    public func frameRange(frameCount: Int, fps: Double = 20) -> Range<Int> {
        if isWholeClip { return 0..<frameCount }
        let a = min(max(Int(start * fps), 0), frameCount), b = min(max(Int(end * fps), 0), frameCount)
        return a..<max(a, b)
    }
}

/// One training item: a clip (or a captioned sub-range of one) with its captions, as HumanML3D's
/// `Text2MotionDatasetV2` builds them.
public struct MotionItem: @unchecked Sendable {
    /// The item's name: the clip id for a whole clip, `ID#a-b` (frames) for a sub-range, `M`-prefixed
    /// for a mirrored item (HumanML3D names its mirrored clips `M` + id).
    public var name: String
    /// The clip id (file name without `.npy`).
    public var clip: String
    /// Frames of the clip this item covers.
    public var frames: Range<Int>
    /// Raw (not normalised) features `[T, D]`.
    public var features: Tensor
    /// Whole-clip captions for a whole-clip item, the one sub-range caption for a sub-range item;
    /// empty when the folder has no captions for the clip and captions are optional.
    public var captions: [MotionCaption]
    /// Whether this item is a left-right mirror of the clip.
    public var mirrored: Bool

    public var frameCount: Int { features.shape[0] }
}

/// A folder in HumanML3D's layout, one split of it:
/// ```
/// new_joint_vecs/ID.npy   [T, 263] float32 features (not normalised)   (or [T, 251] for KIT-ML)
/// texts/ID.txt            caption#word/POS ...#start#end   (seconds; 0.0#0.0 = whole clip)
/// train.txt, val.txt, test.txt   clip ids, one per line
/// Mean.npy, Std.npy       [D] statistics (optional)
/// new_joints/             joints (not read here)
/// ```
///
/// Items follow HumanML3D's `Text2MotionDatasetV2` (and MotionGPT's `Text2MotionDataset`):
/// - a clip is dropped when its whole length is outside `minFrames ..< maxFrames` (40 ..< 200 for
///   HumanML3D; the check is `len < 40 or len >= 200` even though the models' `max_motion_length` is
///   196), and then none of its captions is used, sub-ranges included;
/// - the whole-clip captions (`0.0#0.0`) form one item over the whole clip, made only when there is at
///   least one;
/// - every sub-range caption forms its own item over frames `Int(start*20) ..< Int(end*20)`, dropped
///   when that range is outside `minFrames ..< maxFrames`;
/// - NaN start/end tags count as 0.
/// Where the official loader silently skips a clip whose files are missing or broken (`except: pass`),
/// this one throws a `DatasetError` naming the file, so a damaged dataset is noticed. Dropped clips and
/// captions are listed in `dropped` with the reason.
public struct MotionDataset: @unchecked Sendable {
    public struct Options: Sendable {
        /// The split file to read (`train` reads `train.txt`).
        public var split = "train"
        /// Items shorter than this are dropped (HumanML3D: 40; KIT-ML: 24).
        public var minFrames = 40
        /// Items this long or longer are dropped (HumanML3D: 200).
        public var maxFrames = 200
        /// Feature width expected in every file (263 HumanML3D, 251 KIT-ML).
        public var featureDimension = 263
        /// Frame rate of the features, for the captions' seconds (20 for HumanML3D, 12.5 for KIT-ML).
        public var fps: Double = 20
        /// When false, a clip with no `texts/ID.txt` becomes a whole-clip item without captions (for
        /// tokenizer training on motion alone); when true, a missing text file is an error.
        public var requireCaptions = true
        /// Also add each item's left-right mirror (features mirrored in feature space, `left`/`right`
        /// swapped in its captions), named `M` + name.
        public var mirror = false
        public init() {}
    }

    public let root: URL
    public let options: Options
    public private(set) var items: [MotionItem]
    /// `Mean.npy`/`Std.npy` of the folder, nil when it has neither.
    public let normalizer: FeatureNormalizer?
    /// Clips and captions left out, with the reason (`ID: 212 frames, not in 40..<200`).
    public private(set) var dropped: [String]

    /// Loads `options.split` of the folder at `root`.
    public init(root: URL, options: Options = Options()) throws {
        self.root = root
        self.options = options
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else { throw DatasetError.missingFile(root.path) }
        let vecs = root.appendingPathComponent("new_joint_vecs")
        guard fm.fileExists(atPath: vecs.path) else { throw DatasetError.missingFile(vecs.path) }
        normalizer = try Self.readNormalizer(root, dimension: options.featureDimension)
        let ids = try Self.readSplit(root.appendingPathComponent("\(options.split).txt"))

        var items: [MotionItem] = [], dropped: [String] = []
        let range = options.minFrames..<options.maxFrames
        for id in ids {
            let features = try Self.readFeatures(vecs.appendingPathComponent("\(id).npy"), dimension: options.featureDimension)
            let t = features.shape[0]
            guard range.contains(t) else { dropped.append("\(id): \(t) frames, not in \(range)"); continue }
            let textURL = root.appendingPathComponent("texts/\(id).txt")
            guard fm.fileExists(atPath: textURL.path) else {
                if options.requireCaptions { throw DatasetError.missingFile(textURL.path) }
                items.append(MotionItem(name: id, clip: id, frames: 0..<t, features: features, captions: [], mirrored: false))
                continue
            }
            let captions = try Self.readCaptions(textURL)
            let whole = captions.filter(\.isWholeClip)
            if !whole.isEmpty { items.append(MotionItem(name: id, clip: id, frames: 0..<t, features: features, captions: whole, mirrored: false)) }
            for c in captions where !c.isWholeClip {
                let r = c.frameRange(frameCount: t, fps: options.fps)
                guard range.contains(r.count) else {
                    dropped.append("\(id) caption \"\(c.text.prefix(40))\" (\(c.start)-\(c.end) s): \(r.count) frames, not in \(range)")
                    continue
                }
                items.append(MotionItem(name: "\(id)#\(r.lowerBound)-\(r.upperBound)", clip: id, frames: r,
                                        features: features.slice(dim: 0, r.lowerBound, r.upperBound), captions: [c], mirrored: false))
            }
            if whole.isEmpty && captions.allSatisfy({ !range.contains($0.frameRange(frameCount: t, fps: options.fps).count) }) {
                dropped.append("\(id): no caption left (\(captions.isEmpty ? "the text file is empty" : "no whole-clip caption and no usable sub-range"))")
            }
        }
        if options.mirror {
            items += try items.map { try $0.mirroredItem() }
        }
        guard !items.isEmpty else {
            throw DatasetError.empty("\(root.path): no \(options.split) item between \(options.minFrames) and \(options.maxFrames - 1) frames\(options.requireCaptions ? " with a caption" : "")")
        }
        self.items = items
        self.dropped = dropped
    }

    public var count: Int { items.count }

    // MARK: Files

    /// Clip ids of a split file, one per line (blank lines and surrounding spaces ignored).
    public static func readSplit(_ url: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingFile(url.path) }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw DatasetError.corruptFile(url.path, "not UTF-8 text") }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The captions of a text file. Blank lines are skipped; a line with fewer than four `#` fields, or a
    /// start/end that is not a number, is an error naming the file and line.
    public static func readCaptions(_ url: URL) throws -> [MotionCaption] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw DatasetError.missingFile(url.path) }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError.corruptFile(url.path, "not UTF-8 text") }
        var out: [MotionCaption] = []
        for (n, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let parts = line.split(separator: "#", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4 else { throw DatasetError.badLine(file: url.path, line: n + 1, "expected caption#tokens#start#end, found \(parts.count) field(s)") }
            // Python's float() accepts "nan", which the official loader then reads as 0.
            func seconds(_ s: String, _ what: String) throws -> Double {
                guard let v = Double(s.trimmingCharacters(in: .whitespaces)), !v.isInfinite else {
                    throw DatasetError.badLine(file: url.path, line: n + 1, "\(what) \"\(s)\" is not a number of seconds")
                }
                return v.isNaN ? 0 : v
            }
            let start = try seconds(parts[2], "start"), end = try seconds(parts[3], "end")
            guard start >= 0, end >= 0 else { throw DatasetError.badLine(file: url.path, line: n + 1, "negative start or end (\(start), \(end))") }
            let tokens = parts[1].split(separator: " ").map(String.init)
            out.append(MotionCaption(text: parts[0].trimmingCharacters(in: .whitespaces), tokens: tokens, start: start, end: end))
        }
        return out
    }

    /// Features `[T, dimension]` of one file; NaN/infinity and wrong shapes are errors naming the file.
    public static func readFeatures(_ url: URL, dimension: Int) throws -> Tensor {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingFile(url.path) }
        let t: Tensor
        do { t = try readNpy(url) } catch { throw DatasetError.corruptFile(url.path, "\(error)") }
        guard t.rank == 2, t.shape[1] == dimension, t.shape[0] > 0 else {
            throw DatasetError.corruptFile(url.path, "features must be [frames, \(dimension)], got \(t.shape)")
        }
        if let k = t.scalars.firstIndex(where: { !$0.isFinite }) {
            throw DatasetError.corruptFile(url.path, "value \(k) (frame \(k / dimension)) is not finite")
        }
        return t
    }

    /// `Mean.npy` and `Std.npy` of `root`: nil when neither is there; one without the other, or a
    /// mis-shaped or invalid file, is an error naming it.
    public static func readNormalizer(_ root: URL, dimension: Int) throws -> FeatureNormalizer? {
        let mean = root.appendingPathComponent("Mean.npy"), std = root.appendingPathComponent("Std.npy")
        let fm = FileManager.default
        switch (fm.fileExists(atPath: mean.path), fm.fileExists(atPath: std.path)) {
        case (false, false): return nil
        case (true, false): throw DatasetError.missingFile(std.path)
        case (false, true): throw DatasetError.missingFile(mean.path)
        case (true, true): break
        }
        func vector(_ url: URL) throws -> [Float] {
            let t: Tensor
            do { t = try readNpy(url) } catch { throw DatasetError.corruptFile(url.path, "\(error)") }
            guard t.rank == 1, t.shape[0] == dimension else { throw DatasetError.corruptFile(url.path, "expected [\(dimension)], got \(t.shape)") }
            return t.scalars
        }
        let m = try vector(mean), s = try vector(std)
        do { return try FeatureNormalizer(mean: m, std: s) } catch { throw DatasetError.corruptFile(std.path, "\(error)") }
    }

    // MARK: Normalisation

    /// An item's features normalised with the folder's Mean/Std, `[T, D]`.
    public func normalizedFeatures(_ item: MotionItem) throws -> Tensor {
        guard let normalizer else { throw DatasetError.missingFile(root.appendingPathComponent("Mean.npy").path) }
        return try normalizer.normalize(item.features)
    }

    // MARK: Windows and batches

    /// A random window of `length` frames of `features` `[T, D]` (start uniform in `0...T-length`, as the
    /// VQ-VAE datasets of T2M-GPT and MotionGPT pick it), nil when the clip is shorter.
    public static func randomWindow(_ features: Tensor, length: Int, rng: inout SeededRNG) -> Tensor? {
        let t = features.shape[0]
        guard length > 0, t >= length else { return nil }
        let a = rng.nextInt(t - length + 1)
        return features.slice(dim: 0, a, a + length)
    }

    /// MotionGPT's crop for text-motion pairs (`Text2MotionDataset.__getitem__`): the length rounded down
    /// to a multiple of `unitLength`, one unit shorter with probability 1/3, at a uniform offset.
    public static func unitCrop(frameCount t: Int, unitLength: Int = 4, rng: inout SeededRNG) -> Range<Int> {
        precondition(unitLength > 0)
        let shorter = rng.nextInt(3) == 2
        var m = (t / unitLength - (shorter ? 1 : 0)) * unitLength
        if m <= 0 { m = min(t, (t / unitLength) * unitLength) }
        if m <= 0 { return 0..<t }
        let a = rng.nextInt(t - m + 1)
        return a..<(a + m)
    }

    /// Items with at least `length` frames.
    public func items(atLeast length: Int) -> [MotionItem] { items.filter { $0.frameCount >= length } }

    /// A batch of `batchSize` random windows of `window` frames, `[B, window, D]`: each from an item drawn
    /// uniformly among those long enough, normalised when `normalize` (needs Mean/Std), mirrored (in
    /// feature space, before normalising) with probability `mirrorProbability`.
    public func windowBatch(batchSize: Int, window: Int, normalize: Bool = true, mirrorProbability: Float = 0,
                            rng: inout SeededRNG) throws -> Tensor {
        let pool = items(atLeast: window)
        guard !pool.isEmpty else {
            throw DatasetError.unsatisfiable("\(root.path): no \(options.split) item has \(window) frames (longest: \(items.map(\.frameCount).max() ?? 0))")
        }
        var clips: [Tensor] = []
        for _ in 0..<batchSize {
            let item = pool[rng.nextInt(pool.count)]
            var w = Self.randomWindow(item.features, length: window, rng: &rng)!
            if mirrorProbability > 0 && rng.nextFloat() < mirrorProbability { w = try MotionFeatures.mirrorInFeatureSpace(w) }
            if normalize {
                guard let normalizer else { throw DatasetError.missingFile(root.appendingPathComponent("Mean.npy").path) }
                w = try normalizer.normalize(w)
            }
            clips.append(w)
        }
        return try Self.stack(clips)
    }

    /// Stacks equal-length clips `[T, D]` into `[B, T, D]`.
    public static func stack(_ clips: [Tensor]) throws -> Tensor {
        guard let first = clips.first else { throw DatasetError.unsatisfiable("cannot batch zero clips") }
        guard clips.allSatisfy({ $0.shape == first.shape }) else {
            throw DatasetError.unsatisfiable("clips of shapes \(Set(clips.map { "\($0.shape)" }).sorted()) cannot be stacked; use padded(_:)")
        }
        var out: [Float] = []
        out.reserveCapacity(clips.count * first.count)
        for c in clips { out += c.scalars }
        return Tensor(out, shape: [clips.count] + first.shape)
    }

    /// Pads clips `[T_i, D]` with zeros to `[B, T_max, D]`; `lengths` are the `T_i`, `mask` `[B, T_max]` is
    /// 1 on real frames and 0 on padding.
    public static func padded(_ clips: [Tensor]) throws -> (batch: Tensor, lengths: [Int], mask: Tensor) {
        guard let first = clips.first else { throw DatasetError.unsatisfiable("cannot batch zero clips") }
        let d = first.shape.count == 2 ? first.shape[1] : -1
        guard d > 0, clips.allSatisfy({ $0.rank == 2 && $0.shape[1] == d }) else {
            throw DatasetError.unsatisfiable("clips to pad must all be [T, D] with one D, got \(clips.map(\.shape))")
        }
        let lengths = clips.map { $0.shape[0] }, tmax = lengths.max()!
        var out = [Float](repeating: 0, count: clips.count * tmax * d), mask = [Float](repeating: 0, count: clips.count * tmax)
        for (b, c) in clips.enumerated() {
            let v = c.scalars
            out.replaceSubrange((b * tmax * d)..<(b * tmax * d + v.count), with: v)
            for f in 0..<lengths[b] { mask[b * tmax + f] = 1 }
        }
        return (Tensor(out, shape: [clips.count, tmax, d]), lengths, Tensor(mask, shape: [clips.count, tmax]))
    }
}

extension MotionItem {
    /// The item's left-right mirror: features through `MotionFeatures.mirrorInFeatureSpace`, `left` and
    /// `right` swapped in captions and tokens, name prefixed with `M`.
    public func mirroredItem() throws -> MotionItem {
        var m = self
        m.name = "M" + name
        m.features = try MotionFeatures.mirrorInFeatureSpace(features)
        m.captions = captions.map { c in
            var c = c
            c.text = MotionFeatures.mirroredCaption(c.text)
            c.tokens = c.tokens.map(MotionFeatures.mirroredCaption)
            return c
        }
        m.mirrored = !mirrored
        return m
    }
}

extension DatasetError: ClassifiedError {
    public var kind: ErrorKind {
        switch self {
        case .missingFile: return .notFound
        case .corruptFile, .badLine, .empty, .unsatisfiable: return .badInput
        }
    }
}
