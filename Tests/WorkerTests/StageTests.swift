import Foundation
import Logging
import PostgresNIO
import Shared
import SharedTestSupport
import Synchronization
import Testing

@testable import Worker

@Suite("Pipeline stages")
struct StageTests {
    let logger = TestEnvironment.logger("stages")

    /// Runs every stage of `pipeline` in order, as the runner does, collecting the events they emit.
    func runStages(
        _ stages: [any AgentStage], run: ClaimedRun, input: RunInput
    ) async throws -> (outputs: [String: String], events: [(EventType, String)]) {
        let emitted = Mutex<[(EventType, String)]>([])
        var outputs: [String: String] = [:]
        for (index, stage) in stages.enumerated() {
            let emitter = StageEmitter(agent: stage.name) { type, data in emitted.withLock { $0.append((type, data)) } }
            let result = try await stage.run(StageInput(run: run, input: input, outputs: outputs, index: index, emitter: emitter))
            outputs[stage.name] = result.output
        }
        return (outputs, emitted.withLock { $0 })
    }

    @Test func optimizeStagesChainFromTheWorkloadToTheReport() async throws {
        try await withFreshDatabase { database in
            try await withPostgres(TestEnvironment.postgres(database: database)) { client in
                let tenant = try await TestTenant.create(on: client, logger: logger).id
                let workloads = WorkloadStore(client: client)
                let events = Array(WorkloadGenerator(events: 3_000, days: 7, seed: 11))
                try await workloads.insert(events, costs: events.map { SupplyCatalog.shipped.cost(of: $0) ?? 0 }, tenant: tenant, logger: logger)

                // Data loads only what the chosen tools read.
                let window = (from: Date(timeIntervalSince1970: 0), to: Date().addingTimeInterval(86_400))
                let latencyOnly = try await workloads.aggregates(
                    tenant: tenant, from: window.from, to: window.to, for: [.latencyProfile], logger: logger
                )
                #expect(latencyOnly.span.calls == 3_000 && !latencyOnly.latency.isEmpty)
                #expect(latencyOnly.usage.isEmpty && latencyOnly.duplicates.isEmpty && latencyOnly.daily.isEmpty)
                let everything = try await workloads.aggregates(tenant: tenant, from: window.from, to: window.to, logger: logger)
                #expect(!everything.usage.isEmpty && !everything.daily.isEmpty && !everything.users.isEmpty)

                let run = ClaimedRun(
                    id: RunID(), tenantID: tenant, threadID: nil, pipeline: "optimize", input: "{}", attempt: 1, finishedStages: [], nextSeq: 1
                )
                let stages = try #require(StageCatalog(workloads: workloads).stages(for: "optimize", parameters: .init()))
                #expect(stages.map(\.name) == PipelineKind.optimizeStages)
                let (outputs, emitted) = try await runStages(
                    stages, run: run, input: RunInput(message: "will we stay under a $5,000 budget this month?")
                )
                let triage = try JSONText.decode(TriageResult.self, from: try #require(outputs["triage"]))
                #expect(triage.goal == .budget && triage.entities.budgetUSD == 5000)
                // Every tool triage chose was called, then reported, in order.
                let calls = emitted.filter { $0.0 == .toolCall }.compactMap { JSONValue(text: $0.1)?["tool"]?.stringValue }
                let results = emitted.filter { $0.0 == .toolResult }.compactMap { JSONValue(text: $0.1)?["tool"]?.stringValue }
                #expect(calls == ["workload_aggregates"] + triage.tools.map(\.rawValue))
                #expect(results == calls)
                let reporting = try #require(outputs["reporting"])
                let report = try #require(JSONValue(text: reporting))
                let markdown = try #require(report["markdown"]?.stringValue)
                #expect(markdown.contains("5,000"))
                #expect(report["report"]?["budget"] != nil)
            }
        }
    }

    @Test func benchPipelineFollowsItsParameters() throws {
        let stages = try #require(StageCatalog().stages(for: "bench", parameters: .init(stages: 3, stageMilliseconds: 1)))
        #expect(stages.map(\.name) == ["stage-1", "stage-2", "stage-3"])
        #expect(StageCatalog().stages(for: "bench", parameters: .init(stages: 0)) == nil)
        #expect(StageCatalog().stages(for: "unknown", parameters: .init()) == nil)
        // Without a workload store the data pipelines cannot run.
        #expect(StageCatalog().stages(for: "optimize", parameters: .init()) == nil)
    }
}

extension JSONValue {
    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
