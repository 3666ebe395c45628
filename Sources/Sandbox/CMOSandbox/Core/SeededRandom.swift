/// SplitMix64: a small, fast, seedable generator. The sandbox never uses the system generator,
/// so a seed always gives the same world and the same fault sequence.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator derived from a seed and a label, so independent streams (one per repository,
    /// one per service) do not shift when another stream draws more or fewer numbers.
    public init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike Hasher
        for b in stream.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        state = seed ^ h
        _ = next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// A uniformly chosen element.
    public mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }

    /// The 64-bit value for one draw of an indexed stream, without keeping state (for per-request
    /// fault decisions: request n of a service always gets the same draw).
    public static func draw(seed: UInt64, stream: String, index: Int) -> Double {
        var r = SeededRandom(seed: seed &+ UInt64(truncatingIfNeeded: index) &* 0x9e37_79b9, stream: stream)
        return r.unit()
    }
}
