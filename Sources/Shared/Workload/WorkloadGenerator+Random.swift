import Foundation

/// SplitMix64: expands one 64-bit seed into well-mixed state words (and mixes counters into hash values).
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective scramble of one word.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna): the generator's only source of randomness, so a seed fixes the output on
/// every platform. Sampling uses only IEEE arithmetic (no libm), which rounds identically everywhere.
struct Xoshiro256StarStar: RandomNumberGenerator {
    private var s0, s1, s2, s3: UInt64

    init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let shifted = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = rotate(s3, 45)
        return result
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in `0..<bound` (multiply-high; the bias is below 2⁻³² for the small bounds used here).
    mutating func below(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform in `range`.
    mutating func within(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// Whether an event of probability `probability` happens.
    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    /// Approximately standard normal (Irwin–Hall of four uniforms, so bounded at ±3.46).
    mutating func normal() -> Double { (unit() + unit() + unit() + unit() - 2) * 1.732_050_807_568_877_2 }

    /// Log-normal with the given median and log-space spread, clamped to `range`.
    mutating func logNormal(median: Double, spread: Double, in range: ClosedRange<Int>) -> Int {
        let value = Int((median * portableExp(spread * normal())).rounded())
        return min(max(value, range.lowerBound), range.upperBound)
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }
}

/// eˣ for |x| ≲ 20 from IEEE arithmetic only (range reduction by ln 2, then a Taylor series), so results do not
/// depend on the platform's libm.
func portableExp(_ x: Double) -> Double {
    let ln2 = 0.693_147_180_559_945_3
    let k = (x / ln2).rounded()
    let r = x - k * ln2
    var term = 1.0, sum = 1.0
    for n in 1...14 {
        term *= r / Double(n)
        sum += term
    }
    return sum * Double(sign: .plus, exponent: Int(k), significand: 1)
}

/// Lowercase hexadecimal text of a 64-bit value (16 characters), written without formatting APIs.
func hexString(_ value: UInt64) -> String {
    String(unsafeUninitializedCapacity: 16) { buffer in
        let digits: StaticString = "0123456789abcdef"
        for index in 0..<16 {
            buffer[index] = digits.utf8Start[Int((value >> (60 - 4 * UInt64(index))) & 0xF)]
        }
        return 16
    }
}
