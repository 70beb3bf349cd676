import Foundation

/// What any tool returned, with its figures as JSON text: the shape a stage can keep in one list or put in a
/// `tool_result` event without knowing each tool's figure type.
public struct ToolOutcome: Codable, Sendable, Equatable {
    public var tool: AnalysisTool
    public var summary: String
    public var opportunities: [Opportunity]
    /// The `figures` of the tool's ``ToolResult``, encoded with sorted keys.
    public var figuresJSON: String

    public init(tool: AnalysisTool, summary: String, opportunities: [Opportunity], figuresJSON: String) {
        self.tool = tool
        self.summary = summary
        self.opportunities = opportunities
        self.figuresJSON = figuresJSON
    }

    /// Erases a typed result.
    public init<Figures>(_ result: ToolResult<Figures>) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Figures are plain structs of numbers, strings and arrays: encoding them cannot fail.
        let json = (try? encoder.encode(result.figures)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        self.init(tool: result.tool, summary: result.summary, opportunities: result.opportunities, figuresJSON: json)
    }

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case tool, summary, opportunities
        case figuresJSON = "figures_json"
    }
}

extension WorkloadAnalysis {
    /// Runs one tool, by name, on the aggregates the Data stage loaded.
    public static func run(
        _ tool: AnalysisTool, on data: WorkloadAggregates, catalog: [SupplyModel], options: AnalysisOptions = AnalysisOptions()
    ) -> ToolOutcome {
        switch tool {
        case .costBreakdown:
            ToolOutcome(costBreakdown(usage: data.usage, users: data.users, daily: data.daily, span: data.span, options: options))
        case .latencyProfile: ToolOutcome(latencyProfile(latency: data.latency, options: options))
        case .duplicateCache: ToolOutcome(duplicateCache(duplicates: data.duplicates, span: data.span, options: options))
        case .promptCacheFitness:
            ToolOutcome(promptCacheFitness(prefixes: data.prefixes, catalog: catalog, span: data.span, options: options))
        case .batchEligibility: ToolOutcome(batchEligibility(usage: data.usage, catalog: catalog, span: data.span, options: options))
        case .modelRightSizing: ToolOutcome(modelRightSizing(usage: data.usage, catalog: catalog, span: data.span, options: options))
        case .providerArbitrage: ToolOutcome(providerArbitrage(usage: data.usage, catalog: catalog, span: data.span, options: options))
        case .failureWaste: ToolOutcome(failureWaste(usage: data.usage, span: data.span, options: options))
        case .outputHeadroom: ToolOutcome(outputHeadroom(usage: data.usage, options: options))
        case .spendTrend: ToolOutcome(spendTrend(daily: data.daily, options: options))
        }
    }
}
