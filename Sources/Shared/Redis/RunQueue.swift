import Logging

/// Hands runs to the workers through their tenants' admission (see `Admission`), shared by the gateway, the workers
/// and the scheduler.
public struct RunQueue: Sendable {
    public let store: RunStore
    public let admission: Admission

    public init(store: RunStore, admission: Admission) {
        self.store = store
        self.admission = admission
    }

    /// Admits each run (into its stream, or its tenant's backlog when the tenant is at its limit), in one pipeline.
    public func enqueue(_ entries: [RunStreamEntry], mode: Admission.Mode = .submit) async throws {
        guard !entries.isEmpty else { return }
        try await admission.admit(entries, mode: mode)
    }

    /// Enqueues the next run waiting on a thread whose active run ended. A failure is logged: the scheduler's
    /// reconciler releases waiting runs too.
    public func releaseWaiting(on thread: ThreadID, logger: Logger) async {
        do {
            try await enqueue(try await store.releaseWaiting(thread: thread, logger: logger))
        } catch {
            logger.warning("Releasing the thread's next run failed; the reconciler will", metadata: [LogKey.error: "\(error)"])
        }
    }
}
