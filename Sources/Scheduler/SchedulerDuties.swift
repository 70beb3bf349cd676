import Logging
import Metrics
import ServiceLifecycle
import Shared

/// The leader's periodic work: due delayed entries and the reaper every `interval`, the reconciler every
/// `reconcileInterval`.
/// Standby replicas only watch the lock.
struct SchedulerDuties: Service {
    let election: LeaderElection
    let reaper: Reaper
    let reconciler: Reconciler
    let delayed: DelayedQueue
    /// Delayed runs (`run_at`, `delay_seconds`) are admitted from here when due.
    let admission: Admission
    /// The queue's gauges, refreshed by the leader every `metricsInterval`.
    let queueMetrics: QueueMetrics
    /// Cron schedules, fired every `metricsInterval` too.
    let schedules: ScheduleFiring
    /// Completion webhooks, sent every `metricsInterval` too.
    let webhooks: WebhookDelivery
    var metricsInterval: Duration = .seconds(1)
    let interval: Duration
    let reconcileInterval: Duration
    let logger: Logger

    func run() async throws {
        // Reaper and reconciler may be interrupted at any point: each step is safe to repeat.
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var lastReconcile = clock.now - reconcileInterval
            var lastMetrics = clock.now - metricsInterval
            while !Task.isCancelled {
                if election.isLeader {
                    do {
                        try await delayed.promoteDue()
                    } catch {
                        logger.warning("Promoting delayed entries failed", metadata: [LogKey.error: "\(error)"])
                    }
                    do {
                        try await admission.promoteScheduled()
                    } catch {
                        logger.warning("Admitting due scheduled runs failed", metadata: [LogKey.error: "\(error)"])
                    }
                    do {
                        let report = try await reaper.sweep(logger: logger)
                        if report.requeued > 0 { NetraMetric.counter(NetraMetric.runsReclaimed).increment(by: report.requeued) }
                        if report.dead > 0 { NetraMetric.counter(NetraMetric.runsDead).increment(by: report.dead) }
                    } catch {
                        logger.warning("Reaper sweep failed", metadata: [LogKey.error: "\(error)"])
                    }
                    if clock.now - lastMetrics >= metricsInterval {
                        lastMetrics = clock.now
                        do {
                            try await schedules.sweep(logger: logger)
                        } catch {
                            logger.warning("Firing cron schedules failed", metadata: [LogKey.error: "\(error)"])
                        }
                        do {
                            try await webhooks.sweep(logger: logger)
                        } catch {
                            logger.warning("Sending webhooks failed", metadata: [LogKey.error: "\(error)"])
                        }
                        do {
                            try await queueMetrics.update()
                        } catch {
                            logger.warning("Reading the queue's figures failed", metadata: [LogKey.error: "\(error)"])
                        }
                    }
                    if clock.now - lastReconcile >= reconcileInterval {
                        lastReconcile = clock.now
                        do {
                            try await reconciler.sweep(logger: logger)
                        } catch {
                            logger.warning("Reconciler sweep failed", metadata: [LogKey.error: "\(error)"])
                        }
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
