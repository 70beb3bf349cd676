import Foundation

/// The tokens a slice of traffic was billed for, to price it on any catalog offer.
///
/// Cached input is billed at the offer's cached price (its input price when it has none); reasoning tokens at the
/// output price, like ``SupplyCatalog``'s `cost(of:)`.
struct SliceTokens: Equatable {
    var uncachedInput: Double
    var cachedInput: Double
    var output: Double

    init(_ group: UsageGroup) {
        let cached = min(max(group.cachedInputTokens, 0), max(group.inputTokens, 0))
        uncachedInput = Double(max(group.inputTokens, 0) - cached)
        cachedInput = Double(cached)
        output = Double(max(group.outputTokens, 0) + max(group.reasoningTokens, 0))
    }

    /// What the mix costs at an offer's list prices, in US dollars.
    func dollars(on offer: SupplyModel) -> Double {
        let cachedPrice = offer.cachedInputPerMTok ?? offer.inputPerMTok
        return (uncachedInput * offer.inputPerMTok + cachedInput * cachedPrice + output * offer.outputPerMTok) / 1_000_000
    }
}

extension Array where Element == SupplyModel {
    /// The offer of `model` by `provider`, ignoring case.
    func offer(model: String, provider: String) -> SupplyModel? {
        first { $0.model.caseInsensitiveCompare(model) == .orderedSame && $0.provider.caseInsensitiveCompare(provider) == .orderedSame }
    }
}

/// Text for summaries and titles.
enum AnalysisText {
    /// `$1234.50`.
    static func usd(_ value: Double) -> String { String(format: "$%.2f", value) }

    /// `42%`, or `0.4%` below 1 %.
    static func percent(_ share: Double) -> String {
        let value = share * 100
        return value < 1 && value > 0 ? String(format: "%.1f%%", value) : String(format: "%.0f%%", value)
    }

    /// `1200 ms`.
    static func ms(_ value: Double) -> String { String(format: "%.0f ms", value) }

    /// `"name"` or `(none)` for a missing feature or user.
    static func name(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "(none)" }
}

extension Double {
    /// `self / whole`, or 0 when `whole` is 0.
    func share(of whole: Double) -> Double { whole == 0 ? 0 : self / whole }
}
