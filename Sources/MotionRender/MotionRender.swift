import Foundation
import MotionData
import TensorEngine

/// Errors of rendering and writing pictures; each names the file or the problem.
public enum RenderError: Error, CustomStringConvertible, Equatable {
    case badInput(String)
    case io(String)

    public var description: String {
        switch self {
        case .badInput(let s), .io(let s): return s
        }
    }
}

/// An image of palette indices; `RenderPalette.colors` gives their RGB values. Rendering into indices
/// keeps GIF frames exact (no colour quantisation) and PNGs are expanded to RGB.
public struct IndexedImage: Equatable, Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: UInt8 = 0) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: fill, count: width * height)
    }

    public subscript(x: Int, y: Int) -> UInt8 {
        get { pixels[y * width + x] }
        set { if x >= 0, y >= 0, x < width, y < height { pixels[y * width + x] = newValue } }
    }

    /// RGB bytes, row-major.
    public var rgb: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(pixels.count * 3)
        for p in pixels { let c = RenderPalette.colors[Int(p)]; out += [c.0, c.1, c.2] }
        return out
    }
}

/// The renderer's colours (16, so GIF codes start at 4 bits).
public enum RenderPalette {
    public static let background: UInt8 = 0, grid: UInt8 = 1, trace: UInt8 = 2, spine: UInt8 = 3
    public static let left: UInt8 = 4, right: UInt8 = 5, joint: UInt8 = 6, text: UInt8 = 7, shadow: UInt8 = 8
    public static let colors: [(UInt8, UInt8, UInt8)] = [
        (250, 250, 247), (205, 208, 214), (120, 170, 230), (60, 60, 70),
        (220, 70, 60), (40, 110, 200), (30, 30, 30), (20, 20, 20), (225, 225, 225),
        (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0),
    ]
}

/// How frames look.
public struct RenderOptions: Sendable {
    public var width = 480
    public var height = 400
    /// Camera turn about the vertical axis and tilt down, degrees.
    public var yaw: Float = 35
    public var pitch: Float = 20
    public var title: String = ""
    public var boneThickness = 4
    public init() {}

    func validate() throws {
        guard (64...4096).contains(width), (64...4096).contains(height) else {
            throw RenderError.badInput("image size \(width)x\(height) must be between 64 and 4096 pixels a side")
        }
    }
}

/// Software rasteriser of a stick figure: a fixed 3/4 camera framed on the whole motion, a floor grid,
/// the root's path on the floor, bones coloured by side (left red, right blue, spine dark), a title and
/// a frame counter.
public struct StickFigureRenderer {
    public let motion: Motion
    public let options: RenderOptions
    let centre: SIMD3<Float>
    let scale: Float
    let yawC: Float, yawS: Float, pitchC: Float, pitchS: Float

    public init(motion: Motion, options: RenderOptions = RenderOptions()) throws {
        try options.validate()
        guard motion.frameCount > 0 else { throw RenderError.badInput("the motion has no frames") }
        guard motion.positions.allSatisfy({ $0.allSatisfy { $0.x.isFinite && $0.y.isFinite && $0.z.isFinite } }) else {
            throw RenderError.badInput("the motion has NaN or infinite joint positions")
        }
        self.motion = motion
        self.options = options
        yawC = cos(options.yaw * .pi / 180); yawS = sin(options.yaw * .pi / 180)
        pitchC = cos(options.pitch * .pi / 180); pitchS = sin(options.pitch * .pi / 180)
        // Frame the whole motion (and its floor) so the camera never moves.
        var lo = SIMD3<Float>(repeating: .infinity), hi = SIMD3<Float>(repeating: -.infinity)
        for f in motion.positions { for p in f { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) } }
        lo.y = min(lo.y, 0)
        centre = (lo + hi) / 2
        var extentX: Float = 0.1, extentY: Float = 0.1
        for x in [lo.x, hi.x] { for y in [lo.y, hi.y] { for z in [lo.z, hi.z] {
            let v = Self.view(SIMD3(x, y, z) - (lo + hi) / 2, yawC, yawS, pitchC, pitchS)
            extentX = max(extentX, abs(v.x)); extentY = max(extentY, abs(v.y))
        } } }
        let usableH = Float(options.height) * 0.78, usableW = Float(options.width) * 0.9
        scale = min(usableW / (2 * extentX), usableH / (2 * extentY))
    }

    static func view(_ p: SIMD3<Float>, _ yc: Float, _ ys: Float, _ pc: Float, _ ps: Float) -> SIMD3<Float> {
        let x = yc * p.x - ys * p.z, z = ys * p.x + yc * p.z
        return SIMD3(x, pc * p.y - ps * z, ps * p.y + pc * z)
    }

    /// Screen position (pixels, y down) of a world point.
    public func project(_ p: SIMD3<Float>) -> SIMD2<Float> {
        let v = Self.view(p - centre, yawC, yawS, pitchC, pitchS)
        return SIMD2(Float(options.width) / 2 + v.x * scale, Float(options.height) * 0.54 - v.y * scale)
    }

    /// Frame `index` as palette indices.
    public func frame(_ index: Int) -> IndexedImage {
        var img = IndexedImage(width: options.width, height: options.height, fill: RenderPalette.background)
        let pose = motion.positions[index]
        // Floor grid at y = 0 every 0.5 m around the motion.
        let step: Float = 0.5
        var lo = SIMD2<Float>(.infinity, .infinity), hi = SIMD2<Float>(-.infinity, -.infinity)
        for f in motion.positions { for p in f { lo = pointwiseMin(lo, SIMD2(p.x, p.z)); hi = pointwiseMax(hi, SIMD2(p.x, p.z)) } }
        let x0 = (floor(lo.x / step) - 1) * step, x1 = (ceil(hi.x / step) + 1) * step
        let z0 = (floor(lo.y / step) - 1) * step, z1 = (ceil(hi.y / step) + 1) * step
        var x = x0
        while x <= x1 + 1e-4 { line(&img, project(SIMD3(x, 0, z0)), project(SIMD3(x, 0, z1)), 1, RenderPalette.grid); x += step }
        var z = z0
        while z <= z1 + 1e-4 { line(&img, project(SIMD3(x0, 0, z)), project(SIMD3(x1, 0, z)), 1, RenderPalette.grid); z += step }
        // Root path on the floor up to this frame, and the figure's shadow.
        for f in stride(from: 1, through: index, by: 1) {
            let a = motion.positions[f - 1][0], b = motion.positions[f][0]
            line(&img, project(SIMD3(a.x, 0, a.z)), project(SIMD3(b.x, 0, b.z)), 2, RenderPalette.trace)
        }
        let skeleton = motion.skeleton
        for (p, c) in skeleton.bones {
            line(&img, project(SIMD3(pose[p].x, 0, pose[p].z)), project(SIMD3(pose[c].x, 0, pose[c].z)), options.boneThickness, RenderPalette.shadow)
        }
        // Bones far from the camera first.
        let names = skeleton.jointNames
        let bones = skeleton.bones.sorted {
            Self.view(pose[$0.1] - centre, yawC, yawS, pitchC, pitchS).z > Self.view(pose[$1.1] - centre, yawC, yawS, pitchC, pitchS).z
        }
        for (p, c) in bones {
            let colour = [RenderPalette.spine, RenderPalette.left, RenderPalette.right][BodySide.of(names[c]).rawValue]
            line(&img, project(pose[p]), project(pose[c]), options.boneThickness, colour)
        }
        for j in pose.indices { disc(&img, project(pose[j]), Float(options.boneThickness) * 0.8, RenderPalette.joint) }
        if let head = names.firstIndex(of: "head") { disc(&img, project(pose[head]), Float(options.boneThickness) * 2.2, RenderPalette.spine) }
        let fontScale = max(1, options.width / 240)
        if !options.title.isEmpty { BitmapFont.draw(&img, options.title, x: 8, y: 8, scale: fontScale, colour: RenderPalette.text, maxWidth: options.width - 16) }
        BitmapFont.draw(&img, "\(index + 1)/\(motion.frameCount)", x: 8, y: options.height - 8 - 7 * fontScale, scale: fontScale, colour: RenderPalette.text, maxWidth: options.width)
        return img
    }

    /// All frames.
    public func frames() -> [IndexedImage] { (0..<motion.frameCount).map(frame) }

    private func disc(_ img: inout IndexedImage, _ c: SIMD2<Float>, _ r: Float, _ colour: UInt8) {
        let r2 = r * r
        for y in Int(floor(c.y - r))...Int(ceil(c.y + r)) {
            for x in Int(floor(c.x - r))...Int(ceil(c.x + r)) {
                let dx = Float(x) - c.x, dy = Float(y) - c.y
                if dx * dx + dy * dy <= r2 { img[x, y] = colour }
            }
        }
    }

    /// A thick segment: discs of radius `thickness / 2` stamped every half pixel along it (cost grows
    /// with length, not with the bounding box, so long grid lines stay cheap).
    private func line(_ img: inout IndexedImage, _ a: SIMD2<Float>, _ b: SIMD2<Float>, _ thickness: Int, _ colour: UInt8) {
        let r = max(Float(thickness) / 2, 0.5)
        let d = b - a, len = (d * d).sum().squareRoot()
        guard len.isFinite, len < 1e5 else { return }
        let steps = max(1, Int(ceil(len * 2)))
        let ir = Int(ceil(r)), r2 = r * r
        for s in 0...steps {
            let p = a + d * (Float(s) / Float(steps))
            let cx = Int(p.x.rounded()), cy = Int(p.y.rounded())
            if r <= 0.5 { img[cx, cy] = colour; continue }
            for dy in -ir...ir { for dx in -ir...ir where Float(dx * dx + dy * dy) <= r2 { img[cx + dx, cy + dy] = colour } }
        }
    }
}

/// Which side of the body a joint is on, from its name: HumanML3D/KIT (`left_hip`), CMU BVH (`LeftUpLeg`),
/// and the short forms of other BVH exporters (`LHipJoint`, `l_knee`, `R_Wrist`). A bone takes its child's side.
enum BodySide: Int {
    case centre = 0, left = 1, right = 2

    static func of(_ name: String) -> BodySide {
        let lower = name.lowercased()
        if lower.contains("left") { return .left }
        if lower.contains("right") { return .right }
        let chars = Array(name)
        guard chars.count >= 2 else { return .centre }
        // "l_", "L.", "R-" prefixes, or a capital L/R followed by another capital ("LHip", not "Leg" nor "LOWERBACK").
        let separated = "_.- ".contains(chars[1]), camel = chars[0].isUppercase && chars[1].isUppercase && name != name.uppercased()
        guard separated || camel else { return .centre }
        switch chars[0] {
        case "l", "L": return .left
        case "r", "R": return .right
        default: return .centre
        }
    }
}

/// A 5x7 bitmap font for printable ASCII (space and anything outside ASCII drawn blank), defined here so no
/// font file is needed.
enum BitmapFont {
    /// Rows of 5 bits, top to bottom: 7 rows above the baseline, 9 for letters that descend below it.
    static let glyphs: [Character: [UInt8]] = [
        "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30], "C": [14, 17, 16, 16, 16, 17, 14],
        "D": [30, 17, 17, 17, 17, 17, 30], "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
        "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17], "I": [14, 4, 4, 4, 4, 4, 14],
        "J": [7, 2, 2, 2, 2, 18, 12], "K": [17, 18, 20, 24, 20, 18, 17], "L": [16, 16, 16, 16, 16, 16, 31],
        "M": [17, 27, 21, 21, 17, 17, 17], "N": [17, 17, 25, 21, 19, 17, 17], "O": [14, 17, 17, 17, 17, 17, 14],
        "P": [30, 17, 17, 30, 16, 16, 16], "Q": [14, 17, 17, 17, 21, 18, 13], "R": [30, 17, 17, 30, 20, 18, 17],
        "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4], "U": [17, 17, 17, 17, 17, 17, 14],
        "V": [17, 17, 17, 17, 17, 10, 4], "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17],
        "Y": [17, 17, 10, 4, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12],
        ".": [0, 0, 0, 0, 0, 12, 12], ",": [0, 0, 0, 0, 12, 4, 8], ":": [0, 12, 12, 0, 12, 12, 0],
        ";": [0, 12, 12, 0, 12, 4, 8], "!": [4, 4, 4, 4, 4, 0, 4], "?": [14, 17, 1, 2, 4, 0, 4],
        "-": [0, 0, 0, 31, 0, 0, 0], "+": [0, 4, 4, 31, 4, 4, 0], "/": [1, 1, 2, 4, 8, 16, 16],
        "'": [4, 4, 8, 0, 0, 0, 0], "\"": [10, 10, 0, 0, 0, 0, 0], "(": [2, 4, 8, 8, 8, 4, 2],
        ")": [8, 4, 2, 2, 2, 4, 8], "#": [10, 10, 31, 10, 31, 10, 10], "%": [24, 25, 2, 4, 8, 19, 3],
        "&": [12, 18, 20, 8, 21, 18, 13], "=": [0, 0, 31, 0, 31, 0, 0], "_": [0, 0, 0, 0, 0, 0, 31],
        "<": [2, 4, 8, 16, 8, 4, 2], ">": [8, 4, 2, 1, 2, 4, 8], "*": [0, 4, 21, 14, 21, 4, 0],
        "@": [14, 17, 1, 13, 21, 21, 14], "$": [4, 15, 20, 14, 5, 30, 4], "[": [14, 8, 8, 8, 8, 8, 14],
        "]": [14, 2, 2, 2, 2, 2, 14], "{": [2, 4, 4, 8, 4, 4, 2], "}": [8, 4, 4, 2, 4, 4, 8],
        "\\": [16, 16, 8, 4, 2, 1, 1], "^": [4, 10, 17, 0, 0, 0, 0], "`": [8, 4, 2, 0, 0, 0, 0],
        "|": [4, 4, 4, 4, 4, 4, 4], "~": [0, 0, 8, 21, 2, 0, 0],
        "a": [0, 0, 14, 1, 15, 17, 15], "b": [16, 16, 22, 25, 17, 17, 30], "c": [0, 0, 14, 16, 16, 17, 14],
        "d": [1, 1, 13, 19, 17, 17, 15], "e": [0, 0, 14, 17, 31, 16, 14], "f": [6, 9, 8, 28, 8, 8, 8],
        "g": [0, 0, 15, 17, 17, 17, 15, 1, 14], "h": [16, 16, 22, 25, 17, 17, 17], "i": [4, 0, 12, 4, 4, 4, 14],
        "j": [2, 0, 6, 2, 2, 2, 2, 18, 12], "k": [16, 16, 18, 20, 24, 20, 18], "l": [12, 4, 4, 4, 4, 4, 14],
        "m": [0, 0, 26, 21, 21, 17, 17], "n": [0, 0, 22, 25, 17, 17, 17], "o": [0, 0, 14, 17, 17, 17, 14],
        "p": [0, 0, 30, 17, 17, 17, 30, 16, 16], "q": [0, 0, 15, 17, 17, 17, 15, 1, 1], "r": [0, 0, 22, 25, 16, 16, 16],
        "s": [0, 0, 14, 16, 14, 1, 30], "t": [8, 8, 28, 8, 8, 9, 6], "u": [0, 0, 17, 17, 17, 19, 13],
        "v": [0, 0, 17, 17, 17, 10, 4], "w": [0, 0, 17, 17, 21, 21, 10], "x": [0, 0, 17, 10, 4, 10, 17],
        "y": [0, 0, 17, 17, 17, 17, 15, 1, 14], "z": [0, 0, 31, 2, 4, 8, 31],
    ]

    /// Draws `text` from (x, y) (top left), `scale` pixels per font pixel, cut at `maxWidth` with "...".
    static func draw(_ img: inout IndexedImage, _ text: String, x: Int, y: Int, scale: Int, colour: UInt8, maxWidth: Int) {
        let advance = 6 * scale
        var chars = Array(text)
        let fit = max(0, maxWidth / advance)
        if chars.count > fit { chars = Array(chars.prefix(max(0, fit - 3))) + Array("...") }
        for (i, ch) in chars.enumerated() {
            guard let rows = glyphs[ch] else { continue }   // space and anything unknown: blank
            for (r, bits) in rows.enumerated() {
                for c in 0..<5 where bits & (16 >> c) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { img[x + i * advance + c * scale + dx, y + r * scale + dy] = colour } }
                }
            }
        }
    }
}

extension RenderError: ClassifiedError {
    public var kind: ErrorKind { .badInput }
}
