import Foundation
import Shared
import Testing

@testable import Worker

@Suite("Optimize stages compute from their input")
struct StageTests {
    @Test(arguments: [
        ("Optimize my AI workload costs", "cost"),
        ("why is my p99 latency so high?", "latency"),
        ("will we stay under a $5,000 budget this month?", "budget"),
        ("too many failures on summarize", "quality"),
        ("hello", "general"),
    ])
    func triageClassifiesTheGoal(message: String, goal: String) {
        #expect(TriageStage.classify(message).goal == goal)
    }

    @Test func triageReadsTheBudget() {
        #expect(TriageStage.budget(in: "stay under $5,000 this month") == 5000)
        #expect(TriageStage.budget(in: "cap at $1.5k") == 1500)
        #expect(TriageStage.budget(in: "no money mentioned") == nil)
    }

    @Test func pipelineChainsOutputsThroughToTheReport() async throws {
        let run = ClaimedRun(
            id: RunID(), tenantID: TenantID(), threadID: nil, pipeline: "optimize", input: "{}", attempt: 1, finishedStages: [], nextSeq: 1
        )
        let input = RunInput(message: "will we stay under a $5,000 budget this month?")
        let stages = try #require(StageCatalog().stages(for: "optimize", parameters: .init()))
        #expect(stages.map(\.name) == PipelineKind.optimizeStages)
        var outputs: [String: String] = [:]
        for (index, stage) in stages.enumerated() {
            let result = try await stage.run(StageInput(run: run, input: input, outputs: outputs, index: index))
            outputs[stage.name] = result.output
        }
        let report = try JSONText.decode(ReportingStage.Output.self, from: try #require(outputs["reporting"]))
        #expect(report.goal == "budget")
        #expect(report.markdown.contains("budget $5,000") || report.markdown.contains("budget $5000"))
        #expect(report.steps.count == TriageStage.rules[0].tools.count)
    }

    @Test func benchPipelineFollowsItsParameters() throws {
        let stages = try #require(StageCatalog().stages(for: "bench", parameters: .init(stages: 3, stageMilliseconds: 1)))
        #expect(stages.map(\.name) == ["stage-1", "stage-2", "stage-3"])
        #expect(StageCatalog().stages(for: "bench", parameters: .init(stages: 0)) == nil)
        #expect(StageCatalog().stages(for: "unknown", parameters: .init()) == nil)
    }
}
