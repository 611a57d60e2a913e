import Foundation
import MotionData
@testable import MotionRender
@testable import TensorEngine
import XCTest

/// The renderer, PNG and GIF writers (checked by decoders written here from the specifications) and
/// the HTML viewer, on the real HumanML3D sample clip.
final class MotionRenderTests: XCTestCase {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/humanml3d-sample")

    func sampleMotion() throws -> Motion {
        try Motion(skeleton: .humanML3D, tensor: try readNpy(Self.sample.appendingPathComponent("new_joints_012314.npy")))
    }

    func be32(_ d: [UInt8], _ i: Int) -> UInt32 { UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3]) }

    func testPNGDecodesToTheRenderedPixels() throws {
        var o = RenderOptions(); o.width = 120; o.height = 90; o.title = "walk"
        let img = try StickFigureRenderer(motion: try sampleMotion(), options: o).frame(40)
        let png = [UInt8](PNGEncoder.encode(img))
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var i = 8, idat: [UInt8] = [], types: [String] = []
        while i < png.count {
            let n = Int(be32(png, i)), type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
            XCTAssertEqual(be32(png, i + 8 + n), CRC32.checksum(Data(png[(i + 4)..<(i + 8 + n)])), "CRC of \(type)")
            if type == "IHDR" { XCTAssertEqual(be32(png, i + 8), 120); XCTAssertEqual(be32(png, i + 12), 90); XCTAssertEqual(png[i + 16], 8); XCTAssertEqual(png[i + 17], 2) }
            if type == "IDAT" { idat += png[(i + 8)..<(i + 8 + n)] }
            types.append(type)
            i += 12 + n
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        // zlib: header, DEFLATE data (inflated by TensorEngine's decoder, written for zip files), Adler-32.
        XCTAssertEqual(idat[0] & 0x0F, 8, "deflate")
        XCTAssertEqual((Int(idat[0]) << 8 | Int(idat[1])) % 31, 0)
        let raw = [UInt8](try ioInflate(Data(idat[2..<(idat.count - 4)]), expectedSize: 90 * 361, origin: "png"))
        var a: UInt32 = 1, b: UInt32 = 0
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        XCTAssertEqual(be32(idat, idat.count - 4), b << 16 | a)
        XCTAssertLessThan(png.count, raw.count / 4, "the frame compresses")
        var rgb: [UInt8] = []
        for y in 0..<90 { XCTAssertEqual(raw[y * 361], 0); rgb += raw[(y * 361 + 1)..<((y + 1) * 361)] }
        XCTAssertEqual(rgb, img.rgb)
    }

    func testDeflateRoundTripsThroughAnIndependentInflater() throws {
        // Literals of every byte value, runs longer than 258, overlapping matches, far matches near the
        // 32 KB window edge, and incompressible noise: every length and distance code gets used.
        var rng = SeededRNG(seed: 7)
        var cases: [[UInt8]] = [[], [42], Array(0...255), [UInt8](repeating: 9, count: 70_000)]
        var mixed: [UInt8] = []
        let block = (0..<1000).map { _ in UInt8(rng.nextInt(256)) }
        for k in 0..<400 {
            switch k % 4 {
            case 0: mixed += block[0..<(1 + rng.nextInt(300))]
            case 1: mixed += [UInt8](repeating: UInt8(rng.nextInt(4)), count: rng.nextInt(600))
            case 2: mixed += (0..<rng.nextInt(200)).map { _ in UInt8(rng.nextInt(256)) }
            default: if mixed.count > 33_000 { let start = mixed.count - 32_768; mixed += mixed[start..<(start + rng.nextInt(500))] }
            }
        }
        cases.append(mixed)
        for bytes in cases {
            let packed = Deflate.compress(bytes)
            XCTAssertEqual([UInt8](try ioInflate(Data(packed), expectedSize: bytes.count, origin: "test")), bytes, "\(bytes.count) bytes")
        }
        XCTAssertLessThan(Deflate.compress(cases[3]).count, 1000, "a long run packs into matches")
    }

    /// GIF LZW decoding as the GIF89a specification describes it.
    func decodeLZW(_ data: [UInt8], minCodeSize: Int, count: Int) -> [UInt8] {
        let clear = 1 << minCodeSize, end = clear + 1
        var width = minCodeSize + 1, dict: [[UInt8]] = (0..<clear).map { [UInt8($0)] } + [[], []]
        var out: [UInt8] = [], prev: [UInt8]? = nil, bit = 0
        while bit + width <= data.count * 8 {
            var code = 0
            for k in 0..<width { if data[(bit + k) / 8] >> ((bit + k) % 8) & 1 == 1 { code |= 1 << k } }
            bit += width
            if code == clear { width = minCodeSize + 1; dict = Array(dict[0..<(end + 1)]); prev = nil; continue }
            if code == end { break }
            guard let p = prev else { out += dict[code]; prev = dict[code]; continue }
            let entry = code < dict.count ? dict[code] : p + [p[0]]
            if dict.count < 4096 { dict.append(p + [entry[0]]) }
            if dict.count == 1 << width && width < 12 { width += 1 }
            out += entry
            prev = entry
        }
        XCTAssertEqual(out.count, count)
        return out
    }

    func testGIFFramesDecodeExactly() throws {
        var o = RenderOptions(); o.width = 100; o.height = 80
        let motion = try sampleMotion()
        let short = try Motion(skeleton: motion.skeleton, positions: Array(motion.positions[0..<12]))
        let frames = try StickFigureRenderer(motion: short, options: o).frames()
        let gif = [UInt8](try GIFEncoder.encode(frames, fps: 20))
        XCTAssertEqual(String(decoding: gif[0..<6], as: UTF8.self), "GIF89a")
        XCTAssertEqual(gif.last, 0x3B)
        var i = 13 + 48, decoded: [[UInt8]] = [], delays: [Int] = []
        while gif[i] != 0x3B {
            if gif[i] == 0x21 {
                if gif[i + 1] == 0xF9 { delays.append(Int(gif[i + 4]) | Int(gif[i + 5]) << 8) }
                i += 2
                while gif[i] != 0 { i += Int(gif[i]) + 1 }
                i += 1
            } else {
                XCTAssertEqual(gif[i], 0x2C)
                let minCode = Int(gif[i + 10])
                i += 11
                var data: [UInt8] = []
                while gif[i] != 0 { data += gif[(i + 1)..<(i + 1 + Int(gif[i]))]; i += Int(gif[i]) + 1 }
                i += 1
                decoded.append(decodeLZW(data, minCodeSize: minCode, count: 100 * 80))
            }
        }
        XCTAssertEqual(decoded, frames.map(\.pixels))
        XCTAssertEqual(delays, Array(repeating: 5, count: 12))
        // A long run through the table-full clear code also round-trips.
        var noisy = IndexedImage(width: 300, height: 200)
        var rng = SeededRNG(seed: 1)
        for k in noisy.pixels.indices { noisy.pixels[k] = UInt8(rng.nextInt(9)) }
        let bytes = GIFEncoder.compress(noisy.pixels, minCodeSize: 4)
        XCTAssertEqual(decodeLZW(bytes, minCodeSize: 4, count: noisy.pixels.count), noisy.pixels)
    }

    func testTheSampleClipLooksLikeAStandingPersonWhoMoves() throws {
        let motion = try sampleMotion()
        let r = try StickFigureRenderer(motion: motion, options: RenderOptions())
        func figureBox(_ img: IndexedImage) -> (minX: Int, maxX: Int, minY: Int, maxY: Int) {
            var box = (Int.max, Int.min, Int.max, Int.min)
            for y in 0..<img.height { for x in 0..<img.width where [RenderPalette.left, RenderPalette.right, RenderPalette.spine].contains(img[x, y]) {
                box = (min(box.0, x), max(box.1, x), min(box.2, y), max(box.3, y))
            } }
            return box
        }
        // The clip walks out and comes back: compare the start with the middle.
        let a = figureBox(r.frame(0)), b = figureBox(r.frame(85))
        for box in [a, b] {
            XCTAssertGreaterThan(box.maxY - box.minY, box.maxX - box.minX, "an upright figure is taller than wide: \(box)")
            XCTAssertGreaterThan(box.maxY - box.minY, 60)
        }
        let img = r.frame(100)
        for colour in [RenderPalette.left, RenderPalette.right, RenderPalette.spine, RenderPalette.grid, RenderPalette.trace, RenderPalette.text] {
            XCTAssertTrue(img.pixels.contains(colour), "colour \(colour) drawn")
        }
        XCTAssertGreaterThan(abs((a.minX + a.maxX) - (b.minX + b.maxX)) / 2, 20, "the figure travels across the picture")
    }

    func testHTMLViewerIsSelfContained() throws {
        let motion = try sampleMotion()
        let html = HTMLViewer.page(motion, title: "a person <walks> & turns")
        for forbidden in ["http://", "https://", "<script src", "<link"] { XCTAssertFalse(html.contains(forbidden), forbidden) }
        XCTAssertTrue(html.contains("a person &lt;walks&gt; &amp; turns"))
        let framesBlock = html.components(separatedBy: "const FRAMES = [")[1].components(separatedBy: "];")[0]
        XCTAssertEqual(framesBlock.split(separator: "\n").count, 170)
        XCTAssertEqual(framesBlock.split(separator: "\n")[0].split(separator: ",").count, 22 * 3)
    }

    func testBitmapFontCoversPrintableASCII() throws {
        // Every printable character but space has its own glyph: a missing or duplicated one draws wrong text.
        let printable = (33...126).map { Character(UnicodeScalar(UInt8($0))) }
        for ch in printable { XCTAssertNotNil(BitmapFont.glyphs[ch], "glyph for \(ch)") }
        XCTAssertEqual(Set(printable.compactMap { BitmapFont.glyphs[$0] }).count, printable.count, "glyphs are distinct")
        for (ch, rows) in BitmapFont.glyphs { XCTAssertEqual(rows.count, "gjpqy".contains(ch) ? 9 : 7, "\(ch)"); XCTAssertTrue(rows.allSatisfy { $0 < 32 }) }
        // Drawn pixels are the glyph's bits at the given scale and place.
        var img = IndexedImage(width: 40, height: 24)
        BitmapFont.draw(&img, "a@g", x: 3, y: 2, scale: 2, colour: RenderPalette.text, maxWidth: 40)
        for (k, ch) in ["a", "@", "g"].enumerated() {
            let rows = BitmapFont.glyphs[Character(ch)]! + [0, 0]
            for r in 0..<18 { for c in 0..<10 {
                let on = rows[r / 2] & (16 >> (c / 2)) != 0
                XCTAssertEqual(img[3 + k * 12 + c, 2 + r], on ? RenderPalette.text : RenderPalette.background, "\(ch) at \(c),\(r)")
            } }
        }
        // Too long a title is cut with "..." inside the width.
        var small = IndexedImage(width: 64, height: 10)
        BitmapFont.draw(&small, String(repeating: "W", count: 40), x: 0, y: 0, scale: 1, colour: RenderPalette.text, maxWidth: 64)
        let lastColumn = (0..<64).last { x in (0..<10).contains { small[x, $0] != RenderPalette.background } }!
        XCTAssertLessThan(lastColumn, 60)
    }

    func testBonesAreColouredBySideFromJointNames() {
        for (name, side) in [("left_hip", BodySide.left), ("right_wrist", .right), ("LeftUpLeg", .left), ("RightHand", .right),
                             ("LHipJoint", .left), ("RThumb", .right), ("l_knee", .left), ("R_Wrist", .right), ("spine1", .centre),
                             ("LowerBack", .centre), ("Root", .centre), ("Hips", .centre), ("LOWERBACK", .centre), ("Head", .centre)] {
            XCTAssertEqual(BodySide.of(name), side, name)
        }
        // HumanML3D's kinematic chains (right leg, left leg, spine, right arm, left arm) agree with the names.
        let s = Skeleton.humanML3D
        for (chain, side) in zip(s.kinematicChains, [BodySide.right, .left, .centre, .right, .left]) {
            for j in chain.dropFirst() { XCTAssertEqual(BodySide.of(s.jointNames[j]), side, s.jointNames[j]) }
        }
    }

    func testBadInputsAreRefused() throws {
        let motion = try sampleMotion()
        var o = RenderOptions(); o.width = 10
        XCTAssertThrowsError(try StickFigureRenderer(motion: motion, options: o)) { XCTAssertTrue("\($0)".contains("between 64 and 4096")) }
        var broken = motion.positions
        broken[3][5] = SIMD3(.nan, 0, 0)
        XCTAssertThrowsError(try StickFigureRenderer(motion: try Motion(skeleton: motion.skeleton, positions: broken)))
        let dir = FileManager.default.temporaryDirectory
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: dir.appendingPathComponent("x.tiff"))) { XCTAssertTrue("\($0)".contains(".tiff")) }
        var offPalette = IndexedImage(width: 8, height: 8)
        offPalette[3, 3] = 16
        XCTAssertThrowsError(try GIFEncoder.encode([IndexedImage(width: 8, height: 8), offPalette], fps: 20)) { XCTAssertTrue("\($0)".contains("frame 1")) }
        XCTAssertThrowsError(try GIFEncoder.encode([], fps: 20))
        let png = dir.appendingPathComponent("render-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: png) }
        try MotionRenderer.write(motion, to: png)
        // The library says what exists; the CLI adds "use --force" (CLITests check that).
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: png)) { XCTAssertTrue("\($0)".hasSuffix("already exists"), "\($0)") }
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: png, frame: 500, force: true))
        if MotionRenderer.ffmpeg() == nil {
            XCTAssertThrowsError(try MotionRenderer.write(motion, to: dir.appendingPathComponent("x-\(UUID().uuidString).mp4"))) { XCTAssertTrue("\($0)".contains("ffmpeg")) }
        }
    }
}
