import Logging
import Synchronization

/// Combines requests that arrive while earlier ones are being served into batches served by one call each: group
/// commit. A request arriving at an idle batcher is served at once, alone; under load, requests queue while up to
/// `maxConcurrentFlushes` batches are in flight and the next flush takes all of them (up to `maxBatch`). No timer:
/// batching adds no latency when there is nothing to batch with.
///
/// One flush in flight is the default, as in PostgreSQL's own group commit: a second one in flight halves the batches
/// without making anything faster on a saturated machine. Measured in `scripts/bench throughput`: with two or three
/// flushes in flight per batcher, the claims and commits carried about five runs each, and PostgreSQL's cost per
/// statement (planning for the arrays, the commit's WAL flush) made it 0.52 CPU-seconds per 1,000 runs; with one,
/// 0.34–0.39, and 1,245 → 1,620 runs/s.
///
/// Flushes run in tasks of their own, started on demand and ending when the queue is empty, so a batcher needs no
/// service lifecycle: whoever awaits `submit` keeps the work alive, and nothing is left running once it returns.
public final class Batcher<Item: Sendable, Output: Sendable>: Sendable {
    /// Serves one batch; returns one result per item, in order.
    public typealias Flush = @Sendable ([Item]) async -> [Result<Output, any Error>]

    private struct Waiting {
        let id: UInt64
        let item: Item
        /// Receives the item's result: a waiting caller's continuation, or `post`'s handler.
        let complete: @Sendable (Result<Output, any Error>) -> Void
    }

    private struct State {
        var pending: [Waiting] = []
        var flushing = 0
        var nextID: UInt64 = 0

        mutating func take(_ limit: Int) -> [Waiting] {
            let batch = Array(pending.prefix(limit))
            pending.removeFirst(batch.count)
            return batch
        }
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let maxConcurrentFlushes: Int
    private let flush: Flush

    public init(maxBatch: Int = 256, maxConcurrentFlushes: Int = 1, flush: @escaping Flush) {
        precondition(maxBatch > 0 && maxConcurrentFlushes > 0)
        self.maxBatch = maxBatch
        self.maxConcurrentFlushes = maxConcurrentFlushes
        self.flush = flush
    }

    /// Requests waiting for a flush (for tests).
    var queued: Int { state.withLock { $0.pending.count } }

    /// Queues `item` and waits for its result.
    ///
    /// Cancelling the caller withdraws the item if it is still queued (throwing `CancellationError`); once its batch
    /// is in flight, the caller waits for the outcome.
    public func submit(_ item: Item) async throws -> Output {
        let id = nextID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enqueue(Waiting(id: id, item: item) { continuation.resume(with: $0) })
            }
        } onCancel: {
            let withdrawn = state.withLock { state -> Waiting? in
                guard let index = state.pending.firstIndex(where: { $0.id == id }) else { return nil }
                return state.pending.remove(at: index)
            }
            withdrawn?.complete(.failure(CancellationError()))
        }
    }

    /// Queues `item` without waiting for it; `completion` gets its result once its batch is served.
    ///
    /// Items keep the order in which they were queued, whichever way: a caller that posts and then answers its
    /// client has its item ahead of any item queued after that answer. Nobody waits for a posted item, so one still
    /// queued when its process stops is never served: post only what something else repairs (the gateway's
    /// admissions, which the reconciler admits from PostgreSQL).
    public func post(_ item: Item, completion: @escaping @Sendable (Result<Output, any Error>) -> Void) {
        enqueue(Waiting(id: nextID(), item: item, complete: completion))
    }

    private func nextID() -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
    }

    private func enqueue(_ waiting: Waiting) {
        let batch: [Waiting]? = state.withLock { state in
            state.pending.append(waiting)
            guard state.flushing < maxConcurrentFlushes else { return nil }
            state.flushing += 1
            return state.take(maxBatch)
        }
        if let batch { Task { await self.drain(batch) } }
    }

    /// Serves `batch`, then whatever queued meanwhile, until the queue is empty.
    private func drain(_ batch: [Waiting]) async {
        var batch = batch
        while true {
            let results = await flush(batch.map(\.item))
            for (index, waiting) in batch.enumerated() {
                waiting.complete(index < results.count ? results[index] : .failure(BatchError.missingResult))
            }
            let next: [Waiting]? = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.flushing -= 1
                    return nil
                }
                return state.take(maxBatch)
            }
            guard let next else { return }
            batch = next
        }
    }
}

extension Batcher {
    /// Serves `items` with `serve`; if the whole batch fails, serves each item alone, so that one bad item (or a
    /// deadlock victim) fails only itself. For use inside a `Flush`.
    public static func serveEachAloneOnFailure(
        _ items: [Item], logger: Logger, _ message: Logger.Message, _ serve: ([Item]) async throws -> [Result<Output, any Error>]
    ) async -> [Result<Output, any Error>] {
        do {
            return try await serve(items)
        } catch {
            guard items.count > 1 else { return [.failure(error)] }
            logger.warning(message, metadata: [LogKey.error: "\(error)", "batch.size": "\(items.count)"])
            var results: [Result<Output, any Error>] = []
            for item in items {
                do {
                    results += try await serve([item])
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        }
    }
}

/// A flush returned fewer results than it was given items (a programming error in the flush).
public enum BatchError: Error {
    case missingResult
}
