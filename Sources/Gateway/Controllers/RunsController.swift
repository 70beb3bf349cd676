import Foundation
import HTTPTypes
import Hummingbird
import Shared

/// `/api/agent`: submit runs, read their status and the tenant's history.
struct RunsController: Sendable {
    let submitter: RunSubmitter
    let runs: RunStore
    let control: RunControl

    struct Accepted: Encodable {
        let runID: RunID
        let threadID: ThreadID?
        let status: RunStatus
        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case threadID = "thread_id"
            case status
        }
    }

    /// A run as `status` and `history` report it.
    struct RunBody: Encodable {
        let runID: RunID
        /// Only in the operator's lists, which span tenants.
        let tenantID: TenantID?
        let threadID: ThreadID?
        let pipeline: String
        let status: RunStatus
        let currentStage: String?
        let stageCount: Int
        let stagesFinished: [String]?
        let attempt: Int
        let priority: RunPriority
        /// A delayed run's time, while it has not come.
        let runAt: Date?
        let createdAt: Date
        let startedAt: Date?
        let finishedAt: Date?
        let result: JSONValue?
        let error: JSONValue?

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case tenantID = "tenant_id"
            case threadID = "thread_id"
            case pipeline, status
            case currentStage = "current_stage"
            case stageCount = "stage_count"
            case stagesFinished = "stages_finished"
            case attempt, priority
            case runAt = "run_at"
            case createdAt = "created_at"
            case startedAt = "started_at"
            case finishedAt = "finished_at"
            case result, error
        }

        init(_ run: RunRecord, stages: [StageRecord]?, includeResult: Bool, showTenant: Bool = false) {
            runID = run.id
            tenantID = showTenant ? run.tenantID : nil
            threadID = run.threadID
            pipeline = run.pipeline
            status = run.scheduledFor != nil && run.status == .queued ? .scheduled : run.status
            currentStage = run.currentStage
            stageCount = run.stageCount
            stagesFinished = stages?.map(\.name)
            attempt = run.attempt
            priority = run.priority
            runAt = run.scheduledFor
            createdAt = run.createdAt
            startedAt = run.startedAt
            finishedAt = run.finishedAt
            result = includeResult ? run.result.flatMap { JSONValue(text: $0) } : nil
            error = run.error.flatMap { JSONValue(text: $0) }
        }
    }

    struct History: Encodable {
        let runs: [RunBody]
        let nextBefore: RunID?
        enum CodingKeys: String, CodingKey {
            case runs
            case nextBefore = "next_before"
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/runs") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(RunSubmitter.Request.self, context: context)
            let key = request.headers[.idempotencyKey]
            let (run, created, blocked) = try await submitter.create(body, identity: identity, idempotencyKey: key, logger: context.logger)
            if created && !blocked { await submitter.enqueue(run, logger: context.logger) }
            let shown: RunStatus = run.scheduledFor != nil && run.status == .queued ? .scheduled : run.status
            var response = try jsonResponse(Accepted(runID: run.id, threadID: run.threadID, status: shown), status: .accepted)
            if !created { response.headers[.idempotentReplayed] = "true" }
            return response
        }
        group.get("/status/{run_id}") { _, context in
            let identity = try context.requireIdentity()
            let id = try context.runIDParameter()
            guard let run = try await runs.run(id, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.runNotFound
            }
            let stages = try await runs.stages(of: id, tenant: identity.tenantID, logger: context.logger)
            return try jsonResponse(RunBody(run, stages: stages, includeResult: true))
        }
        group.get("/history") { request, context in
            try await history(request, context: context, status: nil)
        }
        group.get("/dead") { request, context in
            try await history(request, context: context, status: .dead)
        }
        group.post("/runs/{run_id}/cancel") { _, context in
            let identity = try context.requireIdentity()
            return try jsonResponse(try await control.cancel(try context.runIDParameter(), identity: identity, logger: context.logger))
        }
        group.post("/runs/{run_id}/retry") { _, context in
            let identity = try context.requireIdentity()
            // A retry starts the run again: a suspended tenant may not, and it counts against the submission rate
            // (taken only for a run that can be retried: an unknown or running one answers 404/409 for free).
            let id = try context.runIDParameter()
            guard let run = try await runs.run(id, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.runNotFound
            }
            if run.status == .failed || run.status == .dead { try await submitter.access.admitRun(identity, logger: context.logger) }
            let entry = try await control.retry(id, tenant: identity.tenantID, logger: context.logger)
            return try jsonResponse(Accepted(runID: entry.runID, threadID: nil, status: .queued), status: .accepted)
        }
    }

    /// A page of the tenant's runs, newest first.
    private func history(_ request: Request, context: GatewayContext, status: RunStatus?) async throws -> Response {
        let identity = try context.requireIdentity()
        let limit = try Paging.limit(request)
        var before: RunID?
        if let text = request.uri.queryParameters.get("before") {
            guard let id = RunID(text) else { throw NetraError.invalid("before must be a run id") }
            before = id
        }
        let page = try await runs.history(tenant: identity.tenantID, status: status, limit: limit, before: before, logger: context.logger)
        let next = page.count == limit ? page.last?.id : nil
        return try jsonResponse(History(runs: page.map { RunBody($0, stages: nil, includeResult: false) }, nextBefore: next))
    }

}

extension HTTPField.Name {
    /// The client's key for safe retries of `POST /api/agent/runs`.
    static let idempotencyKey = Self("Idempotency-Key")!
    /// Set on a response that returns the run an earlier request with the same key created.
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    /// The last event an EventSource saw, sent when it reconnects.
    static let lastEventID = Self("Last-Event-ID")!
}
