import Foundation
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

/// `/metrics`: after a run, the Prometheus text shows its submission, execution, stages, round trips and the
/// queue's figures (the test's gateway, worker and scheduler share one process, hence one registry).
@Suite("Prometheus metrics")
struct MetricsTests {
    /// The value of the sample `name{labels}` in Prometheus text, if present.
    func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func aRunShowsUpInTheMetrics() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let before = String(buffer: try await stack.request(.get, "/metrics").body)
            let submitted = sample(before, #"netra_runs_submitted_total{pipeline="bench"}"#) ?? 0
            let succeeded = sample(before, #"netra_runs_finished_total{pipeline="bench",status="succeeded"}"#) ?? 0

            let run = try await stack.submit(#"{"message":"measured","pipeline":"bench","parameters":{"stages":2}}"#, token: token)
            #expect(try await stack.request(.get, "/api/agent/status/\(UUID())", token: token).status == .notFound)
            #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")

            let stream = stack.service.keys.runStream
            try await waitUntil("the leader has published this stack's queue figures") {
                String(buffer: try await stack.request(.get, "/metrics").body).contains(#"netra_queue_lag{stream="\#(stream)"}"#)
            }
            let response = try await stack.request(.get, "/metrics")
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            #expect((sample(text, #"netra_runs_submitted_total{pipeline="bench"}"#) ?? 0) >= submitted + 1)
            #expect((sample(text, #"netra_runs_finished_total{pipeline="bench",status="succeeded"}"#) ?? 0) >= succeeded + 1)
            #expect((sample(text, #"netra_runs_started_total{pipeline="bench"}"#) ?? 0) >= 1)
            #expect((sample(text, #"netra_stage_duration_seconds_count{stage="stage-2"}"#) ?? 0) >= 1)
            #expect((sample(text, "netra_redis_roundtrip_seconds_count") ?? 0) > 0)
            #expect((sample(text, #"netra_postgres_batch_seconds_count{statement="commit"}"#) ?? 0) > 0)
            #expect(text.contains("# TYPE netra_stage_duration_seconds histogram"))
            #expect(text.contains(#"netra_queue_pending{stream="\#(stream)"}"#))
            #expect(text.contains("netra_queue_oldest_waiting_seconds"))
            #expect(text.contains(#"netra_tenant_backlog{tenant="other"}"#))
            // Every HTTP answer by route template, method and status (Hummingbird's MetricsMiddleware).
            let runs = #"http_route="/api/agent/runs",http_request_method="POST",http_response_status_code="202""#
            #expect((sample(text, "hb_requests{\(runs)}") ?? 0) >= 1)
            #expect((sample(text, "http_server_request_duration_count{\(runs)}") ?? 0) >= 1)
            #expect(text.contains("# TYPE http_server_request_duration histogram"))
            let missing = #"http_route="/api/agent/status/{run_id}",http_request_method="GET",http_response_status_code="404""#
            #expect((sample(text, "hb_requests{\(missing)}") ?? 0) >= 1)
        }
    }
}
