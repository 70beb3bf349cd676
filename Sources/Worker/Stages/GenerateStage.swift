import Foundation
import Logging
import Shared

/// The `generate` pipeline's one stage: writes a synthetic workload for the tenant with the seeded generator,
/// reporting progress in percent. A re-executed job first deletes what its earlier attempt wrote, and writes the same
/// events again (the end day is fixed at submission).
struct GenerateStage: AgentStage {
    struct Output: Codable, Sendable, Equatable {
        var eventsWritten: Int
        var days: Int
        var seed: UInt64
        var profile: String
        var costUSD: Double
        var milliseconds: Int

        enum CodingKeys: String, CodingKey {
            case days, seed, profile, milliseconds
            case eventsWritten = "events_written"
            case costUSD = "cost_usd"
        }
    }

    /// `sub_agent_update` progress data.
    struct Progress: Encodable {
        let status = "progress"
        let percent: Int
        let eventsWritten: Int
        enum CodingKeys: String, CodingKey {
            case status, percent
            case eventsWritten = "events_written"
        }
    }

    let workloads: WorkloadStore
    let catalog: SupplyCatalog
    let logger: Logger
    /// Events generated and inserted per step.
    var batch = 20_000

    var name: String { "generate" }

    func execute(_ input: StageInput) async throws -> Output {
        let parameters = input.input.parameters
        let events = parameters.events ?? 10_000
        let days = parameters.days ?? 14
        let seed = parameters.seed ?? 1
        let profile = parameters.profile.flatMap(WorkloadGenerator.Profile.init(rawValue:)) ?? .saas
        let end = parameters.endDay.map { Date(timeIntervalSince1970: Double($0) * 86_400) } ?? Date()
        let started = ContinuousClock.now
        try await workloads.deleteWritten(by: input.run.id, tenant: input.run.tenantID, logger: logger)
        var generator = WorkloadGenerator(events: events, days: days, seed: seed, profile: profile, end: end)
        var written = 0
        var cost = 0.0
        var reported = 0
        while let chunk = generator.next(batch: batch) {
            try Task.checkCancellation()
            let costs = chunk.map { catalog.cost(of: $0) ?? 0 }
            // Each chunk commits on its own: progress is real, and a re-execution deletes partial writes first.
            try await workloads.insert(chunk, costs: costs, tenant: input.run.tenantID, run: input.run.id, transaction: false, logger: logger)
            written += chunk.count
            cost += costs.reduce(0, +)
            let percent = written * 100 / max(events, 1)
            if percent >= reported + 5 || written == events {
                reported = percent
                try await input.emitter.emit(.subAgentUpdate, Progress(percent: percent, eventsWritten: written))
            }
        }
        let elapsed = ContinuousClock.now - started
        return Output(
            eventsWritten: written, days: days, seed: seed, profile: profile.rawValue, costUSD: cost,
            milliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        )
    }

    func summary(of output: Output) -> String {
        "\(output.eventsWritten) events over \(output.days) days written in \(output.milliseconds) ms"
    }
}
