import Foundation

/// Fair admission of runs into the work streams, so that one tenant flooding the queue cannot delay the others.
///
/// Two limits hold at once:
/// - **Per tenant**: a tenant's admitted runs (in a work stream, running, or waiting for a retry) are a set held to
///   its in-flight limit (`tenantLimits`, else `defaultLimit`).
/// - **Overall**: no more runs are admitted than the live workers have slots for, plus a little headroom
///   (`admissionCapacity`, kept by the workers' registrations; `capacityFloor` when no worker is registered, so
///   that an autoscaler sees lag and starts one). The work streams therefore stay short: a run that is admitted
///   starts within about one run's time.
///
/// Runs beyond either limit wait in their tenant's backlog. Whenever there is room, the next run admitted is the best
/// waiting run of the least recently served ready tenant (round robin over tenants), preferring tenants whose best
/// run is `high`, then `normal`, then `low`; every fourth promotion looks at `normal` first and every eighth at `low`
/// first, so lower priorities slow down under sustained high load but never stop. Inside a backlog runs go by
/// priority and age, a priority moving a run back by at most `agingMilliseconds`.
///
/// Every change is one Lua script (admit, release, register a worker), so a crash between steps can neither leak nor
/// double a slot, and releasing a run that holds no slot does nothing. The scripts touch the keys of the tenants they
/// promote, which a single Redis server (or Sentinel) allows; Redis Cluster would need the keys in one hash slot.
public struct Admission: Sendable {
    public let redis: RedisClient
    public let keys: RedisKeys
    /// The in-flight limit of a tenant without its own.
    public let defaultLimit: Int
    /// Overall admission when no worker is registered.
    public let capacityFloor: Int

    public init(redis: RedisClient, keys: RedisKeys, defaultLimit: Int, capacityFloor: Int = 16) {
        self.redis = redis
        self.keys = keys
        self.defaultLimit = defaultLimit
        self.capacityFloor = capacityFloor
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

    /// The overall capacity for workers with `slots` slots in all: the slots plus one sixteenth (at least two), so
    /// that a freed slot finds a run already in the stream.
    public static func capacity(forSlots slots: Int) -> Int { slots + max(2, (slots + 15) / 16) }

    /// Definitions every script starts with. ARGV[1…3]: key prefix, default tenant limit, capacity floor.
    private static let prelude = """
        local prefix, defaultLimit, floor = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
        local function activeKey(t) return prefix .. ':tenant:' .. t .. ':active' end
        local function backlogKey(t) return prefix .. ':tenant:' .. t .. ':backlog' end
        local limitsKey, busyKey = prefix .. ':tenants:max_in_flight', prefix .. ':tenants:busy'
        local admittedKey, capacityKey = prefix .. ':admission:admitted', prefix .. ':admission:capacity'
        local tickKey, turnKey = prefix .. ':admission:tick', prefix .. ':admission:turn'
        local rings = {prefix .. ':admission:ready:0', prefix .. ':admission:ready:1', prefix .. ':admission:ready:2'}
        local streams = {prefix .. ':runs:high', prefix .. ':runs', prefix .. ':runs:low'}

        -- Puts tenant t in the ready ring of its best waiting run's priority when it has room under its limit (keeping
        -- its place if it is already there), and in no ring otherwise; keeps the busy set up to date.
        local function refresh(t)
          local head = redis.call('ZRANGE', backlogKey(t), 0, 0)
          local active = redis.call('SCARD', activeKey(t))
          local target = 0
          if #head > 0 and active < (tonumber(redis.call('HGET', limitsKey, t)) or defaultLimit) then
            target = tonumber(string.match(head[1], '|(%d)$')) + 1
          end
          for i = 1, 3 do
            if i == target then
              if not redis.call('ZSCORE', rings[i], t) then redis.call('ZADD', rings[i], redis.call('INCR', tickKey), t) end
            else
              redis.call('ZREM', rings[i], t)
            end
          end
          if #head == 0 and active == 0 then redis.call('SREM', busyKey, t) else redis.call('SADD', busyKey, t) end
        end

        -- While there is overall room, admits the best waiting run of the least recently served ready tenant.
        local function pump()
          local room = math.max(tonumber(redis.call('GET', capacityKey)) or 0, floor) - (tonumber(redis.call('GET', admittedKey)) or 0)
          local promoted = 0
          while room > 0 do
            local turn = redis.call('INCR', turnKey)
            local order = {1, 2, 3}
            if turn % 8 == 0 then order = {3, 1, 2} elseif turn % 4 == 0 then order = {2, 1, 3} end
            local t
            for _, i in ipairs(order) do
              local first = redis.call('ZRANGE', rings[i], 0, 0)
              if #first > 0 then t = first[1] break end
            end
            if not t then break end
            local popped = redis.call('ZPOPMIN', backlogKey(t))
            if #popped > 0 then
              local run, attempt, priority = string.match(popped[1], '^([^|]+)|([^|]+)|(%d)$')
              if run and redis.call('SADD', activeKey(t), run) == 1 then
                redis.call('INCR', admittedKey)
                redis.call('XADD', streams[tonumber(priority) + 1], '*', 'run', run, 'tenant', t, 'attempt', attempt, 'priority', priority)
                room = room - 1
                promoted = promoted + 1
              end
            end
            for i = 1, 3 do redis.call('ZREM', rings[i], t) end  -- served: to the back of its ring, or out
            refresh(t)
          end
          return promoted
        end

        -- Puts a run in its tenant's backlog (unless it holds a slot) and fills any room. 1: joined the backlog;
        -- 0: already admitted; 2: already admitted and, in `reconcile` mode, given a fresh stream entry.
        local function admit(t, run, attempt, priority, aging, mode)
          if redis.call('SISMEMBER', activeKey(t), run) == 1 then
            if mode ~= 'reconcile' then return 0 end
            -- The run holds a slot but may have been lost from its stream; a second entry is harmless (claims are fenced).
            redis.call('XADD', streams[tonumber(priority) + 1], '*', 'run', run, 'tenant', t, 'attempt', attempt, 'priority', priority)
            return 2
          end
          -- Scored in thousandths of a millisecond: the time plus the priority's delay, and a counter so that runs
          -- admitted within the same millisecond keep their order (scores stay exact integers in a double).
          local time = redis.call('TIME')
          local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
          local tick = redis.call('INCR', tickKey) % 1000
          redis.call('ZADD', backlogKey(t), 'NX', (now + tonumber(aging)) * 1000 + tick, run .. '|' .. attempt .. '|' .. priority)
          refresh(t)
          pump()
          return 1
        end
        """

    /// ARGV[4…9]: tenant, run, attempt, priority rank, aging ms, mode (`submit` or `reconcile`).
    /// Returns 1 when the run joined the backlog (and perhaps a stream), 0 when it was already admitted, 2 when it
    /// was admitted and `reconcile` added a fresh stream entry for it.
    static let admitScript = RedisScript(
        prelude + "\n" + """
            return admit(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
            """
    )

    /// ARGV[4…6]: the scheduled set, now (ms), batch size; ARGV[7…9]: aging ms of high, normal, low. Admits up to a
    /// batch of the scheduled runs that are due, removing each from the set in the same script.
    static let promoteScheduledScript = RedisScript(
        prelude + "\n" + """
            local due = redis.call('ZRANGEBYSCORE', ARGV[4], '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
            for _, member in ipairs(due) do
              local t, run, attempt, priority = string.match(member, '^([^|]+)|([^|]+)|([^|]+)|(%d)$')
              if t then admit(t, run, attempt, priority, ARGV[7 + tonumber(priority)], 'submit') end
              redis.call('ZREM', ARGV[4], member)
            end
            return #due
            """
    )

    /// ARGV[4…8]: consumer group, stream, entry id (empty: no XACK), run (empty: only promote), tenant (empty: none).
    /// Returns how many runs were promoted, or -1 when the run held no slot (nothing else changes). A released run is
    /// counted in its second (`RedisKeys.finishedInSecond`) for the operations console's runs per second.
    static let releaseScript = RedisScript(
        prelude + "\n" + """
            if ARGV[6] ~= '' then redis.call('XACK', ARGV[5], ARGV[4], ARGV[6]) end
            local run, t = ARGV[7], ARGV[8]
            if run ~= '' then
              if redis.call('SREM', activeKey(t), run) == 0 then return -1 end
              redis.call('DECR', admittedKey)
              local counter = prefix .. ':stats:finished:' .. redis.call('TIME')[1]
              redis.call('INCR', counter)
              redis.call('EXPIRE', counter, 120)
            end
            if t ~= '' then refresh(t) end
            return pump()
            """
    )

    /// ARGV[4…6]: consumer, concurrency (0: leaving), registration lifetime ms. Registers the worker, forgets workers
    /// whose registration expired, sets the overall capacity from the live workers' slots, and promotes into any room.
    static let registerScript = RedisScript(
        prelude + "\n" + """
            local alive, slots = prefix .. ':workers:alive', prefix .. ':workers:concurrency'
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
            if tonumber(ARGV[5]) > 0 then
              redis.call('ZADD', alive, now + tonumber(ARGV[6]), ARGV[4])
              redis.call('HSET', slots, ARGV[4], ARGV[5])
            else
              redis.call('ZREM', alive, ARGV[4])
              redis.call('HDEL', slots, ARGV[4])
            end
            for _, gone in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', now)) do
              redis.call('ZREM', alive, gone)
              redis.call('HDEL', slots, gone)
            end
            local total = 0
            for _, value in ipairs(redis.call('HVALS', slots)) do total = total + tonumber(value) end
            local capacity = 0
            if total > 0 then capacity = total + math.max(2, math.floor((total + 15) / 16)) end
            redis.call('SET', capacityKey, capacity)
            pump()
            return capacity
            """
    )

    /// The reconciler's repair: recounts the admitted runs, rebuilds every busy tenant's place in the ready rings, and
    /// promotes into any room.
    static let resyncScript = RedisScript(
        prelude + "\n" + """
            local total = 0
            for _, t in ipairs(redis.call('SMEMBERS', busyKey)) do
              total = total + redis.call('SCARD', activeKey(t))
              refresh(t)
            end
            redis.call('SET', admittedKey, total)
            return pump()
            """
    )

    private var common: [RedisArgument] { [RedisArgument(keys.prefix), RedisArgument(defaultLimit), RedisArgument(capacityFloor)] }

    /// How an entry is handed to `admit`.
    public enum Mode: String, Sendable {
        /// A new or released run: joins the backlog unless it already holds a slot.
        case submit
        /// The reconciler's repair of a run queued too long: as `submit`, and a run holding a slot gets a fresh
        /// stream entry in case Redis lost the old one.
        case reconcile
    }

    /// Puts each run in its tenant's backlog and admits what the limits allow, in one pipeline.
    public func admit(_ entries: [RunStreamEntry], mode: Mode = .submit) async throws {
        let replies = try await Self.admitScript.runAll(
            on: redis,
            entries.map { entry in
                (
                    [],
                    common + [
                        RedisArgument(entry.tenantID.description), RedisArgument(entry.runID.description), RedisArgument(entry.attempt),
                        RedisArgument(entry.priority.rank), RedisArgument(Self.agingMilliseconds(entry.priority)), RedisArgument(mode.rawValue),
                    ]
                )
            }
        )
        try Self.check(replies)
    }

    /// Holds each run until its due time in the scheduled set; the scheduler admits it when due
    /// (`promoteScheduled`), and the reconciler if Redis lost it.
    public func schedule(_ entries: [(entry: RunStreamEntry, due: Date)]) async throws {
        guard !entries.isEmpty else { return }
        let replies = try await redis.pipeline(entries.map { item in
            [
                "ZADD", RedisArgument(keys.scheduledRuns), RedisArgument(String(Int64(item.due.timeIntervalSince1970 * 1000))),
                RedisArgument("\(item.entry.tenantID)|\(item.entry.runID)|\(item.entry.attempt)|\(item.entry.priority.rank)"),
            ]
        })
        try Self.check(replies)
    }

    /// Admits every scheduled run due by `now`; returns how many.
    @discardableResult
    public func promoteScheduled(now: Date = Date(), batch: Int = 500) async throws -> Int {
        var moved = 0
        while true {
            let reply = try await Self.promoteScheduledScript.run(
                on: redis, keys: [],
                arguments: common + [
                    RedisArgument(keys.scheduledRuns), RedisArgument(String(Int64(now.timeIntervalSince1970 * 1000))), RedisArgument(batch),
                ] + RunPriority.allCases.map { RedisArgument(Self.agingMilliseconds($0)) }
            )
            let count = reply.int ?? 0
            moved += count
            if count < batch { return moved }
        }
    }

    /// Acknowledges a finished run's stream entry and gives its slot to the next waiting run, atomically. Releasing a
    /// run that holds no slot only acknowledges the entry.
    public func release(_ entry: RunStreamEntry, group: String) async throws {
        try await release(
            [(entry.tenantID, entry.runID, entry.streamID.isEmpty ? nil : (stream: entry.stream, id: entry.streamID))], group: group
        )
    }

    /// Releases the slots of `runs` (the reconciler's repair of runs that ended without releasing theirs).
    public func release(_ runs: [(tenant: TenantID, run: RunID)]) async throws {
        try await release(runs.map { ($0.tenant, $0.run, nil) }, group: keys.workerGroup)
    }

    /// Promotes waiting runs of `tenant` into room it has (after its limit was raised).
    public func promote(_ tenant: TenantID) async throws {
        try await release([(tenant, nil, nil)], group: keys.workerGroup)
    }

    private func release(_ items: [(tenant: TenantID, run: RunID?, entry: (stream: String, id: String)?)], group: String) async throws {
        let replies = try await Self.releaseScript.runAll(
            on: redis,
            items.map { item in
                (
                    [],
                    common + [
                        RedisArgument(group), RedisArgument(item.entry?.stream ?? keys.runStream), RedisArgument(item.entry?.id ?? ""),
                        RedisArgument(item.run?.description ?? ""), RedisArgument(item.tenant.description),
                    ]
                )
            }
        )
        try Self.check(replies)
    }

    /// Registers (or, with `concurrency` 0, removes) a worker's slots for `lifetime`; returns the overall capacity.
    @discardableResult
    public func register(worker: String, concurrency: Int, lifetime: Duration) async throws -> Int {
        let reply = try await Self.registerScript.run(
            on: redis, keys: [],
            arguments: common + [RedisArgument(worker), RedisArgument(concurrency), RedisArgument(Int(lifetime.wholeMilliseconds))]
        )
        return reply.int ?? 0
    }

    /// Recounts admitted runs and rebuilds the ready rings (the reconciler's repair after drift).
    public func resync() async throws {
        _ = try await Self.resyncScript.run(on: redis, keys: [], arguments: common)
    }

    private static func check(_ replies: [RedisValue]) throws {
        for reply in replies { if case .error(let message) = reply { throw RedisError(.server, message) } }
    }

    /// One tenant's load: runs admitted (in a stream, running or waiting for a retry) and runs waiting for a slot.
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

    /// Runs admitted across all tenants, and how many may be.
    public func totals() async throws -> (admitted: Int, capacity: Int) {
        let replies = try await redis.pipeline([["GET", RedisArgument(keys.admittedCount)], ["GET", RedisArgument(keys.admissionCapacity)]])
        return (replies[0].string.flatMap { Int($0) } ?? 0, max(replies[1].string.flatMap { Int($0) } ?? 0, capacityFloor))
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
