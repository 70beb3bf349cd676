import NIOCore
import Synchronization

/// A queue that hands its items, one at a time and in order, to `deliver`, from a task that exists only while there
/// is something to deliver.
///
/// A WebSocket session's outgoing messages (its runs' events, heartbeats) arrive from the Redis subscriber's event
/// loop and the heartbeat timer; a task per session waiting for them would cost every idle connection that task's
/// memory for as long as it stays open. Instead the first item put into an empty outbox starts a drain task, which
/// delivers until the outbox is empty and then ends. At most one drain task runs at a time, so items are delivered in
/// the order they were put in and `deliver` never runs concurrently with itself.
///
/// Bounded: putting an item into an outbox that already holds `limit` undelivered items closes it, drops what it
/// holds and calls `overflowed` once (the session then closes the connection: the client reconnects and resumes
/// from its last `seq`, so nothing is silently skipped). A `deliver` that throws closes it as well.
final class Outbox<Item: Sendable>: Sendable {
    private struct State {
        // Small to start with: most sessions hold one or two items at a time, and every connection has an outbox.
        var items = CircularBuffer<Item>(initialCapacity: 2)
        var draining = false
        var closed = false
        var overflowed = false
    }

    private enum Step {
        case deliver(Item)
        case overflow
        case stop
    }

    private let state = Mutex(State())
    private let limit: Int
    private let deliver: @Sendable (Item) async throws -> Void
    private let overflowed: @Sendable () async -> Void

    init(limit: Int, deliver: @escaping @Sendable (Item) async throws -> Void, overflowed: @escaping @Sendable () async -> Void) {
        self.limit = limit
        self.deliver = deliver
        self.overflowed = overflowed
    }

    /// Queues `item`; ignored once the outbox is closed.
    func put(_ item: Item) {
        let startDrain = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            if state.items.count >= limit {
                state.closed = true
                state.overflowed = true
                state.items.removeAll()
            } else {
                state.items.append(item)
            }
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if startDrain { Task { await self.drain() } }
    }

    /// Stops delivering: what is queued is dropped, later items are ignored.
    func close() {
        state.withLock { state in
            state.closed = true
            state.items.removeAll()
        }
    }

    /// `true` while a drain task runs.
    var isDraining: Bool { state.withLock { $0.draining } }

    private func drain() async {
        while true {
            let step = state.withLock { state -> Step in
                if state.overflowed {
                    state.overflowed = false
                    return .overflow
                }
                guard !state.closed, let item = state.items.popFirst() else {
                    state.draining = false
                    return .stop
                }
                return .deliver(item)
            }
            switch step {
            case .stop:
                return
            case .overflow:
                await overflowed()
            case .deliver(let item):
                do {
                    try await deliver(item)
                } catch {
                    close()
                }
            }
        }
    }
}
