import Foundation
import Shared
import Testing

/// 2025-03-15T12:00:00Z, a Saturday: the `now` of every triage test.
private let now = Date(timeIntervalSince1970: 1_742_040_000)

@Suite("Triage: goal, entities and tools from the user's message")
struct TriageTests {
    static let catalog: [SupplyModel] =
        (try? [
            "gpt-4o", "gpt-4o-mini", "gpt-4.1-nano", "claude-sonnet-4", "claude-sonnet-4-5", "claude-3-7-sonnet", "claude-3-5-haiku",
            "claude-haiku-4-5", "llama-3.1-70b-instruct", "llama-3.3-70b-instruct", "llama-3.1-8b-instruct", "o3",
        ].map { try catalogOffer($0, "p", input: 1, output: 2, tier: 2) } + [
            catalogOffer("llama-3.1-70b-instruct", "q", input: 1, output: 2, tier: 3)
        ])
        ?? []
    static let features = ["support-chat", "chat", "ticket_classify", "classify", "summarize"]

    static func triage(_ message: String) -> TriageResult {
        WorkloadAnalysis.triage(message, catalog: catalog, features: features, now: now)
    }

    @Test func theThreeExampleMessagesGetDifferentGoalsAndToolSets() throws {
        let latency = Self.triage("why is my p99 latency so high?")
        #expect(latency.goal == .latency)
        #expect(latency.matchedKeywords == ["latenc", "p99"])
        #expect(latency.tools == [.costBreakdown, .latencyProfile, .duplicateCache, .providerArbitrage, .outputHeadroom])
        #expect(latency.entities.budgetUSD == nil)

        let budget = Self.triage("will we stay under a $5,000 budget this month?")
        #expect(budget.goal == .budget)
        #expect(budget.matchedKeywords == ["budget", "stay under", "$5000"])
        #expect(budget.entities.budgetUSD == 5000)
        #expect(budget.entities.timeRange == TimeRange(from: try day("2025-03-01"), to: now, label: "this month (2025-03)"))
        #expect(budget.tools.contains(.spendTrend) && !budget.tools.contains(.latencyProfile))

        let cost = Self.triage("Optimize my AI workload costs")
        #expect(cost.goal == .cost)
        #expect(cost.matchedKeywords == ["cost"])
        #expect(
            cost.tools == [
                .costBreakdown, .duplicateCache, .promptCacheFitness, .batchEligibility, .modelRightSizing, .providerArbitrage,
                .failureWaste,
            ])
        #expect(budget.tools == cost.tools + [.spendTrend])  // budget = the cost tools + the trend
        #expect(Set([latency.tools, budget.tools, cost.tools].map { Set($0) }).count == 3)
    }

    @Test func everyGoalHasItsOwnToolSetWithTheCostBreakdown() {
        let sets = Goal.allCases.map { Set($0.tools) }
        #expect(Set(sets).count == Goal.allCases.count)
        #expect(sets.allSatisfy { $0.contains(.costBreakdown) })
        #expect(Goal.general.tools == AnalysisTool.allCases)
        #expect(Goal.quality.tools == [.costBreakdown, .latencyProfile, .failureWaste, .outputHeadroom])
        #expect(Goal.throughput.tools == [.costBreakdown, .latencyProfile, .batchEligibility, .outputHeadroom])
    }

    static let goals: [(String, Goal)] = [
        ("reduce latency and cost", Goal.latency),  // 1 to 1: latency comes before cost
        ("save money on timeouts", Goal.cost),  // cost 2 (sav, money) beats quality 1 (timeout)
        ("cheaper prices would save us, also p99", Goal.cost),  // cost 3 beats latency 1
        ("we hit 429 errors all day", Goal.throughput),  // 1 to 1: throughput before quality
        ("what is the month-end forecast for our spend", Goal.budget),  // budget 2 beats cost 1
        ("Optimize my AI workload", Goal.general),
        ("breakfast is served", Goal.general),  // "fast" matches whole words only
    ]

    @Test(arguments: goals)
    func theHighestScoreWinsAndTiesGoByPriority(message: String, goal: Goal) {
        let result = Self.triage(message)
        #expect(result.goal == goal, "\(message)")
        #expect(result.tools == result.goal.tools)
        #expect(result.goal != .general || result.matchedKeywords.isEmpty)
    }

    static let amounts: [(String, Double)] = [
        ("stay under $5,000", 5000), ("keep it below $5k please", 5000), ("we can spend 5000 dollars", 5000),
        ("a budget of 12000", 12000), ("budget is around 7,500.50", 7500.5), ("$1.5M a year", 1_500_000), ("a 12k budget", 12000),
        ("5,000 USD", 5000), ("USD 250", 250), ("4 million dollars", 4_000_000), ("spend 300$ max", 300),
    ]

    @Test(arguments: amounts)
    func budgetAmountsInSeveralForms(message: String, amount: Double) {
        #expect(Self.triage(message).entities.budgetUSD == amount, "\(message)")
    }

    @Test(arguments: ["p99 of 300 ms over the last 7 days", "move gpt-4o traffic", "budget for the last 30 days", "we have 5,000 users"])
    func numbersThatAreNotMoney(message: String) {
        #expect(Self.triage(message).entities.budgetUSD == nil, "\(message)")
    }

    /// Message, days before `now`, label.
    static let rolling: [(String, Double, String)] = [
        ("costs over the last 7 days", 7, "last 7 days"), ("latency in the past two weeks", 14, "last 2 weeks"),
        ("errors in the last 24h", 1, "last 24 hours"), ("spend of the past week", 7, "last week"), ("anything", 30, "last 30 days"),
    ]

    @Test(arguments: rolling)
    func rollingTimeRangesEndNow(message: String, days: Double, label: String) {
        let range = Self.triage(message).entities.timeRange
        #expect(range.from == now.addingTimeInterval(-days * 86_400) && range.to == now, "\(message)")
        #expect(range.label == label)
        #expect(range.isDefault == (message == "anything"))
    }

    @Test func calendarTimeRangesAreUTCDays() throws {
        let cases: [(String, Date, Date, String)] = [
            ("cost last month", try day("2025-02-01"), try day("2025-03-01"), "last month (2025-02)"),
            ("what happened yesterday", try day("2025-03-14"), try day("2025-03-15"), "yesterday (2025-03-14)"),
            ("spend today", try day("2025-03-15"), now, "today (2025-03-15)"),
            ("this month so far", try day("2025-03-01"), now, "this month (2025-03)"),
            ("this week", try day("2025-03-10"), now, "this week (from 2025-03-10)"),  // the Monday before Saturday the 15th
            ("over the last 3 months", try Date("2024-12-15T12:00:00Z", strategy: .iso8601), now, "last 3 months"),
            ("yesterday, not last month", try day("2025-03-14"), try day("2025-03-15"), "yesterday (2025-03-14)"),  // first one wins
        ]
        for (message, from, to, label) in cases {
            #expect(Self.triage(message).entities.timeRange == TimeRange(from: from, to: to, label: label), "\(message)")
        }
    }

    @Test func modelsByNameAndByLooseForms() {
        let result = Self.triage("Is GPT 4o or sonnet slower than llama 70b? And gpt-4o-mini, haiku 4.5, o3?")
        #expect(
            result.entities.models == [
                "gpt-4o", "claude-sonnet-4", "claude-sonnet-4-5", "claude-3-7-sonnet", "llama-3.1-70b-instruct", "llama-3.3-70b-instruct",
                "gpt-4o-mini", "claude-haiku-4-5", "o3",
            ])
        #expect(Self.triage("claude 3.5 haiku vs gpt4o").entities.models == ["claude-3-5-haiku", "gpt-4o"])
        #expect(Self.triage("any haiku").entities.models == ["claude-3-5-haiku", "claude-haiku-4-5"])  // catalog order
        #expect(Self.triage("llama 3.1 8b").entities.models == ["llama-3.1-8b-instruct"])
        #expect(Self.triage("make it cheaper").entities.models.isEmpty)
    }

    @Test func featuresByTheTenantsNamesLongestFirst() {
        let result = Self.triage("Why is Support-Chat slow, and ticket_classify? summarize is fine")
        #expect(result.entities.features == ["support-chat", "ticket_classify", "summarize"])  // not also "chat" or "classify"
        #expect(Self.triage("the chat feature").entities.features == ["chat"])
        #expect(Self.triage("summarization").entities.features.isEmpty)
    }

    @Test func resultRoundTripsWithAPlainDecoderAndRFC3339Dates() throws {
        let result = Self.triage("will we stay under a $5,000 budget this month? sonnet on support-chat")
        let json = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        #expect(json.contains(#""from":"2025-03-01T00:00:00.000Z""#))
        #expect(json.contains(#""budget_usd":5000"#) && json.contains(#""matched_keywords""#))
        #expect(try JSONDecoder().decode(TriageResult.self, from: Data(json.utf8)) == result)
    }
}

@Suite("Action plan from ranked opportunities")
struct ActionPlanTests {
    /// Six changes and three $0 findings; no scope spends are given, so the ranking scales nothing.
    static let ranked = WorkloadAnalysis.rank([
        Opportunity(
            tool: .outputHeadroom, kind: .outputHeadroom, title: "Lower max_tokens", monthlySavingsUSD: 0, confidence: .medium,
            evidence: ["avg_max_tokens": 4096, "p95_output_tokens": 150, "suggested_max_tokens": 300],
            scope: .init(feature: "classify", model: "gpt-4o", provider: "openai")),
        Opportunity(
            tool: .failureWaste, kind: .failureWaste, title: "Cut failed calls", monthlySavingsUSD: 12.344, confidence: .medium,
            evidence: ["error_calls": 90, "timeout_calls": 30, "failure_rate": 0.04],
            scope: .init(feature: "classify", model: "gpt-4o", provider: "openai")),
        Opportunity(
            tool: .modelRightSizing, kind: .cheaperModel, title: "Move classify", monthlySavingsUSD: 400, confidence: .medium,
            evidence: ["current_tier": 4, "candidate_tier": 1, "candidate_model": "gpt-4.1-nano", "candidate_provider": "openai"],
            scope: .init(feature: "classify", model: "gpt-4o", provider: "openai")),
        Opportunity(
            tool: .spendTrend, kind: .spendAnomaly, title: "Investigate 2025-03-06", monthlySavingsUSD: 0, confidence: .medium,
            evidence: ["day": "2025-03-06", "cost_usd": 70, "trailing_median_usd": 22.8]),
        Opportunity(
            tool: .providerArbitrage, kind: .fasterProvider, title: "Buy llama faster", monthlySavingsUSD: 0, latencyGainMs: 120.4,
            confidence: .high, evidence: ["candidate_provider": "groq"],
            scope: .init(feature: "chat", model: "llama-3.1-70b-instruct", provider: "together")),
        Opportunity(
            tool: .batchEligibility, kind: .batchAPI, title: "Batch summarize", monthlySavingsUSD: 60.123, confidence: .high,
            evidence: ["non_interactive_calls": 3000, "batch_discount": 0.5],
            scope: .init(feature: "summarize", model: "gpt-4o-mini", provider: "openai")),
        Opportunity(
            tool: .duplicateCache, kind: .exactDuplicates, title: "Cache summarize", monthlySavingsUSD: 150, latencyGainMs: 850.4,
            confidence: .medium, evidence: ["duplicate_calls": 3000, "calls": 10000, "duplicate_share": 0.3, "window": "24 hours"],
            scope: .init(feature: "summarize", model: "gpt-4o-mini", provider: "openai")),
        Opportunity(
            tool: .spendTrend, kind: .budgetOverrun, title: "Over budget", monthlySavingsUSD: 0, confidence: .high,
            evidence: ["month": "2025-03", "projected_month_end_usd": 6200, "budget_usd": 5000, "over_by_usd": 1200]),
        Opportunity(
            tool: .promptCacheFitness, kind: .promptCaching, title: "Cache the extract prefix", monthlySavingsUSD: 45.5, confidence: .high,
            evidence: ["hit_calls": 900, "write_calls": 100, "write_prefix_tokens": 230_400],
            scope: .init(feature: "extract", model: "claude-sonnet-4", provider: "anthropic")),
    ])

    @Test func topChangesInRankOrderWithRoundedTotals() {
        let plan = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3)
        #expect(plan.actions.map(\.kind) == [.cheaperModel, .exactDuplicates, .batchAPI, .promptCaching, .failureWaste])
        #expect(plan.actions.map(\.rank) == [1, 2, 3, 4, 5])
        #expect(plan.actions.map(\.monthlySavingsUSD) == [400, 150, 60.12, 45.5, 12.34])
        #expect(plan.totalMonthlySavingsUSD == 667.96)  // 400 + 150 + 60.12 + 45.50 + 12.34
        #expect(plan.currentMonthlySpendUSD == 2000)
        #expect(plan.savingsPercent == 33.4)  // 667.96 / 2000 = 33.398 %
        #expect(plan.omittedActions == 1)  // the faster provider: no savings, 120 ms, sixth
        #expect(plan.actions.allSatisfy { $0.category == .change })

        let six = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3, limit: 6)
        #expect(six.actions.last?.kind == .fasterProvider && six.actions.last?.latencyGainMs == 120)
        #expect(six.actions.last?.impact == "~120 ms faster per call")
        #expect(six.omittedActions == 0 && six.totalMonthlySavingsUSD == 667.96)
        #expect(ActionPlan.plan(Self.ranked, monthlySpendUSD: 0, monthlyFactor: 3).savingsPercent == 0)
    }

    @Test func stepsNameTheFeaturesModelsAndFigures() throws {
        let plan = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3)
        let (model, cache, batch, prefix, failures) = (plan.actions[0], plan.actions[1], plan.actions[2], plan.actions[3], plan.actions[4])
        #expect(model.steps.first == "Route feature `classify` from gpt-4o (openai) to gpt-4.1-nano (openai)")
        #expect(model.risk == .medium && model.riskReason.contains("4 → 1"))
        #expect(model.verify.contains("1% canary"))
        #expect(
            cache.steps.first
                == "Cache responses of feature `summarize` on gpt-4o-mini (openai) keyed by prompt hash "
                + "(model, prompt and parameters) for 24 hours"
        )
        #expect(cache.steps.last?.contains("3,000 of 10,000 calls (30.0%)") == true)
        #expect(cache.risk == .low && cache.latencyGainMs == 850 && cache.impact == "$150.00/month and ~850 ms faster per call")
        #expect(cache.verify.contains("at least 24.0%"))  // 80 % of the 30 % repeat share
        #expect(
            batch.steps.first
                == "Move non-interactive feature `summarize` traffic (9,000 calls/month) on gpt-4o-mini (openai) "
                + "to openai's batch API (50.0% off)"
        )
        // 230,400 prefix tokens over 100 writes.
        #expect(prefix.steps.first?.hasPrefix("Put the shared 2,304-token prefix of feature `extract` first") == true)
        #expect(prefix.steps.last?.contains("claude-sonnet-4 (anthropic): 900 of 1,000 long-prefix calls") == true)
        #expect(failures.steps.first?.contains("retry budget") == true && failures.steps.first?.contains("`classify`") == true)
        #expect(failures.verify.contains("from 4.0% to under 2.0%"))
    }

    @Test func zeroDollarFindingsAreWatchItemsBudgetFirst() {
        let plan = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3)
        #expect(plan.watch.map(\.kind) == [.budgetOverrun, .outputHeadroom, .spendAnomaly])
        #expect(plan.watch.map(\.rank) == [1, 2, 3])
        #expect(plan.watch.allSatisfy { $0.category == .watch && $0.monthlySavingsUSD == 0 && $0.impact == "no direct savings" })
        #expect(
            plan.watch[0].steps == [
                "Projected 2025-03 spend $6,200.00 exceeds the $5,000.00 budget by $1,200.00",
                "Apply the planned changes first: $667.96/month",
                "Set a spend alert at 80% of the budget ($4,000.00)",
            ])
        #expect(
            plan.watch[1].steps == [
                "Lower max_tokens of feature `classify` on gpt-4o (openai) from 4,096 to ~300 (2× the p95 output of 150 tokens)"
            ])
        #expect(plan.watch[2].steps.first == "Investigate spend on 2025-03-06: $70.00 against a trailing median of $22.80")
        let one = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3, limit: 1)
        #expect(one.watch.map(\.kind) == [.budgetOverrun] && one.omittedWatch == 2)
    }

    @Test func markdownStepsEscapeNamesPlainStepsKeepThem() throws {
        let ranked = WorkloadAnalysis.rank([
            Opportunity(
                tool: .batchEligibility, kind: .batchAPI, title: "t", monthlySavingsUSD: 10, confidence: .high,
                evidence: ["non_interactive_calls": 10, "batch_discount": 0.5],
                scope: .init(feature: "a|b<script>", model: "m_*1", provider: "p"))
        ])
        let action = try #require(ActionPlan.plan(ranked, monthlySpendUSD: 100, monthlyFactor: 1).actions.first)
        #expect(action.steps[0].contains("`a|b<script>` traffic (10 calls/month) on m_*1 (p)"))
        #expect(action.markdownSteps[0].contains("“a\\|b&lt;script&gt;” traffic (10 calls/month) on m\\_\\*1 (p)"))
        #expect(!action.markdownSteps.joined().contains("<script>"))
    }

    @Test func planRoundTripsThroughJSON() throws {
        let plan = ActionPlan.plan(Self.ranked, monthlySpendUSD: 2000, monthlyFactor: 3)
        let json = try JSONEncoder().encode(plan)
        #expect(try JSONDecoder().decode(ActionPlan.self, from: json) == plan)
        #expect(String(decoding: json, as: UTF8.self).contains(#""total_monthly_savings_usd":667.96"#))
    }
}

@Suite("The report: JSON document and Markdown with the same numbers")
struct ReportTests {
    /// 2025-03-01 to 2025-03-11: 10 days, so the monthly factor is 3.
    static let span = ObservedSpan(
        firstEvent: Date(timeIntervalSince1970: 1_740_787_200), lastEvent: Date(timeIntervalSince1970: 1_740_787_200 + 10 * 86_400),
        calls: 4000, costUSD: 120.5
    )

    /// `a|b<script>` on gpt-4o: $100 in the window, 30 % repeated ($30 → $90/month, 1,000 ms each). `summarize` on
    /// gpt-4o-mini: $20.50, all non-interactive with a 50 % batch discount ($10.25 → $30.75/month). No cheaper
    /// adequate model or provider exists. Ten days at $12.05.
    static func data() -> WorkloadAggregates {
        WorkloadAggregates(
            span: span,
            usage: [
                UsageGroup(
                    model: "gpt-4o", provider: "openai", feature: "a|b<script>", calls: 1000, interactiveCalls: 1000,
                    inputTokens: 1_000_000,
                    outputTokens: 100_000, costUSD: 100, avgOutputTokens: 100, p95OutputTokens: 200, avgMaxTokens: 4096),
                UsageGroup(
                    model: "gpt-4o-mini", provider: "openai", feature: "summarize", calls: 3000, nonInteractiveCalls: 3000,
                    nonInteractiveCostUSD: 20.5, inputTokens: 3_000_000, outputTokens: 300_000, costUSD: 20.5),
            ],
            latency: [
                LatencyGroup(
                    dimension: .model, model: "gpt-4o", provider: "openai", calls: 1000, latencyP50Ms: 800.4, latencyP95Ms: 2400.6,
                    latencyP99Ms: 5123, ttftP95Ms: 610),
                LatencyGroup(
                    dimension: .feature, feature: "a|b<script>", calls: 1000, latencyP50Ms: 800, latencyP95Ms: 2400, latencyP99Ms: 5100),
            ],
            daily: (1...10).map { DailySpend(day: String(format: "2025-03-%02d", $0), calls: 400, costUSD: 12.05) },
            duplicates: [
                DuplicateGroup(
                    feature: "a|b<script>", model: "gpt-4o", provider: "openai", calls: 1000, costUSD: 100, duplicateCalls: 300,
                    duplicateCostUSD: 30, duplicateLatencyTotalMs: 300_000)
            ]
        )
    }

    static let catalog: [SupplyModel] =
        (try? [
            catalogOffer("gpt-4o", "openai", input: 2.5, output: 10, tier: 4, date: "2025-08-15"),
            catalogOffer("gpt-4o-mini", "openai", input: 0.15, output: 0.6, batch: 0.5, tier: 2, date: "2025-07-01"),
        ]) ?? []

    /// The whole pipeline after the Data stage, for one message.
    static func report(_ message: String, budget: Double? = nil) -> OptimizationReport {
        let triage = WorkloadAnalysis.triage(message, catalog: catalog, features: ["a|b<script>", "summarize"], now: now)
        let options = AnalysisOptions(monthlyBudgetUSD: budget ?? triage.entities.budgetUSD)
        let outcomes = triage.tools.map { WorkloadAnalysis.run($0, on: data(), catalog: catalog, options: options) }
        let ranked = WorkloadAnalysis.rank(outcomes.flatMap(\.opportunities))
        let spend = WorkloadAnalysis.monthlySpendUSD(outcomes: outcomes, span: span)
        let plan = ActionPlan.plan(ranked, monthlySpendUSD: spend, monthlyFactor: span.monthlyFactor)
        return OptimizationReport.build(
            triage: triage, span: span, outcomes: outcomes, ranked: ranked, plan: plan, message: message, catalog: catalog)
    }

    @Test func headlineNumbersAreTheSameInJSONAndMarkdown() throws {
        let report = Self.report("Optimize my AI workload costs")
        #expect(report.headline.monthlySpendUSD == 361.5)  // 120.50 × 3
        #expect(report.headline.potentialMonthlySavingsUSD == 120.75)  // 90 + 30.75
        #expect(report.headline.savingsPercent == 33.4)  // 120.75 / 361.5 = 33.40 %
        #expect(report.headline.opportunityCount == 2)
        #expect(report.headline.topOpportunitySavingsUSD == 90)
        let markdown = report.markdown()
        #expect(markdown.contains("- Monthly spend: **$361.50**"))
        #expect(markdown.contains("- Potential savings: **$120.75/month** (**33.4%** of spend) from 2 opportunities"))
        #expect(markdown.contains("(**$90.00/month**)"))
        // The same formatter prints the JSON values: whatever they are, the Markdown shows them.
        #expect(markdown.contains("**\(ReportFormat.usd(report.headline.monthlySpendUSD))**"))
        #expect(markdown.contains("**\(ReportFormat.percent(report.plan.savingsPercent))**"))

        let json = try JSONEncoder().encode(report)
        let decoded = try JSONDecoder().decode(OptimizationReport.self, from: json)
        #expect(decoded == report)
        #expect(decoded.markdown() == markdown)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""monthly_spend_usd":361.5"#) && text.contains(#""potential_monthly_savings_usd":120.75"#))
    }

    @Test func tableRowsMatchTheOpportunitiesAndEscapeNames() throws {
        let report = Self.report("Optimize my AI workload costs")
        try #require(report.opportunities.count == 2)
        #expect(report.opportunities.map(\.kind) == [.exactDuplicates, .batchAPI])
        #expect(report.opportunities.map(\.monthlySavingsUSD) == [90, 30.75])
        let markdown = report.markdown()
        #expect(markdown.contains("| # | Opportunity | Monthly savings | Confidence |"))
        #expect(
            markdown.contains(
                "| 1 | Serve repeated prompts of feature \"a\\|b&lt;script&gt;\" on gpt-4o (openai) from a response cache (30% of calls) "
                    + "| $90.00 (~1,000 ms faster per call) | medium |"))
        #expect(
            markdown.contains(
                "| 2 | Send the 3000 non-interactive calls of feature \"summarize\" on gpt-4o-mini (openai) through the batch API "
                    + "(50% off) | $30.75 | high |"))
        #expect(markdown.contains("| | **Total** | **$120.75** | |"))
        #expect(markdown.contains("a\\|b&lt;script&gt;"))
        #expect(!markdown.contains("<script>") && !markdown.contains("a|b"))
        // Every table line has exactly its column separators: an escaped `\|` is not one.
        for line in markdown.split(separator: "\n") where line.hasPrefix("| 1 ") || line.hasPrefix("| 2 ") {
            let separators = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            #expect(separators == 5, "\(line)")
        }
        // The plan sections print the same rounded savings.
        #expect(report.plan.actions.map(\.monthlySavingsUSD) == [90, 30.75])
        #expect(markdown.contains("- **Impact:** $90.00/month and ~1,000 ms faster per call"))
        #expect(markdown.contains("1. Cache responses of feature “a\\|b&lt;script&gt;” on gpt-4o (openai)"))
    }

    @Test func theMessageIsEscaped() {
        let report = Self.report("cut costs of *a|b<script>* [now] `x`")
        let markdown = report.markdown()
        #expect(markdown.contains("> cut costs of \\*a\\|b&lt;script&gt;\\* \\[now\\] \\`x\\`"))
        #expect(report.message == "cut costs of *a|b<script>* [now] `x`")  // the JSON keeps it as sent
    }

    @Test func chartDataAddsUp() throws {
        let report = Self.report("Optimize my AI workload costs")
        #expect(
            report.charts.costByModel == [
                .init(label: "gpt-4o", value: 300), .init(label: "gpt-4o-mini", value: 61.5),
            ])
        #expect(report.costByModel.map(\.sharePercent) == [83.0, 17.0])  // 100 / 120.5, 20.5 / 120.5
        let modelSum = report.charts.costByModel.reduce(0) { $0 + $1.value }
        #expect(abs(modelSum - report.headline.monthlySpendUSD) < 0.005)
        let savingsSum = report.charts.savingsByOpportunity.reduce(0) { $0 + $1.value }
        #expect(abs(savingsSum - report.headline.potentialMonthlySavingsUSD) < 0.005)
        #expect(report.charts.dailySpend.count == 10 && report.charts.dailySpend.first?.date == "2025-03-01")
        let daySum = report.charts.dailySpend.reduce(0) { $0 + $1.value }
        #expect(abs(daySum - Self.span.costUSD) < 0.005)  // 10 × 12.05
        #expect(report.markdown().contains("| gpt-4o | 1,000 | $100.00 | $300.00 | 83.0% |"))
    }

    @Test func eachGoalGetsItsOwnSection() throws {
        let cost = Self.report("Optimize my AI workload costs")
        let latency = Self.report("why is my p99 latency so high?")
        let budget = Self.report("will we stay under a $5,000 budget this month?")
        #expect(cost.latency == nil && cost.budget == nil)
        #expect(!cost.markdown().contains("## Latency") && !cost.markdown().contains("## Budget"))

        let rows = try #require(latency.latency)
        #expect(rows.map(\.name) == ["gpt-4o (openai)", "a|b<script>"])
        #expect(rows[0].p50Ms == 800 && rows[0].p95Ms == 2401 && rows[0].p99Ms == 5123 && rows[0].ttftP95Ms == 610)
        #expect(latency.markdown().contains("| gpt-4o (openai) | 1,000 | 800 ms | 2,401 ms | 5,123 ms | 610 ms | n/a |"))
        #expect(latency.markdown().contains("| feature a\\|b&lt;script&gt; | 1,000 | 800 ms | 2,400 ms | 5,100 ms | n/a | n/a |"))
        #expect(latency.budget == nil && !latency.markdown().contains("## Budget"))

        // March to date: 10 days × $12.05 = $120.50; × 31 / 10 = $373.55 projected; $4,626.45 under $5,000.
        let status = try #require(budget.budget)
        #expect(status.projectedMonthEndUSD == 373.55 && status.budgetUSD == 5000 && status.varianceUSD == -4626.45)
        #expect(status.verdict == .under)
        #expect(budget.markdown().contains("| 2025-03 | $120.50 | 10 of 31 | $373.55 | $5,000.00 |"))
        #expect(budget.markdown().contains("Projected to stay under the $5,000.00 budget by **$4,626.45**."))
        #expect(budget.latency == nil)
        #expect(Set([cost.markdown(), latency.markdown(), budget.markdown()]).count == 3)
        #expect(cost.triage.tools != latency.triage.tools && latency.triage.tools != budget.triage.tools)
    }

    @Test func anOverrunIsTheFirstWatchItem() throws {
        let report = Self.report("will we stay under a $300 budget this month?")
        let status = try #require(report.budget)
        #expect(status.verdict == .over && status.varianceUSD == 73.55)  // 373.55 − 300
        #expect(report.plan.watch.first?.kind == .budgetOverrun)
        let markdown = report.markdown()
        #expect(markdown.contains("Projected to exceed the $300.00 budget by **$73.55**."))
        #expect(markdown.contains("## Watch"))
        #expect(report.notes.contains { $0.contains("dated 2025-07-01 to 2025-08-15") })
        #expect(report.notes.first == "Monthly figures are the observed window (10.0 days) scaled to 30 days (×3.00).")
    }

    @Test func formattingIsFixed() {
        #expect(ReportFormat.usd(1_234_567.891) == "$1,234,567.89")
        #expect(ReportFormat.usd(-3.1) == "-$3.10" && ReportFormat.usd(-0.001) == "$0.00" && ReportFormat.usd(999.999) == "$1,000.00")
        #expect(ReportFormat.percent(33.36) == "33.4%" && ReportFormat.percent(0) == "0.0%")
        #expect(ReportFormat.integer(4096) == "4,096" && ReportFormat.integer(-1234.6) == "-1,235")
        #expect(ReportFormat.markdown("a|b<script>") == "a\\|b&lt;script&gt;")
        #expect(ReportFormat.markdown("*_`[]>#~!&\\") == "\\*\\_\\`\\[\\]&gt;\\#\\~\\!\\&\\\\")
        #expect(ReportFormat.markdown("two\nlines") == "two lines" && ReportFormat.markdown("") == "(empty)")
    }
}

/// `YYYY-MM-DD` at midnight UTC.
private func day(_ text: String) throws -> Date {
    try Date("\(text)T00:00:00Z", strategy: .iso8601)
}

/// A catalog offer; `SupplyModel` is built through its public `Codable` conformance.
private func catalogOffer(
    _ model: String, _ provider: String, input: Double, output: Double, batch: Double? = nil, tier: Int, date: String = "2025-08-15"
) throws -> SupplyModel {
    var fields: [String: Any] = [
        "model": model, "provider": provider, "input_per_mtok": input, "output_per_mtok": output, "context_window": 128_000,
        "quality_tier": tier, "price_date": date, "source": "test",
    ]
    fields["batch_discount"] = batch
    return try JSONDecoder().decode(SupplyModel.self, from: JSONSerialization.data(withJSONObject: fields))
}
