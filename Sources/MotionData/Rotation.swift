import Foundation

/// A 3-vector in double precision; motion math runs in Double so that chains of rotations
/// (forward kinematics over seven bones, cumulative sums over hundreds of frames) stay far below
/// the 1e-4 tolerances the data is checked against, whatever the Float storage.
public typealias Vec3 = SIMD3<Double>

@inline(__always) func dot(_ a: Vec3, _ b: Vec3) -> Double { (a * b).sum() }
@inline(__always) func cross(_ a: Vec3, _ b: Vec3) -> Vec3 {
    Vec3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
@inline(__always) func length(_ a: Vec3) -> Double { dot(a, a).squareRoot() }
@inline(__always) func unitVector(_ a: Vec3) -> Vec3 { a / length(a) }

extension SIMD3 where Scalar == Float {
    /// This vector in double precision.
    var double: Vec3 { Vec3(Double(x), Double(y), Double(z)) }
}
extension SIMD3 where Scalar == Double {
    /// This vector rounded to Float.
    var float: SIMD3<Float> { SIMD3<Float>(Float(x), Float(y), Float(z)) }
}

/// A quaternion `w + xi + yj + zk`, stored in HumanML3D's order (w, x, y, z).
///
/// The operations follow HumanML3D's `common/quaternion.py` (itself from Facebook's QuaterNet):
/// `*` is `qmul`, `rotate` is `qrot`, `inverse` is `qinv` (the conjugate: inputs are unit quaternions),
/// `between` is `qbetween`. Rotations act on column vectors: `(a * b).rotate(v) == a.rotate(b.rotate(v))`.
public struct Quaternion: Equatable, Sendable, CustomStringConvertible {
    public var w: Double
    public var x: Double
    public var y: Double
    public var z: Double

    public init(w: Double, x: Double, y: Double, z: Double) {
        self.w = w; self.x = x; self.y = y; self.z = z
    }

    /// The identity rotation (1, 0, 0, 0).
    public static let identity = Quaternion(w: 1, x: 0, y: 0, z: 0)

    /// The rotation by `angle` radians about `axis` (normalised here).
    public init(axis: Vec3, angle: Double) {
        let a = unitVector(axis) * sin(angle / 2)
        self.init(w: cos(angle / 2), x: a.x, y: a.y, z: a.z)
    }

    /// The vector part (x, y, z).
    public var vector: Vec3 { Vec3(x, y, z) }

    /// The four components in HumanML3D's order.
    public var components: [Double] { [w, x, y, z] }

    public var description: String { "(\(w), \(x), \(y), \(z))" }

    /// Hamilton product (`qmul(q, r)`): the rotation `r` followed by `q`.
    public static func * (q: Quaternion, r: Quaternion) -> Quaternion {
        Quaternion(w: q.w * r.w - q.x * r.x - q.y * r.y - q.z * r.z,
                   x: q.w * r.x + q.x * r.w + q.y * r.z - q.z * r.y,
                   y: q.w * r.y - q.x * r.z + q.y * r.w + q.z * r.x,
                   z: q.w * r.z + q.x * r.y - q.y * r.x + q.z * r.w)
    }

    /// `qinv`: the conjugate, which is the inverse for the unit quaternions used here.
    public var inverse: Quaternion { Quaternion(w: w, x: -x, y: -y, z: -z) }

    public var norm: Double { (w * w + x * x + y * y + z * z).squareRoot() }

    /// This quaternion scaled to unit length (`qnormalize`).
    public var normalized: Quaternion {
        let n = norm
        return Quaternion(w: w / n, x: x / n, y: y / n, z: z / n)
    }

    /// `-q`, the same rotation.
    public var negated: Quaternion { Quaternion(w: -w, x: -x, y: -y, z: -z) }

    /// `qrot`: rotates `v` by this (unit) quaternion, as `v + 2 (w (u×v) + u×(u×v))`.
    public func rotate(_ v: Vec3) -> Vec3 {
        let u = vector
        let uv = cross(u, v)
        let uuv = cross(u, uv)
        return v + 2 * (w * uv + uuv)
    }

    /// Rotates a Float vector (computed in Double).
    public func rotate(_ v: SIMD3<Float>) -> SIMD3<Float> { rotate(v.double).float }

    /// `qbetween(v0, v1)`: the shortest-arc rotation taking the direction of `v0` to that of `v1`.
    ///
    /// HumanML3D's formula (w = |v0||v1| + v0·v1, xyz = v0×v1, normalised) is undefined for opposite
    /// vectors; there we return a half turn about an axis perpendicular to `v0` instead of NaN.
    public static func between(_ v0: Vec3, _ v1: Vec3) -> Quaternion {
        let c = cross(v0, v1)
        let w = (dot(v0, v0) * dot(v1, v1)).squareRoot() + dot(v0, v1)
        let q = Quaternion(w: w, x: c.x, y: c.y, z: c.z)
        let n = q.norm
        let scale = (dot(v0, v0) * dot(v1, v1)).squareRoot()
        if n > 1e-12 * max(scale, 1e-300) { return Quaternion(w: w / n, x: c.x / n, y: c.y / n, z: c.z / n) }
        // Opposite (or zero) vectors: any perpendicular axis gives a valid half turn.
        let helper: Vec3 = abs(v0.x) < 0.9 * max(length(v0), 1e-300) ? Vec3(1, 0, 0) : Vec3(0, 1, 0)
        var axis = cross(v0, helper)
        if length(axis) == 0 { axis = Vec3(0, 0, 1) }
        axis = unitVector(axis)
        return Quaternion(w: 0, x: axis.x, y: axis.y, z: axis.z)
    }

    // MARK: matrices and 6D

    /// The rotation matrix (`quaternion_to_matrix`; divides by the squared norm, so any non-zero quaternion works).
    public var matrix: Matrix3 {
        let s = 2 / (w * w + x * x + y * y + z * z)
        return Matrix3(rows:
            Vec3(1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)),
            Vec3(s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)),
            Vec3(s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)))
    }

    /// The quaternion of a rotation matrix (Shepperd's method: pivot on the largest of w, x, y, z for
    /// accuracy), with w >= 0.
    public init(matrix m: Matrix3) {
        let m00 = m[0, 0], m11 = m[1, 1], m22 = m[2, 2]
        let trace = m00 + m11 + m22
        var q: Quaternion
        if trace > 0 {
            let s = (trace + 1).squareRoot() * 2
            q = Quaternion(w: s / 4, x: (m[2, 1] - m[1, 2]) / s, y: (m[0, 2] - m[2, 0]) / s, z: (m[1, 0] - m[0, 1]) / s)
        } else if m00 > m11 && m00 > m22 {
            let s = (1 + m00 - m11 - m22).squareRoot() * 2
            q = Quaternion(w: (m[2, 1] - m[1, 2]) / s, x: s / 4, y: (m[0, 1] + m[1, 0]) / s, z: (m[0, 2] + m[2, 0]) / s)
        } else if m11 > m22 {
            let s = (1 + m11 - m00 - m22).squareRoot() * 2
            q = Quaternion(w: (m[0, 2] - m[2, 0]) / s, x: (m[0, 1] + m[1, 0]) / s, y: s / 4, z: (m[1, 2] + m[2, 1]) / s)
        } else {
            let s = (1 + m22 - m00 - m11).squareRoot() * 2
            q = Quaternion(w: (m[1, 0] - m[0, 1]) / s, x: (m[0, 2] + m[2, 0]) / s, y: (m[1, 2] + m[2, 1]) / s, z: s / 4)
        }
        if q.w < 0 { q = q.negated }
        self = q.normalized
    }

    /// `quaternion_to_cont6d`: the first two columns of the rotation matrix, column 0 then column 1.
    public var cont6d: [Double] {
        let m = matrix
        return [m[0, 0], m[1, 0], m[2, 0], m[0, 1], m[1, 1], m[2, 1]]
    }

    /// The quaternion of a continuous 6D rotation (through `Matrix3(cont6d:)`).
    public init(cont6d: [Double]) { self.init(matrix: Matrix3(cont6d: cont6d)) }

    // MARK: Euler angles

    /// The rotation of Euler angles applied in `order` (e.g. "ZXY": `Rz(a0) * Rx(a1) * Ry(a2)`, the BVH
    /// convention where channels listed first are outermost). `angles[i]` belongs to axis `order[i]`.
    public init(euler angles: Vec3, order: EulerOrder, degrees: Bool = true) {
        let k = degrees ? Double.pi / 180 : 1
        var q = Quaternion.identity
        for (i, axis) in order.axes.enumerated() {
            var unit = Vec3(0, 0, 0)
            unit[axis] = 1
            q = q * Quaternion(axis: unit, angle: angles[i] * k)
        }
        self = q
    }

    /// Euler angles of this rotation in `order` (see `init(euler:order:degrees:)`), in degrees by default.
    public func euler(order: EulerOrder, degrees: Bool = true) -> Vec3 {
        matrix.euler(order: order, degrees: degrees)
    }
}

/// An order of three distinct rotation axes, e.g. "ZXY" means `Rz * Rx * Ry`.
public struct EulerOrder: Equatable, Sendable, CustomStringConvertible {
    /// Axis indices (0 = x, 1 = y, 2 = z), outermost first.
    public let axes: [Int]

    /// Parses "XYZ", "zxy", ...: three distinct letters from X, Y, Z.
    public init?(_ text: String) {
        let a = text.uppercased().compactMap { ["X": 0, "Y": 1, "Z": 2][$0] }
        guard a.count == 3, text.count == 3, Set(a).count == 3 else { return nil }
        axes = a
    }

    public var description: String { String(axes.map { ["X", "Y", "Z"][$0] }) }

    public static let xyz = EulerOrder("XYZ")!
    public static let zxy = EulerOrder("ZXY")!
    public static let zyx = EulerOrder("ZYX")!

    /// Whether the axes run cyclically (XYZ, YZX, ZXY), which sets the signs in the decomposition.
    var isCyclic: Bool { (axes[1] - axes[0] + 3) % 3 == 1 }
}

/// A 3x3 matrix in double precision, row-major.
public struct Matrix3: Equatable, Sendable {
    public var r0: Vec3, r1: Vec3, r2: Vec3

    public init(rows r0: Vec3, _ r1: Vec3, _ r2: Vec3) { self.r0 = r0; self.r1 = r1; self.r2 = r2 }

    /// A matrix from its three columns.
    public init(columns c0: Vec3, _ c1: Vec3, _ c2: Vec3) {
        self.init(rows: Vec3(c0.x, c1.x, c2.x), Vec3(c0.y, c1.y, c2.y), Vec3(c0.z, c1.z, c2.z))
    }

    public static let identity = Matrix3(rows: Vec3(1, 0, 0), Vec3(0, 1, 0), Vec3(0, 0, 1))

    public subscript(i: Int, j: Int) -> Double {
        get { i == 0 ? r0[j] : i == 1 ? r1[j] : r2[j] }
        set {
            switch i {
            case 0: r0[j] = newValue
            case 1: r1[j] = newValue
            default: r2[j] = newValue
            }
        }
    }

    public func column(_ j: Int) -> Vec3 { Vec3(r0[j], r1[j], r2[j]) }
    public var transposed: Matrix3 { Matrix3(columns: r0, r1, r2) }

    public static func * (a: Matrix3, v: Vec3) -> Vec3 { Vec3(dot(a.r0, v), dot(a.r1, v), dot(a.r2, v)) }
    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        let bt = b.transposed
        return Matrix3(rows: Vec3(dot(a.r0, bt.r0), dot(a.r0, bt.r1), dot(a.r0, bt.r2)),
                       Vec3(dot(a.r1, bt.r0), dot(a.r1, bt.r1), dot(a.r1, bt.r2)),
                       Vec3(dot(a.r2, bt.r0), dot(a.r2, bt.r1), dot(a.r2, bt.r2)))
    }

    /// `cont6d_to_matrix`: Gram-Schmidt of the two stored columns (x normalised, z = x × y normalised,
    /// y = z × x), columns [x, y, z].
    public init(cont6d c: [Double]) {
        precondition(c.count == 6, "a 6D rotation has 6 values, got \(c.count)")
        let x = unitVector(Vec3(c[0], c[1], c[2]))
        let z = unitVector(cross(x, Vec3(c[3], c[4], c[5])))
        let y = cross(z, x)
        self.init(columns: x, y, z)
    }

    /// The first two columns, as `quaternion_to_cont6d` lays them out.
    public var cont6d: [Double] { [r0.x, r1.x, r2.x, r0.y, r1.y, r2.y] }

    /// Euler angles (outermost axis first) with `R = R_a0 * R_a1 * R_a2`. Near gimbal lock (middle
    /// angle ±90°) the last angle is set to 0 and the first takes the whole remaining rotation.
    public func euler(order: EulerOrder, degrees: Bool = true) -> Vec3 {
        let i = order.axes[0], j = order.axes[1], k = order.axes[2]
        let s: Double = order.isCyclic ? 1 : -1
        let m = self
        let sinB = max(-1, min(1, s * m[i, k]))
        let b = asin(sinB)
        var a: Double, c: Double
        if abs(sinB) < 1 - 1e-12 {
            a = atan2(-s * m[j, k], m[k, k])
            c = atan2(-s * m[i, j], m[i, i])
        } else {
            c = 0
            a = atan2(s * m[k, j], m[j, j])
        }
        let f = degrees ? 180 / Double.pi : 1
        return Vec3(a * f, b * f, c * f)
    }
}
