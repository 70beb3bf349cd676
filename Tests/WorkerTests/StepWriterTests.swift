import Foundation
import Shared
import SharedTestSupport
import Synchronization
import Testing

@testable import Worker

/// The write-behind of a run's steps, against a commit function the test holds: what commits, in what order, what
/// merges, and what a failure or a cancellation request does to what follows.
@Suite("StepWriter: a run's steps committed behind its execution")
struct StepWriterTests {
    let run = RunID()
    let tenant = TenantID()

    func write(_ seqs: ClosedRange<Int>, stage: String? = nil, checkpoint: Int? = nil, outcome: RunWrite.Outcome? = nil) -> RunWrite {
        RunWrite(
            runID: run, tenantID: tenant, attempt: 1,
            events: seqs.map { RunEvent(runID: run, threadID: nil, seq: $0, type: .agentLog, agentName: nil, data: "{}", timestamp: Date()) },
            currentStage: stage,
            checkpoint: checkpoint.map { StageRecord(index: $0, name: "s\($0)", attempt: 1, output: "null", startedAt: Date(), finishedAt: Date()) },
            outcome: outcome
        )
    }

    /// A commit function that records what it was given and can be held at its next call.
    final class Committer: Sendable {
        let commits = Mutex<[RunWrite]>([])
        let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let holdNext = Atomic<Bool>(false)
        /// What each commit answers: `true` = a cancellation was requested; an error is thrown.
        let answer = Mutex<Result<Bool, LeaseLost>>(.success(false))

        func commit(_ write: RunWrite) async throws -> Bool {
            if holdNext.exchange(false, ordering: .relaxed) {
                await withCheckedContinuation { continuation in held.withLock { $0 = continuation } }
            }
            commits.withLock { $0.append(write) }
            return try answer.withLock { $0 }.get()
        }

        var isHolding: Bool { held.withLock { $0 != nil } }

        func release() { held.withLock { $0?.resume(); $0 = nil } }
    }

    @Test func writesQueuedDuringACommitMergeIntoTheNextInOrder() async throws {
        let committer = Committer()
        committer.holdNext.store(true, ordering: .relaxed)
        let writer = StepWriter { try await committer.commit($0) }
        try writer.append(write(1...2, stage: "s0"))
        try await waitUntil("the first commit to be in flight") { committer.isHolding }
        // The run goes on while it is in flight: three more steps, the last one ends the run.
        try writer.append(write(3...3, stage: "s1", checkpoint: 0))
        try writer.append(write(4...5))
        let finished = Task { try await writer.finish(write(6...7, checkpoint: 1, outcome: .succeeded(result: "null"))) }
        #expect(committer.commits.withLock { $0.isEmpty })
        committer.release()
        try await finished.value
        let commits = committer.commits.withLock { $0 }
        #expect(commits.count == 2, "one commit in flight, everything after it in one more")
        #expect(commits.map { $0.events.map(\.seq) } == [[1, 2], [3, 4, 5, 6, 7]])
        #expect(commits.last?.checkpoints.map(\.index) == [0, 1])
        #expect(commits.last?.currentStage == "s1")
        #expect(commits.last?.outcome == .succeeded(result: "null"))
    }

    @Test func aFailedCommitDropsWhatFollowsAndIsThrownByTheNextStep() async throws {
        let committer = Committer()
        committer.holdNext.store(true, ordering: .relaxed)
        committer.answer.withLock { $0 = .failure(LeaseLost(runID: run, attempt: 1)) }
        let writer = StepWriter { try await committer.commit($0) }
        try writer.append(write(1...1))
        try await waitUntil("the first commit to be in flight") { committer.isHolding }
        try writer.append(write(2...2))
        committer.release()
        await writer.waitUntilIdle()
        #expect(throws: LeaseLost.self) { try writer.append(write(3...3)) }
        await #expect(throws: LeaseLost.self) { try await writer.finish(write(4...4, outcome: .succeeded(result: "null"))) }
        #expect(committer.commits.withLock { $0.map { $0.events.map(\.seq) } } == [[1]], "the queued step was never committed")
    }

    @Test func aCancellationReportedByAStepStopsTheRunButNotByItsLastWrite() async throws {
        let committer = Committer()
        committer.answer.withLock { $0 = .success(true) }
        let writer = StepWriter { try await committer.commit($0) }
        try writer.append(write(1...1))
        await writer.waitUntilIdle()
        #expect(throws: CancelRequested.self) { try writer.append(write(2...2)) }

        // A run's last write reports the request too, but the run has ended: nothing to throw.
        let ending = StepWriter { try await committer.commit($0) }
        try await ending.finish(write(1...2, outcome: .succeeded(result: "null")))
    }
}
