import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Shared

/// `/api/workloads`: the tenant's AI workload (LLM call logs) that the agents analyse.
struct WorkloadController: Sendable {
    let workloads: WorkloadStore
    let catalog: SupplyCatalog

    /// Uploads may be far larger than other request bodies.
    static let maxUploadSize = 32 << 20
    /// At most this many row errors are listed in a response.
    static let maxListedErrors = 100

    struct Ingested: Encodable {
        let accepted: Int
        let rejected: Int
        let errors: [RowError]
        let unpriced: Int
        let mode: String
    }

    struct InvalidRows: Encodable {
        struct Detail: Encodable {
            let code = "invalid_rows"
            let message: String
            let rows: [RowError]
        }
        let error: Detail
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/events") { request, context in
            let identity = try context.requireIdentity()
            let mode = try Self.mode(request)
            let body = try await request.body.collect(upTo: Self.maxUploadSize)
            let format = request.headers[.contentType].flatMap(WorkloadFormat.init(contentType:))
            let parsed = WorkloadParser.parse(body.readableBytesView, format: format)
            if parsed.isBodyRejected {
                throw NetraError(.invalidBody, .badRequest, parsed.errors.first?.reason ?? "the body could not be read")
            }
            guard parsed.rowCount > 0 else { throw NetraError.invalid("the upload has no rows") }
            let listed = Array(parsed.errors.prefix(Self.maxListedErrors))
            if mode == .allOrNothing && !parsed.errors.isEmpty {
                context.logger.info("Workload upload refused", metadata: ["rows": "\(parsed.rowCount)", "invalid": "\(parsed.errors.count)"])
                let message = "\(parsed.errors.count) of \(parsed.rowCount) rows are invalid; nothing was stored"
                return try jsonResponse(InvalidRows(error: .init(message: message, rows: listed)), status: .unprocessableContent)
            }
            var unpriced = 0
            let costs = parsed.events.map { event -> Double in
                if let cost = event.costUSD { return cost }
                guard let cost = catalog.cost(of: event) else {
                    unpriced += 1
                    return 0
                }
                return cost
            }
            try await workloads.insert(parsed.events, costs: costs, tenant: identity.tenantID, logger: context.logger)
            return try jsonResponse(
                Ingested(accepted: parsed.events.count, rejected: parsed.errors.count, errors: listed, unpriced: unpriced, mode: mode.rawValue),
                status: .created
            )
        }
        group.get("/summary") { _, context in
            let identity = try context.requireIdentity()
            return try jsonResponse(try await workloads.summary(tenant: identity.tenantID, logger: context.logger))
        }
        group.delete("/") { _, context in
            let identity = try context.requireIdentity()
            return try jsonResponse(["deleted": try await workloads.deleteAll(tenant: identity.tenantID, logger: context.logger)])
        }
    }

    /// `?mode=`, default all or nothing.
    static func mode(_ request: Request) throws -> IngestMode {
        guard let text = request.uri.queryParameters.get("mode") else { return .allOrNothing }
        guard let mode = IngestMode(rawValue: String(text)) else {
            throw NetraError.invalid("mode must be one of \(IngestMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return mode
    }
}

/// `/api/supply`: the model catalog and cost estimates.
struct SupplyController: Sendable {
    let catalog: SupplyCatalog

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("/catalog") { request, _ in
            let query = request.uri.queryParameters
            func number<T: LosslessStringConvertible>(_ name: String, _ type: T.Type) throws -> T? {
                guard let text = query.get(name) else { return nil }
                guard let value = T(String(text)) else { throw NetraError.invalid("\(name) must be a number") }
                return value
            }
            let filter = SupplyCatalog.Filter(
                provider: query.get("provider").map { String($0) }, minTier: try number("min_tier", Int.self),
                maxTier: try number("max_tier", Int.self), maxInputPerMTok: try number("max_input_per_mtok", Double.self),
                minContextWindow: try number("min_context_window", Int.self), model: query.get("model").map { String($0) }
            )
            let models = catalog.filtered(filter)
            return try jsonResponse(CatalogPage(count: models.count, models: models))
        }
        group.post("/estimate") { request, context in
            _ = try context.requireIdentity()
            let mix = try await request.decodeJSON(SupplyCatalog.TokenMix.self, context: context)
            guard mix.inputTokens >= 0, mix.outputTokens >= 0, (mix.cachedInputTokens ?? 0) >= 0, (mix.calls ?? 1) >= 0 else {
                throw NetraError.invalid("token counts must not be negative")
            }
            guard (mix.cachedInputTokens ?? 0) <= mix.inputTokens else {
                throw NetraError.invalid("cached_input_tokens must not exceed input_tokens")
            }
            return try jsonResponse(["estimates": catalog.estimate(mix)])
        }
    }

    struct CatalogPage: Encodable {
        let count: Int
        let models: [SupplyModel]
    }
}

/// `/api/generation`: background jobs that write a synthetic workload (runs of the `generate` pipeline).
struct GenerationController: Sendable {
    let submitter: RunSubmitter
    let runs: RunStore

    struct Start: Decodable {
        var events: Int?
        var days: Int?
        var seed: UInt64?
        var profile: String?
    }

    struct Started: Encodable {
        let jobID: RunID
        let status: RunStatus
        enum CodingKeys: String, CodingKey {
            case jobID = "job_id"
            case status
        }
    }

    struct Status: Encodable {
        let jobID: RunID
        let status: RunStatus
        let progress: Int
        let eventsWritten: Int
        let error: JSONValue?
        enum CodingKeys: String, CodingKey {
            case jobID = "job_id"
            case status, progress, error
            case eventsWritten = "events_written"
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/start") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(Start.self, context: context)
            var parameters = RunParameters()
            parameters.events = body.events ?? 10_000
            parameters.days = body.days ?? 14
            parameters.seed = body.seed ?? 1
            parameters.profile = body.profile ?? WorkloadGenerator.Profile.saas.rawValue
            parameters.endDay = Int((Date().timeIntervalSince1970 / 86_400).rounded(.down))
            let message = "Generate \(parameters.events ?? 0) workload events over \(parameters.days ?? 0) days"
            let submission = RunSubmitter.Request(message: message, threadID: nil, pipeline: PipelineKind.generate.rawValue, parameters: parameters)
            let (run, _, _) = try await submitter.create(submission, identity: identity, idempotencyKey: nil, logger: context.logger)
            await submitter.enqueue(run, logger: context.logger)
            return try jsonResponse(Started(jobID: run.id, status: run.status), status: .accepted)
        }
        group.get("/status/{job_id}") { _, context in
            let identity = try context.requireIdentity()
            guard let text = context.parameters.get("job_id"), let id = RunID(text),
                let run = try await runs.run(id, tenant: identity.tenantID, logger: context.logger), run.pipeline == PipelineKind.generate.rawValue
            else { throw NetraError.notFound(.notFound, "generation job not found") }
            var progress = 0
            var written = 0
            for event in try await runs.events(of: id, tenant: identity.tenantID, after: 0, logger: context.logger)
            where event.type == .subAgentUpdate {
                let data = JSONValue(text: event.data)
                if case .number(let percent) = data?["percent"] { progress = Int(percent) }
                if case .number(let count) = data?["events_written"] { written = Int(count) }
            }
            if run.status == .succeeded { progress = 100 }
            return try jsonResponse(
                Status(jobID: id, status: run.status, progress: progress, eventsWritten: written, error: run.error.flatMap { JSONValue(text: $0) })
            )
        }
    }
}
