import Foundation
import Hummingbird
import Shared

/// `/api/schedules`: the tenant's cron schedules. Each firing creates one run (see `ScheduleStore.fireDue`).
struct SchedulesController: Sendable {
    let schedules: ScheduleStore

    /// A new schedule; `PATCH` takes the same fields, all optional.
    struct ScheduleFields: Decodable {
        var name: String?
        var cron: String?
        var timeZone: String?
        var message: String?
        var pipeline: String?
        var parameters: RunParameters?
        var priority: RunPriority?
        var catchUp: CatchUp?
        var enabled: Bool?

        enum CodingKeys: String, CodingKey {
            case name, cron, message, pipeline, parameters, priority, enabled
            case timeZone = "time_zone"
            case catchUp = "catch_up"
        }
    }

    struct ScheduleBody: Encodable {
        /// In lower case, as every identifier the API gives out (Foundation would write a `UUID` in upper case).
        let id: String
        let name: String
        let cron: String
        let timeZone: String
        let pipeline: String
        let message: String
        let parameters: RunParameters
        let priority: RunPriority
        let catchUp: CatchUp
        let enabled: Bool
        let nextFireAt: Date?
        let lastFiredAt: Date?
        let createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, name, cron, pipeline, message, parameters, priority, enabled
            case timeZone = "time_zone"
            case catchUp = "catch_up"
            case nextFireAt = "next_fire_at"
            case lastFiredAt = "last_fired_at"
            case createdAt = "created_at"
        }

        init(_ record: ScheduleRecord) {
            let input = try? JSONText.decode(RunInput.self, from: record.input)
            id = record.id.lowercasedText
            name = record.name
            cron = record.cron
            timeZone = record.timeZone
            pipeline = record.pipeline
            message = input?.message ?? ""
            parameters = input?.parameters ?? RunParameters()
            priority = record.priority
            catchUp = record.catchUp
            enabled = record.enabled
            nextFireAt = record.nextFireAt
            lastFiredAt = record.lastFiredAt
            createdAt = record.createdAt
        }
    }

    struct ScheduleList: Encodable {
        let schedules: [ScheduleBody]
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/") { request, context in
            let identity = try context.requireIdentity()
            let fields = try await request.decodeJSON(ScheduleFields.self, context: context)
            guard let cron = fields.cron else { throw NetraError.invalid("cron is required") }
            guard let message = fields.message else { throw NetraError.invalid("message is required") }
            var record = ScheduleRecord(
                tenantID: identity.tenantID, name: "", cron: cron, timeZone: fields.timeZone ?? "UTC", pipeline: fields.pipeline ?? "",
                input: "", stageCount: 0, priority: fields.priority ?? .normal, catchUp: fields.catchUp ?? .skip,
                enabled: fields.enabled ?? true, nextFireAt: nil
            )
            try Self.apply(fields, message: message, to: &record)
            let created = try await schedules.create(record, logger: context.logger)
            return try jsonResponse(ScheduleBody(created), status: .created)
        }
        group.get("/") { _, context in
            let identity = try context.requireIdentity()
            return try jsonResponse(ScheduleList(schedules: try await schedules.list(tenant: identity.tenantID, logger: context.logger).map(ScheduleBody.init)))
        }
        group.get("/{schedule_id}") { _, context in
            let identity = try context.requireIdentity()
            guard let record = try await schedules.schedule(try scheduleID(context), tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.scheduleNotFound
            }
            return try jsonResponse(ScheduleBody(record))
        }
        group.patch("/{schedule_id}") { request, context in
            let identity = try context.requireIdentity()
            let id = try scheduleID(context)
            let fields = try await request.decodeJSON(ScheduleFields.self, context: context)
            guard var record = try await schedules.schedule(id, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.scheduleNotFound
            }
            let current = try? JSONText.decode(RunInput.self, from: record.input)
            var merged = fields
            merged.cron = fields.cron ?? record.cron
            merged.timeZone = fields.timeZone ?? record.timeZone
            merged.pipeline = fields.pipeline ?? record.pipeline
            merged.parameters = fields.parameters ?? current?.parameters
            merged.name = fields.name ?? record.name
            record.priority = fields.priority ?? record.priority
            record.catchUp = fields.catchUp ?? record.catchUp
            record.enabled = fields.enabled ?? record.enabled
            try Self.apply(merged, message: fields.message ?? current?.message ?? "", to: &record)
            guard let updated = try await schedules.update(record, logger: context.logger) else { throw NetraError.scheduleNotFound }
            return try jsonResponse(ScheduleBody(updated))
        }
        group.delete("/{schedule_id}") { _, context in
            let identity = try context.requireIdentity()
            guard try await schedules.delete(try scheduleID(context), tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.scheduleNotFound
            }
            return Response(status: .noContent)
        }
    }

    /// Validates the cron expression (400 `invalid_cron` naming the bad field), the zone, the name and the run input,
    /// and sets the next firing after now.
    static func apply(_ fields: ScheduleFields, message: String, to record: inout ScheduleRecord) throws {
        let text = (fields.cron ?? record.cron).trimmingCharacters(in: .whitespaces)
        let expression: CronExpression
        let zone: TimeZone
        do {
            expression = try CronExpression(text)
            zone = try CronExpression.timeZone(fields.timeZone ?? record.timeZone)
        } catch {
            throw NetraError(.invalidCron, .badRequest, error.message)
        }
        let name = (fields.name ?? text).trimmingCharacters(in: .whitespacesAndNewlines)
        try Validate.name(name, field: "name")
        let (_, pipeline, input, stages) = try RunSubmitter.validatedInput(message: message, pipeline: fields.pipeline, parameters: fields.parameters)
        record.name = name
        record.cron = text
        // As the client named it: Foundation calls "UTC" "GMT".
        record.timeZone = fields.timeZone ?? record.timeZone
        record.pipeline = pipeline.rawValue
        record.input = input
        record.stageCount = stages.count
        guard let next = expression.next(after: Date(), in: zone) else {
            throw NetraError(.invalidCron, .badRequest, "\(text) never fires (within \(CronExpression.searchYears) years)")
        }
        record.nextFireAt = record.enabled ? next : nil
    }

    private func scheduleID(_ context: GatewayContext) throws -> UUID {
        guard let text = context.parameters.get("schedule_id"), let id = UUID(uuidString: text) else { throw NetraError.scheduleNotFound }
        return id
    }
}
