import Foundation
import Logging
import Shared

/// Asks the LLM which ``Goal`` a user's message is about. The answer must be one JSON object, `{"goal":"latency"}`,
/// naming one of `Goal.allCases`; anything else is refused, and the caller keeps the rules' goal.
struct GoalClassifier: Sendable {
    let client: ChatCompletionsClient

    /// Messages longer than this are cut before they are sent.
    static let maximumMessageCharacters = 4_000

    /// The goal the model chose.
    ///
    /// - Throws: ``ChatCompletionsError`` when the call fails, ``LLMAnswerRejected`` when the answer names no known goal.
    func classify(_ message: String, logger: Logger) async throws -> Goal {
        let reply = try await client.complete(
            [.system(Self.instructions), .user(String(message.prefix(Self.maximumMessageCharacters)))],
            responseFormat: .jsonObject, logger: logger
        )
        guard let goal = Self.goal(in: reply) else { throw LLMAnswerRejected("the reply names none of the known goals") }
        return goal
    }

    /// The goal of a reply: a JSON object whose `goal` is a ``Goal`` raw value (case and surrounding spaces ignored);
    /// a Markdown code fence around the object is tolerated. `nil` for anything else.
    static func goal(in reply: String) -> Goal? {
        struct Answer: Decodable {
            let goal: String
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(unfenced(reply).utf8)) else { return nil }
        return Goal(rawValue: answer.goal.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// The text inside a ```` ``` ```` or ```` ```json ```` fence, or the trimmed text when it has none.
    static func unfenced(_ reply: String) -> String {
        var text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("```"), text.hasSuffix("```"), text.count >= 6 else { return text }
        text = String(text.dropFirst(3).dropLast(3))
        if text.lowercased().hasPrefix("json") { text = String(text.dropFirst(4)) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The system message: every goal with what it covers, and the answer's exact shape.
    static var instructions: String {
        let goals = Goal.allCases.map { "- \($0.rawValue): \($0.scope)" }.joined(separator: "\n")
        return """
            You classify a request about an AI workload (the tenant's LLM API call logs) into exactly one optimization goal.
            Goals:
            \(goals)
            Answer with one JSON object and nothing else, for example {"goal":"cost"}. The value must be one of: \
            \(Goal.allCases.map { $0.rawValue }.joined(separator: ", ")).
            """
    }
}

extension Goal {
    /// What the goal covers, in the classifier's instructions.
    var scope: String {
        switch self {
        case .cost: "lower spend: cheaper models or providers, caching, batching, wasted tokens"
        case .latency: "faster responses: p50/p95/p99 latency, time to first token, slow features or models"
        case .quality: "reliability: errors, failures, timeouts, retries, truncated or wrong answers"
        case .throughput: "capacity: rate limits, tokens per second, concurrency, queues and backlogs"
        case .budget: "staying within a spending budget: month-end projection, forecast, overspend"
        case .general: "a general review, several goals at once, or none of the above"
        }
    }
}

/// An LLM answer that parsed but cannot be used (an unknown goal, a narrative with numbers of its own, too long).
struct LLMAnswerRejected: Error, CustomStringConvertible, Sendable {
    let reason: String

    init(_ reason: String) { self.reason = reason }

    var description: String { "LLM answer rejected: \(reason)" }
}
