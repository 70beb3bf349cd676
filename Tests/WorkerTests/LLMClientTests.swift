import Foundation
import Logging
import Shared
import SharedTestSupport
import Testing

@testable import Worker

/// The optional LLM against a local server speaking the chat-completions wire format: it decides only what it may
/// (triage's goal, the report's narrative), retries what is worth retrying, and every failure falls back to the rules.
@Suite("Optional LLM over chat completions")
struct LLMClientTests {
    typealias Server = ChatCompletionsTestServer

    let logger = TestEnvironment.logger("llm")

    /// 2025-03-11T00:00:00Z: the `now` of the triage in these tests.
    static let now = Date(timeIntervalSince1970: 1_741_651_200)

    func client(_ baseURL: String, timeout: Duration = .seconds(5)) -> ChatCompletionsClient {
        var configuration = LLMConfiguration(baseURL: baseURL + "/", apiKey: Server.apiKey, model: Server.model, timeout: timeout)
        configuration.retryBaseDelay = .milliseconds(20)
        return ChatCompletionsClient(configuration: configuration)
    }

    func rulesTriage(_ message: String) -> TriageResult {
        WorkloadAnalysis.triage(message, catalog: SupplyCatalog.shipped.models, features: ["chat", "summarize"], now: Self.now)
    }

    // MARK: Triage

    @Test func aClassificationReplyChoosesTheGoalAndItsTools() async throws {
        let message = "Optimize my AI workload costs for the chat feature, last 7 days"
        try await Server.with(reply: { _, _ in Server.completion(#"{"goal":"latency"}"#) }, logger: logger) { baseURL, log in
            let rules = rulesTriage(message)
            #expect(rules.goal == .cost)
            let triage = try await TriageStage.decide(
                rules, message: message, classifier: GoalClassifier(client: client(baseURL)), logger: logger
            )
            #expect(triage.goal == .latency)
            #expect(triage.tools == Goal.latency.tools)
            #expect(triage.classifier == .llm)
            #expect(triage.entities == rules.entities)  // features and time range still come from the rules
            #expect(triage.entities.features == ["chat"])
            // The request on the wire: the model (checked by the server), temperature 0, a JSON answer, the message last.
            let request = try #require(log.requests.first)
            #expect(log.requests.count == 1)
            #expect(request.temperature == 0)
            #expect(request.responseFormat?.type == "json_object")
            #expect(request.messages.map(\.role) == ["system", "user"])
            #expect(request.messages.last?.content == message)
            #expect(Goal.allCases.allSatisfy { request.messages.first?.content.contains($0.rawValue) == true })
            // The classifier is part of the stage's output and survives its checkpoint.
            let json = try JSONText.encode(triage)
            #expect(json.contains(#""classifier":"llm""#))
            #expect(try JSONText.decode(TriageResult.self, from: json) == triage)
        }
    }

    @Test func answersThatNameNoKnownGoalFallBackToTheRules() async throws {
        let replies = [#"{"goal":"speed"}"#, "latency", #"{"answer":"latency"}"#, #"```json {"goal":"Budget"} ```"#]
        let message = "why is my p99 latency so high?"
        try await Server.with(reply: { call, _ in Server.completion(replies[(call - 1) % replies.count]) }, logger: logger) { baseURL, _ in
            let rules = rulesTriage(message)
            let classifier = GoalClassifier(client: client(baseURL))
            for _ in 0..<3 {
                let triage = try await TriageStage.decide(rules, message: message, classifier: classifier, logger: logger)
                #expect(triage == rules.classified(as: rules.goal, by: .rules, message: message))
                #expect(triage.goal == .latency && triage.classifier == .rules)
            }
            // A fenced object is tolerated, and the goal's own keywords replace the rules' ones.
            let fenced = try await TriageStage.decide(rules, message: message, classifier: classifier, logger: logger)
            #expect(fenced.goal == .budget && fenced.tools == Goal.budget.tools && fenced.classifier == .llm)
            #expect(fenced.matchedKeywords.isEmpty)
        }
    }

    @Test func withoutAnLLMTriageRecordsTheRules() async throws {
        let message = "will we stay under a $5,000 budget this month?"
        let rules = rulesTriage(message)
        let triage = try await TriageStage.decide(rules, message: message, classifier: nil, logger: logger)
        #expect(triage.classifier == .rules && triage.goal == .budget && triage.tools == rules.tools)
        #expect(rules.classifier == nil)
    }

    // MARK: Retries and timeouts

    @Test func aServerErrorIsRetriedAndTheRetrySucceeds() async throws {
        let reply: Server.Reply = { call, _ in call == 1 ? Server.status(.internalServerError) : Server.completion("hello") }
        try await Server.with(reply: reply, logger: logger) { baseURL, log in
            let content = try await client(baseURL).complete([.user("hi")], logger: logger)
            #expect(content == "hello")
            #expect(log.requests.count == 2)
        }
    }

    @Test func retriesStopAfterTwoAndNonRetryableStatusesAreNotRetried() async throws {
        try await Server.with(reply: { _, _ in Server.status(.serviceUnavailable) }, logger: logger) { baseURL, log in
            let error = await completionError { try await client(baseURL).complete([.user("hi")], logger: logger) }
            #expect(error?.code == .status && error?.status == 503)
            #expect(log.requests.count == 3)
        }
        try await Server.with(reply: { _, _ in Server.status(.badRequest) }, logger: logger) { baseURL, log in
            let error = await completionError { try await client(baseURL).complete([.user("hi")], logger: logger) }
            #expect(error?.code == .status && error?.status == 400)
            #expect(log.requests.count == 1)
        }
    }

    @Test func aRetryAfterBeyondTheTimeoutIsNotWaitedFor() async throws {
        try await Server.with(reply: { _, _ in Server.status(.tooManyRequests, retryAfter: "30") }, logger: logger) { baseURL, log in
            let clock = ContinuousClock()
            let start = clock.now
            let error = await completionError { try await client(baseURL, timeout: .seconds(20)).complete([.user("hi")], logger: logger) }
            #expect(error?.code == .status && error?.status == 429)
            #expect(log.requests.count == 1)
            #expect(clock.now - start < .seconds(15))
        }
    }

    @Test func aWrongKeyIsRefusedAndNotRetried() async throws {
        try await Server.with(reply: { _, _ in Server.completion("never") }, logger: logger) { baseURL, log in
            let configuration = LLMConfiguration(baseURL: baseURL, apiKey: "wrong", model: Server.model, timeout: .seconds(5))
            let llm = ChatCompletionsClient(configuration: configuration)
            let error = await completionError { try await llm.complete([.user("hi")], logger: logger) }
            #expect(error?.code == .status && error?.status == 401)
            #expect(log.requests.isEmpty)
            #expect(!configuration.description.contains("wrong"))
        }
    }

    @Test func aHangingEndpointFallsBackToTheRulesWithinTheTimeout() async throws {
        let timeout = Duration.milliseconds(300)
        let message = "Optimize my AI workload costs"
        let hang: Server.Reply = { _, _ in
            try await Task.sleep(for: .seconds(8))  // the simulated hang; the graceful shutdown waits it out
            return Server.completion(#"{"goal":"latency"}"#)
        }
        try await Server.with(reply: hang, logger: logger) { baseURL, _ in
            let llm = client(baseURL, timeout: timeout)
            let clock = ContinuousClock()
            var start = clock.now
            let error = await completionError { try await llm.complete([.user("hi")], logger: logger) }
            #expect(error?.code == .timeout)
            let direct = clock.now - start
            #expect(direct >= timeout && direct < timeout + .seconds(6))

            start = clock.now
            let rules = rulesTriage(message)
            let triage = try await TriageStage.decide(rules, message: message, classifier: GoalClassifier(client: llm), logger: logger)
            let elapsed = clock.now - start
            #expect(triage.goal == .cost && triage.tools == rules.tools && triage.classifier == .rules)
            #expect(elapsed >= timeout && elapsed < timeout + .seconds(6))
        }
    }

    /// The ``ChatCompletionsError`` `body` throws; `nil` (and a recorded issue) when it throws nothing or another error.
    func completionError(_ body: () async throws -> String) async -> ChatCompletionsError? {
        do {
            let content = try await body()
            Issue.record("expected a ChatCompletionsError, got a reply: \(content)")
        } catch let error as ChatCompletionsError {
            return error
        } catch {
            Issue.record("expected a ChatCompletionsError, got \(error)")
        }
        return nil
    }

    // MARK: Narrative

    @Test func aNarrativeWithAnInventedNumberIsRejectedAndOneWithGivenNumbersIsKept() async throws {
        let fixture = try ReportFixture(message: "Optimize my AI workload costs")
        let headline = fixture.report.headline
        let good =
            "The workload spends \(ReportFormat.usd(headline.monthlySpendUSD)) a month. The \(headline.opportunityCount) "
            + "opportunities found could save \(ReportFormat.usd(headline.potentialMonthlySavingsUSD)) a month, "
            + "\(ReportFormat.percent(headline.savingsPercent)) of spend."
        let invented = good + " Acting now saves 987,654 tokens a day."

        for (narrative, kept) in [(invented, false), (good, true)] {
            try await Server.with(reply: { _, _ in Server.completion(narrative) }, logger: logger) { baseURL, log in
                let stage = ReportingStage(catalog: .shipped, narrator: ReportNarrator(client: client(baseURL)), logger: logger)
                let output = try await stage.execute(fixture.input)
                // The model was given the computed figures, as the report prints them, and no response format.
                let request = try #require(log.requests.first)
                #expect(request.messages.last?.content.contains(ReportFormat.usd(headline.monthlySpendUSD)) == true)
                #expect(request.responseFormat == nil && request.temperature == 0)
                #expect(output.report.headline == headline)
                let json = try JSONText.encode(output.report)
                if kept {
                    #expect(output.report.narrative == good)
                    #expect(json.contains(#""narrative":"#))
                    let summary = try #require(output.markdown.range(of: "## Summary\n\n" + ReportFormat.markdown(good)))
                    let opportunities = try #require(output.markdown.range(of: "## Opportunities"))
                    #expect(summary.lowerBound < opportunities.lowerBound)
                } else {
                    #expect(output.report.narrative == nil)
                    #expect(!json.contains("narrative"))
                    #expect(!output.markdown.contains("## Summary"))
                    #expect(output.markdown == fixture.report.markdown())
                }
            }
        }
    }

    @Test func narrativeNumbersMustBeAmongTheFigures() throws {
        let figures = "monthly spend: $1,234.50\nopportunity 1: Route chat from gpt-4o; 12.3% of spend\nwindow: this month (2025-03)"
        #expect(try ReportNarrator.accepted("  Spend is 1234.5 dollars; gpt-4o saves 12.30% in March 2025 (month 03), #1. ", figures: figures)
            == "Spend is 1234.5 dollars; gpt-4o saves 12.30% in March 2025 (month 03), #1.")
        #expect(throws: LLMAnswerRejected.self) { try ReportNarrator.accepted("Spend is $1,234.51.", figures: figures) }
        #expect(throws: LLMAnswerRejected.self) { try ReportNarrator.accepted("About 12% of spend.", figures: figures) }
        #expect(throws: LLMAnswerRejected.self) { try ReportNarrator.accepted("Version 1.2.3.", figures: figures) }
        #expect(throws: LLMAnswerRejected.self) { try ReportNarrator.accepted(" \n ", figures: figures) }
        let long = Array(repeating: "word", count: ReportNarrator.maximumWords + 1).joined(separator: " ")
        #expect(throws: LLMAnswerRejected.self) { try ReportNarrator.accepted(long, figures: figures) }
    }

    // MARK: Configuration

    @Test func theLLMIsConfiguredOnlyWithABaseURLAndAModel() throws {
        #expect(try LLMConfiguration(settings: Settings(environment: ["NETRA_LLM_BASE_URL": "http://127.0.0.1:8000/v1"])) == nil)
        #expect(try LLMConfiguration(settings: Settings(environment: ["NETRA_LLM_MODEL": "m"])) == nil)
        let configured = try #require(
            try LLMConfiguration(
                settings: Settings(
                    flags: ["llm.timeout": "2.5"],
                    environment: ["NETRA_LLM_BASE_URL": "http://127.0.0.1:8000/v1/", "NETRA_LLM_MODEL": "m", "NETRA_LLM_API_KEY": "sk-secret"]
                )
            )
        )
        #expect(configured.completionsURL == "http://127.0.0.1:8000/v1/chat/completions")
        #expect(configured.timeout == .milliseconds(2500) && configured.apiKey == "sk-secret")
        #expect(!configured.description.contains("sk-secret"))
        #expect(throws: ConfigurationError.self) {
            try LLMConfiguration(settings: Settings(environment: ["NETRA_LLM_BASE_URL": "ftp://host/v1", "NETRA_LLM_MODEL": "m"]))
        }
        #expect(throws: ConfigurationError.self) {
            try LLMConfiguration(
                settings: Settings(environment: ["NETRA_LLM_BASE_URL": "http://h/v1", "NETRA_LLM_MODEL": "m", "NETRA_LLM_TIMEOUT": "0"])
            )
        }
        #expect(SettingKey.llmBaseURL.environmentName == "NETRA_LLM_BASE_URL" && SettingKey.llmBaseURL.flagName == "--llm-base-url")
        #expect(SettingKey.llmAPIKey.environmentName == "NETRA_LLM_API_KEY")
    }
}

/// The outputs of the stages before Reporting for a small workload (gpt-4o on `chat` with 30% repeated prompts,
/// gpt-4o-mini on `summarize`, ten days), and the report the rules write from them.
struct ReportFixture {
    let input: StageInput
    let report: OptimizationReport

    init(message: String) throws {
        let catalog = SupplyCatalog.shipped.models
        let start = Date(timeIntervalSince1970: 1_740_787_200)
        let span = ObservedSpan(firstEvent: start, lastEvent: start.addingTimeInterval(10 * 86_400), calls: 4000, costUSD: 120.5)
        let data = WorkloadAggregates(
            span: span,
            usage: [
                UsageGroup(
                    model: "gpt-4o", provider: "openai", feature: "chat", calls: 1000, interactiveCalls: 1000, inputTokens: 1_000_000,
                    outputTokens: 100_000, costUSD: 100),
                UsageGroup(
                    model: "gpt-4o-mini", provider: "openai", feature: "summarize", calls: 3000, nonInteractiveCalls: 3000,
                    nonInteractiveCostUSD: 20.5, inputTokens: 3_000_000, outputTokens: 300_000, costUSD: 20.5),
            ],
            duplicates: [
                DuplicateGroup(
                    feature: "chat", model: "gpt-4o", provider: "openai", calls: 1000, costUSD: 100, duplicateCalls: 300, duplicateCostUSD: 30)
            ]
        )
        let rules = WorkloadAnalysis.triage(message, catalog: catalog, features: ["chat", "summarize"], now: start.addingTimeInterval(11 * 86_400))
        let triage = rules.classified(as: rules.goal, by: .rules, message: message)
        let options = AnalysisOptions(monthlyBudgetUSD: triage.entities.budgetUSD)
        let outcomes = triage.tools.map { WorkloadAnalysis.run($0, on: data, catalog: catalog, options: options) }
        let ranked = WorkloadAnalysis.rank(outcomes.flatMap(\.opportunities))
        let plan = ActionPlan.plan(
            ranked, monthlySpendUSD: WorkloadAnalysis.monthlySpendUSD(outcomes: outcomes, span: span), monthlyFactor: span.monthlyFactor
        )
        let outputs = try [
            "triage": JSONText.encode(triage),
            "data": JSONText.encode(DataStage.Output(timeRange: triage.entities.timeRange, aggregates: data)),
            "optimizations": JSONText.encode(OptimizationsStage.Output(outcomes: outcomes, ranked: ranked)),
            "actions": JSONText.encode(plan),
        ]
        let run = ClaimedRun(
            id: RunID(), tenantID: TenantID(), threadID: nil, pipeline: "optimize", input: "{}", attempt: 1, finishedStages: [], nextSeq: 1
        )
        input = StageInput(run: run, input: RunInput(message: message), outputs: outputs, index: 4)
        report = OptimizationReport.build(
            triage: triage, span: span, outcomes: outcomes, ranked: ranked, plan: plan, message: message, catalog: catalog
        )
    }
}
