import Foundation

/// The models Netra can price and recommend: one ``SupplyModel`` per (model, provider) offer, at list prices.
///
/// Lookups ignore case. A model sold by several providers has several offers; the first one listed is the model's
/// origin, used when a caller names the model but not the provider.
public struct SupplyCatalog: Sendable {
    /// Every offer, in file order.
    public let models: [SupplyModel]
    /// Offers by lowercased model name, in file order.
    private let offersByModel: [String: [SupplyModel]]

    /// Builds a catalog from offers, checking each one.
    ///
    /// - Throws: ``SupplyCatalogError`` when an offer has a tier outside 1...4, a negative price, a batch discount
    ///   outside 0..<1, a context window below 1, an empty name, a `price_date` that is not a `YYYY-MM-DD` day, or
    ///   repeats a (model, provider) pair.
    public init(models: [SupplyModel]) throws {
        var offers: [String: [SupplyModel]] = [:]
        for entry in models {
            try Self.validate(entry)
            let key = entry.model.lowercased()
            if offers[key, default: []].contains(where: { $0.provider.lowercased() == entry.provider.lowercased() }) {
                throw SupplyCatalogError(.duplicateOffer, "\(entry.model) from \(entry.provider) is listed twice")
            }
            offers[key, default: []].append(entry)
        }
        self.models = models
        self.offersByModel = offers
    }

    /// Decodes a catalog file: `{"version": 1, "currency": "USD", "unit": "per million tokens", "models": [...]}`.
    ///
    /// - Parameter json: The file's bytes (`Data`, `[UInt8]` or an embedded package resource).
    /// - Throws: ``SupplyCatalogError`` with code `malformed` when the JSON does not have that shape,
    ///   `unsupportedVersion` for another version or currency, or the errors of ``init(models:)``.
    public init(json: some Sequence<UInt8>) throws {
        let file: CatalogFile
        do {
            file = try JSONDecoder().decode(CatalogFile.self, from: Data(json))
        } catch let error as DecodingError {
            throw SupplyCatalogError(.malformed, Self.describe(error))
        }
        guard file.version == 1, file.currency == "USD" else {
            throw SupplyCatalogError(.unsupportedVersion, "expected version 1 in USD, found version \(file.version) in \(file.currency)")
        }
        try self.init(models: file.models)
    }

    /// Every provider's offer of a model, origin first.
    ///
    /// - Parameter model: The model name, in any case.
    /// - Returns: An empty array for an unknown model.
    public func offers(of model: String) -> [SupplyModel] {
        offersByModel[model.lowercased()] ?? []
    }

    /// One offer of a model.
    ///
    /// - Parameters:
    ///   - name: The model name, in any case.
    ///   - provider: The provider, in any case; `nil` for the model's origin (its first listed offer).
    /// - Returns: `nil` when the model, or that provider's offer of it, is unknown.
    public func model(_ name: String, provider: String?) -> SupplyModel? {
        let offers = offers(of: name)
        guard let provider else { return offers.first }
        let wanted = provider.lowercased()
        return offers.first { $0.provider.lowercased() == wanted }
    }

    /// The offers that pass every condition the filter sets, in catalog order.
    public func filtered(_ filter: Filter) -> [SupplyModel] {
        models.filter(filter.admits)
    }

    /// What one call cost at list prices, in US dollars.
    ///
    /// Cached input is billed at the cached price (the input price when the offer has none), reasoning tokens at the
    /// output price. Cache writes and batch discounts are not applied: an event does not say whether either happened.
    ///
    /// - Returns: `nil` when the catalog has no offer of the event's model from its provider.
    public func cost(of event: WorkloadEvent) -> Double? {
        guard let offer = model(event.model, provider: event.provider) else { return nil }
        let input = max(event.inputTokens, 0)
        let cached = min(max(event.cachedInputTokens ?? 0, 0), input)
        let output = max(event.outputTokens, 0) + max(event.reasoningTokens ?? 0, 0)
        return UnitPrices(offer).dollars(uncachedInput: Double(input - cached), cachedInput: Double(cached), output: Double(output))
    }
}

extension SupplyCatalog {
    /// Conditions on offers, all optional; the query of `GET /api/supply/catalog` (`?provider=groq&min_tier=3`).
    public struct Filter: Sendable, Equatable, Codable {
        /// Only this provider (any case).
        public var provider: String?
        /// Only models of at least this tier.
        public var minTier: Int?
        /// Only models of at most this tier.
        public var maxTier: Int?
        /// Only offers whose input price is at most this, in dollars per million tokens.
        public var maxInputPerMTok: Double?
        /// Only models with at least this many tokens of context.
        public var minContextWindow: Int?
        /// Only models whose name contains this text (any case).
        public var model: String?

        public init(
            provider: String? = nil, minTier: Int? = nil, maxTier: Int? = nil, maxInputPerMTok: Double? = nil,
            minContextWindow: Int? = nil, model: String? = nil
        ) {
            self.provider = provider
            self.minTier = minTier
            self.maxTier = maxTier
            self.maxInputPerMTok = maxInputPerMTok
            self.minContextWindow = minContextWindow
            self.model = model
        }

        /// The query parameter names (snake_case).
        public enum CodingKeys: String, CodingKey {
            case provider, model
            case minTier = "min_tier"
            case maxTier = "max_tier"
            case maxInputPerMTok = "max_input_per_mtok"
            case minContextWindow = "min_context_window"
        }

        func admits(_ offer: SupplyModel) -> Bool {
            if let provider, offer.provider.lowercased() != provider.lowercased() { return false }
            if let minTier, offer.qualityTier < minTier { return false }
            if let maxTier, offer.qualityTier > maxTier { return false }
            if let maxInputPerMTok, offer.inputPerMTok > maxInputPerMTok { return false }
            if let minContextWindow, offer.contextWindow < minContextWindow { return false }
            if let model, !model.isEmpty, !offer.model.lowercased().contains(model.lowercased()) { return false }
            return true
        }
    }
}

/// A catalog that could not be loaded: which rule it broke, and where.
public struct SupplyCatalogError: Error, Equatable, CustomStringConvertible {
    /// The rule broken.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let raw: String
        /// The bytes are not JSON of the catalog's shape.
        public static let malformed = Code(raw: "malformed")
        /// The file's version or currency is not one this code reads.
        public static let unsupportedVersion = Code(raw: "unsupported_version")
        /// A quality tier outside 1...4.
        public static let tierOutOfRange = Code(raw: "tier_out_of_range")
        /// A negative (or non-finite) price.
        public static let negativePrice = Code(raw: "negative_price")
        /// The same (model, provider) pair twice.
        public static let duplicateOffer = Code(raw: "duplicate_offer")
        /// Another field out of range: an empty name, context window, batch discount or price date.
        public static let invalidField = Code(raw: "invalid_field")
        public var description: String { raw }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "supply catalog \(code): \(message)" }
}

extension SupplyCatalog {
    /// The file's top level.
    private struct CatalogFile: Decodable {
        var version: Int
        var currency: String
        var models: [SupplyModel]
    }

    private static func validate(_ entry: SupplyModel) throws {
        let name = "\(entry.model) from \(entry.provider)"
        guard !entry.model.isEmpty, !entry.provider.isEmpty else {
            throw SupplyCatalogError(.invalidField, "an offer has an empty model or provider name")
        }
        guard (1...4).contains(entry.qualityTier) else {
            throw SupplyCatalogError(.tierOutOfRange, "\(name) has quality_tier \(entry.qualityTier), not 1...4")
        }
        let prices = [entry.inputPerMTok, entry.outputPerMTok, entry.cachedInputPerMTok, entry.cacheWritePerMTok]
        for case let price? in prices where !(price.isFinite && price >= 0) {
            throw SupplyCatalogError(.negativePrice, "\(name) has price \(price)")
        }
        guard entry.contextWindow > 0 else {
            throw SupplyCatalogError(.invalidField, "\(name) has context_window \(entry.contextWindow)")
        }
        if let discount = entry.batchDiscount, !(0..<1).contains(discount) {
            throw SupplyCatalogError(.invalidField, "\(name) has batch_discount \(discount), not in 0..<1")
        }
        guard isCalendarDay(entry.priceDate) else {
            throw SupplyCatalogError(.invalidField, "\(name) has price_date \"\(entry.priceDate)\", not YYYY-MM-DD")
        }
    }

    /// Whether `text` is a real day written `YYYY-MM-DD` (so `2025-02-30` is not).
    static func isCalendarDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [4, 2, 2], parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...lengths[month - 1]).contains(day)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context): "missing \(key.stringValue) at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            "\(context.debugDescription) at \(path(context))"
        @unknown default: "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return keys.isEmpty ? "top level" : keys
    }
}

/// Dollars per million tokens for one offer, possibly after a batch discount.
struct UnitPrices {
    var input: Double
    var cachedInput: Double
    var output: Double

    init(_ offer: SupplyModel, batch: Bool = false) {
        let factor = batch ? 1 - (offer.batchDiscount ?? 0) : 1
        input = offer.inputPerMTok * factor
        cachedInput = (offer.cachedInputPerMTok ?? offer.inputPerMTok) * factor
        output = offer.outputPerMTok * factor
    }

    func dollars(uncachedInput: Double, cachedInput cached: Double, output generated: Double) -> Double {
        (uncachedInput * input + cached * cachedInput + generated * output) / 1_000_000
    }
}
