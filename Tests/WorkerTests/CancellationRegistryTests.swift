import Shared
import SharedTestSupport
import Testing

@testable import Worker

/// Cancellation requests reaching the run they name, however the request and the run's start are ordered.
@Suite("CancellationRegistry: requests reach their run")
struct CancellationRegistryTests {
    /// Whether `stream` has a signal waiting, without blocking on an empty one.
    func signalled(_ stream: AsyncStream<Void>, _ registry: CancellationRegistry, _ run: RunID) async -> Bool {
        registry.remove(run)  // finishes the stream: iteration returns what was buffered, then ends
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() != nil
    }

    @Test func aRequestForARegisteredRunSignalsItAndNoOther() async {
        let registry = CancellationRegistry()
        let (a, b) = (RunID(), RunID())
        let streamA = registry.watch(a)
        let streamB = registry.watch(b)
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
        #expect(await signalled(registry.watch(early), registry, early))
        // Honoured once: the request was used up.
        #expect(!(await signalled(registry.watch(early), registry, early)))
    }

    @Test func onlyTheMostRecentEarlyRequestsAreKept() async {
        let registry = CancellationRegistry()
        let runs = (0...CancellationRegistry.earlyLimit).map { _ in RunID() }
        for run in runs { registry.cancel(run) }
        #expect(!(await signalled(registry.watch(runs[0]), registry, runs[0])))
        #expect(await signalled(registry.watch(runs[1]), registry, runs[1]))
        #expect(await signalled(registry.watch(runs[runs.count - 1]), registry, runs[runs.count - 1]))
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
