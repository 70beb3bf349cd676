/// Per-tenant in-flight limits between the API and the work streams, so that one tenant flooding the queue cannot
/// delay the others.
///
/// A tenant's admitted runs (in a work stream, running, or waiting for a retry) are a set in Redis held to the tenant's
/// limit; runs beyond it wait in the tenant's backlog (a sorted set) and are promoted into their priority's stream as
/// slots free up. Each change is one Lua script, so admission, release and promotion are atomic: a crash between
/// steps can neither leak nor double a slot, and a release of a run that is not admitted (a repeat) does nothing.
///
/// In a backlog, runs go by priority and then by age, but a priority only moves a run back by a bounded time
/// (`agingMilliseconds`): a waiting `low` run goes before any `high` run submitted more than five minutes after it,
/// so no priority starves inside a tenant.
public struct Admission: Sendable {
    public let redis: RedisClient
    public let keys: RedisKeys
    /// The in-flight limit of a tenant without its own (`tenantLimits`).
    public let defaultLimit: Int

    public init(redis: RedisClient, keys: RedisKeys, defaultLimit: Int) {
        self.redis = redis
        self.keys = keys
        self.defaultLimit = defaultLimit
    }

    /// How much later than its submission a run of each priority may be promoted, at the latest, relative to runs of
    /// the tenant's other priorities.
    public static func agingMilliseconds(_ priority: RunPriority) -> Int {
        switch priority {
        case .high: 0
        case .normal: 60_000
        case .low: 300_000
        }
    }

    /// The shared promotion step: while the tenant has room, moves the best backlog entry into its stream.
    /// Expects `tenant`, `active`, `backlog`, `limits`, `busy`, `streams` and `defaultLimit` as locals.
    private static let pump = """
        local limit = tonumber(redis.call('HGET', limits, tenant)) or tonumber(defaultLimit)
        local room = limit - redis.call('SCARD', active)
        local promoted = 0
        while room > 0 do
          local popped = redis.call('ZPOPMIN', backlog)
          if #popped == 0 then break end
          local run, attempt, priority = string.match(popped[1], '^([^|]+)|([^|]+)|([^|]+)$')
          if run and redis.call('SADD', active, run) == 1 then
            redis.call('XADD', streams[tonumber(priority) + 1], '*', 'run', run, 'tenant', tenant, 'attempt', attempt, 'priority', priority)
            room = room - 1
            promoted = promoted + 1
          end
        end
        if redis.call('SCARD', active) == 0 and redis.call('ZCARD', backlog) == 0 then
          redis.call('SREM', busy, tenant)
        else
          redis.call('SADD', busy, tenant)
        end
        """

    /// KEYS: active, backlog, limits, busy, high, normal, low streams, the backlog order counter.
    /// ARGV: tenant, run, attempt, priority rank, aging ms, default limit, mode (`submit` or `reconcile`).
    /// Returns 1 when the run joined the backlog (and perhaps a stream), 0 when it was already admitted, 2 when it
    /// was admitted and `reconcile` added a fresh stream entry for it.
    static let admitScript = RedisScript(
        """
        local active, backlog, limits, busy = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
        local streams = {KEYS[5], KEYS[6], KEYS[7]}
        local tenant, defaultLimit = ARGV[1], ARGV[6]
        if redis.call('SISMEMBER', active, ARGV[2]) == 1 then
          if ARGV[7] ~= 'reconcile' then return 0 end
          -- The run holds a slot but may have been lost from its stream; a second entry is harmless, claims are fenced.
          redis.call('XADD', streams[tonumber(ARGV[4]) + 1], '*', 'run', ARGV[2], 'tenant', tenant, 'attempt', ARGV[3], 'priority', ARGV[4])
          return 2
        end
        -- Scored in thousandths of a millisecond: the time plus the priority's delay, and a counter so that runs
        -- admitted within the same millisecond keep their order (scores stay exact integers in a double).
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local tick = redis.call('INCR', KEYS[8]) % 1000
        redis.call('ZADD', backlog, 'NX', (now + tonumber(ARGV[5])) * 1000 + tick, ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4])
        \(pump)
        return 1
        """
    )

    /// KEYS: the entry's stream, active, backlog, limits, busy, high, normal, low streams.
    /// ARGV: group, entry id (empty: no XACK), run (empty: only promote), tenant, default limit.
    /// Returns how many runs were promoted, or -1 when the run held no slot (nothing promoted).
    static let releaseScript = RedisScript(
        """
        local active, backlog, limits, busy = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        local streams = {KEYS[6], KEYS[7], KEYS[8]}
        local tenant, defaultLimit = ARGV[4], ARGV[5]
        if ARGV[2] ~= '' then redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) end
        if ARGV[3] ~= '' and redis.call('SREM', active, ARGV[3]) == 0 then return -1 end
        \(pump)
        return promoted
        """
    )

    private func tenantKeys(_ tenant: TenantID) -> [String] {
        [keys.tenantActive(tenant), keys.tenantBacklog(tenant), keys.tenantLimits, keys.busyTenants] + keys.priorityStreams
    }

    /// How an entry is handed to `admit`.
    public enum Mode: String, Sendable {
        /// A new or released run: joins the backlog unless it already holds a slot.
        case submit
        /// The reconciler's repair of a run queued too long: as `submit`, and a run holding a slot gets a fresh
        /// stream entry in case Redis lost the old one.
        case reconcile
    }

    /// Puts each run in its tenant's backlog and promotes what the tenants' limits allow, in one pipeline.
    public func admit(_ entries: [RunStreamEntry], mode: Mode = .submit) async throws {
        let replies = try await Self.admitScript.runAll(
            on: redis,
            entries.map { entry in
                (
                    tenantKeys(entry.tenantID) + [keys.backlogCounter],
                    [
                        RedisArgument(entry.tenantID.description), RedisArgument(entry.runID.description), RedisArgument(entry.attempt),
                        RedisArgument(entry.priority.rank), RedisArgument(Self.agingMilliseconds(entry.priority)), RedisArgument(defaultLimit),
                        RedisArgument(mode.rawValue),
                    ]
                )
            }
        )
        try Self.check(replies)
    }

    /// Acknowledges a finished run's stream entry and gives its slot to the tenant's next waiting run, atomically.
    /// Releasing a run that holds no slot only acknowledges the entry.
    public func release(_ entry: RunStreamEntry, group: String) async throws {
        try await release(
            [(entry.tenantID, entry.runID, entry.streamID.isEmpty ? nil : (stream: entry.stream, id: entry.streamID))], group: group
        )
    }

    /// Releases the slots of `runs` (the reconciler's repair of runs that ended without releasing theirs).
    public func release(_ runs: [(tenant: TenantID, run: RunID)]) async throws {
        try await release(runs.map { ($0.tenant, $0.run, nil) }, group: keys.workerGroup)
    }

    /// Promotes waiting runs of `tenant` into free slots (after its limit was raised).
    public func promote(_ tenant: TenantID) async throws {
        try await release([(tenant, nil, nil)], group: keys.workerGroup)
    }

    private func release(_ items: [(tenant: TenantID, run: RunID?, entry: (stream: String, id: String)?)], group: String) async throws {
        let replies = try await Self.releaseScript.runAll(
            on: redis,
            items.map { item in
                (
                    [item.entry?.stream ?? keys.runStream] + tenantKeys(item.tenant),
                    [
                        RedisArgument(group), RedisArgument(item.entry?.id ?? ""), RedisArgument(item.run?.description ?? ""),
                        RedisArgument(item.tenant.description), RedisArgument(defaultLimit),
                    ]
                )
            }
        )
        try Self.check(replies)
    }

    private static func check(_ replies: [RedisValue]) throws {
        for reply in replies { if case .error(let message) = reply { throw RedisError(.server, message) } }
    }

    /// One tenant's load: runs admitted (in a stream or running) and runs waiting for a slot.
    public struct TenantLoad: Sendable, Equatable {
        public var tenant: TenantID
        public var admitted: Int
        public var waiting: Int

        public init(tenant: TenantID, admitted: Int, waiting: Int) {
            self.tenant = tenant
            self.admitted = admitted
            self.waiting = waiting
        }
    }

    /// The load of every tenant with admitted or waiting runs.
    public func load() async throws -> [TenantLoad] {
        let tenants = (try await redis.send(["SMEMBERS", RedisArgument(keys.busyTenants)]).array ?? []).compactMap { $0.string.flatMap(TenantID.init) }
        guard !tenants.isEmpty else { return [] }
        let replies = try await redis.pipeline(
            tenants.flatMap { [["SCARD", RedisArgument(keys.tenantActive($0))], ["ZCARD", RedisArgument(keys.tenantBacklog($0))]] }
        )
        return tenants.enumerated().map { index, tenant in
            TenantLoad(tenant: tenant, admitted: replies[2 * index].int ?? 0, waiting: replies[2 * index + 1].int ?? 0)
        }
    }

    /// The runs holding a slot of `tenant`.
    public func admittedRuns(_ tenant: TenantID) async throws -> [RunID] {
        (try await redis.send(["SMEMBERS", RedisArgument(keys.tenantActive(tenant))]).array ?? []).compactMap { $0.string.flatMap(RunID.init) }
    }

    /// Replaces the per-tenant limit overrides with `limits` (tenants not named use the default).
    public func setLimits(_ limits: [TenantID: Int]) async throws {
        var commands: [[RedisArgument]] = [["MULTI"], ["DEL", RedisArgument(keys.tenantLimits)]]
        if !limits.isEmpty {
            commands.append(["HSET", RedisArgument(keys.tenantLimits)] + limits.flatMap { [RedisArgument($0.key.description), RedisArgument($0.value)] })
        }
        commands.append(["EXEC"])
        let replies = try await redis.pipeline(commands)
        if case .error(let message) = replies.last { throw RedisError(.server, message) }
    }

    /// Sets or clears (`nil`) one tenant's limit and promotes into any room it made.
    public func setLimit(_ limit: Int?, for tenant: TenantID) async throws {
        if let limit {
            try await redis.send(["HSET", RedisArgument(keys.tenantLimits), RedisArgument(tenant.description), RedisArgument(limit)])
        } else {
            try await redis.send(["HDEL", RedisArgument(keys.tenantLimits), RedisArgument(tenant.description)])
        }
        try await promote(tenant)
    }
}
