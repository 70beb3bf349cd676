import Foundation
import HummingbirdTesting
import HTTPTypes
import Shared
import Testing

@testable import Gateway

/// `GET/PATCH /api/admin/tenants/{id}`, suspension and resumption.
@Suite("Tenant quotas and suspension in the admin API")
struct TenantAdminTests {
    func tenantID(_ stack: TestStack, token: String) async throws -> String {
        try #require(try stack.json(try await stack.request(.get, "/api/auth/me", token: token))["tenant_id"]?.stringValue)
    }

    @Test func overridesReplaceTheDefaultRunLimitOfOneTenantOnly() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let other = try await stack.tenantToken()
            let tenant = try await tenantID(stack, token: token)

            let shown = try stack.json(try await stack.request(.get, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken))
            #expect(shown["suspended"] == .bool(false))
            #expect(shown["overrides"]?["runs_per_second"] == .null)
            #expect(shown["limits"]?["runs_per_second"]?.intValue == Int(RateLimits().runs.perSecond))

            // One run a second, burst two: submissions in a row are soon refused (how soon depends on how fast the
            // machine sends them, hence no exact count), while the other tenant, at the default, is not limited.
            let patched = try await stack.request(.patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: #"{"runs_per_second": 1}"#)
            #expect(patched.status == .ok)
            #expect(try stack.json(patched)["limits"]?["runs_per_second"]?.intValue == 1)
            var accepted = 0
            var refused: TestResponse?
            for index in 0..<30 {
                let response = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"\#(index)"}"#)
                if response.status == .tooManyRequests { refused = response; break }
                accepted += 1
            }
            #expect(accepted >= 2, "the burst of two is honoured")
            #expect(refused?.headers[.retryAfter] != nil)
            for index in 0..<30 { _ = try await stack.submit(#"{"message":"other \#(index)"}"#, token: other) }

            // null resets the override.
            let reset = try stack.json(
                try await stack.request(.patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: #"{"runs_per_second": null}"#)
            )
            #expect(reset["overrides"]?["runs_per_second"] == .null)
            #expect(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"4"}"#).status == .accepted)
        }
    }

    @Test func badChangesAndUnknownTenantsAreRefused() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let tenant = try await tenantID(stack, token: token)
            for body in [#"{"runs_per_second": 0}"#, #"{"runs_per_second": 1.5}"#, #"{"runs_per_second": "5"}"#, #"{"max": 1}"#, "[]"] {
                let response = try await stack.request(.patch, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken, json: body)
                #expect(response.status == .unprocessableContent, "\(body)")
            }
            #expect(try stack.json(try await stack.request(.get, "/api/admin/tenants/\(tenant)", token: TestStack.adminToken))["overrides"]?["runs_per_second"] == .null)
            for path in ["/api/admin/tenants/\(UUID())", "/api/admin/tenants/not-a-tenant", "/api/admin/tenants/\(UUID())/suspend"] {
                let method: HTTPRequest.Method = path.hasSuffix("suspend") ? .post : .get
                #expect(try await stack.request(method, path, token: TestStack.adminToken).status == .notFound, "\(path)")
            }
            // A tenant's own token is not the admin token.
            #expect(try await stack.request(.get, "/api/admin/tenants/\(tenant)", token: token).status == .unauthorized)
            #expect(try await stack.request(.post, "/api/admin/tenants/\(tenant)/suspend", token: token).status == .unauthorized)
        }
    }

    @Test func aSuspendedTenantCanReadButStartsNothingUntilResumed() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let token = try await stack.tenantToken()
            let tenant = try await tenantID(stack, token: token)
            let before = try await stack.submit(#"{"message":"before"}"#, token: token)

            let suspended = try stack.json(try await stack.request(.post, "/api/admin/tenants/\(tenant)/suspend", token: TestStack.adminToken))
            #expect(suspended["suspended"] == .bool(true) && suspended["suspended_at"]?.stringValue != nil)
            let refused = try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"during"}"#)
            #expect(refused.status == .forbidden)
            #expect(try stack.json(refused)["error"]?["code"]?.stringValue == "tenant_suspended")
            let generation = try await stack.request(.post, "/api/generation/start", token: token, json: #"{"events": 10}"#)
            #expect(generation.status == .forbidden)
            // Nor can it start a failed run again.
            let failed = try await stack.scalar(
                Int.self, "UPDATE runs SET status = 'failed', finished_at = now() WHERE id = \(UUID(uuidString: before)!) RETURNING 1"
            )
            #expect(failed == 1)
            let retry = try await stack.request(.post, "/api/agent/runs/\(before)/retry", token: token)
            #expect(retry.status == .forbidden)
            #expect(try stack.json(retry)["error"]?["code"]?.stringValue == "tenant_suspended")
            // Reading goes on, and nothing was created.
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: token))
            #expect(history["runs"]?.arrayValue?.compactMap { $0["run_id"]?.stringValue } == [before])

            let resumed = try stack.json(try await stack.request(.post, "/api/admin/tenants/\(tenant)/resume", token: TestStack.adminToken))
            #expect(resumed["suspended"] == .bool(false))
            #expect(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"after"}"#).status == .accepted)
        }
    }
}
