import Logging
import PostgresNIO
import ServiceLifecycle
import Shared
import Synchronization

/// Reads the run stream as one consumer of the `workers` group and executes up to `concurrency` runs at once.
///
/// On graceful shutdown it stops reading (checked between reads, so nothing read is dropped), lets the runs it holds
/// finish, and returns.
struct RunConsumer: Service {
    let config: WorkerConfiguration
    let postgres: PostgresClient
    let runner: PipelineRunner
    let logger: Logger

    func run() async throws {
        let logger = logger.with(LogKey.worker, "\(config.consumerName)")
        // A blocking read holds its connection, so the reader has its own.
        let reader = RedisClient(endpoint: config.service.redis, logger: logger)
        let keys = config.service.keys
        let finished = FinishedCounter()
        let (slotFreed, slotFreedContinuation) = AsyncStream<Void>.makeStream()
        var slotFreedIterator = slotFreed.makeAsyncIterator()
        var started = 0
        var failures = 0

        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let free = config.concurrency - (started - finished.value.load(ordering: .acquiring))
                if free <= 0 {
                    await slotFreedIterator.next()
                    continue
                }
                var entries: [StreamEntry]
                do {
                    // Recovered runs first, then new runs for the slots left, both without blocking. Only when both
                    // are empty does the reader block, on both streams at once, so that a recovered run or a due retry
                    // wakes it as a new run does. XREADGROUP's COUNT applies per stream: the blocking read asks each
                    // for half the free slots so the two together never overfill them (with one slot free it blocks
                    // on new runs only, briefly, and a recovered run waits at most that long).
                    entries = try await reader.readGroup(
                        keys.workerGroup, consumer: config.consumerName, streams: [keys.recoveryStream], count: free, block: nil
                    )
                    if entries.count < free {
                        entries += try await reader.readGroup(
                            keys.workerGroup, consumer: config.consumerName, streams: [keys.runStream], count: free - entries.count, block: nil
                        )
                    }
                    if entries.isEmpty {
                        entries = try await reader.readGroup(
                            keys.workerGroup, consumer: config.consumerName,
                            streams: free >= 2 ? [keys.recoveryStream, keys.runStream] : [keys.runStream],
                            count: max(free / 2, 1),
                            block: free >= 2 ? config.readBlock : min(config.readBlock, .milliseconds(200))
                        )
                    }
                    failures = 0
                } catch {
                    failures += 1
                    await recover(from: error, reader: reader, failures: failures, logger: logger)
                    continue
                }
                for entry in entries {
                    guard let runEntry = RunStreamEntry(entry) else {
                        logger.error("Malformed stream entry; acknowledging it", metadata: ["stream.id": "\(entry.id)"])
                        _ = try? await runner.redis.ack(keys.workerGroup, stream: entry.stream, ids: [entry.id])
                        continue
                    }
                    started += 1
                    group.addTask {
                        let disposition = await runner.execute(runEntry, logger: logger)
                        if disposition == .acknowledge {
                            do {
                                try await runner.redis.ack(keys.workerGroup, stream: entry.stream, ids: [entry.id])
                            } catch {
                                logger.warning("XACK failed; the entry stays pending", metadata: [LogKey.error: "\(error)"])
                            }
                        }
                        finished.value.add(1, ordering: .releasing)
                        slotFreedContinuation.yield()
                    }
                }
            }
        }
        slotFreedContinuation.finish()
        reader.close()
    }

    /// After a failed read: recreates a missing group, otherwise backs off.
    private func recover(from error: any Error, reader: RedisClient, failures: Int, logger: Logger) async {
        let keys = config.service.keys
        if let error = error as? RedisError, error.kind == .server, error.message.hasPrefix("NOGROUP") {
            do {
                for stream in keys.workStreams { try await reader.createGroup(keys.workerGroup, on: stream) }
                return
            } catch {
                logger.warning("Creating the consumer group failed", metadata: [LogKey.error: "\(error)"])
            }
        } else {
            logger.warning("Reading the run stream failed; backing off", metadata: [LogKey.error: "\(error)"])
        }
        try? await Task.sleep(for: min(.milliseconds(100) * (1 << min(failures, 5)), .seconds(2)))
    }
}

/// Counts runs that finished, shared between the read loop and the run tasks.
private final class FinishedCounter: Sendable {
    let value = Atomic<Int>(0)
}
