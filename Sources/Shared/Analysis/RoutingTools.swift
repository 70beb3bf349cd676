import Foundation

/// Moving one slice's traffic to another offer: right-sizing and provider arbitrage produce these.
public struct ModelSwitch: Codable, Sendable, Equatable {
    /// The slice as it runs today.
    public var scope: Opportunity.Scope
    public var toModel: String
    public var toProvider: String
    /// The slice's tokens priced on the current offer (its observed cost when the catalog lacks the offer) and on the
    /// candidate, in the observed window.
    public var currentCostUSD: Double
    public var candidateCostUSD: Double
    public var monthlySavingsUSD: Double
    /// Per call, from both offers' output speeds; negative means slower; `nil` when either speed is unknown.
    public var latencyGainMs: Double?

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case scope
        case toModel = "to_model"
        case toProvider = "to_provider"
        case currentCostUSD = "current_cost_usd"
        case candidateCostUSD = "candidate_cost_usd"
        case monthlySavingsUSD = "monthly_savings_usd"
        case latencyGainMs = "latency_gain_ms"
    }
}

/// The figures of right-sizing and provider arbitrage.
public struct SwitchFigures: Codable, Sendable, Equatable {
    /// The best switch per slice, largest savings first, including those under the reporting minimum.
    public var switches: [ModelSwitch]
    public var monthlySavingsUSD: Double
    /// Slices that could not be assessed (right-sizing: no tier known; arbitrage: model not in the catalog).
    public var unassessedSlices: Int

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case switches
        case monthlySavingsUSD = "monthly_savings_usd"
        case unassessedSlices = "unassessed_slices"
    }
}

extension WorkloadAnalysis {
    /// Feature-name words that need only a tier-1 model.
    public static let tierOneWords = ["classify", "tag", "route", "extract", "detect"]
    /// Feature-name words that need a tier-2 model.
    public static let tierTwoWords = ["summarize", "translate", "rewrite"]

    /// The quality tier a feature needs: 1 or 2 when its name contains a word of ``tierOneWords`` or ``tierTwoWords``
    /// (tier 1 wins), otherwise the current model's tier; never above the current tier, since the feature already
    /// works there. `nil` when neither the name nor the current tier tells.
    public static func requiredTier(feature: String?, currentTier: Int?) -> Int? {
        let name = feature?.lowercased() ?? ""
        let byName: Int? =
            if tierOneWords.contains(where: name.contains) { 1 } else if tierTwoWords.contains(where: name.contains) { 2 } else { nil }
        switch (byName, currentTier) {
        case (let rule?, let current?): return min(rule, current)
        case (let rule?, nil): return rule
        case (nil, let current): return current
        }
    }

    /// Tool 6: per slice, the cheapest catalog model of another name that the feature can use.
    ///
    /// A candidate has at least the ``requiredTier(feature:currentTier:)``, a context window of at least the
    /// feature's largest input (over all its slices), and costs less on the slice's own token mix. Same-name offers
    /// are left to provider arbitrage. Confidence is high when the candidate's tier is not below the current one,
    /// medium for a downgrade.
    public static func modelRightSizing(
        usage: [UsageGroup], catalog: [SupplyModel], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<SwitchFigures> {
        var maxInput: [String?: Int] = [:]
        for group in usage { maxInput[group.feature] = max(maxInput[group.feature] ?? 0, group.maxInputTokens) }
        var switches: [ModelSwitch] = []
        var unassessed = 0
        var opportunities: [Opportunity] = []
        for group in usage {
            let current = catalog.offer(model: group.model, provider: group.provider)
            guard let required = requiredTier(feature: group.feature, currentTier: current?.qualityTier) else {
                unassessed += 1
                continue
            }
            let window = maxInput[group.feature] ?? 0
            let candidates = catalog.filter {
                $0.model.caseInsensitiveCompare(group.model) != .orderedSame && $0.qualityTier >= required && $0.contextWindow >= window
            }
            guard let (change, offer) = cheapestSwitch(group, from: current, to: candidates, span: span) else { continue }
            switches.append(change)
            guard change.monthlySavingsUSD >= options.minimumMonthlySavingsUSD else { continue }
            let currentTier = current?.qualityTier ?? required
            let evidence: [String: EvidenceValue] = [
                "required_tier": .count(required), "current_tier": .count(currentTier), "candidate_model": .string(offer.model),
                "candidate_provider": .string(offer.provider), "candidate_tier": .count(offer.qualityTier),
                "current_cost_usd": .number(change.currentCostUSD), "candidate_cost_usd": .number(change.candidateCostUSD),
                "max_input_tokens": .count(window), "candidate_context_window": .count(offer.contextWindow),
            ]
            opportunities.append(
                opportunity(
                    .modelRightSizing, .cheaperModel, change, group: group, span: span, evidence: evidence,
                    title: "Move \(group.scope) to \(offer.model) (\(offer.provider)), tier \(currentTier) → \(offer.qualityTier)",
                    confidence: offer.qualityTier >= currentTier ? .high : .medium))
        }
        return switchResult(.modelRightSizing, switches: switches, unassessed: unassessed, opportunities: opportunities)
    }

    /// Tool 7: per slice, the same model (same name, any case) sold cheaper by another provider, priced on the slice's
    /// token mix; the latency gain comes from both offers' `outputTokensPerSecond` when known.
    ///
    /// When no provider is cheaper, a provider at most as expensive and faster is proposed instead (`faster_provider`,
    /// reported whatever its savings). Confidence is high: the model does not change.
    public static func providerArbitrage(
        usage: [UsageGroup], catalog: [SupplyModel], span: ObservedSpan, options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<SwitchFigures> {
        var switches: [ModelSwitch] = []
        var unassessed = 0
        var opportunities: [Opportunity] = []
        for group in usage {
            let sameModel = catalog.filter { $0.model.caseInsensitiveCompare(group.model) == .orderedSame }
            guard !sameModel.isEmpty else {
                unassessed += 1
                continue
            }
            let current = catalog.offer(model: group.model, provider: group.provider)
            let others = sameModel.filter { $0.provider.caseInsensitiveCompare(group.provider) != .orderedSame }
            let kind: Opportunity.Kind
            let change: ModelSwitch
            if let cheaper = cheapestSwitch(group, from: current, to: others, span: span) {
                (kind, change) = (.cheaperProvider, cheaper.change)
            } else if let faster = fastestSwitch(group, from: current, to: others, span: span) {
                (kind, change) = (.fasterProvider, faster)
            } else {
                continue
            }
            switches.append(change)
            guard kind == .fasterProvider || change.monthlySavingsUSD >= options.minimumMonthlySavingsUSD else { continue }
            var evidence: [String: EvidenceValue] = [
                "candidate_provider": .string(change.toProvider), "current_cost_usd": .number(change.currentCostUSD),
                "candidate_cost_usd": .number(change.candidateCostUSD),
                "output_tokens_per_call": .number(SliceTokens(group).output.share(of: Double(group.calls))),
            ]
            evidence["current_output_tokens_per_second"] = current?.outputTokensPerSecond.map(EvidenceValue.number)
            evidence["candidate_output_tokens_per_second"] = others.offer(model: group.model, provider: change.toProvider)?
                .outputTokensPerSecond.map(EvidenceValue.number)
            let title =
                "Buy \(group.model) for \(AnalysisText.name(group.feature)) from \(change.toProvider) instead of \(group.provider) "
                + "(\(kind == .cheaperProvider ? "cheaper" : "faster"))"
            opportunities.append(
                opportunity(.providerArbitrage, kind, change, group: group, span: span, evidence: evidence, title: title, confidence: .high)
            )
        }
        return switchResult(.providerArbitrage, switches: switches, unassessed: unassessed, opportunities: opportunities)
    }

    /// The cheapest of `candidates` strictly below the slice's current cost, on the slice's token mix; the first
    /// listed wins a tie. The current cost is the slice priced on its own offer, or its observed cost without one.
    static func cheapestSwitch(
        _ group: UsageGroup, from current: SupplyModel?, to candidates: [SupplyModel], span: ObservedSpan
    ) -> (change: ModelSwitch, offer: SupplyModel)? {
        let mix = SliceTokens(group)
        let currentCost = current.map(mix.dollars(on:)) ?? group.costUSD
        guard
            let best = candidates.map({ (offer: $0, cost: mix.dollars(on: $0)) }).filter({ $0.cost < currentCost }).min(by: {
                $0.cost < $1.cost
            })
        else { return nil }
        return (makeSwitch(group, from: current, currentCost: currentCost, to: best.offer, cost: best.cost, span: span), best.offer)
    }

    /// The candidate with the largest positive latency gain among those costing at most the current offer.
    static func fastestSwitch(
        _ group: UsageGroup, from current: SupplyModel?, to candidates: [SupplyModel], span: ObservedSpan
    ) -> ModelSwitch? {
        guard let current else { return nil }
        let mix = SliceTokens(group)
        let currentCost = mix.dollars(on: current)
        return candidates.filter { mix.dollars(on: $0) <= currentCost }
            .map { makeSwitch(group, from: current, currentCost: currentCost, to: $0, cost: mix.dollars(on: $0), span: span) }
            .filter { ($0.latencyGainMs ?? 0) > 0 }
            .max { ($0.latencyGainMs ?? 0) < ($1.latencyGainMs ?? 0) }
    }

    /// A switch of `group` to `offer`; its latency gain is the slice's output per call × the difference in seconds
    /// per token of the two offers, when both publish a speed.
    static func makeSwitch(
        _ group: UsageGroup, from current: SupplyModel?, currentCost: Double, to offer: SupplyModel, cost: Double, span: ObservedSpan
    ) -> ModelSwitch {
        var gain: Double?
        if let now = current?.outputTokensPerSecond, let then = offer.outputTokensPerSecond, now > 0, then > 0 {
            gain = SliceTokens(group).output.share(of: Double(group.calls)) * (1000 / now - 1000 / then)
        }
        return ModelSwitch(
            scope: group.scope, toModel: offer.model, toProvider: offer.provider, currentCostUSD: currentCost, candidateCostUSD: cost,
            monthlySavingsUSD: (currentCost - cost) * span.monthlyFactor, latencyGainMs: gain)
    }

    /// The opportunity of a switch.
    static func opportunity(
        _ tool: AnalysisTool, _ kind: Opportunity.Kind, _ change: ModelSwitch, group: UsageGroup, span: ObservedSpan,
        evidence: [String: EvidenceValue], title: String, confidence: Opportunity.Confidence
    ) -> Opportunity {
        Opportunity(
            tool: tool, kind: kind, title: title, monthlySavingsUSD: change.monthlySavingsUSD, latencyGainMs: change.latencyGainMs,
            confidence: confidence, evidence: evidence, scope: group.scope, scopeMonthlySpendUSD: group.costUSD * span.monthlyFactor)
    }

    /// Wraps switches and opportunities of right-sizing or arbitrage into a result.
    static func switchResult(
        _ tool: AnalysisTool, switches: [ModelSwitch], unassessed: Int, opportunities: [Opportunity]
    ) -> ToolResult<SwitchFigures> {
        let sorted = switches.enumerated().sorted {
            $0.element.monthlySavingsUSD != $1.element.monthlySavingsUSD
                ? $0.element.monthlySavingsUSD > $1.element.monthlySavingsUSD : $0.offset < $1.offset
        }.map(\.element)
        let total = sorted.reduce(0) { $0 + $1.monthlySavingsUSD }
        let figures = SwitchFigures(switches: sorted, monthlySavingsUSD: total, unassessedSlices: unassessed)
        let noun = tool == .modelRightSizing ? "a cheaper adequate model" : "a cheaper or faster provider of the same model"
        let summary =
            sorted.isEmpty
            ? "No slice has \(noun) in the catalog."
            : "\(sorted.count) slices have \(noun): \(AnalysisText.usd(total))/month."
        return ToolResult(tool: tool, summary: summary, figures: figures, opportunities: sortedBySavings(opportunities))
    }
}
