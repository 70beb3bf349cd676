import Foundation
import Shared

// First versions of the five `optimize` sub-agents. They compute from the run's input with deterministic rules;
// the analysis over the tenant's workload data replaces the middle three when workload ingestion exists.

/// Classifies the request: the goal, the entities it names, and the tools the later stages will use.
struct TriageStage: AgentStage {
    struct Output: Codable, Sendable, Equatable {
        var goal: String
        var matchedKeywords: [String]
        var budgetUSD: Double?
        var tools: [String]

        enum CodingKeys: String, CodingKey {
            case goal
            case matchedKeywords = "matched_keywords"
            case budgetUSD = "budget_usd"
            case tools
        }
    }

    /// Goals with their keywords, in priority order.
    static let rules: [(goal: String, keywords: [String], tools: [String])] = [
        ("budget", ["budget", "month-end", "forecast", "stay under"], ["cost_breakdown", "spend_trend"]),
        ("latency", ["latency", "slow", "p99", "p95", "ttft", "fast"], ["latency_profile", "provider_arbitrage"]),
        ("throughput", ["throughput", "rate limit", "tokens per second", "scale"], ["latency_profile", "batch_eligibility"]),
        ("quality", ["quality", "accuracy", "hallucinat", "errors", "failures"], ["failure_waste", "model_right_sizing"]),
        ("cost", ["cost", "cheaper", "spend", "save", "saving", "expensive", "price", "optimiz"],
         ["cost_breakdown", "duplicate_cache", "prompt_cache_fitness", "batch_eligibility", "model_right_sizing"]),
    ]

    var name: String { "triage" }

    func execute(_ input: StageInput) async throws -> Output {
        Self.classify(input.input.message)
    }

    /// Applies the keyword rules to a message.
    static func classify(_ message: String) -> Output {
        let text = message.lowercased()
        for rule in rules {
            let matched = rule.keywords.filter { text.contains($0) }
            if !matched.isEmpty {
                return Output(goal: rule.goal, matchedKeywords: matched, budgetUSD: budget(in: message), tools: rule.tools)
            }
        }
        return Output(goal: "general", matchedKeywords: [], budgetUSD: budget(in: message), tools: ["cost_breakdown", "latency_profile"])
    }

    /// The first dollar amount in the message (`$5,000`, `$1.5k`).
    static func budget(in message: String) -> Double? {
        guard let dollar = message.firstIndex(of: "$") else { return nil }
        var digits = ""
        var multiplier = 1.0
        for character in message[message.index(after: dollar)...] {
            if character.isNumber || character == "." {
                digits.append(character)
            } else if character == "," {
                continue
            } else {
                if character == "k" || character == "K" { multiplier = 1000 }
                break
            }
        }
        return Double(digits).map { $0 * multiplier }
    }

    func summary(of output: Output) -> String { "goal: \(output.goal); tools: \(output.tools.joined(separator: ", "))" }
}

/// Describes the data the chosen tools need and measures the request.
struct DataStage: AgentStage {
    struct Output: Codable, Sendable, Equatable {
        var messageCharacters: Int
        var messageTokensEstimate: Int
        var aggregates: [String]

        enum CodingKeys: String, CodingKey {
            case messageCharacters = "message_characters"
            case messageTokensEstimate = "message_tokens_estimate"
            case aggregates
        }
    }

    var name: String { "data" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageStage.Output.self)
        let characters = input.input.message.count
        let aggregates = triage.tools.map { tool in
            switch tool {
            case "latency_profile": "latency percentiles by model and feature"
            case "spend_trend": "daily spend"
            case "duplicate_cache": "repeated prompt hashes"
            default: "cost by model, provider and feature"
            }
        }
        return Output(
            messageCharacters: characters,
            messageTokensEstimate: (characters + 3) / 4,
            aggregates: Array(Set(aggregates)).sorted()
        )
    }

    func summary(of output: Output) -> String { "\(output.aggregates.count) aggregates planned" }
}

/// Lists the opportunities the chosen tools look for.
struct OptimizationsStage: AgentStage {
    struct Opportunity: Codable, Sendable, Equatable {
        var tool: String
        var lever: String
    }

    struct Output: Codable, Sendable, Equatable {
        var opportunities: [Opportunity]
    }

    static let levers: [String: String] = [
        "cost_breakdown": "find the models and features that dominate spend",
        "duplicate_cache": "serve repeated prompts from a response cache",
        "prompt_cache_fitness": "cache long shared prompt prefixes",
        "batch_eligibility": "send non-interactive traffic through batch APIs",
        "model_right_sizing": "route features to the cheapest adequate model",
        "latency_profile": "locate the models and features behind tail latency",
        "provider_arbitrage": "serve the same model from a faster or cheaper provider",
        "failure_waste": "stop paying for errors, timeouts and retries",
        "spend_trend": "project month-end spend against the budget",
    ]

    var name: String { "optimizations" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageStage.Output.self)
        return Output(opportunities: triage.tools.map { Opportunity(tool: $0, lever: Self.levers[$0] ?? $0) })
    }

    func summary(of output: Output) -> String { "\(output.opportunities.count) opportunities to evaluate" }
}

/// Turns the opportunities into an ordered plan.
struct ActionsStage: AgentStage {
    struct Step: Codable, Sendable, Equatable {
        var order: Int
        var action: String
        var verify: String
    }

    struct Output: Codable, Sendable, Equatable {
        var steps: [Step]
    }

    var name: String { "actions" }

    func execute(_ input: StageInput) async throws -> Output {
        let optimizations = try input.output(of: "optimizations", as: OptimizationsStage.Output.self)
        let steps = optimizations.opportunities.enumerated().map { index, opportunity in
            Step(order: index + 1, action: opportunity.lever.prefix(1).uppercased() + opportunity.lever.dropFirst(),
                 verify: "compare \(opportunity.tool) before and after over the same traffic window")
        }
        return Output(steps: steps)
    }

    func summary(of output: Output) -> String { "\(output.steps.count) steps planned" }
}

/// Writes the report: Markdown and the same facts as JSON.
struct ReportingStage: AgentStage {
    struct Output: Codable, Sendable, Equatable {
        var title: String
        var goal: String
        var markdown: String
        var steps: [ActionsStage.Step]
    }

    var name: String { "reporting" }

    func execute(_ input: StageInput) async throws -> Output {
        let triage = try input.output(of: "triage", as: TriageStage.Output.self)
        let actions = try input.output(of: "actions", as: ActionsStage.Output.self)
        var markdown = "# Optimization plan\n\n"
        markdown += "**Request:** \(input.input.message)\n\n**Goal:** \(triage.goal)"
        if let budget = triage.budgetUSD { markdown += " (budget $\(budget.formatted(.number.precision(.fractionLength(0...2)))))" }
        markdown += "\n\n| # | Action | How to verify |\n|---|---|---|\n"
        for step in actions.steps { markdown += "| \(step.order) | \(step.action) | \(step.verify) |\n" }
        return Output(title: "Optimization plan", goal: triage.goal, markdown: markdown, steps: actions.steps)
    }

    func summary(of output: Output) -> String { "report written (\(output.steps.count) steps)" }
}
