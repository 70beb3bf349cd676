import Foundation
import Logging
import PostgresNIO

/// What happens to firings missed while no scheduler ran.
public enum CatchUp: String, Codable, Sendable, StringEnum {
    /// Missed firings are dropped; the schedule continues with its next firing after now.
    case skip
    /// All missed firings together make one run; then the schedule continues.
    case runOnce = "run_once"
}

/// A cron schedule of a tenant: a pipeline and its input, run at each firing of `cron` in `timeZone`.
public struct ScheduleRecord: Sendable, Equatable {
    public var id: UUID
    public var tenantID: TenantID
    public var name: String
    public var cron: String
    public var timeZone: String
    public var pipeline: String
    /// JSON text of the run input.
    public var input: String
    public var stageCount: Int
    public var priority: RunPriority
    public var catchUp: CatchUp
    public var enabled: Bool
    public var nextFireAt: Date?
    public var lastFiredAt: Date?
    public var createdAt: Date

    public init(
        id: UUID = UUID(), tenantID: TenantID, name: String, cron: String, timeZone: String, pipeline: String, input: String, stageCount: Int,
        priority: RunPriority, catchUp: CatchUp, enabled: Bool, nextFireAt: Date?, lastFiredAt: Date? = nil, createdAt: Date = Date()
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.cron = cron
        self.timeZone = timeZone
        self.pipeline = pipeline
        self.input = input
        self.stageCount = stageCount
        self.priority = priority
        self.catchUp = catchUp
        self.enabled = enabled
        self.nextFireAt = nextFireAt
        self.lastFiredAt = lastFiredAt
        self.createdAt = createdAt
    }

    /// The firing after `date`, or `nil` when the expression or the zone no longer parse (or never fire).
    public func firing(after date: Date) -> Date? {
        guard let expression = try? CronExpression(cron), let zone = try? CronExpression.timeZone(timeZone) else { return nil }
        return expression.next(after: date, in: zone)
    }
}

/// Schedules, scoped by tenant, and their firings.
public struct ScheduleStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    static let columns = """
        id, tenant_id, name, cron, time_zone, pipeline, input::text, stage_count, priority::integer, catch_up, enabled,
        next_fire_at, last_fired_at, created_at
        """

    public func create(_ schedule: ScheduleRecord, logger: Logger) async throws -> ScheduleRecord {
        let rows = try await client.query(
            """
            INSERT INTO schedules (id, tenant_id, name, cron, time_zone, pipeline, input, stage_count, priority, catch_up, enabled, next_fire_at)
            VALUES (\(schedule.id), \(schedule.tenantID.uuid), \(schedule.name), \(schedule.cron), \(schedule.timeZone), \(schedule.pipeline),
                    \(schedule.input)::jsonb, \(schedule.stageCount), \(schedule.priority.rank), \(schedule.catchUp.rawValue), \(schedule.enabled),
                    \(schedule.nextFireAt))
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        guard let created = try await Self.records(rows).first else { throw PostgresStoreError.missingRow }
        return created
    }

    public func list(tenant: TenantID, logger: Logger) async throws -> [ScheduleRecord] {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM schedules WHERE tenant_id = \(tenant.uuid) ORDER BY created_at, id", logger: logger
        )
        return try await Self.records(rows)
    }

    public func schedule(_ id: UUID, tenant: TenantID, logger: Logger) async throws -> ScheduleRecord? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM schedules WHERE id = \(id) AND tenant_id = \(tenant.uuid)", logger: logger
        )
        return try await Self.records(rows).first
    }

    /// Writes every field of `schedule` (already validated, with its recomputed `nextFireAt`).
    public func update(_ schedule: ScheduleRecord, logger: Logger) async throws -> ScheduleRecord? {
        let rows = try await client.query(
            """
            UPDATE schedules SET name = \(schedule.name), cron = \(schedule.cron), time_zone = \(schedule.timeZone),
                pipeline = \(schedule.pipeline), input = \(schedule.input)::jsonb, stage_count = \(schedule.stageCount),
                priority = \(schedule.priority.rank), catch_up = \(schedule.catchUp.rawValue), enabled = \(schedule.enabled),
                next_fire_at = \(schedule.nextFireAt), updated_at = now()
            WHERE id = \(schedule.id) AND tenant_id = \(schedule.tenantID.uuid)
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        return try await Self.records(rows).first
    }

    public func delete(_ id: UUID, tenant: TenantID, logger: Logger) async throws -> Bool {
        let rows = try await client.query("DELETE FROM schedules WHERE id = \(id) AND tenant_id = \(tenant.uuid) RETURNING id", logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Makes the firings due by `now` of up to `limit` schedules, each schedule in its own transaction: the run (at
    /// most one per firing: the unique index on `(schedule_id, scheduled_for)` refuses a second, whichever replica
    /// tries) and the schedule's next firing. A firing more than `grace` late was missed (no scheduler ran): with
    /// `skip` it makes no run, with `run_once` the missed firings make one run. Returns the runs to admit.
    public func fireDue(now: Date, grace: TimeInterval = 60, limit: Int = 100, logger: Logger) async throws -> [RunStreamEntry] {
        var entries: [RunStreamEntry] = []
        let due = try await client.query(
            """
            SELECT id FROM schedules WHERE enabled AND next_fire_at <= \(now) ORDER BY next_fire_at LIMIT \(limit)
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in due.decode(UUID.self) { ids.append(id) }
        for id in ids {
            if let entry = try await fire(id, now: now, grace: grace, logger: logger) { entries.append(entry) }
        }
        return entries
    }

    private func fire(_ id: UUID, now: Date, grace: TimeInterval, logger: Logger) async throws -> RunStreamEntry? {
        try await client.transaction(logger: logger) { connection in
            // Locked, and skipped if another replica holds it: that one is firing it.
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM schedules
                WHERE id = \(id) AND enabled AND next_fire_at <= \(now) FOR UPDATE SKIP LOCKED
                """,
                logger: logger
            )
            guard let schedule = try await Self.records(rows).first, let firing = schedule.nextFireAt else { return nil }
            let missed = now.timeIntervalSince(firing) > grace
            let next = schedule.firing(after: missed ? now : firing)
            var entry: RunStreamEntry?
            // The missed firings' one run stands for the latest of them.
            var scheduledFor = firing
            if missed {
                var steps = 0
                while let later = schedule.firing(after: scheduledFor), later <= now, steps < 100_000 {
                    scheduledFor = later
                    steps += 1
                }
            }
            if !missed || schedule.catchUp == .runOnce {
                let run = UUID()
                let inserted = try await connection.query(
                    """
                    INSERT INTO runs (id, tenant_id, pipeline, input, status, stage_count, priority, schedule_id, scheduled_for)
                    VALUES (\(run), \(schedule.tenantID.uuid), \(schedule.pipeline), \(schedule.input)::jsonb, 'queued', \(schedule.stageCount),
                            \(schedule.priority.rank), \(schedule.id), \(scheduledFor))
                    ON CONFLICT (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL DO NOTHING
                    RETURNING id, tenant_id, attempt, priority::integer
                    """,
                    logger: logger
                )
                entry = try await RunStore.entries(inserted).first
            }
            try await connection.query(
                """
                UPDATE schedules SET next_fire_at = \(next), last_fired_at = COALESCE(\(entry == nil ? nil : scheduledFor), last_fired_at),
                    updated_at = now()
                WHERE id = \(id)
                """,
                logger: logger
            )
            return entry
        }
    }

    static func records(_ rows: PostgresRowSequence) async throws -> [ScheduleRecord] {
        var schedules: [ScheduleRecord] = []
        let columns = (UUID, UUID, String, String, String, String, String, Int, Int, String, Bool, Date?, Date?, Date).self
        for try await row in rows.decode(columns) {
            let (id, tenant, name, cron, zone, pipeline, input, stages, priority, catchUp, enabled, next, last, created) = row
            schedules.append(
                ScheduleRecord(
                    id: id, tenantID: TenantID(uuid: tenant), name: name, cron: cron, timeZone: zone, pipeline: pipeline, input: input,
                    stageCount: stages, priority: RunPriority(rank: priority) ?? .normal, catchUp: CatchUp(rawValue: catchUp) ?? .skip,
                    enabled: enabled, nextFireAt: next, lastFiredAt: last, createdAt: created
                )
            )
        }
        return schedules
    }
}
