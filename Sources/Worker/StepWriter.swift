import Shared
import Synchronization

/// Commits one run's steps behind its execution: a step's write is queued and the run goes on with its next stage
/// while the write commits; writes queued meanwhile are merged and commit together, in order, once the one in flight
/// has landed. At most one commit per run is in flight, so the run's events and checkpoints reach PostgreSQL in the
/// order they were made.
///
/// What stays guaranteed: an event is published only after its commit (the batcher publishes what it committed), and
/// the run's final write (`finish`) returns only once it and everything before it is committed, so the run is
/// acknowledged only then. A stage's checkpoint may still be in flight while the next stage runs, so a worker that
/// dies in that moment leaves that stage to be run again, as a stage whose checkpoint had not been committed always
/// was: "finished" means committed.
///
/// Why: a run of stages that take no time (the `bench` pipeline, a stage answering from cached data) made one
/// commit per stage, each waiting for its fsync'd group commit; now they make one or two.
///
/// A failed commit (the lease lost, a timeout, PostgreSQL down) or a cancellation request it reports is kept: the
/// queued writes are dropped and the next `append` or `finish` throws it.
final class StepWriter: Sendable {
    typealias Commit = @Sendable (RunWrite) async throws -> Bool

    private struct State {
        var queued: RunWrite?
        var inFlight = false
        var failure: (any Error)?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Commits one write; returns whether a cancellation was requested.
    private let commit: Commit

    init(commit: @escaping Commit) {
        self.commit = commit
    }

    /// Queues `write` (merged with any queued before it) and starts committing it if nothing is in flight.
    ///
    /// - Throws: The failure of an earlier commit, or `CancelRequested` when one reported a cancellation request.
    func append(_ write: RunWrite) throws {
        let startFlush = try state.withLock { state -> Bool in
            if let failure = state.failure { throw failure }
            if state.queued == nil {
                state.queued = write
            } else {
                state.queued?.merge(write)
            }
            guard !state.inFlight else { return false }
            state.inFlight = true
            return true
        }
        // The flush takes what is queued when it starts, not now: on a busy worker the run has often gone on by then
        // (stages that take no time, events a stage emits), and those steps join this commit. No timer: an idle
        // worker starts the flush at once.
        if startFlush { Task { await self.flush() } }
    }

    /// Queues the run's last write and returns once it and everything before it is committed.
    ///
    /// - Throws: What kept it from being committed: a failed commit, or `CancelRequested` reported by an earlier one
    ///   (the last write itself ends the run, so a cancellation it reports is moot).
    func finish(_ write: RunWrite) async throws {
        try append(write)
        await waitUntilIdle()
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Waits until nothing is in flight, whatever happened to it: before the run's end is written by other means
    /// (a cancellation, giving the lease back), so that no commit of this writer lands after it.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state -> Bool in
                guard state.inFlight else { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func flush() async {
        var failure: (any Error)?
        while true {
            // Record the last commit's failure (dropping what queued behind it), then take what is queued or go idle.
            let (next, waiters) = state.withLock { state -> (RunWrite?, [CheckedContinuation<Void, Never>]) in
                if let failure, state.failure == nil { state.failure = failure }
                if state.failure != nil { state.queued = nil }
                if let queued = state.queued {
                    state.queued = nil
                    return (queued, [])
                }
                state.inFlight = false
                defer { state.idleWaiters = [] }
                return (nil, state.idleWaiters)
            }
            guard let write = next else {
                for waiter in waiters { waiter.resume() }
                return
            }
            do {
                failure = try await commit(write) && write.outcome == nil ? CancelRequested() : nil
            } catch {
                failure = error
            }
        }
    }
}
