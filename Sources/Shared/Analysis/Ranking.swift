import Foundation

/// The tools' opportunities merged into one list, best first, with overlaps resolved.
public struct RankedOpportunities: Codable, Sendable, Equatable {
    /// Best first; savings are after overlaps (see ``WorkloadAnalysis/rank(_:)``).
    public var opportunities: [Opportunity]
    /// Alternatives that lost to a better switch of the same traffic.
    public var superseded: [Opportunity]
    /// The sum of `opportunities`' savings.
    public var totalMonthlySavingsUSD: Double

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case opportunities, superseded
        case totalMonthlySavingsUSD = "total_monthly_savings_usd"
    }
}

extension WorkloadAnalysis {
    /// Orders opportunities by monthly savings, then latency gain (`nil` as 0), then input order, after resolving
    /// overlaps. Every per-slice tool scopes its opportunities to the same `(feature, model, provider)` slices, so
    /// overlaps are found by equal scopes, and levers on one slice are applied in this order:
    ///
    /// 1. **Duplicates first.** An `exact_duplicates` opportunity removes a share *d* of its slice's spend (its
    ///    savings over its `scopeMonthlySpendUSD`); every later lever of the slice is priced on the rest, × (1 − *d*).
    /// 2. **One switch per slice.** `cheaper_model`, `cheaper_provider` and `faster_provider` move the same traffic, so
    ///    only the best of a slice is kept; the others go to `superseded`. The kept switch removes a share *s* of the
    ///    slice's spend (its standalone savings over its `scopeMonthlySpendUSD`).
    /// 3. **Batch and prompt caching** are priced on what is left: × (1 − *d*) × (1 − *s*). They are added to each
    ///    other as they are (both discounts can apply to one call).
    ///
    /// Failure waste, headroom, latency and trend findings are never scaled. A scaled opportunity keeps its
    /// standalone figure in evidence as `standalone_monthly_savings_usd`.
    public static func rank(_ opportunities: [Opportunity]) -> RankedOpportunities {
        var duplicateShare: [Opportunity.Scope: Double] = [:]
        for opportunity in opportunities where opportunity.kind == .exactDuplicates {
            duplicateShare[opportunity.scope] = max(duplicateShare[opportunity.scope] ?? 0, spendShare(of: opportunity))
        }
        let indexed = opportunities.enumerated().map { Ranked(position: $0.offset, opportunity: $0.element) }
        var kept: [Ranked] = []
        var superseded: [Opportunity] = []
        var switchShare: [Opportunity.Scope: Double] = [:]
        let switches = indexed.filter(\.opportunity.kind.isSwitch).map { $0.scaled(by: 1 - (duplicateShare[$0.opportunity.scope] ?? 0)) }
        for item in ordered(switches) {
            if switchShare[item.opportunity.scope] == nil {
                switchShare[item.opportunity.scope] = spendShare(of: item.opportunity)
                kept.append(item)
            } else {
                superseded.append(item.opportunity)
            }
        }
        for item in indexed where !item.opportunity.kind.isSwitch {
            let scope = item.opportunity.scope
            let stacked = item.opportunity.kind == .batchAPI || item.opportunity.kind == .promptCaching
            kept.append(stacked ? item.scaled(by: (1 - (duplicateShare[scope] ?? 0)) * (1 - (switchShare[scope] ?? 0))) : item)
        }
        let ranked = ordered(kept).map(\.opportunity)
        return RankedOpportunities(
            opportunities: ranked, superseded: superseded, totalMonthlySavingsUSD: ranked.reduce(0) { $0 + $1.monthlySavingsUSD }
        )
    }

    /// An opportunity with its position in the ranking's input, the last tie-breaker.
    struct Ranked {
        var position: Int
        var opportunity: Opportunity

        /// Savings × `factor`, the standalone figure kept in evidence; unchanged when `factor` is 1.
        func scaled(by factor: Double) -> Ranked {
            guard factor != 1 else { return self }
            var copy = self
            copy.opportunity.evidence["standalone_monthly_savings_usd"] = .number(opportunity.monthlySavingsUSD)
            copy.opportunity.monthlySavingsUSD = opportunity.monthlySavingsUSD * factor
            return copy
        }
    }

    /// The share of its scope's spend an opportunity saves on its own, 0...1; 0 when the spend is unknown.
    static func spendShare(of opportunity: Opportunity) -> Double {
        guard let spend = opportunity.scopeMonthlySpendUSD, spend > 0 else { return 0 }
        let standalone = opportunity.evidence["standalone_monthly_savings_usd"]?.number ?? opportunity.monthlySavingsUSD
        return min(1, max(0, standalone / spend))
    }

    /// Savings descending, then latency gain descending (`nil` as 0), then input position.
    static func ordered(_ items: [Ranked]) -> [Ranked] {
        items.sorted { lhs, rhs in
            let (left, right) = (lhs.opportunity, rhs.opportunity)
            if left.monthlySavingsUSD != right.monthlySavingsUSD { return left.monthlySavingsUSD > right.monthlySavingsUSD }
            let (leftGain, rightGain) = (left.latencyGainMs ?? 0, right.latencyGainMs ?? 0)
            return leftGain != rightGain ? leftGain > rightGain : lhs.position < rhs.position
        }
    }
}
