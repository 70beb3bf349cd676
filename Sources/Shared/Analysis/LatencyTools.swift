import Foundation

/// The figures of ``WorkloadAnalysis/latencyProfile(latency:options:)``.
public struct LatencyProfile: Codable, Sendable, Equatable {
    /// Per model (with its provider) and per feature, highest p95 latency first.
    public var byModel: [LatencyGroup]
    public var byFeature: [LatencyGroup]
    /// The feature row with the highest p95 latency over interactive calls, when any feature has interactive calls.
    public var slowestInteractiveFeature: LatencyGroup?

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case byModel = "by_model"
        case byFeature = "by_feature"
        case slowestInteractiveFeature = "slowest_interactive_feature"
    }
}

/// One slice whose `max_tokens` is far above what it generates.
public struct HeadroomFinding: Codable, Sendable, Equatable {
    public var scope: Opportunity.Scope
    public var calls: Int
    public var avgMaxTokens: Double
    public var p95OutputTokens: Double
    /// `avgMaxTokens / p95OutputTokens`; `nil` when the p95 is 0.
    public var ratio: Double?
    /// Twice the p95 output, rounded up: still room for the long tail.
    public var suggestedMaxTokens: Int

    /// The wire names (snake_case).
    public enum CodingKeys: String, CodingKey {
        case scope, calls, ratio
        case avgMaxTokens = "avg_max_tokens"
        case p95OutputTokens = "p95_output_tokens"
        case suggestedMaxTokens = "suggested_max_tokens"
    }
}

/// The figures of ``WorkloadAnalysis/outputHeadroom(usage:options:)``.
public struct OutputHeadroomFigures: Codable, Sendable, Equatable {
    /// Flagged slices, most calls first.
    public var findings: [HeadroomFinding]
}

extension WorkloadAnalysis {
    /// Tool 2: p50/p95/p99 latency and TTFT and output speed per model and per feature (successful calls), and the
    /// slowest interactive feature.
    ///
    /// That feature becomes an opportunity (no dollar savings, medium confidence) when its interactive p95 is at
    /// least `options.slowInteractiveP95Ms`.
    public static func latencyProfile(latency: [LatencyGroup], options: AnalysisOptions = AnalysisOptions()) -> ToolResult<LatencyProfile> {
        let slowestFirst: (LatencyGroup, LatencyGroup) -> Bool = { $0.latencyP95Ms > $1.latencyP95Ms }
        let byModel = latency.filter { $0.dimension == .model }.sorted(by: slowestFirst)
        let byFeature = latency.filter { $0.dimension == .feature }.sorted(by: slowestFirst)
        let slowest = byFeature.filter { $0.interactiveCalls > 0 && $0.interactiveLatencyP95Ms != nil }
            .max { ($0.interactiveLatencyP95Ms ?? 0) < ($1.interactiveLatencyP95Ms ?? 0) }
        var opportunities: [Opportunity] = []
        if let slowest, let p95 = slowest.interactiveLatencyP95Ms, p95 >= options.slowInteractiveP95Ms {
            var evidence: [String: EvidenceValue] = [
                "interactive_latency_p95_ms": .number(p95), "latency_p50_ms": .number(slowest.latencyP50Ms),
                "interactive_calls": .count(slowest.interactiveCalls),
            ]
            if let ttft = slowest.interactiveTtftP95Ms { evidence["interactive_ttft_p95_ms"] = .number(ttft) }
            if let speed = slowest.outputTokensPerSecond { evidence["output_tokens_per_second"] = .number(speed) }
            opportunities.append(
                Opportunity(
                    tool: .latencyProfile, kind: .slowInteractiveFeature,
                    title: "Speed up interactive feature \(AnalysisText.name(slowest.feature)): p95 \(AnalysisText.ms(p95))",
                    monthlySavingsUSD: 0, confidence: .medium, evidence: evidence, scope: Opportunity.Scope(feature: slowest.feature)
                ))
        }
        var parts: [String] = []
        if let model = byModel.first {
            parts.append("slowest model \(model.model ?? "?") (\(model.provider ?? "?")) p95 \(AnalysisText.ms(model.latencyP95Ms))")
        }
        if let slowest, let p95 = slowest.interactiveLatencyP95Ms {
            parts.append("slowest interactive feature \(AnalysisText.name(slowest.feature)) p95 \(AnalysisText.ms(p95))")
        }
        let summary = parts.isEmpty ? "No successful calls to profile." : parts.joined(separator: "; ").capitalizedFirst + "."
        let figures = LatencyProfile(byModel: byModel, byFeature: byFeature, slowestInteractiveFeature: slowest)
        return ToolResult(tool: .latencyProfile, summary: summary, figures: figures, opportunities: opportunities)
    }

    /// Tool 9: slices whose average `max_tokens` is at least `options.headroomRatio` × their p95 output.
    ///
    /// An oversized `max_tokens` reserves rate-limit capacity and lets a runaway generation run long; each finding is
    /// an opportunity with no dollar savings (medium confidence), most calls first.
    public static func outputHeadroom(
        usage: [UsageGroup], options: AnalysisOptions = AnalysisOptions()
    ) -> ToolResult<OutputHeadroomFigures> {
        let findings = usage.compactMap { group -> HeadroomFinding? in
            guard let limit = group.avgMaxTokens, let p95 = group.p95OutputTokens, limit > 0, limit >= options.headroomRatio * p95 else {
                return nil
            }
            return HeadroomFinding(
                scope: group.scope, calls: group.calls, avgMaxTokens: limit, p95OutputTokens: p95, ratio: p95 > 0 ? limit / p95 : nil,
                suggestedMaxTokens: max(1, Int((2 * p95).rounded(.up)))
            )
        }.enumerated().sorted { $0.element.calls != $1.element.calls ? $0.element.calls > $1.element.calls : $0.offset < $1.offset }.map(
            \.element)
        let opportunities = findings.map { finding in
            var evidence: [String: EvidenceValue] = [
                "calls": .count(finding.calls), "avg_max_tokens": .number(finding.avgMaxTokens),
                "p95_output_tokens": .number(finding.p95OutputTokens), "suggested_max_tokens": .count(finding.suggestedMaxTokens),
            ]
            if let ratio = finding.ratio { evidence["ratio"] = .number(ratio) }
            return Opportunity(
                tool: .outputHeadroom, kind: .outputHeadroom,
                title:
                    "Lower max_tokens of \(finding.scope) from \(Int(finding.avgMaxTokens.rounded())) "
                    + "to about \(finding.suggestedMaxTokens)",
                monthlySavingsUSD: 0, confidence: .medium, evidence: evidence, scope: finding.scope
            )
        }
        let summary =
            findings.isEmpty
            ? "No slice sets max_tokens \(String(format: "%g", options.headroomRatio))× above its p95 output."
            : "\(findings.count) slices set max_tokens at least \(String(format: "%g", options.headroomRatio))× their p95 output."
        return ToolResult(
            tool: .outputHeadroom, summary: summary, figures: OutputHeadroomFigures(findings: findings), opportunities: opportunities)
    }
}

extension String {
    /// The string with its first character uppercased.
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
