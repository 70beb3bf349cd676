import Synchronization
import Testing

@testable import Shared
import SharedTestSupport

/// Group commit against a flush the test holds: what is served alone, what is batched, how many batches are in
/// flight, and what cancelling a queued request does.
@Suite("Batcher: requests queued during a flush are served together")
struct BatcherTests {
    /// A flush that records its batches, can be held, and counts how many run at once.
    final class Flusher: Sendable {
        let batches = Mutex<[[Int]]>([])
        let held = Mutex<[CheckedContinuation<Void, Never>]>([])
        let hold = Atomic<Bool>(true)
        let inFlight = Atomic<Int>(0)
        let mostInFlight = Atomic<Int>(0)

        func flush(_ items: [Int]) async -> [Result<Int, any Error>] {
            let now = inFlight.add(1, ordering: .sequentiallyConsistent).newValue
            _ = mostInFlight.max(now, ordering: .sequentiallyConsistent)
            if hold.load(ordering: .sequentiallyConsistent) {
                await withCheckedContinuation { continuation in held.withLock { $0.append(continuation) } }
            }
            batches.withLock { $0.append(items) }
            _ = inFlight.subtract(1, ordering: .sequentiallyConsistent)
            return items.map { .success($0 * 10) }
        }

        var holding: Int { held.withLock { $0.count } }

        /// Lets every held flush (and all later ones) go.
        func releaseAll() {
            hold.store(false, ordering: .sequentiallyConsistent)
            for continuation in held.withLock({ held in defer { held = [] }; return held }) { continuation.resume() }
        }
    }

    @Test func anIdleBatcherServesARequestAtOnceAlone() async throws {
        let flusher = Flusher()
        flusher.hold.store(false, ordering: .sequentiallyConsistent)
        let batcher = Batcher<Int, Int> { await flusher.flush($0) }
        #expect(try await batcher.submit(1) == 10)
        #expect(try await batcher.submit(2) == 20)
        #expect(flusher.batches.withLock { $0 } == [[1], [2]])
    }

    @Test func requestsQueuedDuringAFlushGoTogetherInTheNextOne() async throws {
        let flusher = Flusher()
        let batcher = Batcher<Int, Int> { await flusher.flush($0) }
        let first = Task { try await batcher.submit(0) }
        try await waitUntil("the first flush to be in flight") { flusher.holding == 1 }
        let rest = (1...5).map { item in Task { try await batcher.submit(item) } }
        try await waitUntil("five requests to queue behind it") { batcher.queued == 5 }
        #expect(flusher.holding == 1, "one flush in flight by default: the others wait for it")
        flusher.releaseAll()
        #expect(try await first.value == 0)
        for (index, task) in rest.enumerated() { #expect(try await task.value == (index + 1) * 10) }
        let batches = flusher.batches.withLock { $0 }
        #expect(batches.count == 2)
        #expect(batches.first == [0])
        #expect(batches.last?.sorted() == [1, 2, 3, 4, 5])
        #expect(flusher.mostInFlight.load(ordering: .sequentiallyConsistent) == 1)
    }

    @Test func aBatchTakesAtMostMaxBatchAndTheRestFollows() async throws {
        let flusher = Flusher()
        let batcher = Batcher<Int, Int>(maxBatch: 2) { await flusher.flush($0) }
        let first = Task { try await batcher.submit(0) }
        try await waitUntil("the first flush to be in flight") { flusher.holding == 1 }
        let rest = (1...5).map { item in Task { try await batcher.submit(item) } }
        try await waitUntil("five requests to queue") { batcher.queued == 5 }
        flusher.releaseAll()
        _ = try await first.value
        for task in rest { _ = try await task.value }
        #expect(flusher.batches.withLock { $0.map(\.count) } == [1, 2, 2, 1])
    }

    @Test func moreFlushesInFlightWhenAskedForButNeverMore() async throws {
        let flusher = Flusher()
        let batcher = Batcher<Int, Int>(maxConcurrentFlushes: 2) { await flusher.flush($0) }
        let tasks = (0..<2).map { item in Task { try await batcher.submit(item) } }
        try await waitUntil("two flushes in flight") { flusher.holding == 2 }
        let queued = (2..<5).map { item in Task { try await batcher.submit(item) } }
        try await waitUntil("three requests to queue") { batcher.queued == 3 }
        #expect(flusher.holding == 2)
        flusher.releaseAll()
        for task in tasks + queued { _ = try await task.value }
        #expect(flusher.mostInFlight.load(ordering: .sequentiallyConsistent) == 2)
        #expect(flusher.batches.withLock { $0.flatMap { $0 }.sorted() } == [0, 1, 2, 3, 4])
    }

    @Test func postedItemsKeepTheirOrderAndGetTheirResults() async throws {
        let flusher = Flusher()
        let batcher = Batcher<Int, Int> { await flusher.flush($0) }
        let results = Mutex<[Int: Int]>([:])
        batcher.post(0) { result in results.withLock { $0[0] = try? result.get() } }
        try await waitUntil("the first flush to be in flight") { flusher.holding == 1 }
        for item in 1...3 { batcher.post(item) { result in results.withLock { $0[item] = try? result.get() } } }
        let waited = Task { try await batcher.submit(4) }
        try await waitUntil("four items to queue") { batcher.queued == 4 }
        flusher.releaseAll()
        #expect(try await waited.value == 40)
        try await waitUntil("every posted item's result") { results.withLock { $0.count } == 4 }
        #expect(results.withLock { $0 } == [0: 0, 1: 10, 2: 20, 3: 30])
        #expect(flusher.batches.withLock { $0 } == [[0], [1, 2, 3, 4]], "in the order they were queued")
    }

    @Test func cancellingAQueuedRequestWithdrawsIt() async throws {
        let flusher = Flusher()
        let batcher = Batcher<Int, Int> { await flusher.flush($0) }
        let first = Task { try await batcher.submit(0) }
        try await waitUntil("the first flush to be in flight") { flusher.holding == 1 }
        let withdrawn = Task { try await batcher.submit(1) }
        try await waitUntil("the second request to queue") { batcher.queued == 1 }
        withdrawn.cancel()
        await #expect(throws: CancellationError.self) { try await withdrawn.value }
        #expect(batcher.queued == 0)
        flusher.releaseAll()
        #expect(try await first.value == 0)
        #expect(flusher.batches.withLock { $0 } == [[0]], "the withdrawn request was never flushed")
    }
}
