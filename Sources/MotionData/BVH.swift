import Foundation

/// A Biovision Hierarchy file: a joint tree with rest offsets and channels, and per-frame channel values.
///
/// Reading accepts any hierarchy (`ROOT`/`JOINT`/`End Site`, `OFFSET`, `CHANNELS` with any subset and order
/// of `Xposition Yposition Zposition Xrotation Yrotation Zrotation`) and a `MOTION` block with `Frames:`,
/// `Frame Time:` and one line of values per frame. Conventions (those of Blender's importer and most tools):
/// rotation channels compose in the order listed, outermost first (`Zrotation Xrotation Yrotation` is
/// `Rz * Rx * Ry`), angles in degrees; a joint with position channels takes them as its translation from
/// its parent (in place of `OFFSET`, which then only gives the rest pose), a joint without takes `OFFSET`.
public struct BVH: Sendable {
    /// One channel of a joint.
    public enum Channel: String, Sendable, CaseIterable {
        case xPosition = "Xposition", yPosition = "Yposition", zPosition = "Zposition"
        case xRotation = "Xrotation", yRotation = "Yrotation", zRotation = "Zrotation"

        var isPosition: Bool { self == .xPosition || self == .yPosition || self == .zPosition }
        /// 0 = x, 1 = y, 2 = z.
        var axis: Int {
            switch self {
            case .xPosition, .xRotation: return 0
            case .yPosition, .yRotation: return 1
            case .zPosition, .zRotation: return 2
            }
        }
    }

    /// A joint of the hierarchy (End Sites are not joints; they are kept as `endSite` of their joint).
    public struct Joint: Sendable, Equatable {
        public var name: String
        /// Index of the parent joint, -1 for the root. Parents come before children.
        public var parent: Int
        /// Rest offset from the parent.
        public var offset: Vec3
        public var channels: [Channel]
        /// Offset of the End Site below this joint, if it has one.
        public var endSite: Vec3?

        public init(name: String, parent: Int, offset: Vec3, channels: [Channel], endSite: Vec3? = nil) {
            self.name = name; self.parent = parent; self.offset = offset; self.channels = channels; self.endSite = endSite
        }
    }

    public var joints: [Joint]
    /// Limits that keep hostile files bounded: hierarchy depth and joint count when reading (real rigs stay
    /// under a few hundred joints and 50 levels), joints x frames and output frames when converting.
    public static let maxDepth = 256
    public static let maxJoints = 10_000
    public static let maxJointFrames = 20_000_000
    public static let maxFrames = 500_000
    /// Seconds per frame.
    public var frameTime: Double
    /// Channel values per frame, joints in order, each joint's channels in its listed order.
    public var frames: [[Double]]

    /// Where each joint's channels start in a frame row.
    public var channelStarts: [Int] {
        var s = [Int](), k = 0
        for j in joints { s.append(k); k += j.channels.count }
        return s
    }

    public var channelCount: Int { joints.reduce(0) { $0 + $1.channels.count } }
    public var frameRate: Double { 1 / frameTime }

    /// A BVH from parts; checks that the tree is ordered, the names unique and every frame complete and finite.
    public init(joints: [Joint], frameTime: Double, frames: [[Double]]) throws {
        guard !joints.isEmpty else { throw MotionError.parse("BVH has no joints") }
        var seen = Set<String>()
        for (i, j) in joints.enumerated() {
            guard (i == 0) == (j.parent < 0), j.parent < i else {
                throw MotionError.parse("joint \(j.name): parent index \(j.parent) is not an earlier joint")
            }
            guard seen.insert(j.name).inserted else { throw MotionError.parse("joint name \(j.name) appears twice") }
            guard Set(j.channels).count == j.channels.count else { throw MotionError.parse("joint \(j.name) lists a channel twice") }
        }
        // At least a microsecond: below that 1/frameTime (the rate) overflows to infinity for subnormal values.
        guard frameTime >= 1e-6, frameTime.isFinite else {
            throw MotionError.invalidValue("frame time \(frameTime) must be a positive number of seconds (at least 1e-6)")
        }
        self.joints = joints
        self.frameTime = frameTime
        self.frames = frames
        let n = channelCount
        for (t, f) in frames.enumerated() {
            guard f.count == n else { throw MotionError.invalidShape("frame \(t) has \(f.count) values, the hierarchy has \(n) channels") }
            if let k = f.firstIndex(where: { !$0.isFinite }) {
                throw MotionError.invalidValue("frame \(t): channel \(channelName(k)) is not finite")
            }
        }
    }

    /// "joint.channel" of a frame-row index, for messages.
    func channelName(_ index: Int) -> String {
        var k = index
        for j in joints {
            if k < j.channels.count { return "\(j.name).\(j.channels[k].rawValue)" }
            k -= j.channels.count
        }
        return "#\(index)"
    }

    public func index(of name: String) -> Int? { joints.firstIndex { $0.name == name } }

    // MARK: reading

    /// Reads a `.bvh` file.
    public init(url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw MotionError.io("\(url.path): cannot read (\(error.localizedDescription))") }
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw MotionError.parse("\(url.path): not a text file")
        }
        try self.init(text: text, source: url.lastPathComponent)
    }

    /// Parses BVH text; `source` names the file in error messages, which also give the line.
    public init(text: String, source: String = "<bvh>") throws {
        var p = BVHParser(text: text, source: source)
        let (joints, frameTime, frames) = try p.parse()
        do {
            try self.init(joints: joints, frameTime: frameTime, frames: frames)
        } catch let e as MotionError {
            throw MotionError.parse("\(source): \(e.description)")
        }
    }

    // MARK: kinematics

    /// The local rotation of joint `j` in frame `t` (rotation channels in listed order).
    public func localRotation(joint j: Int, frame t: Int) -> Quaternion {
        var q = Quaternion.identity
        let start = channelStarts[j]
        for (k, c) in joints[j].channels.enumerated() where !c.isPosition {
            var axis = Vec3.zero
            axis[c.axis] = 1
            q = q * Quaternion(axis: axis, angle: frames[t][start + k] * .pi / 180)
        }
        return q
    }

    /// The translation of joint `j` from its parent in frame `t`: position channels where present, the
    /// rest offset for the components without one.
    public func localTranslation(joint j: Int, frame t: Int) -> Vec3 {
        var v = joints[j].offset
        let start = channelStarts[j]
        for (k, c) in joints[j].channels.enumerated() where c.isPosition { v[c.axis] = frames[t][start + k] }
        return v
    }

    /// World positions of every joint in every frame, in file units (`[frames][joints]`).
    public func globalPositions() -> [[Vec3]] {
        let starts = channelStarts
        return frames.indices.map { t in
            var rot = [Quaternion](repeating: .identity, count: joints.count)
            var pos = [Vec3](repeating: .zero, count: joints.count)
            for (j, joint) in joints.enumerated() {
                var local = Quaternion.identity
                var trans = joint.offset
                for (k, c) in joint.channels.enumerated() {
                    let v = frames[t][starts[j] + k]
                    if c.isPosition { trans[c.axis] = v } else {
                        var axis = Vec3.zero
                        axis[c.axis] = 1
                        local = local * Quaternion(axis: axis, angle: v * .pi / 180)
                    }
                }
                if joint.parent < 0 {
                    rot[j] = local
                    pos[j] = trans
                } else {
                    rot[j] = rot[joint.parent] * local
                    pos[j] = pos[joint.parent] + rot[joint.parent].rotate(trans)
                }
            }
            return pos
        }
    }

    /// Joint positions of the rest pose (offsets only, no rotation), plus End Sites, in file units.
    public func restPositions(includingEndSites: Bool = false) -> [Vec3] {
        var pos = [Vec3]()
        var ends = [Vec3]()
        for j in joints {
            let p = j.parent < 0 ? j.offset : pos[j.parent] + j.offset
            pos.append(p)
            if let e = j.endSite { ends.append(p + e) }
        }
        return includingEndSites ? pos + ends : pos
    }

    // MARK: writing

    /// The file text: tab-indented hierarchy, then one line of values per frame (6 decimals, enough for
    /// micrometres and micro-degrees).
    public var text: String {
        var out = "HIERARCHY\n"
        var children = [[Int]](repeating: [], count: joints.count)
        for (i, j) in joints.enumerated() where j.parent >= 0 { children[j.parent].append(i) }
        func num(_ v: Double) -> String { String(format: "%.6f", v == 0 ? 0 : v) }
        func emit(_ i: Int, _ depth: Int) {
            let pad = String(repeating: "\t", count: depth)
            let j = joints[i]
            out += "\(pad)\(depth == 0 ? "ROOT" : "JOINT") \(j.name)\n\(pad){\n"
            out += "\(pad)\tOFFSET \(num(j.offset.x)) \(num(j.offset.y)) \(num(j.offset.z))\n"
            out += "\(pad)\tCHANNELS \(j.channels.count)" + j.channels.map { " " + $0.rawValue }.joined() + "\n"
            for c in children[i] { emit(c, depth + 1) }
            if let e = j.endSite {
                out += "\(pad)\tEnd Site\n\(pad)\t{\n\(pad)\t\tOFFSET \(num(e.x)) \(num(e.y)) \(num(e.z))\n\(pad)\t}\n"
            }
            out += "\(pad)}\n"
        }
        emit(0, 0)
        out += "MOTION\nFrames: \(frames.count)\nFrame Time: \(String(format: "%.8f", frameTime))\n"
        // Values follow the order joints appear in the text (depth first), which need not be array order.
        var order = [Int]()
        func visit(_ i: Int) { order.append(i); for c in children[i] { visit(c) } }
        visit(0)
        let starts = channelStarts
        for f in frames {
            out += order.flatMap { j in f[starts[j]..<(starts[j] + joints[j].channels.count)] }.map(num).joined(separator: " ") + "\n"
        }
        return out
    }

    /// Writes the file; refuses to replace an existing file unless `force`.
    public func write(to url: URL, force: Bool = false) throws {
        try MotionFile.checkWritable(url, force: force)
        do { try text.write(to: url, atomically: true, encoding: .utf8) } catch {
            throw MotionError.io("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }
}

/// A line-aware tokenizer and recursive-descent parser for BVH text.
private struct BVHParser {
    struct Token { let text: Substring; let line: Int }
    let source: String
    var tokens: [Token] = []
    var lines: [Substring]
    var i = 0

    init(text: String, source: String) {
        self.source = source
        lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
    }

    func fail(_ message: String, line: Int) -> MotionError { .parse("\(source):\(line): \(message)") }

    /// Tokens of the hierarchy part (lines before MOTION), and the index of the MOTION line.
    mutating func tokenizeHierarchy() throws -> Int {
        for (n, line) in lines.enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.first == "MOTION" { return n }
            for w in words {
                // Braces may touch names ("Hips{"); split them off.
                var rest = w[...]
                while let b = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
                    if b > rest.startIndex { tokens.append(Token(text: rest[rest.startIndex..<b], line: n + 1)) }
                    tokens.append(Token(text: rest[b...b], line: n + 1))
                    rest = rest[rest.index(after: b)...]
                }
                if !rest.isEmpty { tokens.append(Token(text: rest, line: n + 1)) }
            }
        }
        throw fail("no MOTION section (file truncated?)", line: lines.count)
    }

    var lastLine: Int { tokens.last?.line ?? 1 }

    mutating func next(_ what: String) throws -> Token {
        guard i < tokens.count else { throw fail("unexpected end of hierarchy, expected \(what) (file truncated?)", line: lastLine) }
        defer { i += 1 }
        return tokens[i]
    }

    mutating func expect(_ word: String) throws {
        let t = try next("'\(word)'")
        guard t.text == word else { throw fail("expected '\(word)', found '\(t.text)'", line: t.line) }
    }

    mutating func number(_ what: String) throws -> Double {
        let t = try next(what)
        guard let v = Double(t.text) else { throw fail("\(what): '\(t.text)' is not a number", line: t.line) }
        guard v.isFinite else { throw fail("\(what) is not finite ('\(t.text)')", line: t.line) }
        return v
    }

    mutating func parse() throws -> ([BVH.Joint], Double, [[Double]]) {
        let motionLine = try tokenizeHierarchy()
        try expect("HIERARCHY")
        var joints = [BVH.Joint]()
        let root = try next("ROOT")
        guard root.text == "ROOT" else { throw fail("expected ROOT, found '\(root.text)'", line: root.line) }
        try parseJoint(parent: -1, keyword: root, depth: 0, into: &joints)
        if i < tokens.count { throw fail("unexpected '\(tokens[i].text)' after the root joint", line: tokens[i].line) }
        let (frameTime, frames) = try parseMotion(from: motionLine, joints: joints)
        return (joints, frameTime, frames)
    }

    mutating func parseJoint(parent: Int, keyword: Token, depth: Int, into joints: inout [BVH.Joint]) throws {
        // Recursion depth is the nesting depth: bounded so a deeply nested file cannot overflow the stack.
        guard depth < BVH.maxDepth else { throw fail("joints nested more than \(BVH.maxDepth) deep", line: keyword.line) }
        guard joints.count < BVH.maxJoints else { throw fail("more than \(BVH.maxJoints) joints", line: keyword.line) }
        // The name is the rest of the keyword's line (names may hold spaces), up to a brace.
        var nameParts = [Substring]()
        while i < tokens.count, tokens[i].line == keyword.line, tokens[i].text != "{" { nameParts.append(tokens[i].text); i += 1 }
        guard !nameParts.isEmpty else { throw fail("\(keyword.text) without a name", line: keyword.line) }
        let name = nameParts.joined(separator: " ")
        try expect("{")
        try expect("OFFSET")
        let offset = Vec3(try number("\(name) OFFSET x"), try number("\(name) OFFSET y"), try number("\(name) OFFSET z"))
        let index = joints.count
        joints.append(BVH.Joint(name: name, parent: parent, offset: offset, channels: []))
        let ct = try next("CHANNELS")
        guard ct.text == "CHANNELS" else { throw fail("joint \(name): expected CHANNELS, found '\(ct.text)'", line: ct.line) }
        let countToken = try next("channel count")
        guard let count = Int(countToken.text), count >= 0, count <= 6 else {
            throw fail("joint \(name): channel count '\(countToken.text)' must be 0 to 6", line: countToken.line)
        }
        var channels = [BVH.Channel]()
        for k in 0..<count {
            let c = try next("channel \(k + 1) of \(name)")
            guard let ch = BVH.Channel(rawValue: String(c.text)) else {
                throw fail("joint \(name): CHANNELS \(count) lists \(k) channels before '\(c.text)' (not a channel name)", line: c.line)
            }
            channels.append(ch)
        }
        joints[index].channels = channels
        while true {
            let t = try next("JOINT, End Site or '}' in \(name)")
            switch t.text {
            case "}": return
            case "JOINT": try parseJoint(parent: index, keyword: t, depth: depth + 1, into: &joints)
            case "End":
                try expect("Site")
                try expect("{")
                try expect("OFFSET")
                joints[index].endSite = Vec3(try number("\(name) End Site x"), try number("\(name) End Site y"), try number("\(name) End Site z"))
                try expect("}")
            default:
                throw fail("joint \(name): unexpected '\(t.text)' (expected JOINT, End Site or '}')", line: t.line)
            }
        }
    }

    func parseMotion(from motionLine: Int, joints: [BVH.Joint]) throws -> (Double, [[Double]]) {
        var n = motionLine + 1
        func header(_ key: String) throws -> Substring {
            while n < lines.count, lines[n].allSatisfy({ $0 == " " || $0 == "\t" }) { n += 1 }
            guard n < lines.count else { throw fail("missing '\(key)' (file truncated?)", line: n) }
            let line = lines[n].drop(while: { $0 == " " || $0 == "\t" })
            guard line.hasPrefix(key) else { throw fail("expected '\(key)', found '\(line.prefix(40))'", line: n + 1) }
            n += 1
            return line.dropFirst(key.count).drop(while: { $0 == " " || $0 == "\t" || $0 == ":" })
        }
        let countText = try header("Frames")
        guard let frameCount = Int(countText.trimmingCharacters(in: .whitespaces)), frameCount >= 0 else {
            throw fail("frame count '\(countText)' is not a non-negative integer", line: n)
        }
        let timeText = try header("Frame Time")
        guard let frameTime = Double(timeText.trimmingCharacters(in: .whitespaces)), frameTime > 0, frameTime.isFinite else {
            throw fail("frame time '\(timeText)' is not a positive number", line: n)
        }
        let width = joints.reduce(0) { $0 + $1.channels.count }
        func channel(_ k: Int) -> String {
            var k = k
            for j in joints {
                if k < j.channels.count { return "\(j.name).\(j.channels[k].rawValue)" }
                k -= j.channels.count
            }
            return "#\(k)"
        }
        var frames = [[Double]]()
        // Bounded by the lines present: `Frames:` comes from the file, and reserving a capacity whose byte
        // size overflows (Frames: 9223372036854775807) makes the standard library write past a tiny buffer.
        frames.reserveCapacity(min(frameCount, lines.count - n))
        while frames.count < frameCount {
            guard n < lines.count else {
                throw fail("truncated: Frames says \(frameCount), found \(frames.count) frame lines", line: n)
            }
            let words = lines[n].split(whereSeparator: { $0 == " " || $0 == "\t" })
            n += 1
            if words.isEmpty { continue }
            guard words.count == width else {
                let isLast = lines[n...].allSatisfy { $0.allSatisfy { $0 == " " || $0 == "\t" } }
                if isLast && words.count < width {
                    throw fail("truncated: Frames says \(frameCount), the file ends inside frame \(frames.count) (\(words.count) of \(width) values)", line: n)
                }
                throw fail("frame \(frames.count) has \(words.count) values, the hierarchy has \(width) channels", line: n)
            }
            var row = [Double]()
            row.reserveCapacity(width)
            for (k, w) in words.enumerated() {
                guard let v = Double(w) else {
                    throw fail("frame \(frames.count), value \(k + 1) (\(channel(k))) '\(w)' is not a number", line: n)
                }
                guard v.isFinite else { throw fail("frame \(frames.count), value \(k + 1) (\(channel(k))) is not finite ('\(w)')", line: n) }
                row.append(v)
            }
            frames.append(row)
        }
        while n < lines.count {
            if !lines[n].allSatisfy({ $0 == " " || $0 == "\t" }) {
                throw fail("more frame data than Frames: \(frameCount) announces", line: n + 1)
            }
            n += 1
        }
        return (frameTime, frames)
    }
}
