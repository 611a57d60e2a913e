import Foundation
@testable import MotionData
import TensorEngine
import XCTest

/// The HumanML3D-layout reader (on a folder built here from the real sample clip, and on the CMU folder)
/// and the feature-space mirror (against the joint-space route on the real clip).
final class DatasetTests: XCTestCase {
    var folders: [URL] = []
    override func tearDown() { for f in folders { try? FileManager.default.removeItem(at: f) } }

    /// A HumanML3D-layout folder: clip 012314 (170 frames) with a whole-clip caption, a sub-range caption
    /// (0.0-3.2 s = frames 0..<64), a too-short sub-range (1.0-2.5 s = 30 frames) and a NaN-tagged line
    /// (whole clip, as the official loader reads it); `short` (its first 30 frames, dropped); `long` (the
    /// clip twice, 340 frames, dropped with its sub-range caption); split files; Mean/Std.
    func makeFolder() throws -> URL {
        try TestData.require(TestData.sample)
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("h3d-dataset-\(UUID().uuidString)")
        folders.append(dir)
        for sub in ["new_joint_vecs", "texts"] { try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true) }
        let f = try readNpy(TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy"))
        try writeNpy(f, to: dir.appendingPathComponent("new_joint_vecs/012314.npy"))
        try writeNpy(f.slice(dim: 0, 0, 30), to: dir.appendingPathComponent("new_joint_vecs/short.npy"))
        try writeNpy(Tensor.concat([f, f], dim: 0), to: dir.appendingPathComponent("new_joint_vecs/long.npy"))
        for n in ["Mean.npy", "Std.npy"] { try fm.copyItem(at: TestData.sample.appendingPathComponent(n), to: dir.appendingPathComponent(n)) }
        try """
        a person raises the left arm and steps in place#a/DET person/NOUN raise/VERB the/DET left/ADJ arm/NOUN and/CCONJ step/VERB in/ADP place/NOUN#0.0#0.0
        someone takes a few steps to the right#someone/PRON take/VERB a/DET few/ADJ step/NOUN to/ADP the/DET right/NOUN#0.0#3.2
        a brief shuffle#a/DET brief/ADJ shuffle/NOUN#1.0#2.5

        a man moves around#a/DET man/NOUN move/VERB around/ADV#nan#nan
        """.write(to: dir.appendingPathComponent("texts/012314.txt"), atomically: true, encoding: .utf8)
        try "a quick twitch#a/DET quick/ADJ twitch/NOUN#0.0#0.0\n".write(to: dir.appendingPathComponent("texts/short.txt"), atomically: true, encoding: .utf8)
        try "walking twice#walk/VERB twice/ADV#0.0#0.0\nthe first walk#the/DET first/ADJ walk/NOUN#0.0#5.0\n"
            .write(to: dir.appendingPathComponent("texts/long.txt"), atomically: true, encoding: .utf8)
        try "012314\nshort\n  long  \n\n".write(to: dir.appendingPathComponent("train.txt"), atomically: true, encoding: .utf8)
        try "012314\n".write(to: dir.appendingPathComponent("val.txt"), atomically: true, encoding: .utf8)
        try "".write(to: dir.appendingPathComponent("test.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    func testFolderLoadsWithHumanML3DsItemRules() throws {
        let dir = try makeFolder()
        let raw = try readNpy(TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy"))
        let ds = try MotionDataset(root: dir)
        XCTAssertEqual(ds.items.map(\.name), ["012314", "012314#0-64"])
        let whole = ds.items[0], sub = ds.items[1]
        XCTAssertEqual(whole.frames, 0..<170)
        XCTAssertEqual(whole.features.scalars, raw.scalars)
        XCTAssertEqual(whole.captions.map(\.text), ["a person raises the left arm and steps in place", "a man moves around"])
        XCTAssertEqual(whole.captions[0].words, ["a", "person", "raise", "the", "left", "arm", "and", "step", "in", "place"])
        XCTAssertEqual(whole.captions[0].tokens[2], "raise/VERB")
        XCTAssertEqual(sub.frames, 0..<64)
        XCTAssertEqual(sub.features.shape, [64, 263])
        XCTAssertEqual(sub.features.scalars, raw.slice(dim: 0, 0, 64).scalars)
        XCTAssertEqual(sub.captions.map(\.text), ["someone takes a few steps to the right"])
        XCTAssertEqual(sub.captions[0].start, 0); XCTAssertEqual(sub.captions[0].end, 3.2)
        // What was left out, and why: the 30-frame sub-range, the 30-frame clip, the 340-frame clip.
        XCTAssertEqual(ds.dropped.count, 3, "\(ds.dropped)")
        XCTAssertTrue(ds.dropped[0].contains("a brief shuffle") && ds.dropped[0].contains("30 frames"), ds.dropped[0])
        XCTAssertTrue(ds.dropped[1].hasPrefix("short: 30 frames"), ds.dropped[1])
        XCTAssertTrue(ds.dropped[2].hasPrefix("long: 340 frames"), ds.dropped[2])

        // Other splits and length limits.
        var o = MotionDataset.Options(); o.split = "val"
        XCTAssertEqual(try MotionDataset(root: dir, options: o).items.map(\.name), ["012314", "012314#0-64"])
        o.split = "train"; o.minFrames = 20; o.maxFrames = 400
        let wide = try MotionDataset(root: dir, options: o)
        XCTAssertEqual(wide.items.map(\.name), ["012314", "012314#0-64", "012314#20-50", "short", "long", "long#0-100"])
        o.split = "test"
        XCTAssertThrowsError(try MotionDataset(root: dir, options: o)) { XCTAssertTrue("\($0)".contains("no test item"), "\($0)") }

        // Normalisation with the folder's Mean/Std.
        let mean = try readNpy(dir.appendingPathComponent("Mean.npy")).scalars, std = try readNpy(dir.appendingPathComponent("Std.npy")).scalars
        let n = try ds.normalizedFeatures(sub)
        for (i, k) in [(0, 0), (10, 100), (63, 262)] {
            XCTAssertEqual(n[i, k], (raw[i, k] - mean[k]) / std[k], accuracy: 1e-6)
        }
    }

    func testMirrorOptionAddsMirroredItemsWithSwappedCaptions() throws {
        let dir = try makeFolder()
        var o = MotionDataset.Options(); o.mirror = true
        let ds = try MotionDataset(root: dir, options: o)
        XCTAssertEqual(ds.items.map(\.name), ["012314", "012314#0-64", "M012314", "M012314#0-64"])
        let m = ds.items[2]
        XCTAssertTrue(m.mirrored)
        XCTAssertEqual(m.captions[0].text, "a person raises the right arm and steps in place")
        XCTAssertEqual(m.captions[0].tokens[4], "right/ADJ")
        XCTAssertEqual(ds.items[3].captions[0].text, "someone takes a few steps to the left")
        XCTAssertEqual(m.features.scalars, try MotionFeatures.mirrorInFeatureSpace(ds.items[0].features).scalars)
        XCTAssertEqual(try m.mirroredItem().features.scalars, ds.items[0].features.scalars)
    }

    func testWindowsCropsAndBatches() throws {
        let dir = try makeFolder()
        let ds = try MotionDataset(root: dir)
        let normalized = try ds.items.map { try ds.normalizedFeatures($0) }
        var rng = SeededRNG(seed: 11), again = SeededRNG(seed: 11)
        let batch = try ds.windowBatch(batchSize: 6, window: 64, rng: &rng)
        XCTAssertEqual(batch.shape, [6, 64, 263])
        XCTAssertEqual(batch.scalars, try ds.windowBatch(batchSize: 6, window: 64, rng: &again).scalars, "same seed, same batch")
        // Every window is a real 64-frame stretch of some item's normalised features.
        let v = batch.scalars, d = 263
        var offsets = Set<Int>()
        for b in 0..<6 {
            let w = Array(v[(b * 64 * d)..<((b + 1) * 64 * d)])
            let found = normalized.enumerated().flatMap { i, f in
                (0...(f.shape[0] - 64)).compactMap { a in Array(f.scalars[(a * d)..<((a + 64) * d)]) == w ? (i, a) : nil }
            }
            XCTAssertFalse(found.isEmpty, "window \(b) is no stretch of the data")
            offsets.formUnion(found.map(\.1))
        }
        XCTAssertGreaterThan(offsets.count, 1, "windows start at different frames")
        // Only items long enough are used; none is 171 frames long.
        XCTAssertThrowsError(try ds.windowBatch(batchSize: 1, window: 171, rng: &rng)) { XCTAssertTrue("\($0)".contains("longest: 170"), "\($0)") }
        // Mirrored windows (before normalising) are mirrored stretches.
        var mr = SeededRNG(seed: 5)
        let mb = try ds.windowBatch(batchSize: 8, window: 64, normalize: false, mirrorProbability: 1, rng: &mr)
        let stretches = try ds.items.flatMap { item -> [[Float]] in
            let f = try MotionFeatures.mirrorInFeatureSpace(item.features).scalars
            return (0...(item.frameCount - 64)).map { a in Array(f[(a * d)..<((a + 64) * d)]) }
        }
        for b in 0..<8 { XCTAssertTrue(stretches.contains(Array(mb.scalars[(b * 64 * d)..<((b + 1) * 64 * d)])), "mirrored window \(b)") }

        // MotionGPT's crop: a multiple of 4 frames, one unit shorter about a third of the time, inside the clip.
        var cr = SeededRNG(seed: 2)
        var shorter = 0
        for _ in 0..<600 {
            let r = MotionDataset.unitCrop(frameCount: 170, rng: &cr)
            XCTAssertEqual(r.count % 4, 0)
            XCTAssertTrue(r.lowerBound >= 0 && r.upperBound <= 170)
            XCTAssertTrue(r.count == 168 || r.count == 164, "\(r)")
            if r.count == 164 { shorter += 1 }
        }
        XCTAssertTrue((150...250).contains(shorter), "\(shorter) of 600 one unit shorter")

        // Padding clips of different lengths.
        let (p, lengths, mask) = try MotionDataset.padded([ds.items[1].features, ds.items[0].features.slice(dim: 0, 0, 100)])
        XCTAssertEqual(p.shape, [2, 100, 263]); XCTAssertEqual(lengths, [64, 100]); XCTAssertEqual(mask.shape, [2, 100])
        XCTAssertEqual(mask.scalars.reduce(0, +), 164)
        XCTAssertEqual(p[0, 63, 5], ds.items[1].features[63, 5]); XCTAssertEqual(p[0, 64, 5], 0); XCTAssertEqual(p[1, 99, 5], ds.items[0].features[99, 5])
        XCTAssertThrowsError(try MotionDataset.stack([ds.items[0].features, ds.items[1].features]))
    }

    func testBrokenFoldersGiveErrorsNamingTheFile() throws {
        let fm = FileManager.default
        func expect(_ fix: (URL) throws -> Void, options: MotionDataset.Options = MotionDataset.Options(), _ fragment: String,
                    line: UInt = #line) throws {
            let dir = try makeFolder()
            try fix(dir)
            XCTAssertThrowsError(try MotionDataset(root: dir, options: options), line: line) { e in
                XCTAssertTrue(e is DatasetError, "\(e)", line: line)
                XCTAssertTrue("\(e)".contains(fragment), "\(e) should name \(fragment)", line: line)
            }
        }
        try expect({ try fm.removeItem(at: $0.appendingPathComponent("train.txt")) }, "train.txt: no such file")
        try expect({ try fm.removeItem(at: $0.appendingPathComponent("texts/012314.txt")) }, "texts/012314.txt: no such file")
        try expect({ try fm.removeItem(at: $0.appendingPathComponent("new_joint_vecs/short.npy")) }, "new_joint_vecs/short.npy: no such file")
        try expect({ try Data("not a numpy file at all".utf8).write(to: $0.appendingPathComponent("new_joint_vecs/long.npy")) }, "new_joint_vecs/long.npy")
        try expect({ try writeNpy(Tensor.zeros([50, 251]), to: $0.appendingPathComponent("new_joint_vecs/012314.npy")) }, "012314.npy: features must be [frames, 263], got [50, 251]")
        try expect({
            var f = try readNpy($0.appendingPathComponent("new_joint_vecs/012314.npy")).scalars
            f[263 * 7 + 3] = .nan
            try writeNpy(Tensor(f, shape: [170, 263]), to: $0.appendingPathComponent("new_joint_vecs/012314.npy"))
        }, "012314.npy: value 1844 (frame 7) is not finite")
        try expect({ try "a caption without tags\n".write(to: $0.appendingPathComponent("texts/012314.txt"), atomically: true, encoding: .utf8) },
                   "texts/012314.txt line 1: expected caption#tokens#start#end")
        try expect({ try "ok#ok/X#0.0#0.0\nbad#bad/X#zero#1.0\n".write(to: $0.appendingPathComponent("texts/012314.txt"), atomically: true, encoding: .utf8) },
                   "texts/012314.txt line 2: start \"zero\"")
        try expect({ try fm.removeItem(at: $0.appendingPathComponent("Std.npy")) }, "Std.npy: no such file")
        try expect({ try writeNpy(Tensor.ones([262]), to: $0.appendingPathComponent("Mean.npy")) }, "Mean.npy: expected [263], got [262]")
        try expect({ try writeNpy(Tensor.zeros([263]), to: $0.appendingPathComponent("Std.npy")) }, "Std.npy")
        XCTAssertThrowsError(try MotionDataset(root: URL(fileURLWithPath: "/no/such/dataset"))) { XCTAssertEqual("\($0)", "/no/such/dataset: no such file") }

        // Captions optional: a clip without a text file becomes an uncaptioned whole-clip item.
        let dir = try makeFolder()
        try fm.removeItem(at: dir.appendingPathComponent("texts/012314.txt"))
        var o = MotionDataset.Options(); o.requireCaptions = false
        let ds = try MotionDataset(root: dir, options: o)
        XCTAssertEqual(ds.items.map(\.name), ["012314"])
        XCTAssertTrue(ds.items[0].captions.isEmpty)
    }

    func testCMUFolderLoads() throws {
        try TestData.require(TestData.cmu)
        var counts: [String: Int] = [:]
        for split in ["train", "val", "test"] {
            var o = MotionDataset.Options(); o.split = split
            let ds = try MotionDataset(root: TestData.cmu, options: o)
            counts[split] = ds.count
            XCTAssertTrue(ds.dropped.isEmpty, "\(split): \(ds.dropped)")
            XCTAssertNotNil(ds.normalizer)
            XCTAssertTrue(ds.items.allSatisfy { (40..<200).contains($0.frameCount) && !$0.captions.isEmpty })
            // Every caption line of every clip of the split is in an item (all are whole-clip).
            let lines = try MotionDataset.readSplit(TestData.cmu.appendingPathComponent("\(split).txt")).map { id in
                try MotionDataset.readCaptions(TestData.cmu.appendingPathComponent("texts/\(id).txt")).count
            }.reduce(0, +)
            XCTAssertEqual(ds.items.map(\.captions.count).reduce(0, +), lines)
        }
        XCTAssertEqual(counts, ["train": 68, "val": 13, "test": 16])
    }

    // MARK: Mirror

    func testFeatureSpaceMirrorMatchesTheJointRouteOnTheSampleClip() throws {
        try TestData.require(TestData.sample)
        let features = try readNpy(TestData.sample.appendingPathComponent("new_joint_vecs_012314.npy"))
        // Twice is the identity, exactly.
        let m = try MotionFeatures.mirrorInFeatureSpace(features)
        XCTAssertEqual(try MotionFeatures.mirrorInFeatureSpace(m).scalars, features.scalars)
        XCTAssertNotEqual(m.scalars, features.scalars)

        // The mirrored features recover (recover_from_ric) to the mirrored joints.
        let joints = try Motion(features: features)
        let fromMirror = try Motion(features: m)
        let err = TestData.maxDiff(fromMirror.positions, try joints.mirrored().positions)
        XCTAssertLessThan(err, 1e-4, "mirrored features recover to joints \(err) m from the mirrored joints")

        // The same features as processing the mirrored joints, when the processing keeps bone lengths
        // (the joint route loses one frame, as features of any joints do).
        let clip = try Motion(skeleton: .humanML3D, tensor: try readNpy(TestData.sample.appendingPathComponent("new_joints_012314.npy")))
        var keepBones = FeatureConfig.humanML3D
        keepBones.targetOffsets = nil
        let g = try clip.features(config: keepBones)                    // [169, 263]
        let viaJoints = try clip.mirrored().features(config: keepBones) // [169, 263]
        let viaFeatures = try MotionFeatures.mirrorInFeatureSpace(g)
        XCTAssertEqual(viaFeatures.shape, viaJoints.shape)
        let (worst, frame, k) = TestData.maxDiff(TestData.rows(viaFeatures), TestData.rows(viaJoints))
        XCTAssertLessThan(worst, 1e-4, "feature-space vs joint-space mirror differ by \(worst) at frame \(frame), feature \(k)")
        // Foot contacts are 0/1 and must agree exactly.
        for t in 0..<169 { for c in 259..<263 { XCTAssertEqual(viaFeatures[t, c], viaJoints[t, c]) } }

        // KIT's 251 features mirror too (twice = identity); an asymmetric skeleton is refused.
        let kit = Tensor.uniform([5, 251], low: -1, high: 1, rng: &rng)
        XCTAssertEqual(try MotionFeatures.mirrorInFeatureSpace(try MotionFeatures.mirrorInFeatureSpace(kit)).scalars, kit.scalars)
        var lopsided = FeatureConfig.humanML3D
        lopsided.skeleton.rawOffsets[1] = [0.9, 0, 0]
        XCTAssertThrowsError(try MotionFeatures.mirrorInFeatureSpace(features, config: lopsided)) { XCTAssertTrue("\($0)".contains("left_hip"), "\($0)") }
        XCTAssertThrowsError(try MotionFeatures.mirrorInFeatureSpace(Tensor.zeros([4, 100])))
    }
    var rng = SeededRNG(seed: 1)
}
