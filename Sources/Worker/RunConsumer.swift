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
        var fill = StreamFill(keys: keys, group: keys.workerGroup, consumer: config.consumerName)
        // A cancellation published before the control channel is subscribed would only be noticed at the run's next
        // lease renewal, so runs are taken once it is (or Redis is slow to answer: the renewals still carry the flag).
        await runner.registry.waitUntilListening(atMost: .seconds(5))

        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let free = config.concurrency - (started - finished.value.load(ordering: .acquiring))
                if free <= 0 {
                    await slotFreedIterator.next()
                    continue
                }
                var entries: [StreamEntry]
                do {
                    // One script reads the streams in order until the free slots are filled, without blocking. Only
                    // when all are empty does the reader block, on all of them at once, so that a recovered run, a due
                    // retry or a run of any priority wakes it. XREADGROUP's COUNT applies per stream: the blocking
                    // read asks each for a share of the free slots so that together they never overfill them (with
                    // fewer slots free than streams it blocks on the normal stream only, briefly, and the others wait
                    // at most that long).
                    entries = try await fill.next(free: free, reader: reader)
                    if entries.isEmpty {
                        let streams = keys.workStreams
                        let wide = free >= streams.count
                        entries = try await reader.readGroup(
                            keys.workerGroup, consumer: config.consumerName,
                            streams: wide ? streams : [keys.runStream],
                            count: max(free / streams.count, 1),
                            block: wide ? config.readBlock : min(config.readBlock, .milliseconds(200))
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
                        do {
                            switch disposition {
                            case .release: try await runner.admission.release(runEntry, group: keys.workerGroup)
                            case .acknowledge: try await runner.redis.ack(keys.workerGroup, stream: entry.stream, ids: [entry.id])
                            case .leavePending: break
                            }
                        } catch {
                            // The reaper finds the entry pending, sees the run final, and releases it.
                            logger.warning("XACK failed; the entry stays pending", metadata: [LogKey.error: "\(error)"])
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
        if let error = error as? RedisError, error.isMissingGroup {
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

/// The order in which a worker takes waiting runs: recovered runs first, then by priority, except that every
/// `normalFirstEvery`-th fill lets normal runs go before high ones and every `lowFirstEvery`-th lets low runs go first.
/// Under sustained high-priority load normal runs still get at least a quarter of the fills and low ones an eighth,
/// so neither starves; with no high load the order is strict.
struct StreamFill {
    static let normalFirstEvery = 4
    static let lowFirstEvery = 8

    let keys: RedisKeys
    let group: String
    let consumer: String
    private var fills = 0

    init(keys: RedisKeys, group: String, consumer: String) {
        self.keys = keys
        self.group = group
        self.consumer = consumer
    }

    /// The streams of the next fill, in the order it reads them.
    mutating func nextOrder() -> [String] {
        fills += 1
        let (high, normal, low) = (keys.runStream(.high), keys.runStream(.normal), keys.runStream(.low))
        if fills % Self.lowFirstEvery == 0 { return [keys.recoveryStream, low, high, normal] }
        if fills % Self.normalFirstEvery == 0 { return [keys.recoveryStream, normal, high, low] }
        return [keys.recoveryStream, high, normal, low]
    }

    /// KEYS: streams in order; ARGV: group, consumer, count. Reads each stream in turn until `count` entries are read;
    /// the reply has XREADGROUP's shape.
    static let script = RedisScript(
        """
        local wanted = tonumber(ARGV[3])
        local out = {}
        for _, stream in ipairs(KEYS) do
          if wanted <= 0 then break end
          local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', wanted, 'STREAMS', stream, '>')
          if reply then
            wanted = wanted - #reply[1][2]
            table.insert(out, reply[1])
          end
        end
        return out
        """
    )

    /// Reads up to `free` entries across the streams in this fill's order, in one round trip.
    mutating func next(free: Int, reader: RedisClient) async throws -> [StreamEntry] {
        let reply = try await Self.script.run(
            on: reader, keys: nextOrder(), arguments: [RedisArgument(group), RedisArgument(consumer), RedisArgument(free)]
        )
        return try RedisClient.parseReadReply(reply)
    }
}

/// Counts runs that finished, shared between the read loop and the run tasks.
private final class FinishedCounter: Sendable {
    let value = Atomic<Int>(0)
}
