import Foundation

extension SupplyCatalog {
    /// A monthly token volume to price on every offer; the body of `POST /api/supply/estimate`.
    public struct TokenMix: Sendable, Equatable, Codable {
        /// All input tokens, cached ones included.
        public var inputTokens: Int
        /// Output tokens, reasoning included.
        public var outputTokens: Int
        /// The part of `inputTokens` expected to be read from a prompt cache.
        public var cachedInputTokens: Int?
        /// How many calls carry those tokens; when set, each estimate also gives the cost of one call.
        public var calls: Int?
        /// Whether the work can go through a batch API (priced with each offer's batch discount, where it has one).
        public var batch: Bool?
        /// Leave out models below this quality tier.
        public var minTier: Int?

        public init(
            inputTokens: Int, outputTokens: Int, cachedInputTokens: Int? = nil, calls: Int? = nil, batch: Bool? = nil,
            minTier: Int? = nil
        ) {
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.cachedInputTokens = cachedInputTokens
            self.calls = calls
            self.batch = batch
            self.minTier = minTier
        }

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case calls, batch
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case cachedInputTokens = "cached_input_tokens"
            case minTier = "min_tier"
        }
    }

    /// What a ``TokenMix`` costs on one offer, and the unit prices (dollars per million tokens) that produced it.
    public struct Estimate: Sendable, Equatable, Codable {
        public var model: String
        public var provider: String
        public var qualityTier: Int
        /// The whole mix, in US dollars.
        public var costUSD: Double
        /// `costUSD` divided by the mix's calls; `nil` when the mix gives no call count.
        public var costPerCallUSD: Double?
        /// Whether the offer's batch discount is in the prices below.
        public var batchApplied: Bool
        public var inputPerMTok: Double
        /// The price applied to cached input: the input price when the offer has no prompt caching.
        public var cachedInputPerMTok: Double
        public var outputPerMTok: Double

        /// The wire names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case model, provider
            case qualityTier = "quality_tier"
            case costUSD = "cost_usd"
            case costPerCallUSD = "cost_per_call_usd"
            case batchApplied = "batch_applied"
            case inputPerMTok = "input_per_mtok"
            case cachedInputPerMTok = "cached_input_per_mtok"
            case outputPerMTok = "output_per_mtok"
        }
    }

    /// Prices a token volume on every offer of at least the mix's minimum tier.
    ///
    /// Negative counts are read as zero and cached input is capped at the input. Cache writes are not priced.
    ///
    /// - Returns: One estimate per offer, cheapest first (ties by model, then provider).
    public func estimate(_ mix: TokenMix) -> [Estimate] {
        let input = max(mix.inputTokens, 0)
        let cached = min(max(mix.cachedInputTokens ?? 0, 0), input)
        let output = max(mix.outputTokens, 0)
        let calls = mix.calls.flatMap { $0 > 0 ? Double($0) : nil }
        let estimates = models.filter { $0.qualityTier >= (mix.minTier ?? 1) }.map { offer in
            let batchApplied = mix.batch == true && offer.batchDiscount != nil
            let prices = UnitPrices(offer, batch: batchApplied)
            let cost = prices.dollars(uncachedInput: Double(input - cached), cachedInput: Double(cached), output: Double(output))
            return Estimate(
                model: offer.model, provider: offer.provider, qualityTier: offer.qualityTier, costUSD: cost,
                costPerCallUSD: calls.map { cost / $0 }, batchApplied: batchApplied, inputPerMTok: prices.input,
                cachedInputPerMTok: prices.cachedInput, outputPerMTok: prices.output
            )
        }
        return estimates.sorted { ($0.costUSD, $0.model, $0.provider) < ($1.costUSD, $1.model, $1.provider) }
    }
}
