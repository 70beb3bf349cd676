import Foundation
import Logging
import Shared

// First versions of the five `optimize` sub-agents. They compute from the run's input with deterministic rules;
// the analysis over the tenant's workload data replaces the middle three when workload ingestion exists.

/// Triage: reads the user's message with deterministic rules (goal, entities, time range, budget) and picks the
/// tools the later stages run. With a classifier (the optional LLM) the model may choose the goal instead; the
/// entities always come from the rules.
struct TriageStage: AgentStage {
    typealias Output = TriageResult

    let workloads: WorkloadStore
    let catalog: SupplyCatalog
    let logger: Logger
    /// Asks the LLM for the goal; `nil` keeps triage deterministic.
    var classifier: GoalClassifier? = nil

    var name: String { "triage" }

    func execute(_ input: StageInput) async throws -> TriageResult {
        let features = try await workloads.features(tenant: input.run.tenantID, logger: logger)
        let message = input.input.message
        let rules = WorkloadAnalysis.triage(message, catalog: catalog.models, features: features, now: Date())
        return try await Self.decide(rules, message: message, classifier: classifier, logger: logger.with(LogKey.runID, "\(input.run.id)"))
    }

    func summary(of output: TriageResult) -> String {
        let decidedBy = output.classifier == .llm ? " (chosen by the LLM)" : ""
        return "goal: \(output.goal.rawValue)\(decidedBy); \(output.entities.timeRange.label); tools: "
            + output.tools.map(\.rawValue).joined(separator: ", ")
    }
}

/// Data: loads the aggregates the tools read for the time range triage chose, in one set-based query per aggregate.
struct DataStage: AgentStage {
    struct Output: Codable, Sendable {
        var timeRange: TimeRange
        var aggregates: WorkloadAggregates

        enum CodingKeys: String, CodingKey {
            case timeRange = "time_range"
            case aggregates
        }
    }

    /// `tool_call` / `tool_result` data of the load.
    struct Load: Encodable {
        let tool = "workload_aggregates"
        let from: String
        let to: String
        var summary: String?
    }

    let workloads: WorkloadStore
    let logger: Logger

    var name: String { "data" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageResult.self)
        let range = triage.entities.timeRange
        var load = Load(from: JSONText.timestamp(range.from), to: JSONText.timestamp(range.to))
        try await input.emitter.emit(.toolCall, load)
        let aggregates = try await workloads.aggregates(
            tenant: input.run.tenantID, from: range.from, to: range.to, for: triage.tools, logger: logger
        )
        load.summary = Self.describe(aggregates)
        try await input.emitter.emit(.toolResult, load)
        return Output(timeRange: range, aggregates: aggregates)
    }

    static func describe(_ aggregates: WorkloadAggregates) -> String {
        guard aggregates.span.calls > 0 else { return "no workload events in the window" }
        return "\(aggregates.span.calls) calls, \(aggregates.usage.count) model/feature slices over \(String(format: "%.1f", aggregates.span.days)) days"
    }

    func summary(of output: Output) -> String { Self.describe(output.aggregates) }
}

/// Optimizations: runs each chosen tool over the aggregates (a `tool_call` and a `tool_result` event apiece) and
/// ranks what they found by estimated monthly savings.
struct OptimizationsStage: AgentStage {
    struct Output: Codable, Sendable {
        var outcomes: [ToolOutcome]
        var ranked: RankedOpportunities
    }

    struct Call: Encodable {
        let tool: String
    }

    let catalog: SupplyCatalog

    var name: String { "optimizations" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageResult.self)
        let data = try input.output(of: "data", as: DataStage.Output.self)
        var outcomes: [ToolOutcome] = []
        for tool in triage.tools {
            try Task.checkCancellation()
            try await input.emitter.emit(.toolCall, Call(tool: tool.rawValue))
            let outcome = WorkloadAnalysis.run(
                tool, on: data.aggregates, catalog: catalog.models, options: AnalysisOptions(monthlyBudgetUSD: triage.entities.budgetUSD)
            )
            let result = #"{"tool":"# + (try JSONText.encode(tool.rawValue)) + #","summary":"# + (try JSONText.encode(outcome.summary))
                + #","opportunities":"# + (try JSONText.encode(outcome.opportunities)) + #","figures":"# + outcome.figuresJSON + "}"
            try await input.emitter.emit(.toolResult, json: result)
            outcomes.append(outcome)
        }
        return Output(outcomes: outcomes, ranked: WorkloadAnalysis.rank(outcomes.flatMap(\.opportunities)))
    }

    func summary(of output: Output) -> String {
        let savings = output.ranked.totalMonthlySavingsUSD
        return "\(output.ranked.opportunities.count) opportunities from \(output.outcomes.count) tools, about $\(Int(savings.rounded())) a month"
    }
}

/// Actions: turns the top opportunities into a plan of concrete steps.
struct ActionsStage: AgentStage {
    typealias Output = ActionPlan

    var name: String { "actions" }

    func execute(_ input: StageInput) async throws -> ActionPlan {
        let span = try input.output(of: "data", as: DataStage.Output.self).aggregates.span
        let optimizations = try input.output(of: "optimizations", as: OptimizationsStage.Output.self)
        return ActionPlan.plan(
            optimizations.ranked, monthlySpendUSD: WorkloadAnalysis.monthlySpendUSD(outcomes: optimizations.outcomes, span: span),
            monthlyFactor: span.monthlyFactor
        )
    }

    func summary(of output: ActionPlan) -> String { "\(output.actions.count) actions planned" }
}

/// Reporting: writes the report, as Markdown and as a JSON document with the same numbers. With a narrator (the
/// optional LLM) a short narrative around the computed figures may open it.
struct ReportingStage: AgentStage {
    struct Output: Codable, Sendable {
        var markdown: String
        var report: OptimizationReport
    }

    let catalog: SupplyCatalog
    /// Asks the LLM for the narrative; `nil` keeps the report deterministic.
    var narrator: ReportNarrator? = nil
    var logger = Logger(label: "netra.stages")

    var name: String { "reporting" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageResult.self)
        let data = try input.output(of: "data", as: DataStage.Output.self)
        let optimizations = try input.output(of: "optimizations", as: OptimizationsStage.Output.self)
        let plan = try input.output(of: "actions", as: ActionPlan.self)
        let report = OptimizationReport.build(
            triage: triage, span: data.aggregates.span, outcomes: optimizations.outcomes, ranked: optimizations.ranked, plan: plan,
            message: input.input.message, catalog: catalog.models
        )
        let narrated = try await Self.narrate(report, narrator: narrator, logger: logger.with(LogKey.runID, "\(input.run.id)"))
        return Output(markdown: narrated.markdown(), report: narrated)
    }

    func summary(of output: Output) -> String { "report written" }
}
