import Foundation
import MotionData
import TensorEngine
import XCTest
@testable import MotionRender

/// The renderer, PNG and GIF writers (checked by decoders written here from the specifications) and
/// the HTML viewer, on the real HumanML3D sample clip.
final class MotionRenderTests: XCTestCase {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/humanml3d-sample")

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
        // zlib: header, stored DEFLATE blocks (BTYPE 00), Adler-32.
        XCTAssertEqual((Int(idat[0]) << 8 | Int(idat[1])) % 31, 0)
        var p = 2, raw: [UInt8] = [], final = false
        while !final {
            final = idat[p] & 1 == 1
            XCTAssertEqual(idat[p] >> 1 & 3, 0)
            let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8, nlen = Int(idat[p + 3]) | Int(idat[p + 4]) << 8
            XCTAssertEqual(len ^ 0xFFFF, nlen)
            raw += idat[(p + 5)..<(p + 5 + len)]
            p += 5 + len
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        XCTAssertEqual(be32(idat, p), b << 16 | a)
        var rgb: [UInt8] = []
        for y in 0..<90 { XCTAssertEqual(raw[y * 361], 0); rgb += raw[(y * 361 + 1)..<((y + 1) * 361)] }
        XCTAssertEqual(rgb, img.rgb)
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

    func testBadInputsAreRefused() throws {
        let motion = try sampleMotion()
        var o = RenderOptions(); o.width = 10
        XCTAssertThrowsError(try StickFigureRenderer(motion: motion, options: o)) { XCTAssertTrue("\($0)".contains("between 64 and 4096")) }
        var broken = motion.positions
        broken[3][5] = SIMD3(.nan, 0, 0)
        XCTAssertThrowsError(try StickFigureRenderer(motion: try Motion(skeleton: motion.skeleton, positions: broken)))
        let dir = FileManager.default.temporaryDirectory
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: dir.appendingPathComponent("x.tiff"))) { XCTAssertTrue("\($0)".contains(".tiff")) }
        let png = dir.appendingPathComponent("render-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: png) }
        try MotionRenderer.write(motion, to: png)
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: png)) { XCTAssertTrue("\($0)".contains("--force")) }
        XCTAssertThrowsError(try MotionRenderer.write(motion, to: png, frame: 500, force: true))
        if MotionRenderer.ffmpeg() == nil {
            XCTAssertThrowsError(try MotionRenderer.write(motion, to: dir.appendingPathComponent("x-\(UUID().uuidString).mp4"))) { XCTAssertTrue("\($0)".contains("ffmpeg")) }
        }
    }
}
