import Logging
import Metrics
import ServiceLifecycle
import Shared

/// The leader's periodic work: due retries, due delayed runs and the reaper every `interval`; cron schedules,
/// completion webhooks and the queue's gauges every `metricsInterval` (1 s); the reconciler every
/// `reconcileInterval`. Standby replicas only watch the lock.
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
    /// Acknowledged entries leave the work streams every `reconcileInterval`.
    let trimmer: StreamTrimmer
    /// How often cron schedules fire, webhooks go out and the queue's gauges refresh.
    var metricsInterval: Duration = .seconds(1)
    let interval: Duration
    let reconcileInterval: Duration
    let logger: Logger

    func run() async throws {
        // Every duty may be interrupted at any point: each step is safe to repeat.
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var lastReconcile = clock.now - reconcileInterval
            var lastSecondly = clock.now - metricsInterval
            while !Task.isCancelled {
                if election.isLeader {
                    await duty("Promoting delayed entries") { try await delayed.promoteDue() }
                    await duty("Admitting due scheduled runs") { try await admission.promoteScheduled() }
                    await duty("Reaper sweep") {
                        let report = try await reaper.sweep(logger: logger)
                        if report.requeued > 0 { NetraMetric.counter(NetraMetric.runsReclaimed).increment(by: report.requeued) }
                        if report.dead > 0 { NetraMetric.counter(NetraMetric.runsDead).increment(by: report.dead) }
                    }
                    if clock.now - lastSecondly >= metricsInterval {
                        lastSecondly = clock.now
                        await duty("Firing cron schedules") { try await schedules.sweep(logger: logger) }
                        await duty("Sending webhooks") { try await webhooks.sweep(logger: logger) }
                        await duty("Reading the queue's figures") { try await queueMetrics.update() }
                    }
                    if clock.now - lastReconcile >= reconcileInterval {
                        lastReconcile = clock.now
                        await duty("Reconciler sweep") { try await reconciler.sweep(logger: logger) }
                        await duty("Trimming the work streams") { try await trimmer.sweep(logger: logger) }
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Runs one duty; a failure is logged and the next round tries again.
    private func duty(_ name: String, _ body: () async throws -> some Sendable) async {
        do {
            _ = try await body()
        } catch {
            logger.warning("\(name) failed", metadata: [LogKey.error: "\(error)"])
        }
    }
}
