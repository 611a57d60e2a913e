import Foundation
import XCTest
@testable import MotionData
import TensorEngine

/// A glTF 2.0 binary reader written here from the specification (the Khronos validator is not to be had
/// offline): the GLB layout, the JSON chunk, accessors against their buffer views, and a forward-kinematics
/// evaluation of the skin's joints from the animation's samplers.
struct GLBReader {
    let json: [String: Any]
    let bin: Data

    init(_ data: Data) throws {
        func u32(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24 }
        guard data.count >= 28 else { throw MotionError.parse("too short") }
        guard u32(0) == 0x4654_6C67 else { throw MotionError.parse("magic is not glTF") }
        guard u32(4) == 2 else { throw MotionError.parse("version \(u32(4))") }
        guard u32(8) == data.count else { throw MotionError.parse("header length \(u32(8)) vs \(data.count) bytes") }
        let jsonLength = u32(12)
        guard u32(16) == 0x4E4F_534A, jsonLength % 4 == 0 else { throw MotionError.parse("first chunk is not a padded JSON chunk") }
        let binStart = 20 + jsonLength
        let binLength = u32(binStart)
        guard u32(binStart + 4) == 0x004E_4942, binLength % 4 == 0, binStart + 8 + binLength == data.count else {
            throw MotionError.parse("second chunk is not a padded BIN chunk ending the file")
        }
        json = try JSONSerialization.jsonObject(with: data.subdata(in: 20..<binStart)) as? [String: Any] ?? [:]
        bin = data.subdata(in: (binStart + 8)..<(binStart + 8 + binLength))
    }

    func array(_ key: String) -> [[String: Any]] { json[key] as? [[String: Any]] ?? [] }

    static let components = ["SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16]
    static let sizes = [5121: 1, 5123: 2, 5125: 4, 5126: 4]

    /// The accessor's values as Doubles, after checking it lies inside its buffer view and the view inside the buffer.
    func values(_ index: Int) throws -> (values: [Double], width: Int, count: Int) {
        let a = array("accessors")[index]
        let view = array("bufferViews")[a["bufferView"] as! Int]
        let count = a["count"] as! Int, width = Self.components[a["type"] as! String]!, type = a["componentType"] as! Int
        let size = Self.sizes[type]!
        let offset = (view["byteOffset"] as? Int ?? 0) + (a["byteOffset"] as? Int ?? 0)
        let length = view["byteLength"] as! Int
        guard offset % size == 0, count * width * size <= length, (view["byteOffset"] as? Int ?? 0) + length <= bin.count else {
            throw MotionError.parse("accessor \(index) does not fit its buffer view")
        }
        var out = [Double]()
        out.reserveCapacity(count * width)
        bin.withUnsafeBytes { raw in
            for k in 0..<(count * width) {
                let at = offset + k * size
                switch type {
                case 5126: out.append(Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                case 5125: out.append(Double(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case 5123: out.append(Double(raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                default: out.append(Double(raw[at]))
                }
            }
        }
        return (out, width, count)
    }

    /// World positions of every node at key frame `k` of the first animation (nodes without channels at rest).
    func worldPositions(frame k: Int) throws -> [Vec3] {
        let nodes = array("nodes")
        var translation = nodes.map { n -> Vec3 in
            let t = n["translation"] as? [Double] ?? [0, 0, 0]
            return Vec3(t[0], t[1], t[2])
        }
        var rotation = [Quaternion](repeating: .identity, count: nodes.count)
        let animation = array("animations").first ?? [:]
        let samplers = animation["samplers"] as? [[String: Any]] ?? []
        for ch in animation["channels"] as? [[String: Any]] ?? [] {
            let target = ch["target"] as! [String: Any]
            let node = target["node"] as! Int
            let (v, w, _) = try values(samplers[ch["sampler"] as! Int]["output"] as! Int)
            if target["path"] as! String == "rotation" {
                rotation[node] = Quaternion(w: v[k * w + 3], x: v[k * w], y: v[k * w + 1], z: v[k * w + 2])
            } else {
                translation[node] = Vec3(v[k * w], v[k * w + 1], v[k * w + 2])
            }
        }
        var parent = [Int](repeating: -1, count: nodes.count)
        for (i, n) in nodes.enumerated() { for c in n["children"] as? [Int] ?? [] { parent[c] = i } }
        var world = [Vec3](repeating: .zero, count: nodes.count), global = [Quaternion](repeating: .identity, count: nodes.count)
        var done = [Bool](repeating: false, count: nodes.count)
        func visit(_ i: Int) {
            if done[i] { return }
            if parent[i] >= 0 {
                visit(parent[i])
                global[i] = global[parent[i]] * rotation[i]
                world[i] = world[parent[i]] + global[parent[i]].rotate(translation[i])
            } else {
                global[i] = rotation[i]; world[i] = translation[i]
            }
            done[i] = true
        }
        for i in nodes.indices { visit(i) }
        return world
    }
}

final class GLTFTests: XCTestCase {
    /// Layout and content checks every file must pass; returns the reader.
    @discardableResult
    func checkStructure(_ data: Data, joints: Int, frames: Int, fps: Double, file: StaticString = #filePath, line: UInt = #line) throws -> GLBReader {
        let r = try GLBReader(data)
        XCTAssertEqual((r.json["asset"] as? [String: Any])?["version"] as? String, "2.0", file: file, line: line)
        XCTAssertEqual(r.array("buffers").first?["byteLength"] as? Int, r.bin.count, file: file, line: line)
        let accessors = r.array("accessors")
        // Every accessor fits; those with min/max hold exactly the extremes of their values.
        for i in accessors.indices {
            let (v, w, count) = try r.values(i)
            XCTAssertEqual(v.count, w * count)
            XCTAssertTrue(v.allSatisfy(\.isFinite), "accessor \(i)", file: file, line: line)
            if let lo = accessors[i]["min"] as? [Double], let hi = accessors[i]["max"] as? [Double] {
                for k in 0..<w {
                    let column = stride(from: k, to: v.count, by: w).map { v[$0] }
                    // Compared as the accessor's Float32: the JSON text need not spell the Double exactly.
                    XCTAssertEqual(Float(lo[k]), Float(column.min()!), file: file, line: line)
                    XCTAssertEqual(Float(hi[k]), Float(column.max()!), file: file, line: line)
                }
            }
        }
        // The skin: every joint node, one inverse bind matrix each.
        let skin = r.array("skins")[0]
        XCTAssertEqual((skin["joints"] as! [Int]).count, joints, file: file, line: line)
        XCTAssertEqual(try r.values(skin["inverseBindMatrices"] as! Int).count, joints, file: file, line: line)
        // The mesh: positions need min/max; indices address vertices; joints exist; weights sum to 1.
        let prim = (r.array("meshes")[0]["primitives"] as! [[String: Any]])[0]
        let attributes = prim["attributes"] as! [String: Int]
        let position = accessors[attributes["POSITION"]!]
        XCTAssertNotNil(position["min"], file: file, line: line); XCTAssertNotNil(position["max"], file: file, line: line)
        let vertices = try r.values(attributes["POSITION"]!).count
        XCTAssertGreaterThan(vertices, 0)
        let indices = try r.values(prim["indices"] as! Int)
        XCTAssertEqual(indices.count % 3, 0)
        XCTAssertTrue(indices.values.allSatisfy { Int($0) < vertices }, file: file, line: line)
        XCTAssertTrue(try r.values(attributes["JOINTS_0"]!).values.allSatisfy { Int($0) < joints }, file: file, line: line)
        let weights = try r.values(attributes["WEIGHTS_0"]!)
        for k in 0..<weights.count { XCTAssertEqual(weights.values[(4 * k)..<(4 * k + 4)].reduce(0, +), 1, accuracy: 1e-6) }
        // Normals are unit vectors.
        let normals = try r.values(attributes["NORMAL"]!)
        for k in 0..<normals.count { XCTAssertEqual(length(Vec3(normals.values[3 * k], normals.values[3 * k + 1], normals.values[3 * k + 2])), 1, accuracy: 1e-5) }
        // The animation: one key per frame at the motion's rate, every sampler as long as its input.
        let animation = r.array("animations")[0]
        let samplers = animation["samplers"] as! [[String: Any]]
        XCTAssertFalse(samplers.isEmpty)
        for s in samplers {
            let input = try r.values(s["input"] as! Int), output = try r.values(s["output"] as! Int)
            XCTAssertEqual(input.count, frames, file: file, line: line)
            XCTAssertEqual(output.count, frames, file: file, line: line)
            XCTAssertNotNil(accessors[s["input"] as! Int]["min"], file: file, line: line)
            XCTAssertEqual(input.values.last!, Double(frames - 1) / fps, accuracy: 1e-4, file: file, line: line)
            XCTAssertEqual(s["interpolation"] as? String, "LINEAR")
        }
        for ch in animation["channels"] as! [[String: Any]] {
            let target = ch["target"] as! [String: Any]
            XCTAssertLessThan(target["node"] as! Int, joints)
            XCTAssertTrue(["rotation", "translation"].contains(target["path"] as! String))
        }
        // Scene: the skeleton root and the skinned mesh node.
        let scene = r.array("scenes")[r.json["scene"] as! Int]
        XCTAssertEqual((scene["nodes"] as! [Int]).count, 2)
        return r
    }

    func testOwnSkeletonGLBMatchesTheMotionsJoints() throws {
        let motion = try RigRetargetTests.clip(RigRetargetTests.walk)
        let data = try motion.glb(name: "walk")
        let r = try checkStructure(data, joints: 22, frames: motion.frameCount, fps: Double(motion.fps))
        let names = r.array("nodes").prefix(22).map { $0["name"] as! String }
        XCTAssertEqual(names, Skeleton.humanML3D.jointNames)
        // The glTF's own forward kinematics against the motion's joints: the BVH keeps one length per bone,
        // so the clip's small bone-length wobble is all that separates them.
        let bvhWorld = try motion.bvh().globalPositions()
        var worst = 0.0, worstBVH = 0.0
        for t in [0, motion.frameCount / 2, motion.frameCount - 1] {
            let w = try r.worldPositions(frame: t)
            for j in 0..<22 {
                worst = max(worst, length(w[j] - motion.positions[t][j].double))
                worstBVH = max(worstBVH, length(w[j] - bvhWorld[t][j]))
            }
        }
        print("own-skeleton glb: worst joint vs the motion \(worst * 100) cm, vs the BVH \(worstBVH * 100) cm")
        XCTAssertLessThan(worst, 0.02)
        XCTAssertLessThan(worstBVH, 1e-5)
    }

    func testRigGLBIsInMetresOnTheRigsSkeleton() throws {
        let motion = try RigRetargetTests.clip(RigRetargetTests.dance)
        for url in [RigRetargetTests.mixamo, RigRetargetTests.cmu] {
            let rig = try Rig(url: url)
            let data = try motion.glb(rig: rig)
            let r = try checkStructure(data, joints: rig.bvh.joints.count, frames: motion.frameCount, fps: Double(motion.fps))
            XCTAssertEqual(r.array("nodes").prefix(rig.bvh.joints.count).map { $0["name"] as! String }, rig.bvh.joints.map(\.name))
            let bvh = try rig.retarget(motion)
            let world = bvh.globalPositions()
            for t in [3, 90, 180] {
                let w = try r.worldPositions(frame: t)
                for j in rig.bvh.joints.indices { XCTAssertLessThan(length(w[j] - world[t][j] * rig.metresPerUnit), 1e-5, "\(url.lastPathComponent) joint \(j) frame \(t)") }
            }
            // A human in metres: the hips about a metre up, whatever the rig's units.
            let hips = try r.worldPositions(frame: 0)[rig.joint(for: "pelvis")!]
            XCTAssertTrue((0.6...1.3).contains(hips.y), "\(url.lastPathComponent) hips at \(hips.y) m")
        }
    }

    func testMotionFileWritesGLBAndRefusesToReadIt() throws {
        let motion = try RigRetargetTests.clip(RigRetargetTests.walk)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("walk.glb")
        try MotionFile.write(motion, to: url, rig: try Rig(url: RigRetargetTests.mixamo))
        try checkStructure(try Data(contentsOf: url), joints: try Rig(url: RigRetargetTests.mixamo).bvh.joints.count, frames: motion.frameCount, fps: 20)
        XCTAssertThrowsError(try MotionFile.read(url)) { XCTAssertTrue("\($0)".contains("written, not read"), "\($0)") }
        XCTAssertThrowsError(try MotionFile.write(motion, to: dir.appendingPathComponent("x.npy"), rig: try Rig(url: RigRetargetTests.cmu))) {
            XCTAssertTrue("\($0)".contains("rig applies to .bvh and .glb"), "\($0)")
        }
    }

    func testCapsulesFaceOutward() {
        var mesh = GLTF.CapsuleMesh()
        mesh.add(from: Vec3(0, 0, 0), to: Vec3(0.1, 0.3, -0.2), joint: 0)
        let centre = Vec3(0.05, 0.15, -0.1)
        for k in stride(from: 0, to: mesh.indices.count, by: 3) {
            let a = mesh.positions[mesh.indices[k]], b = mesh.positions[mesh.indices[k + 1]], c = mesh.positions[mesh.indices[k + 2]]
            let n = cross(b - a, c - a)
            XCTAssertGreaterThan(length(n), 0, "degenerate triangle \(k / 3)")
            XCTAssertGreaterThan(dot(n, (a + b + c) / 3 - centre), 0, "triangle \(k / 3) faces inward")
        }
    }
}
