import Foundation

/// One model as one provider sells it: list prices in US dollars per million tokens.
/// The same model sold by several providers (open-weight models) has one entry per provider with the same `model`.
public struct SupplyModel: Sendable, Equatable, Codable {
    /// The model's name as callers log it, e.g. `gpt-4o-mini`, `llama-3.1-70b-instruct`.
    public var model: String
    public var provider: String
    public var inputPerMTok: Double
    /// Price of input tokens read from the prompt cache; `nil` when the provider has no prompt caching.
    public var cachedInputPerMTok: Double?
    /// Price of writing input tokens into the prompt cache, when the provider charges a premium for it.
    public var cacheWritePerMTok: Double?
    public var outputPerMTok: Double
    public var contextWindow: Int
    /// Fraction taken off both prices by the provider's batch API (0.5 = half price); `nil` without one.
    public var batchDiscount: Double?
    /// 1 (small, cheap) … 4 (frontier): models of a higher tier can do what lower tiers do.
    public var qualityTier: Int
    /// Typical output speed, tokens per second, when published; used to compare providers of one model.
    public var outputTokensPerSecond: Double?
    /// The day the price was read (`YYYY-MM-DD`) and the public page it was read from.
    public var priceDate: String
    public var source: String

    public enum CodingKeys: String, CodingKey {
        case model, provider
        case inputPerMTok = "input_per_mtok"
        case cachedInputPerMTok = "cached_input_per_mtok"
        case cacheWritePerMTok = "cache_write_per_mtok"
        case outputPerMTok = "output_per_mtok"
        case contextWindow = "context_window"
        case batchDiscount = "batch_discount"
        case qualityTier = "quality_tier"
        case outputTokensPerSecond = "output_tokens_per_second"
        case priceDate = "price_date"
        case source
    }
}
