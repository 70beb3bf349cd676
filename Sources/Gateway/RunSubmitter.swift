import Foundation
import Logging
import Shared

/// Validates and creates runs: the row first, then the stream entry. Shared by REST and the WebSocket.
struct RunSubmitter: Sendable {
    let runs: RunStore
    let threads: ThreadStore
    let redis: RedisClient
    let keys: RedisKeys

    /// What a client asks for.
    struct Request: Decodable, Sendable {
        var message: String
        var threadID: ThreadID?
        var pipeline: String?
        var parameters: RunParameters?

        enum CodingKeys: String, CodingKey {
            case message
            case threadID = "thread_id"
            case pipeline, parameters
        }
    }

    static let maxMessageLength = 32_000

    /// Validates the request and inserts the queued run. Call `enqueue` afterwards.
    func create(_ request: Request, identity: Identity, logger: Logger) async throws -> RunRecord {
        let message = request.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty else { throw NetraError.invalid("message must not be empty") }
        guard message.count <= Self.maxMessageLength else { throw NetraError.invalid("message is longer than \(Self.maxMessageLength) characters") }
        let pipelineName = request.pipeline ?? PipelineKind.optimize.rawValue
        guard let pipeline = PipelineKind(rawValue: pipelineName) else {
            throw NetraError.invalid("unknown pipeline '\(pipelineName)'; known: \(PipelineKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parameters = request.parameters ?? RunParameters()
        let stages: [String]
        switch pipeline.stageNames(for: parameters) {
        case .success(let names): stages = names
        case .failure(let error): throw NetraError.invalid(error.message)
        }
        if let thread = request.threadID {
            guard try await threads.thread(thread, tenant: identity.tenantID, logger: logger) != nil else {
                throw NetraError.notFound(.threadNotFound, "thread not found")
            }
        }
        let input = try JSONText.encode(RunInput(message: message, parameters: parameters))
        return try await runs.create(
            NewRun(
                tenantID: identity.tenantID, threadID: request.threadID, userID: identity.userID, pipeline: pipeline.rawValue,
                input: input, stageCount: stages.count, message: message
            ),
            logger: logger
        )
    }

    /// Hands the run to the workers (XADD).
    ///
    /// If Redis does not take the entry, the run is marked failed so no queued row is left that nothing will run.
    func enqueue(_ run: RunRecord, logger: Logger) async throws {
        do {
            try await redis.xadd(keys.runStream, fields: RunStreamEntry(runID: run.id, tenantID: run.tenantID, attempt: run.attempt).fields)
        } catch {
            logger.warning("Enqueue failed", metadata: [LogKey.runID: "\(run.id)", LogKey.error: "\(error)"])
            try? await runs.abandon(run.id, tenant: run.tenantID, reason: "enqueue_failed", logger: logger)
            throw NetraError.unavailable
        }
    }
}
