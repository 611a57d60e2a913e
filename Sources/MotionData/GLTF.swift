import Foundation

/// glTF 2.0 binary (`.glb`) export of a skeleton animation, so any viewer or engine shows a figure.
///
/// The file holds one node per BVH joint (named as the joint, rest translation = the joint's offset, no
/// rest rotation), a skin over all of them, a mesh of capsules (one per bone, each bound wholly to the
/// bone's joint, so the figure moves as rigid limbs), and one animation: per joint a rotation channel
/// (from the joint's rotation channels) and, for joints with position channels that move, a translation
/// channel, sampled once per frame at the BVH's frame rate with linear interpolation. Lengths are metres
/// (glTF's unit), y up, as in the BVH.
public enum GLTF {
    /// The `.glb` bytes of `bvh`'s skeleton and animation.
    /// - Parameters:
    ///   - metresPerUnit: the BVH's length unit (1 for our own output, 0.01 for a rig in centimetres).
    ///   - name: the animation's (and the scene's) name.
    public static func binary(of bvh: BVH, metresPerUnit: Double = 1, name: String = "motion") throws -> Data {
        guard !bvh.frames.isEmpty else { throw MotionError.invalidShape("cannot write a glTF animation without frames") }
        guard metresPerUnit > 0, metresPerUnit.isFinite else { throw MotionError.invalidValue("metres per unit \(metresPerUnit) must be positive") }
        let m = metresPerUnit
        let jc = bvh.joints.count
        var buffer = BufferBuilder()
        var children = [[Int]](repeating: [], count: jc)
        for (i, j) in bvh.joints.enumerated() where j.parent >= 0 { children[j.parent].append(i) }
        let rest = bvh.restPositions().map { $0 * m }

        var nodes: [Node] = bvh.joints.enumerated().map { i, j in
            Node(name: j.name, children: children[i].isEmpty ? nil : children[i], translation: (j.offset * m).array)
        }
        // The bind pose is the rest pose, which has no rotations: each inverse bind matrix is a translation.
        var ibm = [Float]()
        for p in rest { ibm += [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, Float(-p.x), Float(-p.y), Float(-p.z), 1] }
        let ibmAccessor = try buffer.add(floats: ibm, type: "MAT4", count: jc)

        // Capsules: one per bone (parent to child), and one to each End Site.
        var mesh = CapsuleMesh()
        for (i, j) in bvh.joints.enumerated() {
            if j.parent >= 0 { mesh.add(from: rest[j.parent], to: rest[i], joint: j.parent) }
            if let e = j.endSite { mesh.add(from: rest[i], to: rest[i] + e * m, joint: i) }
        }
        if mesh.positions.isEmpty {
            // A skeleton of coincident joints: a small ball on the root still shows where it is.
            mesh.add(from: rest[0] - Vec3(0, 0.05, 0), to: rest[0] + Vec3(0, 0.05, 0), joint: 0)
        }
        let position = try buffer.add(floats: mesh.positions.flatMap { [Float($0.x), Float($0.y), Float($0.z)] }, type: "VEC3",
                                  count: mesh.positions.count, target: 34962, minMax: true)
        let normal = try buffer.add(floats: mesh.normals.flatMap { [Float($0.x), Float($0.y), Float($0.z)] }, type: "VEC3",
                                count: mesh.normals.count, target: 34962)
        let jointsAttr = buffer.add(uint16: mesh.joints.flatMap { [UInt16($0), 0, 0, 0] }, type: "VEC4", count: mesh.joints.count, target: 34962)
        let weights = try buffer.add(floats: [Float](repeating: 0, count: 4 * mesh.joints.count).enumerated().map { $0.offset % 4 == 0 ? 1 : 0 },
                                 type: "VEC4", count: mesh.joints.count, target: 34962)
        let indices = mesh.positions.count <= Int(UInt16.max)
            ? buffer.add(uint16: mesh.indices.map { UInt16($0) }, type: "SCALAR", count: mesh.indices.count, target: 34963)
            : buffer.add(uint32: mesh.indices.map { UInt32($0) }, type: "SCALAR", count: mesh.indices.count, target: 34963)

        let meshNode = nodes.count
        nodes.append(Node(name: "body", mesh: 0, skin: 0))

        // Animation: key times, then per joint its rotations (x, y, z, w: glTF's order) and translations.
        let frames = bvh.frames.count
        let times = (0..<frames).map { Float(Double($0) * bvh.frameTime) }
        let input = try buffer.add(floats: times, type: "SCALAR", count: frames, minMax: true)
        var samplers = [Sampler](), channels = [Channel]()
        for (j, joint) in bvh.joints.enumerated() {
            if joint.channels.contains(where: { !$0.isPosition }) {
                var previous = Quaternion.identity
                var values = [Float]()
                values.reserveCapacity(4 * frames)
                for t in 0..<frames {
                    var q = bvh.localRotation(joint: j, frame: t)
                    // q and -q are one rotation; keep neighbours in one hemisphere so interpolation takes the short way.
                    if q.w * previous.w + q.x * previous.x + q.y * previous.y + q.z * previous.z < 0 { q = q.negated }
                    previous = q
                    values += [Float(q.x), Float(q.y), Float(q.z), Float(q.w)]
                }
                let out = try buffer.add(floats: values, type: "VEC4", count: frames)
                channels.append(Channel(sampler: samplers.count, target: Target(node: j, path: "rotation")))
                samplers.append(Sampler(input: input, output: out))
            }
            if joint.channels.contains(where: \.isPosition) {
                let moves = (0..<frames).map { bvh.localTranslation(joint: j, frame: $0) }
                if moves.contains(where: { $0 != joint.offset }) {
                    let out = try buffer.add(floats: moves.flatMap { v in [Float(v.x * m), Float(v.y * m), Float(v.z * m)] }, type: "VEC3", count: frames)
                    channels.append(Channel(sampler: samplers.count, target: Target(node: j, path: "translation")))
                    samplers.append(Sampler(input: input, output: out))
                }
            }
        }

        let primitive = Primitive(attributes: ["POSITION": position, "NORMAL": normal, "JOINTS_0": jointsAttr, "WEIGHTS_0": weights],
                                  indices: indices, material: 0)
        let document = Document(
            scenes: [Scene(name: name, nodes: [0, meshNode])], nodes: nodes,
            meshes: [Mesh(name: "body", primitives: [primitive])],
            materials: [Material()],
            skins: [Skin(inverseBindMatrices: ibmAccessor, joints: Array(0..<jc), skeleton: 0)],
            animations: channels.isEmpty ? [] : [Animation(name: name, channels: channels, samplers: samplers)],
            accessors: buffer.accessors, bufferViews: buffer.views, buffers: [Buffer(byteLength: buffer.data.count)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var json = try encoder.encode(document)
        while json.count % 4 != 0 { json.append(0x20) }   // the JSON chunk is padded with spaces
        var bin = buffer.data
        while bin.count % 4 != 0 { bin.append(0) }
        var out = Data()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        u32(0x4654_6C67); u32(2); u32(12 + 8 + json.count + 8 + bin.count)   // "glTF", version 2, total length
        u32(json.count); u32(0x4E4F_534A); out.append(json)                  // "JSON"
        u32(bin.count); u32(0x004E_4942); out.append(bin)                    // "BIN\0"
        return out
    }

    // MARK: the JSON document

    private struct Document: Encodable {
        var asset = Asset()
        var scene = 0
        var scenes: [Scene]
        var nodes: [Node]
        var meshes: [Mesh]
        var materials: [Material]
        var skins: [Skin]
        var animations: [Animation]
        var accessors: [Accessor]
        var bufferViews: [BufferView]
        var buffers: [Buffer]
    }
    private struct Asset: Encodable { var version = "2.0"; var generator = "motiongpt (Swift)" }
    private struct Scene: Encodable { var name: String; var nodes: [Int] }
    private struct Node: Encodable {
        var name: String
        var children: [Int]?
        var translation: [Double]?
        var mesh: Int?
        var skin: Int?
    }
    private struct Mesh: Encodable { var name: String; var primitives: [Primitive] }
    private struct Primitive: Encodable { var attributes: [String: Int]; var indices: Int; var material: Int; var mode = 4 }
    private struct Material: Encodable {
        struct PBR: Encodable { var baseColorFactor: [Double] = [0.8, 0.72, 0.62, 1]; var metallicFactor = 0.0; var roughnessFactor = 0.8 }
        var name = "figure"
        var pbrMetallicRoughness = PBR()
    }
    private struct Skin: Encodable { var inverseBindMatrices: Int; var joints: [Int]; var skeleton: Int }
    private struct Animation: Encodable { var name: String; var channels: [Channel]; var samplers: [Sampler] }
    private struct Channel: Encodable { var sampler: Int; var target: Target }
    private struct Target: Encodable { var node: Int; var path: String }
    private struct Sampler: Encodable { var input: Int; var output: Int; var interpolation = "LINEAR" }
    struct Accessor: Encodable {
        var bufferView: Int
        var componentType: Int
        var count: Int
        var type: String
        var min: [Double]?
        var max: [Double]?
    }
    struct BufferView: Encodable { var buffer = 0; var byteOffset: Int; var byteLength: Int; var target: Int? }
    private struct Buffer: Encodable { var byteLength: Int }

    /// The binary chunk: one buffer view per accessor, each starting on a 4-byte boundary.
    struct BufferBuilder {
        var data = Data()
        var views = [BufferView]()
        var accessors = [Accessor]()

        mutating func view<T>(_ values: [T], target: Int?) -> Int {
            while data.count % 4 != 0 { data.append(0) }
            let start = data.count
            values.withUnsafeBytes { data.append(contentsOf: $0) }   // little-endian on every platform Swift runs on here
            views.append(BufferView(byteOffset: start, byteLength: data.count - start, target: target))
            return views.count - 1
        }

        mutating func add(floats: [Float], type: String, count: Int, target: Int? = nil, minMax: Bool = false) throws -> Int {
            // A BVH holds Doubles; glTF's floats are 32-bit, and an offset of 1e300 does not fit.
            guard floats.allSatisfy(\.isFinite) else {
                throw MotionError.invalidValue("a length or time of the motion is too large for glTF's 32-bit floats")
            }
            let v = view(floats, target: target)
            var lo: [Double]?, hi: [Double]?
            if minMax, count > 0 {
                let width = floats.count / count
                lo = (0..<width).map { k in Double(stride(from: k, to: floats.count, by: width).map { floats[$0] }.min()!) }
                hi = (0..<width).map { k in Double(stride(from: k, to: floats.count, by: width).map { floats[$0] }.max()!) }
            }
            accessors.append(Accessor(bufferView: v, componentType: 5126, count: count, type: type, min: lo, max: hi))
            return accessors.count - 1
        }

        mutating func add(uint16 values: [UInt16], type: String, count: Int, target: Int?) -> Int {
            let v = view(values, target: target)
            accessors.append(Accessor(bufferView: v, componentType: 5123, count: count, type: type))
            return accessors.count - 1
        }

        mutating func add(uint32 values: [UInt32], type: String, count: Int, target: Int?) -> Int {
            let v = view(values, target: target)
            accessors.append(Accessor(bufferView: v, componentType: 5125, count: count, type: type))
            return accessors.count - 1
        }
    }

    /// Capsules around bones, in the bind pose: 8 segments around, hemispheres of 3 rings, outward normals,
    /// counter-clockwise triangles seen from outside.
    struct CapsuleMesh {
        var positions = [Vec3](), normals = [Vec3](), joints = [Int](), indices = [Int]()
        static let segments = 8, rings = 3

        mutating func add(from a: Vec3, to b: Vec3, joint: Int) {
            let len = MotionData.length(b - a)
            guard len > 1e-4 else { return }
            // Thick enough to see on a short bone, never fatter than a limb.
            let r = min(max(0.12 * len, 0.012), 0.045)
            let e = unitVector(b - a)
            let helper = abs(e.x) < 0.9 ? Vec3(1, 0, 0) : Vec3(0, 1, 0)
            let p1 = unitVector(cross(helper, e)), p2 = cross(e, p1)   // (p1, p2, e) right-handed
            let base = positions.count
            func vertex(_ centre: Vec3, _ n: Vec3) { positions.append(centre + n * r); normals.append(n); joints.append(joint) }
            vertex(a, -e)
            // Latitudes from the bottom pole up: the lower hemisphere around `a`, the upper around `b`.
            var lats = [(Double, Vec3)]()
            for k in 1...Self.rings { lats.append((-Double.pi / 2 + Double(k) * Double.pi / 2 / Double(Self.rings), a)) }
            for k in 0..<Self.rings { lats.append((Double(k) * Double.pi / 2 / Double(Self.rings), b)) }
            for (phi, centre) in lats {
                for s in 0..<Self.segments {
                    let theta = Double(s) * 2 * Double.pi / Double(Self.segments)
                    vertex(centre, (p1 * cos(theta) + p2 * sin(theta)) * cos(phi) + e * sin(phi))
                }
            }
            vertex(b, e)
            let seg = Self.segments, ringCount = lats.count
            func ring(_ k: Int, _ s: Int) -> Int { base + 1 + k * seg + (s % seg) }
            for s in 0..<seg { indices += [base, ring(0, s + 1), ring(0, s)] }
            for k in 0..<(ringCount - 1) {
                for s in 0..<seg {
                    indices += [ring(k, s), ring(k, s + 1), ring(k + 1, s + 1), ring(k, s), ring(k + 1, s + 1), ring(k + 1, s)]
                }
            }
            let top = base + 1 + ringCount * seg
            for s in 0..<seg { indices += [ring(ringCount - 1, s), ring(ringCount - 1, s + 1), top] }
        }
    }
}

extension SIMD3 where Scalar == Double {
    var array: [Double] { [x, y, z] }
}

extension Motion {
    /// This motion as `.glb` bytes: on its own skeleton (`bvh()`, rotations by IK on the joint positions)
    /// or, given `rig`, on the rig's skeleton (`Rig.retarget`).
    public func glb(rig: Rig? = nil, options: RetargetOptions = RetargetOptions(), name: String = "motion") throws -> Data {
        if let rig { return try GLTF.binary(of: rig.retarget(self, options: options), metresPerUnit: rig.metresPerUnit, name: name) }
        return try GLTF.binary(of: bvh(), metresPerUnit: 1, name: name)
    }
}
