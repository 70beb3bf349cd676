import Foundation
import PostgresNIO
import Shared
import SharedTestSupport
import Testing

@testable import Worker

/// Cancellation requests and lost leases reaching the run they name, however the request and the run's start are
/// ordered.
@Suite("CancellationRegistry: requests reach their run")
struct CancellationRegistryTests {
    /// Registers `run` (attempt 1) as a worker does once it has claimed it.
    func hold(_ registry: CancellationRegistry, _ run: RunID, tenant: TenantID = TenantID()) -> AsyncStream<RunInterruption> {
        let claimed = ClaimedRun(id: run, tenantID: tenant, threadID: nil, pipeline: "bench", input: "{}", attempt: 1, finishedStages: [], nextSeq: 1)
        var entry = RunStreamEntry(streamID: "1-0", runID: run, tenantID: tenant, attempt: 0)
        entry.stream = "runs"
        return registry.hold(claimed, entry: entry)
    }

    /// The signal `stream` has waiting, if any, without blocking on an empty one.
    func signal(_ stream: AsyncStream<RunInterruption>, _ registry: CancellationRegistry, _ run: RunID) async -> RunInterruption? {
        registry.remove(run)  // finishes the stream: iteration returns what was buffered, then ends
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }

    func signalled(_ stream: AsyncStream<RunInterruption>, _ registry: CancellationRegistry, _ run: RunID) async -> Bool {
        await signal(stream, registry, run) == .cancelRequested
    }

    @Test func aRequestForARegisteredRunSignalsItAndNoOther() async {
        let registry = CancellationRegistry()
        let (a, b) = (RunID(), RunID())
        let streamA = hold(registry, a)
        let streamB = hold(registry, b)
        #expect(Set(registry.runs) == [a, b])
        registry.cancel(a)
        #expect(await signalled(streamA, registry, a))
        #expect(!(await signalled(streamB, registry, b)))
        #expect(registry.runs.isEmpty)
    }

    @Test func aRequestThatArrivesBeforeItsRunIsHonouredWhenTheRunStarts() async {
        let registry = CancellationRegistry()
        let early = RunID()
        registry.cancel(early)
        #expect(await signalled(hold(registry, early), registry, early))
        // Honoured once: the request was used up.
        #expect(!(await signalled(hold(registry, early), registry, early)))
    }

    @Test func aLostLeaseSignalsOnlyTheAttemptThatLostIt() async {
        let registry = CancellationRegistry()
        let (a, b) = (RunID(), RunID())
        let streamA = hold(registry, a)
        let streamB = hold(registry, b)
        let lease = try? #require(registry.leases.first { $0.run == a })
        #expect(lease?.attempt == 1 && lease?.stream == "runs" && lease?.streamID == "1-0")
        registry.leaseLost(CancellationRegistry.Lease(run: a, attempt: 1, stream: "runs", streamID: "1-0"))
        // Another attempt's lease of b (this worker claimed the run again since) is not the one held.
        registry.leaseLost(CancellationRegistry.Lease(run: b, attempt: 2, stream: "runs", streamID: "1-0"))
        #expect(await signal(streamA, registry, a) == .leaseLost)
        #expect(await signal(streamB, registry, b) == nil)
        #expect(registry.leases.isEmpty)
    }

    @Test func onlyTheMostRecentEarlyRequestsAreKept() async {
        let registry = CancellationRegistry()
        let runs = (0...CancellationRegistry.earlyLimit).map { _ in RunID() }
        for run in runs { registry.cancel(run) }
        #expect(!(await signalled(hold(registry, runs[0]), registry, runs[0])))
        #expect(await signalled(hold(registry, runs[1]), registry, runs[1]))
        #expect(await signalled(hold(registry, runs[runs.count - 1]), registry, runs[runs.count - 1]))
    }

    /// A request published while the worker was not subscribed (starting, or Redis reconnecting) never arrives:
    /// the listener reads the flags of the runs it holds whenever it (re)subscribes. No message is published here.
    @Test func onSubscribingTheListenerCancelsTheHeldRunsWhoseCancellationWasRequested() async throws {
        let logger = TestEnvironment.logger("control")
        try await withPostgres { client in
            let store = RunStore(client: client)
            let testTenant = try await TestTenant.create(on: client, logger: logger)
            let tenant = testTenant.id
            var held: [RunID] = []
            for _ in 0..<2 {
                let run = try await testTenant.queuedRun()
                let entry = RunStreamEntry(runID: run.id, tenantID: tenant, attempt: 0)
                _ = try #require(try await store.claim(entry, worker: "w", lease: .seconds(60), logger: logger))
                held.append(run.id)
            }
            let (flagged, other) = (held[0], held[1])
            guard case .requested = try #require(try await store.cancel(flagged, tenant: tenant, logger: logger)) else {
                Issue.record("the running run's cancellation was not recorded as requested")
                return
            }
            let registry = CancellationRegistry()
            let flaggedSignal = hold(registry, flagged, tenant: tenant)
            let otherSignal = hold(registry, other, tenant: tenant)
            let subscriber = RedisSubscriber(endpoint: TestEnvironment.redis, logger: logger)
            let listener = ControlListener(
                subscriber: subscriber, channel: "\(TestEnvironment.uniquePrefix()):control", registry: registry, store: store, logger: logger
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                group.addTask { try await listener.run() }
                try await withDeadline("the flagged run's cancellation") {
                    var signals = flaggedSignal.makeAsyncIterator()
                    _ = await signals.next()
                }
                #expect(!(await signalled(otherSignal, registry, other)))
                group.cancelAll()
            }
        }
    }

    @Test func waitingForTheControlChannelEndsWhenItIsSubscribedOrAfterTheLimit() async throws {
        let subscribed = CancellationRegistry()
        try await withDeadline("the wait to end at the mark") {
            async let waited: Void = subscribed.waitUntilListening(atMost: .seconds(600))
            subscribed.markListening()
            await waited
        }
        let silent = CancellationRegistry()
        try await withDeadline("the wait to end at its limit") { await silent.waitUntilListening(atMost: .milliseconds(10)) }
    }
}
