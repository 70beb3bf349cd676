import Foundation

/// The figures of ``WorkloadAnalysis/duplicateCache(duplicates:span:options:)``: totals over the window.
public struct DuplicateCacheFigures: Codable, Sendable, Equatable {
    /// Slices with repeats, and all their calls.
    public var slices: Int
    public var calls: Int
    public var duplicateCalls: Int
    /// What the repeats cost in the window, and per month.
    public var avoidableCostUSD: Double
    public var monthlySavingsUSD: Double

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case slices, calls
        case duplicateCalls = "duplicate_calls"
        case avoidableCostUSD = "avoidable_cost_usd"
        case monthlySavingsUSD = "monthly_savings_usd"
    }
}

/// What prompt caching is worth for one slice, on its offer's prices.
public struct PrefixCacheEstimate: Codable, Sendable, Equatable {
    public var scope: Opportunity.Scope
    /// Hit prefix tokens not already served from the cache.
    public var uncachedHitTokens: Int
    public var writePrefixTokens: Int
    /// Cheaper reads minus the write premium, in the window; negative when writes cost more than reads save.
    public var savingsUSD: Double
    public var monthlySavingsUSD: Double

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case scope
        case uncachedHitTokens = "uncached_hit_tokens"
        case writePrefixTokens = "write_prefix_tokens"
        case savingsUSD = "savings_usd"
        case monthlySavingsUSD = "monthly_savings_usd"
    }
}

/// The figures of ``WorkloadAnalysis/promptCacheFitness(prefixes:catalog:span:options:)``.
public struct PromptCacheFitness: Codable, Sendable, Equatable {
    /// Calls with a cacheable prefix, and how many of them would hit.
    public var prefixCalls: Int
    public var hitCalls: Int
    /// One estimate per slice whose offer has a cached-input price, largest savings first.
    public var estimates: [PrefixCacheEstimate]
    /// The sum of the positive estimates.
    public var monthlySavingsUSD: Double
    /// `model (provider)` of the slices that could not be priced: not in the catalog, or no cached-input price.
    public var unpriced: [String]

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case estimates, unpriced
        case prefixCalls = "prefix_calls"
        case hitCalls = "hit_calls"
        case monthlySavingsUSD = "monthly_savings_usd"
    }
}

extension WorkloadAnalysis {
    /// Tool 3: calls that repeat a recent identical prompt to the same model, which a response cache would answer.
    ///
    /// Each slice with repeats is an opportunity worth the repeats' cost, with their average latency as the latency
    /// gain (a cache hit returns at once). Confidence is medium: identical prompts may still want fresh answers.
    public static func duplicateCache(
        duplicates: [DuplicateGroup], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<DuplicateCacheFigures> {
        let rows = duplicates.filter { $0.duplicateCalls > 0 }
        let avoidable = rows.reduce(0) { $0 + $1.duplicateCostUSD }
        let figures = DuplicateCacheFigures(
            slices: rows.count, calls: rows.reduce(0) { $0 + $1.calls }, duplicateCalls: rows.reduce(0) { $0 + $1.duplicateCalls },
            avoidableCostUSD: avoidable, monthlySavingsUSD: avoidable * span.monthlyFactor
        )
        let opportunities = rows.compactMap { row -> Opportunity? in
            let savings = row.duplicateCostUSD * span.monthlyFactor
            guard savings >= options.minimumMonthlySavingsUSD else { return nil }
            let scope = Opportunity.Scope(feature: row.feature, model: row.model, provider: row.provider)
            let share = Double(row.duplicateCalls).share(of: Double(row.calls))
            return Opportunity(
                tool: .duplicateCache, kind: .exactDuplicates,
                title: "Serve repeated prompts of \(scope) from a response cache (\(AnalysisText.percent(share)) of calls)",
                monthlySavingsUSD: savings, latencyGainMs: row.duplicateLatencyTotalMs / Double(row.duplicateCalls), confidence: .medium,
                evidence: [
                    "duplicate_calls": .count(row.duplicateCalls), "calls": .count(row.calls), "duplicate_share": .number(share),
                    "avoidable_cost_usd": .number(row.duplicateCostUSD), "window": .string(DuplicateGroup.window),
                ],
                scope: scope, scopeMonthlySpendUSD: row.costUSD * span.monthlyFactor
            )
        }
        let summary =
            rows.isEmpty
            ? "No repeated prompts within \(DuplicateGroup.window)."
            : "\(figures.duplicateCalls) calls repeat a prompt sent within \(DuplicateGroup.window): "
                + "\(AnalysisText.usd(figures.monthlySavingsUSD))/month avoidable with a response cache."
        return ToolResult(tool: .duplicateCache, summary: summary, figures: figures, opportunities: sortedBySavings(opportunities))
    }

    /// Tool 4: what the provider's prompt cache would save on long shared prefixes.
    ///
    /// Per slice: hit prefix tokens not already cached × (input price − cached input price), minus write prefix
    /// tokens × the write premium (`cacheWritePerMTok − inputPerMTok`, when the offer charges one). Only slices whose
    /// catalog offer has a cached-input price are priced. Confidence is high when hits outnumber writes.
    public static func promptCacheFitness(
        prefixes: [PrefixReuseGroup], catalog: [SupplyModel], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<PromptCacheFitness> {
        var estimates: [PrefixCacheEstimate] = []
        var unpriced: [String] = []
        var opportunities: [Opportunity] = []
        for row in prefixes {
            guard let offer = catalog.offer(model: row.model, provider: row.provider), offer.cachedInputPerMTok != nil else {
                unpriced.append("\(row.model) (\(row.provider))")
                continue
            }
            let estimate = prefixCacheEstimate(row, offer: offer, span: span)
            estimates.append(estimate)
            if estimate.monthlySavingsUSD >= options.minimumMonthlySavingsUSD {
                opportunities.append(promptCacheOpportunity(row, offer: offer, estimate: estimate))
            }
        }
        estimates.sort { $0.monthlySavingsUSD > $1.monthlySavingsUSD }
        let figures = PromptCacheFitness(
            prefixCalls: prefixes.reduce(0) { $0 + $1.calls }, hitCalls: prefixes.reduce(0) { $0 + $1.hitCalls }, estimates: estimates,
            monthlySavingsUSD: estimates.reduce(0) { $0 + max(0, $1.monthlySavingsUSD) }, unpriced: unpriced
        )
        var summary =
            figures.prefixCalls == 0
            ? "No calls with a shared prefix of \(PrefixReuseGroup.minimumPrefixTokens)+ tokens."
            : "\(figures.hitCalls) of \(figures.prefixCalls) long-prefix calls reuse a prefix within \(PrefixReuseGroup.ttl): "
                + "prompt caching is worth \(AnalysisText.usd(figures.monthlySavingsUSD))/month"
        if figures.prefixCalls > 0 { summary += unpriced.isEmpty ? "." : " (\(unpriced.count) slices without a cached price)." }
        return ToolResult(tool: .promptCacheFitness, summary: summary, figures: figures, opportunities: sortedBySavings(opportunities))
    }

    /// Cheaper reads of the hit tokens not already cached, minus the write premium on the write tokens.
    static func prefixCacheEstimate(_ row: PrefixReuseGroup, offer: SupplyModel, span: ObservedSpan) -> PrefixCacheEstimate {
        let uncachedHits = max(0, row.hitPrefixTokens - row.cachedInputTokens)
        let readDiscount = offer.inputPerMTok - (offer.cachedInputPerMTok ?? offer.inputPerMTok)
        let savings = (Double(uncachedHits) * readDiscount - Double(row.writePrefixTokens) * writePremium(offer)) / 1_000_000
        return PrefixCacheEstimate(
            scope: Opportunity.Scope(feature: row.feature, model: row.model, provider: row.provider), uncachedHitTokens: uncachedHits,
            writePrefixTokens: row.writePrefixTokens, savingsUSD: savings, monthlySavingsUSD: savings * span.monthlyFactor
        )
    }

    /// Dollars per million tokens a cache write costs above a plain input token (0 without a write price).
    static func writePremium(_ offer: SupplyModel) -> Double {
        max(0, (offer.cacheWritePerMTok ?? offer.inputPerMTok) - offer.inputPerMTok)
    }

    /// The opportunity of one priced slice.
    static func promptCacheOpportunity(_ row: PrefixReuseGroup, offer: SupplyModel, estimate: PrefixCacheEstimate) -> Opportunity {
        let hitShare = Double(row.hitCalls).share(of: Double(row.calls))
        return Opportunity(
            tool: .promptCacheFitness, kind: .promptCaching,
            title:
                "Use prompt caching for \(estimate.scope): \(AnalysisText.percent(hitShare)) of long-prefix calls "
                + "reuse a prefix within \(PrefixReuseGroup.ttl)",
            monthlySavingsUSD: estimate.monthlySavingsUSD, confidence: row.hitCalls >= row.writeCalls ? .high : .medium,
            evidence: [
                "hit_calls": .count(row.hitCalls), "write_calls": .count(row.writeCalls),
                "uncached_hit_tokens": .count(estimate.uncachedHitTokens),
                "write_prefix_tokens": .count(row.writePrefixTokens), "already_cached_tokens": .count(row.cachedInputTokens),
                "input_per_mtok": .number(offer.inputPerMTok),
                "cached_input_per_mtok": .number(offer.cachedInputPerMTok ?? offer.inputPerMTok),
                "write_premium_per_mtok": .number(writePremium(offer)),
            ],
            scope: estimate.scope
        )
    }
}
