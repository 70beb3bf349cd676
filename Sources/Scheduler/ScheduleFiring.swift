import Foundation
import Logging
import Shared

/// The leader's cron work: makes the runs of the schedules' due firings (one per firing, whatever the replicas do;
/// see `ScheduleStore.fireDue`) and admits them.
struct ScheduleFiring: Sendable {
    let store: ScheduleStore
    let admission: Admission

    /// Fires everything due by `now` (the tests pass a clock of their own); returns how many runs it made.
    @discardableResult
    func sweep(now: Date = Date(), logger: Logger) async throws -> Int {
        var total = 0
        while true {
            let entries = try await store.fireDue(now: now, logger: logger)
            // The runs are queued in PostgreSQL: should this fail, the reconciler admits them.
            try await admission.admit(entries)
            total += entries.count
            if entries.count < 100 { return total }
        }
    }
}
