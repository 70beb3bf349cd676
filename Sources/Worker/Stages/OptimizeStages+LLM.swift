import Logging
import Shared

// Where the optional LLM takes part in the `optimize` pipeline. It never supplies a number: triage may take its goal
// (the tools follow from the goal, the entities from the rules), reporting may take its narrative when every number in
// it is one of the report's. Any failure (timeout, error status, malformed or refused answer) falls back to the
// deterministic result with one warning line; only cancellation propagates.

extension TriageStage {
    /// The rules' result, or the same entities with the goal the LLM chose; ``TriageResult/classifier`` records which
    /// path decided.
    ///
    /// - Parameters:
    ///   - rules: ``WorkloadAnalysis/triage(_:catalog:features:now:)`` of `message`.
    ///   - classifier: The LLM, or `nil` to use the rules.
    static func decide(_ rules: TriageResult, message: String, classifier: GoalClassifier?, logger: Logger) async throws -> TriageResult {
        let fallback = rules.classified(as: rules.goal, by: .rules, message: message)
        guard let classifier else { return fallback }
        do {
            let goal = try await classifier.classify(message, logger: logger)
            return rules.classified(as: goal, by: .llm, message: message)
        } catch let error where error is CancellationError || Task.isCancelled {
            throw CancellationError()
        } catch {
            logger.warning(
                "LLM goal classification not used; triage keeps the rules' goal",
                metadata: [LogKey.error: "\(error)", "goal": "\(rules.goal.rawValue)"]
            )
            return fallback
        }
    }
}

extension ReportingStage {
    /// The report with the LLM's narrative when a narrator is configured and its text passes
    /// ``ReportNarrator/accepted(_:figures:)``; otherwise the report unchanged (`narrative` stays `nil`).
    static func narrate(_ report: OptimizationReport, narrator: ReportNarrator?, logger: Logger) async throws -> OptimizationReport {
        guard let narrator else { return report }
        do {
            var narrated = report
            narrated.narrative = try await narrator.narrative(for: report, logger: logger)
            return narrated
        } catch let error where error is CancellationError || Task.isCancelled {
            throw CancellationError()
        } catch {
            logger.warning("LLM narrative not used; the report has none", metadata: [LogKey.error: "\(error)"])
            return report
        }
    }
}
