import Foundation

/// How an action's steps print names: plain text quotes features in backticks; Markdown escapes every name.
enum StepStyle {
    case plain, markdown
}

/// The steps, risk and check of one opportunity, from its kind, scope and evidence.
struct ActionContext {
    var opportunity: Opportunity
    var monthlyFactor: Double
    /// The plan's total savings, for the budget-overrun watch item.
    var planTotal: Double?

    var scope: Opportunity.Scope { opportunity.scope }

    func number(_ key: String) -> Double? { opportunity.evidence[key]?.number }

    func text(_ key: String) -> String? {
        if case .string(let value)? = opportunity.evidence[key] { return value }
        return nil
    }

    // MARK: Names

    /// A feature: `` `classify` `` in plain text, the escaped name in Markdown.
    func feature(_ name: String, _ style: StepStyle) -> String {
        style == .plain ? "`\(name)`" : "“\(ReportFormat.markdown(name))”"
    }

    /// A model, provider or other name: as is in plain text, escaped in Markdown.
    func name(_ value: String, _ style: StepStyle) -> String {
        style == .plain ? value : ReportFormat.markdown(value)
    }

    /// `feature `x``, or `calls without a feature` when the slice has none.
    func slice(_ style: StepStyle) -> String {
        scope.feature.map { "feature \(feature($0, style))" } ?? "calls without a feature"
    }

    /// `gpt-4o (openai)`, or what the scope has of it.
    func offer(_ style: StepStyle) -> String {
        switch (scope.model, scope.provider) {
        case (let model?, let provider?): "\(name(model, style)) (\(name(provider, style)))"
        case (let model?, nil): name(model, style)
        case (nil, let provider?): "provider \(name(provider, style))"
        case (nil, nil): "its current model"
        }
    }

    /// The candidate of a switch: `gpt-4.1-nano (openai)`.
    func candidate(_ style: StepStyle) -> String {
        let model = text("candidate_model") ?? scope.model ?? "the candidate model"
        let provider = text("candidate_provider").map { " (\(name($0, style)))" } ?? ""
        return name(model, style) + provider
    }

    func count(_ key: String) -> String { ReportFormat.integer(number(key) ?? 0) }

    /// A share (0...1) of the evidence as a percent.
    func percent(_ key: String, times factor: Double = 1) -> String { ReportFormat.percent((number(key) ?? 0) * 100 * factor) }

    // MARK: Steps

    /// What to do, in order.
    func steps(_ style: StepStyle) -> [String] {
        let slice = slice(style)
        let offer = offer(style)
        switch opportunity.kind {
        case .cheaperModel:
            let fallback = scope.model.map { name($0, style) } ?? "the current model"
            return [
                "Route \(slice) from \(offer) to \(candidate(style))",
                "Roll out behind a flag (1% → 10% → 50% → 100%), keeping \(fallback) as the fallback",
            ]
        case .cheaperProvider, .fasterProvider:
            let model = scope.model.map { name($0, style) } ?? "the model"
            let current = scope.provider.map { name($0, style) } ?? "the current provider"
            let target = text("candidate_provider").map { name($0, style) } ?? "the other provider"
            let why = opportunity.kind == .cheaperProvider ? "same model, lower price" : "same model, faster output"
            return [
                "Buy \(model) for \(slice) from \(target) instead of \(current) (\(why))",
                "Check \(target)'s rate limits and data terms, then shift traffic gradually with \(current) as the fallback",
            ]
        case .exactDuplicates:
            let window = text("window") ?? "24 hours"
            return [
                "Cache responses of \(slice) on \(offer) keyed by prompt hash (model, prompt and parameters) for \(window)",
                "Answer repeats from the cache: \(count("duplicate_calls")) of \(count("calls")) calls "
                    + "(\(percent("duplicate_share"))) repeated a prompt within \(window)",
            ]
        case .promptCaching:
            return promptCachingSteps(slice: slice, offer: offer)
        case .batchAPI:
            let perMonth = ReportFormat.integer((number("non_interactive_calls") ?? 0) * monthlyFactor)
            let provider = scope.provider.map { "\(name($0, style))'s" } ?? "the provider's"
            return [
                "Move non-interactive \(slice) traffic (\(perMonth) calls/month) on \(offer) to \(provider) batch API "
                    + "(\(percent("batch_discount")) off)",
                "Queue those requests and collect results asynchronously; interactive calls stay on the synchronous API",
            ]
        case .failureWaste:
            return [
                "Add a retry budget (at most 2 retries per request) with exponential backoff and jitter for \(slice) on \(offer)",
                "Find the causes of its \(count("error_calls")) errors and \(count("timeout_calls")) timeouts "
                    + "(\(percent("failure_rate")) of calls): fail fast on errors that cannot succeed on retry",
            ]
        case .outputHeadroom:
            return [
                "Lower max_tokens of \(slice) on \(offer) from \(count("avg_max_tokens")) to ~\(count("suggested_max_tokens")) "
                    + "(2× the p95 output of \(count("p95_output_tokens")) tokens)"
            ]
        case .slowInteractiveFeature:
            var profile = "p95 \(ReportFormat.ms(number("interactive_latency_p95_ms") ?? 0))"
            if let ttft = number("interactive_ttft_p95_ms") { profile += ", TTFT p95 \(ReportFormat.ms(ttft))" }
            return [
                "Profile interactive calls of \(slice) (\(profile))",
                "Stream the response, shorten the prompt, or serve the feature from a faster provider or model",
            ]
        case .spendAnomaly:
            return [
                "Investigate spend on \(text("day") ?? "the day"): \(ReportFormat.usd(number("cost_usd") ?? 0)) against a trailing "
                    + "median of \(ReportFormat.usd(number("trailing_median_usd") ?? 0))",
                "Look for a deploy, a retry loop, or one user or feature behind the jump",
            ]
        case .budgetOverrun:
            let budget = number("budget_usd") ?? 0
            var steps = [
                "Projected \(text("month") ?? "month-end") spend \(ReportFormat.usd(number("projected_month_end_usd") ?? 0)) exceeds "
                    + "the \(ReportFormat.usd(budget)) budget by \(ReportFormat.usd(number("over_by_usd") ?? 0))",
                "Set a spend alert at 80% of the budget (\(ReportFormat.usd(budget * 0.8)))",
            ]
            if let planTotal, planTotal > 0 { steps.insert("Apply the planned changes first: \(ReportFormat.usd(planTotal))/month", at: 1) }
            return steps
        }
    }

    /// Prompt caching: the prefix first, then caching on.
    func promptCachingSteps(slice: String, offer: String) -> [String] {
        let writes = number("write_calls") ?? 0
        let prefix = writes > 0 ? "\(ReportFormat.integer((number("write_prefix_tokens") ?? 0) / writes))-token " : ""
        let calls = (number("hit_calls") ?? 0) + writes
        return [
            "Put the shared \(prefix)prefix of \(slice) first in the prompt (instructions, tools, fixed context) and the per-call "
                + "text after it",
            "Enable prompt caching on \(offer): \(count("hit_calls")) of \(ReportFormat.integer(calls)) long-prefix calls reuse a "
                + "prefix within \(PrefixReuseGroup.ttl)",
        ]
    }

    // MARK: Risk and verification

    /// The risk of the change and why.
    func risk() -> (ActionPlan.Risk, String) {
        switch opportunity.kind {
        case .cheaperModel:
            let (current, candidate) = (Int(number("current_tier") ?? 0), Int(number("candidate_tier") ?? 0))
            return candidate < current
                ? (.medium, "model downgrade (quality tier \(current) → \(candidate)): answers may get worse on hard inputs")
                : (.low, "quality tier \(current) → \(candidate): prompts may need small adjustments for the new model")
        case .cheaperProvider, .fasterProvider:
            return (.low, "same model; providers can differ in quantization, rate limits and regions")
        case .exactDuplicates:
            return (.low, "only identical prompts are answered from the cache; skip it where answers must be fresh")
        case .promptCaching:
            return (.low, "answers do not change; cache writes cost a premium where the provider charges one (already deducted)")
        case .batchAPI:
            return (.low, "results arrive within the batch window (up to 24 h) instead of seconds; only non-interactive calls move")
        case .failureWaste:
            return (.low, "fewer retries can surface errors that retries used to hide")
        case .outputHeadroom:
            return (.low, "answers longer than the new limit get cut off; 2× p95 leaves room for the long tail")
        case .slowInteractiveFeature, .spendAnomaly, .budgetOverrun:
            return (.low, "investigation and monitoring only; no traffic changes")
        }
    }

    /// A measurable check.
    func verify() -> String {
        switch opportunity.kind {
        case .cheaperModel:
            return "Compare output quality (eval score or user ratings) and error rate of a 1% canary on the new model with the "
                + "current model for a week; roll out only if both stay within 2%"
        case .cheaperProvider:
            return "On a 10% canary for a week, error rate and p95 latency stay within 5% of the current provider, and the "
                + "slice's bill falls by about \(ReportFormat.usd(opportunity.monthlySavingsUSD))/month"
        case .fasterProvider:
            return "On a 10% canary for a week, p95 latency falls by about \(ReportFormat.ms(opportunity.latencyGainMs ?? 0)) "
                + "with an unchanged error rate"
        case .exactDuplicates:
            return "Cache hit rate reaches at least \(percent("duplicate_share", times: 0.8)) of the slice's calls within a week"
        case .promptCaching:
            let calls = (number("hit_calls") ?? 0) + (number("write_calls") ?? 0)
            let share = calls > 0 ? (number("hit_calls") ?? 0) / calls * 80 : 0
            return "The provider's usage shows cached input on at least \(ReportFormat.percent(share)) of long-prefix calls within a week"
        case .batchAPI:
            return "Every batch job completes within its window for a week, and the slice's non-interactive spend falls by about "
                + percent("batch_discount")
        case .failureWaste:
            return "The slice's failure rate falls from \(percent("failure_rate")) to under \(percent("failure_rate", times: 0.5)) "
                + "within a week, with as many successful calls as before"
        case .outputHeadroom:
            return "Fewer than 0.5% of the slice's responses stop at the limit (finish_reason = length) over a week"
        case .slowInteractiveFeature:
            return "Interactive p95 latency of the feature falls by at least 20% from "
                + ReportFormat.ms(number("interactive_latency_p95_ms") ?? 0)
        case .spendAnomaly:
            return "Daily spend returns to near its trailing median of \(ReportFormat.usd(number("trailing_median_usd") ?? 0))"
        case .budgetOverrun:
            return "The next report projects month-end spend at or below \(ReportFormat.usd(number("budget_usd") ?? 0))"
        }
    }
}
