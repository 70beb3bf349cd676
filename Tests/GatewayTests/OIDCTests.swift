import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Shared
import SharedTestSupport
import Testing

/// A real OpenID Connect provider (`Tests/OIDC/provider.py`, built on authlib) in its own process: discovery, the
/// authorization-code flow with PKCE, RS256 ID tokens, a key set that rotates, and switches that make its next ID token
/// misbehave. `scripts/test` creates its Python environment (NETRA_TEST_OIDC_PYTHON).
final class OIDCProviderProcess: @unchecked Sendable {
    // `@unchecked Sendable`: `process` is set once in `start` and read by `stop`, by the owning test only.
    let issuer: String
    private let process = Process()
    /// Follows no redirects: the test reads each `Location` itself. Created last in `init` (it must be shut down).
    let http: HTTPClient

    init() throws {
        let environment = ProcessInfo.processInfo.environment
        let python = try #require(environment["NETRA_TEST_OIDC_PYTHON"], "run through scripts/test, which sets NETRA_TEST_OIDC_PYTHON")
        let script = try #require(environment["NETRA_TEST_OIDC_PROVIDER"], "run through scripts/test, which sets NETRA_TEST_OIDC_PROVIDER")
        let port = try RedisServerProcess.freePort()
        issuer = "http://127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--port", "\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    func start() async throws {
        try process.run()
        // Python with authlib can take a while to start on a machine busy with the rest of the suite.
        try await waitUntil("the OpenID Connect provider at \(issuer)", timeout: .seconds(60)) {
            (try? await self.get("/test/stats").status) == .ok  // not discovery: the test counts those
        }
    }

    func stop() async throws {
        try await http.shutdown()
        // SIGKILL: the test process ignores SIGTERM (its service groups handle it), and children inherit that.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        // Polled, not `waitUntilExit()`: that one spins a run loop that never wakes inside Swift concurrency on Linux.
        let process = process
        try await waitUntil("the OpenID Connect provider to exit", timeout: .seconds(10)) { !process.isRunning }
    }

    func get(_ url: String) async throws -> (status: HTTPResponseStatus, location: String?, body: String) {
        let response = try await http.execute(HTTPClientRequest(url: url.hasPrefix("http") ? url : issuer + url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (response.status, response.headers.first(name: "Location"), String(buffer: body))
    }

    @discardableResult
    func post(_ path: String, json: String) async throws -> String {
        var request = HTTPClientRequest(url: issuer + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status.code / 100 == 2, "\(path): \(response.status) \(body)")
        return body
    }

    func stats() async throws -> JSONValue {
        try #require(JSONValue(text: try await get("/test/stats").body))
    }
}

@Suite("Single sign-on with OpenID Connect")
struct OIDCTests {
    /// Where the provider sends the browser back (the gateway's callback with code and state), and the cookie the
    /// gateway set on that browser when the sign-in started.
    struct Callback {
        let path: String
        let cookie: String
        var headers: HTTPFields { [.cookie: cookie] }
        func value(of name: String) -> String? { URLComponents(string: path)?.queryItems?.first { $0.name == name }?.value }
    }

    /// One sign-in as a browser makes it, following each redirect by hand: the gateway's authorize → the provider's
    /// authorize (which signs `email` in) → the gateway's callback, with the cookie. Returns the callback's answer.
    func signIn(_ stack: TestStack, _ provider: OIDCProviderProcess, tenant: String, email: String) async throws -> TestResponse {
        let back = try await callback(stack, provider, tenant: tenant, email: email)
        return try await stack.request(.get, back.path, headers: back.headers)
    }

    func callback(_ stack: TestStack, _ provider: OIDCProviderProcess, tenant: String, email: String) async throws -> Callback {
        let start = try await stack.request(.get, "/api/auth/oidc/\(tenant)/authorize?login_hint=\(email)")
        #expect(start.status == .found, "\(String(buffer: start.body))")
        let toIssuer = try #require(start.headers[.location])
        #expect(toIssuer.hasPrefix(provider.issuer + "/authorize?"))
        for parameter in ["code_challenge_method=S256", "code_challenge=", "state=", "nonce=", "scope=openid"] {
            #expect(toIssuer.contains(parameter), "\(parameter) missing in \(toIssuer)")
        }
        let setCookie = try #require(start.headers[.setCookie])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/api/auth/oidc"))
        let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
        let issued = try await provider.get(toIssuer)
        #expect(issued.status == .found, "\(issued.body)")
        let location = try #require(issued.location)
        let back = try #require(URLComponents(string: location))
        #expect(back.path == "/api/auth/oidc/callback")
        return Callback(path: back.path + "?" + (back.percentEncodedQuery ?? ""), cookie: cookie)
    }

    /// The access token in a successful callback's redirect (`/#access_token=…`).
    func accessToken(_ response: TestResponse) throws -> String {
        #expect(response.status == .seeOther, "\(response.status): \(String(buffer: response.body))")
        let location = try #require(response.headers[.location])
        #expect(location.hasPrefix("/#access_token="))
        let fragment = try #require(location.split(separator: "#").last)
        let pairs = fragment.split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
        return try #require(pairs.first { $0.first == "access_token" }?.last)
    }

    func configure(_ stack: TestStack, _ provider: OIDCProviderProcess, tenant: String, domains: String) async throws -> String {
        let body = #"{"issuer":"\#(provider.issuer)","client_id":"netra-\#(tenant.prefix(8))","client_secret":"s3cr3t:with/special+chars","allowed_domains":\#(domains)}"#
        let response = try await stack.request(.put, "/api/admin/tenants/\(tenant)/oidc", token: TestStack.adminToken, json: body)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        let settings = try stack.json(response)
        #expect(settings["client_secret"] == nil)
        let redirect = try #require(settings["redirect_uri"]?.stringValue)
        try await provider.post(
            "/test/clients", json: #"{"client_id":"netra-\#(tenant.prefix(8))","client_secret":"s3cr3t:with/special+chars","redirect_uris":["\#(redirect)"]}"#
        )
        return redirect
    }

    func me(_ stack: TestStack, token: String) async throws -> JSONValue {
        let response = try await stack.request(.get, "/api/auth/me", token: token)
        #expect(response.status == .ok)
        return try stack.json(response)
    }

    func users(_ stack: TestStack, email: String) async throws -> Int {
        try await stack.scalar(Int.self, "SELECT count(*)::int FROM users WHERE lower(email) = lower(\(email))") ?? -1
    }

    /// A running provider and a stack without workers for `body`; the provider stops whatever happens.
    func withProvider(_ body: @escaping @Sendable (TestStack, OIDCProviderProcess) async throws -> Void) async throws {
        var options = TestStack.Options()
        options.workers = 0
        let provider = try OIDCProviderProcess()
        do {
            // Inside the do: a provider that fails to start must still have its HTTP client shut down (its deinit
            // traps otherwise, taking every running test with it).
            try await provider.start()
            try await TestStack.run(options) { stack in try await body(stack, provider) }
        } catch {
            try await provider.stop()
            throw error
        }
        try await provider.stop()
    }

    @Test func aSignInMapsTheEmailToAUserOrANewMemberOfAnAllowedDomain() async throws {
        try await withProvider { stack, provider in
            let adminEmail = "owner-\(UUID().uuidString.prefix(6))@acme.example"
            let adminToken = try await stack.tenantToken(email: adminEmail)
            let tenant = try #require(try await me(stack, token: adminToken)["tenant_id"]?.stringValue)
            _ = try await configure(stack, provider, tenant: tenant, domains: #"["acme.example"]"#)

            // An existing user signs in as themselves (an admin stays an admin).
            let owner = try await me(stack, token: try accessToken(try await signIn(stack, provider, tenant: tenant, email: adminEmail)))
            #expect(owner["email"]?.stringValue == adminEmail.lowercased())
            #expect(owner["role"]?.stringValue == "admin")

            // Someone of the allowed domain becomes a member on the first sign-in, and is the same user afterwards.
            let newcomer = "ada-\(UUID().uuidString.prefix(6))@acme.example"
            let first = try await me(stack, token: try accessToken(try await signIn(stack, provider, tenant: tenant, email: newcomer)))
            #expect(first["tenant_id"]?.stringValue == tenant)
            #expect(first["role"]?.stringValue == "member")
            let again = try await me(stack, token: try accessToken(try await signIn(stack, provider, tenant: tenant, email: newcomer)))
            #expect(again["user_id"] == first["user_id"])
            #expect(try await users(stack, email: newcomer) == 1)
            // The member cannot log in with a password: it has none anyone knows.
            let password = try await stack.request(.post, "/api/auth/login", json: #"{"email":"\#(newcomer)","password":"correct horse"}"#)
            #expect(password.status == .unauthorized)

            // Discovery and keys were fetched once for all these sign-ins.
            var stats = try await provider.stats()
            #expect(stats["discovery"]?.intValue == 1)
            #expect(stats["jwks"]?.intValue == 1)
            // The provider rotates its key: the next token has an unknown kid, so the key set is fetched again.
            try await provider.post("/test/rotate", json: "{}")
            _ = try accessToken(try await signIn(stack, provider, tenant: tenant, email: newcomer))
            stats = try await provider.stats()
            #expect(stats["jwks"]?.intValue == 2)
        }
    }

    @Test func everyFailureIsAClear4xxAndCreatesNoSession() async throws {
        try await withProvider { stack, provider in
            let adminToken = try await stack.tenantToken(email: "root-\(UUID().uuidString.prefix(6))@acme.example")
            let tenant = try #require(try await me(stack, token: adminToken)["tenant_id"]?.stringValue)
            let otherToken = try await stack.tenantToken(email: "someone-\(UUID().uuidString.prefix(6))@acme.example")
            let otherEmail = try #require(try await me(stack, token: otherToken)["email"]?.stringValue)

            // Not configured yet (and unknown tenants): 404.
            #expect(try await stack.request(.get, "/api/auth/oidc/\(tenant)/authorize").status == .notFound)
            #expect(try await stack.request(.get, "/api/auth/oidc/\(UUID())/authorize").status == .notFound)
            // The admin API refuses a plain-http issuer that is not local, and a tenant's token.
            let insecure = #"{"issuer":"http://issuer.example","client_id":"a","client_secret":"b"}"#
            #expect(try await stack.request(.put, "/api/admin/tenants/\(tenant)/oidc", token: TestStack.adminToken, json: insecure).status == .unprocessableContent)
            #expect(try await stack.request(.put, "/api/admin/tenants/\(tenant)/oidc", token: adminToken, json: insecure).status == .unauthorized)
            _ = try await configure(stack, provider, tenant: tenant, domains: #"["acme.example"]"#)

            func refused(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String) throws {
                #expect(response.status == status, "\(String(buffer: response.body))")
                #expect(try stack.json(response)["error"]?["code"]?.stringValue == code)
                #expect(response.headers[.location] == nil)
            }

            // A state nobody issued.
            try refused(try await stack.request(.get, "/api/auth/oidc/callback?code=abc&state=forged"), .badRequest, "invalid_state")
            try refused(try await stack.request(.get, "/api/auth/oidc/callback"), .badRequest, "invalid_state")
            // A replayed callback: the first use signs in, the second finds its state spent.
            let first = try await callback(stack, provider, tenant: tenant, email: "bob@acme.example")
            _ = try accessToken(try await stack.request(.get, first.path, headers: first.headers))
            try refused(try await stack.request(.get, first.path, headers: first.headers), .badRequest, "invalid_state")
            // A code replayed under a fresh state: the provider refuses it (used, and the PKCE verifier differs).
            let code = try #require(first.value(of: "code"))
            let fresh = try await callback(stack, provider, tenant: tenant, email: "bob@acme.example")
            let freshState = try #require(fresh.value(of: "state"))
            try refused(
                try await stack.request(.get, "/api/auth/oidc/callback?code=\(code)&state=\(freshState)", headers: fresh.headers),
                .badRequest, "oidc_code_rejected"
            )
            // Login CSRF: an attacker's own callback link opened in the victim's browser (without the attacker's cookie,
            // or with the cookie of the victim's own sign-in) signs nobody in.
            let attackers = try await callback(stack, provider, tenant: tenant, email: "mallory@acme.example")
            try refused(try await stack.request(.get, attackers.path), .badRequest, "invalid_state")
            let victims = try await callback(stack, provider, tenant: tenant, email: "bob@acme.example")
            let planted = try await callback(stack, provider, tenant: tenant, email: "mallory@acme.example")
            try refused(try await stack.request(.get, planted.path, headers: victims.headers), .badRequest, "invalid_state")
            #expect(try await users(stack, email: "mallory@acme.example") == 0)
            // The issuer reports an error instead of a code.
            try refused(try await stack.request(.get, "/api/auth/oidc/callback?error=access_denied&state=x"), .badRequest, "oidc_denied")

            // ID tokens that must not be trusted.
            for (mode, status, code) in [
                ("expired", HTTPResponse.Status.unauthorized, "invalid_id_token"), ("unknown_key", .unauthorized, "invalid_id_token"),
                ("wrong_audience", .unauthorized, "invalid_id_token"), ("wrong_issuer", .unauthorized, "invalid_id_token"),
                ("wrong_nonce", .unauthorized, "invalid_id_token"), ("unverified_email", .forbidden, "email_not_allowed"),
            ] {
                let email = "\(mode.replacingOccurrences(of: "_", with: "-"))@acme.example"
                try await provider.post("/test/misbehave", json: #"{"next_id_token":"\#(mode)"}"#)
                try refused(try await signIn(stack, provider, tenant: tenant, email: email), status, code)
                #expect(try await users(stack, email: email) == 0, "\(mode) created a user")
            }

            // An email outside the allowed domains, and a user of another tenant.
            try refused(try await signIn(stack, provider, tenant: tenant, email: "eve@elsewhere.example"), .forbidden, "email_not_allowed")
            #expect(try await users(stack, email: "eve@elsewhere.example") == 0)
            try refused(try await signIn(stack, provider, tenant: tenant, email: otherEmail), .forbidden, "email_not_allowed")

            // Turned off: sign-ins stop.
            #expect(try await stack.request(.delete, "/api/admin/tenants/\(tenant)/oidc", token: TestStack.adminToken).status == .noContent)
            #expect(try await stack.request(.get, "/api/auth/oidc/\(tenant)/authorize").status == .notFound)
        }
    }
}
