import Foundation
import Shared
import Testing

/// Each tool on a small fixture whose answer was worked out by hand (the arithmetic is next to each expectation).
/// Every fixture observes 10 days, so the monthly factor is 30 / 10 = 3.
@Suite("Workload analysis tools")
struct AnalysisToolTests {
    /// 2025-03-01T00:00Z to 2025-03-11T00:00Z: 10 days.
    static let span = ObservedSpan(
        firstEvent: Date(timeIntervalSince1970: 1_740_787_200), lastEvent: Date(timeIntervalSince1970: 1_740_787_200 + 10 * 86_400)
    )

    @Test func spanScalesTheWindowToThirtyDays() {
        #expect(close(Self.span.days, 10))
        #expect(close(Self.span.monthlyFactor, 3))
        // Two hours of data count as one day, and an empty window too.
        let short = ObservedSpan(firstEvent: Date(timeIntervalSince1970: 0), lastEvent: Date(timeIntervalSince1970: 7_200))
        #expect(close(short.monthlyFactor, 30))
        #expect(close(ObservedSpan(firstEvent: nil, lastEvent: nil).days, 1))
    }

    @Test func costBreakdownSharesByEveryDimension() throws {
        let usage = [
            UsageGroup(model: "big", provider: "p1", feature: "chat", calls: 100, costUSD: 60),
            UsageGroup(model: "small", provider: "p1", feature: "classify", calls: 300, costUSD: 30),
            UsageGroup(model: "big", provider: "p2", feature: nil, calls: 50, costUSD: 10),
        ]
        let users = [UserSpend(userID: "u1", calls: 40, costUSD: 25), UserSpend(userID: "u2", calls: 9, costUSD: 15)]
        let daily = [DailySpend(day: "2025-03-02", calls: 200, costUSD: 40), DailySpend(day: "2025-03-01", calls: 250, costUSD: 60)]
        let result = WorkloadAnalysis.costBreakdown(usage: usage, users: users, daily: daily, span: Self.span)
        let figures = result.figures
        #expect(close(figures.totalCostUSD, 100))  // 60 + 30 + 10
        #expect(figures.calls == 450)  // 100 + 300 + 50
        #expect(close(figures.monthlyRunRateUSD, 300))  // 100 × 3
        // big = 60 + 10 = 70 of 100 over both providers; small = 30.
        try #require(figures.byModel.count == 2 && figures.byProvider.count == 2 && figures.byUser.count == 2 && figures.byDay.count == 2)
        #expect(figures.byModel.map(\.name) == ["big", "small"])
        #expect(figures.byModel.map(\.calls) == [150, 300])
        #expect(close(figures.byModel[0].share, 0.7) && close(figures.byModel[1].share, 0.3))
        #expect(figures.byProvider.map(\.name) == ["p1", "p2"])  // p1 = 60 + 30 = 90, p2 = 10
        #expect(close(figures.byProvider[0].costUSD, 90) && close(figures.byProvider[0].share, 0.9))
        #expect(figures.byFeature.map(\.name) == ["chat", "classify", nil])  // 60, 30, 10 (no feature)
        #expect(close(figures.byUser[0].share, 0.25) && close(figures.byUser[1].share, 0.15))  // 25 / 100, 15 / 100
        #expect(figures.byDay.map(\.name) == ["2025-03-01", "2025-03-02"])  // oldest first
        #expect(close(figures.byDay[0].share, 0.6))  // 60 / 100
        #expect(result.opportunities.isEmpty)
        #expect(result.summary.contains("$100.00") && result.summary.contains("\"chat\" (60%)"))

        let limited = WorkloadAnalysis.costBreakdown(
            usage: usage, users: users, daily: daily, span: Self.span, options: AnalysisOptions(breakdownLimit: 1))
        #expect(limited.figures.byFeature.map(\.name) == ["chat"])
        #expect(limited.figures.byDay.count == 2)  // days are never cut
    }

    @Test func latencyProfileFlagsTheSlowestInteractiveFeature() throws {
        let rows = [
            LatencyGroup(
                dimension: .model, model: "small", provider: "p1", calls: 500, latencyP50Ms: 200, latencyP95Ms: 300, latencyP99Ms: 400),
            LatencyGroup(
                dimension: .model, model: "big", provider: "p1", calls: 100, latencyP50Ms: 600, latencyP95Ms: 900, latencyP99Ms: 1500),
            LatencyGroup(
                dimension: .feature, feature: "search", calls: 50, interactiveCalls: 20, latencyP50Ms: 700, latencyP95Ms: 1700,
                latencyP99Ms: 2000, interactiveLatencyP95Ms: 1800
            ),
            LatencyGroup(
                dimension: .feature, feature: "chat", calls: 100, interactiveCalls: 80, latencyP50Ms: 900, latencyP95Ms: 2400,
                latencyP99Ms: 3000, ttftP95Ms: 700, interactiveLatencyP95Ms: 2500, interactiveTtftP95Ms: 650, outputTokensPerSecond: 42
            ),
            // The slowest feature overall, but not interactive: never "the slowest interactive feature".
            LatencyGroup(
                dimension: .feature, feature: "nightly-report", calls: 10, latencyP50Ms: 4000, latencyP95Ms: 5000, latencyP99Ms: 6000),
        ]
        let result = WorkloadAnalysis.latencyProfile(latency: rows)
        #expect(result.figures.byModel.map(\.model) == ["big", "small"])  // p95 900 > 300
        #expect(result.figures.byFeature.map(\.feature) == ["nightly-report", "chat", "search"])  // p95 5000 > 2400 > 1700
        #expect(result.figures.slowestInteractiveFeature?.feature == "chat")  // interactive p95 2500 > 1800
        let flag = try #require(result.opportunities.first)
        #expect(result.opportunities.count == 1)
        #expect(flag.kind == .slowInteractiveFeature && flag.scope == Opportunity.Scope(feature: "chat"))
        #expect(flag.monthlySavingsUSD == 0)
        #expect(flag.evidence["interactive_latency_p95_ms"] == .number(2500))
        #expect(flag.evidence["interactive_ttft_p95_ms"] == .number(650))

        // 2500 ms is under a 3000 ms threshold: still named in the figures, no longer an opportunity.
        let lenient = WorkloadAnalysis.latencyProfile(latency: rows, options: AnalysisOptions(slowInteractiveP95Ms: 3000))
        #expect(lenient.figures.slowestInteractiveFeature?.feature == "chat")
        #expect(lenient.opportunities.isEmpty)
    }

    @Test func duplicateCacheCountsAvoidableCallsAndDollars() throws {
        let rows = [
            DuplicateGroup(
                feature: "faq", model: "big", provider: "p1", calls: 200, costUSD: 40, duplicateCalls: 50, duplicateCostUSD: 10,
                duplicateLatencyTotalMs: 40_000
            ),
            DuplicateGroup(
                feature: "chat", model: "big", provider: "p1", calls: 1000, costUSD: 100, duplicateCalls: 2, duplicateCostUSD: 0.2),
        ]
        let result = WorkloadAnalysis.duplicateCache(duplicates: rows, span: Self.span)
        #expect(result.figures.slices == 2 && result.figures.calls == 1200 && result.figures.duplicateCalls == 52)
        #expect(close(result.figures.avoidableCostUSD, 10.2))  // 10 + 0.2
        #expect(close(result.figures.monthlySavingsUSD, 30.6))  // 10.2 × 3
        // "chat" saves 0.2 × 3 = $0.60 a month, under the $1 minimum: only "faq" is an opportunity.
        let faq = try #require(result.opportunities.first)
        #expect(result.opportunities.count == 1)
        #expect(faq.kind == .exactDuplicates && faq.scope == Opportunity.Scope(feature: "faq", model: "big", provider: "p1"))
        #expect(close(faq.monthlySavingsUSD, 30))  // 10 × 3
        #expect(close(faq.latencyGainMs ?? 0, 800))  // 40,000 ms / 50 repeats
        #expect(close(faq.scopeMonthlySpendUSD ?? 0, 120))  // 40 × 3
        #expect(close(faq.evidence["duplicate_share"]?.number ?? 0, 0.25))  // 50 / 200
    }

    @Test func promptCacheFitnessNetsTheWritePremium() throws {
        let catalog = try [
            offer("big", "p1", input: 10, output: 30, cached: 1, cacheWrite: 12.5, tier: 4),
            offer("big", "p2", input: 8, output: 30, tier: 4),  // no prompt caching
            offer("mid", "p1", input: 2, output: 6, cached: 0.5, tier: 2),  // caching without a write premium
        ]
        let rows = [
            PrefixReuseGroup(
                model: "big", provider: "p1", feature: "agent", calls: 110, hitCalls: 100, writeCalls: 10, hitPrefixTokens: 2_000_000,
                writePrefixTokens: 200_000, cachedInputTokens: 500_000
            ),
            PrefixReuseGroup(
                model: "big", provider: "p2", feature: "agent", calls: 30, hitCalls: 10, writeCalls: 20, hitPrefixTokens: 100_000,
                writePrefixTokens: 200_000
            ),
            PrefixReuseGroup(
                model: "mid", provider: "p1", feature: "rag", calls: 20, hitCalls: 5, writeCalls: 15, hitPrefixTokens: 1_000_000,
                writePrefixTokens: 3_000_000
            ),
            PrefixReuseGroup(
                model: "big", provider: "p1", feature: "oneoff", calls: 10, hitCalls: 1, writeCalls: 9, hitPrefixTokens: 100_000,
                writePrefixTokens: 900_000
            ),
        ]
        let result = WorkloadAnalysis.promptCacheFitness(prefixes: rows, catalog: catalog, span: Self.span)
        let figures = result.figures
        #expect(figures.prefixCalls == 170 && figures.hitCalls == 116)  // 110 + 30 + 20 + 10; 100 + 10 + 5 + 1
        #expect(figures.unpriced == ["big (p2)"])
        // agent: (2,000,000 − 500,000 already cached) × (10 − 1) / 1e6 = 13.5, minus 200,000 × (12.5 − 10) / 1e6 = 0.5
        //        → 13.0 a window, × 3 = 39.
        // rag:   1,000,000 × (2 − 0.5) / 1e6 = 1.5, no write premium → × 3 = 4.5.
        // oneoff: 100,000 × 9 / 1e6 = 0.9 − 900,000 × 2.5 / 1e6 = 2.25 → −1.35, × 3 = −4.05: writes cost more than reads save.
        try #require(figures.estimates.map(\.scope.feature) == ["agent", "rag", "oneoff"])
        #expect(close(figures.estimates[0].savingsUSD, 13) && close(figures.estimates[0].monthlySavingsUSD, 39))
        #expect(figures.estimates[0].uncachedHitTokens == 1_500_000)
        #expect(close(figures.estimates[1].monthlySavingsUSD, 4.5))
        #expect(close(figures.estimates[2].monthlySavingsUSD, -4.05))
        #expect(close(figures.monthlySavingsUSD, 43.5))  // 39 + 4.5; the negative estimate is not added
        #expect(result.opportunities.map(\.scope.feature) == ["agent", "rag"])
        #expect(result.opportunities.map(\.confidence) == [.high, .medium])  // hits ≥ writes (100 ≥ 10); 5 < 15
    }

    @Test func batchEligibilityTakesTheDiscountOnNonInteractiveSpend() throws {
        let catalog = try [
            offer("big", "p1", input: 10, output: 30, batch: 0.5, tier: 4), offer("small", "p2", input: 1, output: 2, tier: 1),
        ]
        let usage = [
            UsageGroup(
                model: "big", provider: "p1", feature: "report", calls: 50, nonInteractiveCalls: 40, nonInteractiveCostUSD: 20,
                costUSD: 50),
            UsageGroup(
                model: "small", provider: "p2", feature: "etl", calls: 80, nonInteractiveCalls: 80, nonInteractiveCostUSD: 8, costUSD: 8),
            UsageGroup(model: "big", provider: "p1", feature: "chat", calls: 70, interactiveCalls: 70, costUSD: 70),
        ]
        let result = WorkloadAnalysis.batchEligibility(usage: usage, catalog: catalog, span: Self.span)
        #expect(close(result.figures.nonInteractiveCostUSD, 28))  // 20 + 8
        #expect(close(result.figures.eligibleCostUSD, 20))  // small (p2) has no batch API
        #expect(close(result.figures.monthlySavingsUSD, 30))  // 20 × 0.5 × 3
        let report = try #require(result.opportunities.first)
        #expect(result.opportunities.count == 1)
        #expect(report.kind == .batchAPI && report.scope.feature == "report")
        #expect(close(report.monthlySavingsUSD, 30))
    }

    @Test func requiredTierFollowsTheFeatureNameRules() {
        #expect(WorkloadAnalysis.requiredTier(feature: "Ticket-Classify", currentTier: 4) == 1)
        #expect(WorkloadAnalysis.requiredTier(feature: "summarize-thread", currentTier: 4) == 2)
        #expect(WorkloadAnalysis.requiredTier(feature: "chat", currentTier: 1) == 1)  // never above what already works
        #expect(WorkloadAnalysis.requiredTier(feature: "legal-review", currentTier: 3) == 3)  // no rule: keep the tier
        #expect(WorkloadAnalysis.requiredTier(feature: "legal-review", currentTier: nil) == nil)
        #expect(WorkloadAnalysis.requiredTier(feature: nil, currentTier: 2) == 2)
    }

    @Test func rightSizingPicksTheCheapestAdequateModelOnTheSliceMix() throws {
        let catalog = try [
            offer("big", "p1", input: 10, output: 30, cached: 1, context: 128_000, tier: 4),
            offer("mid", "p1", input: 2, output: 6, cached: 0.5, context: 32_000, tier: 2),
            offer("tiny", "p2", input: 0.5, output: 1.5, context: 8_000, tier: 1),
        ]
        let usage = [
            UsageGroup(
                model: "big", provider: "p1", feature: "ticket-classify", calls: 1000, inputTokens: 1_000_000, outputTokens: 100_000,
                costUSD: 13, maxInputTokens: 6_000
            ),
            UsageGroup(
                model: "big", provider: "p1", feature: "summarize", calls: 500, inputTokens: 2_000_000, cachedInputTokens: 1_000_000,
                outputTokens: 200_000, costUSD: 17, maxInputTokens: 20_000
            ),
            UsageGroup(
                model: "big", provider: "p1", feature: "legal-review", calls: 100, inputTokens: 1_000_000, outputTokens: 100_000,
                costUSD: 13,
                maxInputTokens: 50_000
            ),
            // Another slice of ticket-classify with a 10,000-token input: tiny's 8,000-token window no longer fits the feature.
            UsageGroup(
                model: "mid", provider: "p1", feature: "ticket-classify", calls: 50, inputTokens: 100_000, outputTokens: 10_000,
                costUSD: 0.26,
                maxInputTokens: 10_000
            ),
        ]
        let result = WorkloadAnalysis.modelRightSizing(usage: usage, catalog: catalog, span: Self.span)
        // summarize (tier 2 needed): big = 1M uncached × 10 + 1M cached × 1 + 200k × 30 = 10 + 1 + 6 = $17;
        //   mid = 1M × 2 + 1M × 0.5 + 200k × 6 = 2 + 0.5 + 1.2 = $3.70; tiny is tier 1. Savings (17 − 3.7) × 3 = 39.9.
        // ticket-classify on big (tier 1 needed, max input 10,000): big = 1M × 10 + 100k × 30 = $13; tiny does not fit;
        //   mid = 1M × 2 + 100k × 6 = $2.60. Savings (13 − 2.6) × 3 = 31.2.
        // legal-review keeps tier 4: only big qualifies. ticket-classify on mid ($0.26): big costs more, tiny does not fit.
        let switches = result.figures.switches
        try #require(switches.map(\.scope.feature) == ["summarize", "ticket-classify"])
        #expect(switches.map(\.toModel) == ["mid", "mid"])
        #expect(close(switches[0].currentCostUSD, 17) && close(switches[0].candidateCostUSD, 3.7))
        #expect(close(switches[0].monthlySavingsUSD, 39.9))
        #expect(close(switches[1].currentCostUSD, 13) && close(switches[1].candidateCostUSD, 2.6))
        #expect(close(switches[1].monthlySavingsUSD, 31.2))
        #expect(close(result.figures.monthlySavingsUSD, 71.1))  // 39.9 + 31.2
        try #require(result.opportunities.map(\.kind) == [.cheaperModel, .cheaperModel])
        #expect(result.opportunities.map(\.confidence) == [.medium, .medium])  // tier 4 → 2 is a downgrade
        #expect(result.opportunities[1].evidence["max_input_tokens"] == .number(10_000))
        #expect(result.opportunities[1].evidence["required_tier"] == .number(1))
    }

    @Test func providerArbitrageFindsTheSameModelCheaper() throws {
        let catalog = try [
            offer("llama", "p1", input: 1, output: 2, tier: 3, tokensPerSecond: 50),
            offer("llama", "p2", input: 0.5, output: 1, tier: 3, tokensPerSecond: 40),  // cheaper, slower
            offer("llama", "p3", input: 1, output: 2, tier: 3, tokensPerSecond: 200),  // same price, faster
        ]
        let usage = [
            UsageGroup(
                model: "llama", provider: "p1", feature: "chat", calls: 1000, inputTokens: 10_000_000, outputTokens: 800_000,
                reasoningTokens: 200_000, costUSD: 12
            ),
            UsageGroup(
                model: "llama", provider: "p2", feature: "search", calls: 100, inputTokens: 1_000_000, outputTokens: 100_000, costUSD: 0.6),
            UsageGroup(model: "private-model", provider: "p9", feature: "chat", calls: 10, costUSD: 5),
        ]
        let result = WorkloadAnalysis.providerArbitrage(usage: usage, catalog: catalog, span: Self.span)
        // chat on p1: 10M × 1 + (800k + 200k reasoning) × 2 = $12; p2 = 10M × 0.5 + 1M × 1 = $6; p3 = $12 (not cheaper).
        //   Savings (12 − 6) × 3 = 18. 1,000 output tokens a call:
        //   1000 × (1000 / 50 − 1000 / 40) = 1000 × (20 − 25) = −5,000 ms (cheaper but slower).
        // search on p2 is already the cheapest; p1 and p3 ($1.20) are faster but dearer. private-model is not in the catalog.
        #expect(result.figures.switches.count == 1)
        #expect(result.figures.unassessedSlices == 1)
        let chat = try #require(result.opportunities.first)
        #expect(result.opportunities.count == 1)
        #expect(chat.kind == .cheaperProvider && chat.scope == Opportunity.Scope(feature: "chat", model: "llama", provider: "p1"))
        #expect(chat.evidence["candidate_provider"] == "p2")
        #expect(close(chat.monthlySavingsUSD, 18))
        #expect(close(chat.latencyGainMs ?? 0, -5_000))
    }

    @Test func providerArbitrageProposesAFasterProviderAtTheSamePrice() throws {
        let catalog = try [
            offer("qwen", "q1", input: 1, output: 1, tier: 3, tokensPerSecond: 100),
            offer("qwen", "q2", input: 1, output: 1, tier: 3, tokensPerSecond: 250),
        ]
        let usage = [
            UsageGroup(
                model: "qwen", provider: "q1", feature: "code", calls: 200, inputTokens: 2_000_000, outputTokens: 400_000, costUSD: 2.4)
        ]
        let result = WorkloadAnalysis.providerArbitrage(usage: usage, catalog: catalog, span: Self.span)
        // Both cost 2M × 1 + 400k × 1 = $2.40. 2,000 output tokens a call: 2000 × (1000 / 100 − 1000 / 250) = 2000 × 6 = 12,000 ms.
        let code = try #require(result.opportunities.first)
        #expect(code.kind == .fasterProvider && code.evidence["candidate_provider"] == "q2")
        #expect(code.monthlySavingsUSD == 0)
        #expect(close(code.latencyGainMs ?? 0, 12_000))
    }

    @Test func failureWasteTotalsFailedCallsBySliceModelAndFeature() throws {
        let usage = [
            UsageGroup(
                model: "big", provider: "p1", feature: "chat", calls: 100, errorCalls: 8, timeoutCalls: 2, costUSD: 50, failedCostUSD: 5,
                failedInputTokens: 50_000, failedOutputTokens: 1_000
            ),
            UsageGroup(
                model: "small", provider: "p1", feature: "tag", calls: 300, timeoutCalls: 3, costUSD: 10, failedCostUSD: 0.2,
                failedInputTokens: 9_000),
            UsageGroup(model: "small", provider: "p1", feature: "chat", calls: 100, costUSD: 5),
        ]
        let result = WorkloadAnalysis.failureWaste(usage: usage, span: Self.span)
        let figures = result.figures
        #expect(figures.failedCalls == 13 && figures.errorCalls == 8 && figures.timeoutCalls == 5)  // 8 + 2 + 3
        #expect(figures.failedInputTokens == 59_000 && figures.failedOutputTokens == 1_000)
        #expect(close(figures.failedCostUSD, 5.2))  // 5 + 0.2
        #expect(close(figures.failureRate, 0.026))  // 13 / 500
        #expect(close(figures.monthlyWasteUSD, 15.6))  // 5.2 × 3
        try #require(figures.byModel.map(\.name) == ["big", "small"])
        #expect(close(figures.byModel[0].share, 5 / 5.2))
        #expect(figures.byFeature.map(\.name) == ["chat", "tag"])
        // tag wastes 0.2 × 3 = $0.60 a month, under the $1 minimum.
        let chat = try #require(result.opportunities.first)
        #expect(result.opportunities.count == 1)
        #expect(close(chat.monthlySavingsUSD, 15))  // 5 × 3
        #expect(close(chat.evidence["failure_rate"]?.number ?? 0, 0.1))  // 10 / 100
    }

    @Test func outputHeadroomFlagsOversizedMaxTokensByCalls() throws {
        let usage = [
            UsageGroup(
                model: "big", provider: "p1", feature: "summarize", calls: 500, costUSD: 1, p95OutputTokens: 900, avgMaxTokens: 4_000),
            UsageGroup(model: "big", provider: "p1", feature: "chat", calls: 2_000, costUSD: 1, p95OutputTokens: 300, avgMaxTokens: 1_000),
            UsageGroup(
                model: "small", provider: "p1", feature: "extract", calls: 800, costUSD: 1, p95OutputTokens: 200, avgMaxTokens: 2_048),
            UsageGroup(model: "small", provider: "p1", feature: "noop", calls: 900, costUSD: 1, p95OutputTokens: 50),
        ]
        let result = WorkloadAnalysis.outputHeadroom(usage: usage)
        // summarize: 4000 ≥ 4 × 900 = 3600, flagged. chat: 1000 < 4 × 300 = 1200. extract: 2048 ≥ 800, flagged.
        // noop sets no max_tokens. Most calls first: extract (800), then summarize (500).
        let findings = result.figures.findings
        try #require(findings.map(\.scope.feature) == ["extract", "summarize"])
        #expect(close(findings[0].ratio ?? 0, 10.24))  // 2048 / 200
        #expect(findings[0].suggestedMaxTokens == 400)  // 2 × 200
        #expect(close(findings[1].ratio ?? 0, 4_000.0 / 900))
        #expect(findings[1].suggestedMaxTokens == 1_800)
        #expect(result.opportunities.map(\.kind) == [.outputHeadroom, .outputHeadroom])
        #expect(result.opportunities.allSatisfy { $0.monthlySavingsUSD == 0 })
    }

    @Test func spendTrendFindsAnomaliesAndProjectsTheMonth() throws {
        // 2025-03-09 has no events: it counts as $0.
        let costs: [(String, Double)] = [
            ("2025-03-01", 10), ("2025-03-02", 10), ("2025-03-03", 50), ("2025-03-04", 10), ("2025-03-05", 30),
            ("2025-03-06", 10), ("2025-03-07", 10), ("2025-03-08", 12), ("2025-03-10", 10),
        ]
        let daily = costs.map { DailySpend(day: $0.0, calls: 1, costUSD: $0.1) }
        let result = WorkloadAnalysis.spendTrend(daily: daily, options: AnalysisOptions(monthlyBudgetUSD: 400))
        let trend = result.figures
        try #require(trend.days.count == 10)
        #expect(trend.days[8] == DailySpend(day: "2025-03-09", calls: 0, costUSD: 0))
        // 03-03 ($50) has only 2 prior days. 03-05: prior [10, 10, 50, 10], median (10 + 10) / 2 = 10, and 30 > 2 × 10.
        // Every other day is at most 2 × its trailing median of 10 (03-08: 12; 03-09: 0; 03-10: median of
        // [50, 10, 30, 10, 10, 12, 0] = 10).
        #expect(trend.anomalies == [SpendAnomaly(day: "2025-03-05", costUSD: 30, trailingMedianUSD: 10, priorDays: 4)])
        #expect(trend.month == "2025-03" && trend.daysInMonth == 31 && trend.observedDaysInMonth == 10)
        #expect(close(trend.monthToDateUSD, 152))  // 10 + 10 + 50 + 10 + 30 + 10 + 10 + 12 + 0 + 10
        #expect(close(trend.averageDailyUSD, 15.2))  // 152 / 10
        #expect(close(trend.projectedMonthEndUSD, 471.2))  // 15.2 × 31
        #expect(close(trend.budgetVarianceUSD ?? 0, 71.2))  // 471.2 − 400: over
        try #require(result.opportunities.map(\.kind) == [.spendAnomaly, .budgetOverrun])
        #expect(result.opportunities[1].confidence == .medium)  // 10 observed days: 7...13
        #expect(close(result.opportunities[1].evidence["over_by_usd"]?.number ?? 0, 71.2))
    }

    @Test func spendTrendProjectsOnlyTheLastMonthAcrossALeapDay() {
        let daily = [
            DailySpend(day: "2024-02-28", calls: 1, costUSD: 100), DailySpend(day: "2024-03-01", calls: 1, costUSD: 20),
            DailySpend(day: "2024-03-02", calls: 1, costUSD: 40),
        ]
        let result = WorkloadAnalysis.spendTrend(daily: daily, options: AnalysisOptions(monthlyBudgetUSD: 1_000))
        let trend = result.figures
        #expect(trend.days.map(\.day) == ["2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"])
        // 03-02: prior [100, 0, 20], median 20; 40 is not more than 2 × 20.
        #expect(trend.anomalies.isEmpty)
        #expect(trend.month == "2024-03" && trend.observedDaysInMonth == 2)
        #expect(close(trend.projectedMonthEndUSD, 930))  // (20 + 40) / 2 = 30 a day × 31
        #expect(close(trend.budgetVarianceUSD ?? 0, -70))  // 930 − 1000: under, so no opportunity
        #expect(result.opportunities.isEmpty)
    }

    @Test func rankingOrdersBySavingsThenLatencyAndResolvesOverlaps() throws {
        let slice = Opportunity.Scope(feature: "faq", model: "big", provider: "p1")
        let other = Opportunity.Scope(feature: "chat", model: "llama", provider: "p1")
        func make(
            _ tool: AnalysisTool, _ kind: Opportunity.Kind, _ savings: Double, latency: Double? = nil, scope: Opportunity.Scope,
            spend: Double? = nil
        )
            -> Opportunity
        {
            Opportunity(
                tool: tool, kind: kind, title: kind.rawValue, monthlySavingsUSD: savings, latencyGainMs: latency, confidence: .high,
                scope: scope,
                scopeMonthlySpendUSD: spend
            )
        }
        let input = [
            make(.outputHeadroom, .outputHeadroom, 0, scope: slice),
            make(.failureWaste, .failureWaste, 12, scope: slice, spend: 160),
            make(.batchEligibility, .batchAPI, 20, scope: slice, spend: 160),
            make(.promptCacheFitness, .promptCaching, 8, scope: slice),
            make(.providerArbitrage, .cheaperProvider, 36, scope: slice, spend: 160),
            make(.modelRightSizing, .cheaperModel, 40, scope: slice, spend: 160),
            make(.providerArbitrage, .cheaperProvider, 30, latency: 500, scope: other, spend: 100),
            make(.duplicateCache, .exactDuplicates, 30, latency: 800, scope: slice, spend: 120),
            make(.latencyProfile, .slowInteractiveFeature, 0, scope: Opportunity.Scope(feature: "chat")),
        ]
        let ranked = WorkloadAnalysis.rank(input)
        // Duplicates remove d = 30 / 120 = 25% of the faq slice, so its switches keep 75%: right-sizing 40 → 30,
        // arbitrage 36 → 27. Right-sizing wins the slice (30 > 27); arbitrage is superseded.
        // Right-sizing removes s = 40 / 160 = 25% of the slice's spend (standalone), so batch and prompt caching keep
        // (1 − 0.25) × (1 − 0.25) = 0.5625: batch 20 → 11.25, caching 8 → 4.5. Failure waste stays 12.
        // Three at $30: duplicates (800 ms) before the other slice's arbitrage (500 ms) before right-sizing (none).
        // The two $0 findings keep their input order.
        try #require(
            ranked.opportunities.map(\.kind) == [
                .exactDuplicates, .cheaperProvider, .cheaperModel, .failureWaste, .batchAPI, .promptCaching, .outputHeadroom,
                .slowInteractiveFeature,
            ])
        #expect(ranked.opportunities[1].scope == other)
        #expect(ranked.opportunities.map(\.monthlySavingsUSD) == [30, 30, 30, 12, 11.25, 4.5, 0, 0])
        #expect(ranked.opportunities[2].evidence["standalone_monthly_savings_usd"] == .number(40))
        #expect(ranked.opportunities[4].evidence["standalone_monthly_savings_usd"] == .number(20))
        try #require(ranked.superseded.map(\.kind) == [.cheaperProvider])
        #expect(ranked.superseded[0].monthlySavingsUSD == 27)
        #expect(close(ranked.totalMonthlySavingsUSD, 117.75))  // 30 + 30 + 30 + 12 + 11.25 + 4.5
    }

    @Test func runDispatchesEveryToolByName() throws {
        let usage = [
            UsageGroup(
                model: "big", provider: "p1", feature: "chat", calls: 100, errorCalls: 10, costUSD: 50, failedCostUSD: 5,
                p95OutputTokens: 100,
                avgMaxTokens: 1_000)
        ]
        let data = WorkloadAggregates(span: Self.span, usage: usage, daily: [DailySpend(day: "2025-03-01", calls: 100, costUSD: 50)])
        for tool in AnalysisTool.allCases {
            let outcome = WorkloadAnalysis.run(tool, on: data, catalog: [])
            #expect(outcome.tool == tool)
            #expect(outcome.figuresJSON.hasPrefix("{"))
        }
        let failures = WorkloadAnalysis.run(.failureWaste, on: data, catalog: [])
        #expect(failures.opportunities == WorkloadAnalysis.failureWaste(usage: usage, span: Self.span).opportunities)
        #expect(failures.figuresJSON.contains("\"failed_calls\":10"))
        #expect(WorkloadAnalysis.run(.outputHeadroom, on: data, catalog: []).opportunities.count == 1)  // 1000 ≥ 4 × 100
    }

    @Test func aggregatesRoundTripThroughTheirSnakeCaseNames() throws {
        let group = UsageGroup(model: "m", provider: "p", feature: nil, calls: 3, inputTokens: 10, costUSD: 0.5, p95OutputTokens: 7)
        let json = String(decoding: try JSONEncoder().encode(group), as: UTF8.self)
        #expect(json.contains("\"input_tokens\":10") && json.contains("\"p95_output_tokens\":7"))
        #expect(try JSONDecoder().decode(UsageGroup.self, from: Data(json.utf8)) == group)
        // Every column a row decodes from is named in its query.
        #expect(UsageGroup.CodingKeys.allCases.allSatisfy { UsageGroup.sql.contains($0.stringValue) })
        #expect(LatencyGroup.CodingKeys.allCases.allSatisfy { LatencyGroup.sql.contains($0.stringValue) })
        #expect(DuplicateGroup.CodingKeys.allCases.allSatisfy { DuplicateGroup.sql.contains($0.stringValue) })
        #expect(PrefixReuseGroup.CodingKeys.allCases.allSatisfy { PrefixReuseGroup.sql.contains($0.stringValue) })
        #expect(DailySpend.CodingKeys.allCases.allSatisfy { DailySpend.sql.contains($0.stringValue) })
        #expect(UserSpend.CodingKeys.allCases.allSatisfy { UserSpend.sql.contains($0.stringValue) })
        #expect(ObservedSpan.CodingKeys.allCases.allSatisfy { ObservedSpan.sql.contains($0.stringValue) })
    }
}

/// Doubles equal within 1e-9 (relative for large values).
private func close(_ lhs: Double, _ rhs: Double) -> Bool {
    abs(lhs - rhs) <= 1e-9 * max(1, abs(lhs), abs(rhs))
}

/// A catalog offer; `SupplyModel` is built through its public `Codable` conformance.
private func offer(
    _ model: String, _ provider: String, input: Double, output: Double, cached: Double? = nil, cacheWrite: Double? = nil,
    context: Int = 128_000, batch: Double? = nil, tier: Int, tokensPerSecond: Double? = nil
) throws -> SupplyModel {
    var fields: [String: Any] = [
        "model": model, "provider": provider, "input_per_mtok": input, "output_per_mtok": output, "context_window": context,
        "quality_tier": tier, "price_date": "2025-08-15", "source": "test",
    ]
    fields["cached_input_per_mtok"] = cached
    fields["cache_write_per_mtok"] = cacheWrite
    fields["batch_discount"] = batch
    fields["output_tokens_per_second"] = tokensPerSecond
    return try JSONDecoder().decode(SupplyModel.self, from: JSONSerialization.data(withJSONObject: fields))
}
