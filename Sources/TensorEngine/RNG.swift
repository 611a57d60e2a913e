import Foundation

/// A seeded, platform-independent random generator (xoshiro256** seeded through SplitMix64).
/// Every random choice in the project takes one of these, so the same seed gives the same result
/// on every machine.
public struct SeededRNG: RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var cachedNormal: Float?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The generator's complete state, so training can checkpoint it and a restored generator continues
    /// the exact sequence: the four xoshiro256** words and the cached second Box-Muller value.
    public struct State: Equatable, Sendable {
        public var words: (UInt64, UInt64, UInt64, UInt64)
        /// Bit pattern of the normal value kept for the next `nextNormal()`, if any.
        public var cachedNormalBits: UInt32?

        public static func == (a: State, b: State) -> Bool {
            a.words == b.words && a.cachedNormalBits == b.cachedNormalBits
        }

        /// Text form for checkpoint metadata: four or five hexadecimal words separated by ':'.
        public var text: String {
            var parts = [words.0, words.1, words.2, words.3].map { String($0, radix: 16) }
            if let c = cachedNormalBits { parts.append("n" + String(c, radix: 16)) }
            return parts.joined(separator: ":")
        }

        /// Parses `text`; nil when it is not a state written by `text`.
        public init?(text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 4 || parts.count == 5 else { return nil }
            var w: [UInt64] = []
            for p in parts.prefix(4) { guard let v = UInt64(p, radix: 16) else { return nil }; w.append(v) }
            var cached: UInt32?
            if parts.count == 5 {
                guard parts[4].hasPrefix("n"), let c = UInt32(parts[4].dropFirst(), radix: 16) else { return nil }
                cached = c
            }
            // xoshiro's all-zero state is a fixed point; no seed produces it.
            guard w.contains(where: { $0 != 0 }) else { return nil }
            self.init(words: (w[0], w[1], w[2], w[3]), cachedNormalBits: cached)
        }

        public init(words: (UInt64, UInt64, UInt64, UInt64), cachedNormalBits: UInt32?) {
            self.words = words
            self.cachedNormalBits = cachedNormalBits
        }
    }

    /// The current state (see `State`).
    public var state: State {
        State(words: (s0, s1, s2, s3), cachedNormalBits: cachedNormal?.bitPattern)
    }

    /// A generator that continues exactly where the one whose `state` this was stood.
    public init(state: State) {
        (s0, s1, s2, s3) = state.words
        cachedNormal = state.cachedNormalBits.map { Float(bitPattern: $0) }
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
    public mutating func nextNormal() -> Float {
        if let c = cachedNormal { cachedNormal = nil; return c }
        var u1 = nextDouble()
        while u1 <= 1e-300 { u1 = nextDouble() }
        let u2 = nextDouble()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        cachedNormal = Float(r * Foundation.sin(2 * Double.pi * u2))
        return Float(r * Foundation.cos(2 * Double.pi * u2))
    }

    /// Uniform integer in `0..<n`.
    public mutating func nextInt(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }
}
