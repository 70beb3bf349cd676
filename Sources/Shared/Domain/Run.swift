import Foundation

/// The life of a run: `queued → running → succeeded | failed | cancelled | dead`.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled, dead
    /// How the API shows a queued run whose time has not come (`run_at`, `delay_seconds`, or a retry's backoff);
    /// never stored: the row is `queued` with `not_before` in the future.
    case scheduled

    /// `true` once the run can change no more.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .dead: true
        case .queued, .running, .scheduled: false
        }
    }
}

/// Where a run stands in the queue. Workers take a waiting `high` run before any `normal` one and a `normal` before any
/// `low` one, except for a bounded share that keeps lower levels moving (see `RunConsumer`). Stored as `runs.priority`
/// (0, 1, 2).
public enum RunPriority: String, Codable, Sendable, StringEnum, Comparable {
    case high, normal, low

    /// The value stored in PostgreSQL and carried in stream entries; lower goes first.
    public var rank: Int {
        switch self {
        case .high: 0
        case .normal: 1
        case .low: 2
        }
    }

    public init?(rank: Int) {
        guard let priority = Self.allCases.first(where: { $0.rank == rank }) else { return nil }
        self = priority
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// A run's row, as the API reports it.
public struct RunRecord: Sendable, Equatable {
    public var id: RunID
    public var tenantID: TenantID
    public var threadID: ThreadID?
    public var pipeline: String
    public var status: RunStatus
    public var currentStage: String?
    public var stageCount: Int
    public var attempt: Int
    public var priority: RunPriority = .normal
    /// When a queued run whose time has not come may start; `nil` otherwise.
    public var scheduledFor: Date?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// JSON text of the error, when the run failed.
    public var error: String?
    /// JSON text of the result, when the run succeeded.
    public var result: String?

    public init(
        id: RunID, tenantID: TenantID, threadID: ThreadID?, pipeline: String, status: RunStatus,
        currentStage: String?, stageCount: Int, attempt: Int, createdAt: Date, startedAt: Date?,
        finishedAt: Date?, error: String?, result: String?
    ) {
        self.id = id
        self.tenantID = tenantID
        self.threadID = threadID
        self.pipeline = pipeline
        self.status = status
        self.currentStage = currentStage
        self.stageCount = stageCount
        self.attempt = attempt
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        self.result = result
    }
}

/// A finished stage: the checkpoint a resumed run starts after.
public struct StageRecord: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var attempt: Int
    /// JSON text of the stage's output.
    public var output: String
    public var startedAt: Date
    public var finishedAt: Date

    public init(index: Int, name: String, attempt: Int, output: String, startedAt: Date, finishedAt: Date) {
        self.index = index
        self.name = name
        self.attempt = attempt
        self.output = output
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// The stream entry that hands a run to the workers; the payload itself stays in PostgreSQL.
public struct RunStreamEntry: Sendable, Equatable {
    public var streamID: String
    /// The stream the entry came from (the run stream or the recovery stream).
    public var stream: String = ""
    public var runID: RunID
    public var tenantID: TenantID
    /// The run's `attempt` when it was enqueued: the claim's fencing token.
    public var attempt: Int
    /// Which work stream the run enters when it is admitted.
    public var priority: RunPriority

    public init(streamID: String = "", runID: RunID, tenantID: TenantID, attempt: Int, priority: RunPriority = .normal) {
        self.streamID = streamID
        self.runID = runID
        self.tenantID = tenantID
        self.attempt = attempt
        self.priority = priority
    }

    /// The entry's fields, for `XADD`.
    public var fields: KeyValuePairs<String, String> {
        ["run": runID.description, "tenant": tenantID.description, "attempt": String(attempt)]
    }

    /// The entry of `run`, at its current attempt and priority.
    public init(_ run: RunRecord) {
        self.init(runID: run.id, tenantID: run.tenantID, attempt: run.attempt, priority: run.priority)
    }

    /// Parses an entry read from the stream; `nil` when a field is missing or malformed.
    public init?(_ entry: StreamEntry) {
        guard let run = entry.fields["run"].flatMap(RunID.init), let tenant = entry.fields["tenant"].flatMap(TenantID.init),
            let attempt = entry.fields["attempt"].flatMap({ Int($0) })
        else { return nil }
        let priority = entry.fields["priority"].flatMap { Int($0) }.flatMap(RunPriority.init(rank:)) ?? .normal
        self.init(streamID: entry.id, runID: run, tenantID: tenant, attempt: attempt, priority: priority)
        self.stream = entry.stream
    }
}
