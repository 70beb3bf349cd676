import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Shared
import SharedTestSupport
import Synchronization
import Testing
import WSClient

@testable import Gateway

@Suite("Identity: logout, roles, API keys and rate limits")
struct IdentityTests {
    // MARK: Logout

    @Test func logoutRevokesThatTokenOnEveryRouteAndNothingElse() async throws {
        try await TestStack.run(workers: 0) { stack in
            let email = Self.email("logout")
            let token = try await stack.tenantToken(email: email, password: "logout password")
            let other = try await loginToken(stack, email, "logout password")
            #expect(token != other)
            #expect(try await stack.request(.get, "/api/auth/me", token: token).status == .ok)

            let logout = try await stack.request(.post, "/api/auth/logout", token: token)
            #expect(logout.status == .noContent, "\(String(buffer: logout.body))")

            // The logged-out token is refused everywhere, including by logout itself and the WebSocket.
            let routes: [(HTTPRequest.Method, String)] = [
                (.get, "/api/auth/me"), (.get, "/api/threads"), (.get, "/api/agent/history"), (.get, "/api/users"), (.get, "/api/keys"),
                (.post, "/api/auth/logout"),
            ]
            for (method, path) in routes {
                expectError(try await stack.request(method, path, token: token), .unauthorized, code: "unauthorized")
            }
            expectError(try await stack.request(.post, "/api/agent/runs", token: token, json: #"{"message":"after logout"}"#), .unauthorized)
            expectError(try await stack.request(.post, "/api/keys", token: token, json: #"{"name":"after logout"}"#), .unauthorized)
            await #expect(throws: (any Error).self) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(token)", logger: stack.logger) { _, _, _ in }
            }

            // Only that token: the same user's other session still works, and nothing was created with the revoked one.
            #expect(try await stack.request(.get, "/api/auth/me", token: other).status == .ok)
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: other))["runs"]?.arrayValue?.isEmpty == true)
            #expect(try stack.json(try await stack.request(.get, "/api/keys", token: other))["keys"]?.arrayValue?.isEmpty == true)

            // Logging out needs a token; an API key cannot be logged out (it is revoked instead) and keeps working.
            expectError(try await stack.request(.post, "/api/auth/logout"), .unauthorized)
            let key = try await createKey(stack, token: other, name: "cli").key
            expectError(try await stack.request(.post, "/api/auth/logout", token: key), .badRequest, code: "bad_request")
            #expect(try await stack.request(.get, "/api/auth/me", token: key).status == .ok)
            #expect(try await stack.request(.get, "/api/auth/me", token: other).status == .ok)
        }
    }

    // MARK: Roles and users

    @Test func adminsManageUsersAndMembersCannotManageUsersOrKeys() async throws {
        try await TestStack.run(workers: 0) { stack in
            let adminEmail = Self.email("admin")
            let admin = try await stack.tenantToken(email: adminEmail, password: "admin password")
            let adminMe = try stack.json(try await stack.request(.get, "/api/auth/me", token: admin))
            #expect(adminMe["role"]?.stringValue == "admin")

            // Default role is member; an explicit admin is an admin.
            let memberEmail = Self.email("member")
            let createdMember = try await createUser(stack, token: admin, email: memberEmail, password: "member password")
            #expect(createdMember.status == .created, "\(String(buffer: createdMember.body))")
            let member = try stack.json(createdMember)
            let memberID = try #require(member["user_id"]?.stringValue)
            #expect(member["email"]?.stringValue == memberEmail)
            #expect(member["name"]?.stringValue == "Someone")
            #expect(member["role"]?.stringValue == "member")
            let secondAdminEmail = Self.email("second-admin")
            let createdAdmin = try await createUser(stack, token: admin, email: secondAdminEmail, password: "second password", role: "admin")
            #expect(createdAdmin.status == .created, "\(String(buffer: createdAdmin.body))")
            #expect(try stack.json(createdAdmin)["role"]?.stringValue == "admin")

            // Taken emails (in this tenant or another) are conflicts; an unknown role is invalid.
            let otherTenantEmail = Self.email("other-tenant")
            let tenantB = try await stack.tenantToken(email: otherTenantEmail, password: "other password")
            expectError(try await createUser(stack, token: admin, email: memberEmail), .conflict, code: "conflict")
            expectError(try await createUser(stack, token: admin, email: adminEmail, role: "admin"), .conflict, code: "conflict")
            expectError(try await createUser(stack, token: admin, email: otherTenantEmail), .conflict, code: "conflict")
            expectError(try await createUser(stack, token: admin, email: Self.email("owner"), role: "owner"), .unprocessableContent)

            // The member can log in and use the API, but cannot manage users or keys.
            let memberToken = try await loginToken(stack, memberEmail, "member password")
            let memberMe = try stack.json(try await stack.request(.get, "/api/auth/me", token: memberToken))
            #expect(memberMe["user_id"]?.stringValue == memberID)
            #expect(memberMe["role"]?.stringValue == "member")
            #expect(try await stack.request(.post, "/api/threads", token: memberToken, json: #"{"title":"Mine"}"#).status == .created)
            let adminKey = try await createKey(stack, token: admin, name: "deploy")
            expectError(try await createUser(stack, token: memberToken, email: Self.email("sneaky"), role: "admin"), .forbidden, code: "forbidden")
            expectError(try await stack.request(.get, "/api/users", token: memberToken), .forbidden, code: "forbidden")
            expectError(try await stack.request(.post, "/api/keys", token: memberToken, json: #"{"name":"mine"}"#), .forbidden, code: "forbidden")
            expectError(try await stack.request(.get, "/api/keys", token: memberToken), .forbidden, code: "forbidden")
            expectError(try await stack.request(.delete, "/api/keys/\(adminKey.id)", token: memberToken), .forbidden, code: "forbidden")
            #expect(try await stack.request(.get, "/api/auth/me", token: adminKey.key).status == .ok)

            // None of the refused calls changed anything; the admin sees exactly the tenant's three users.
            let keys = try stack.json(try await stack.request(.get, "/api/keys", token: admin))["keys"]?.arrayValue ?? []
            #expect(keys.compactMap { $0["id"]?.stringValue } == [adminKey.id])
            #expect(Self.isNullOrAbsent(keys.first?["revoked_at"]))
            let users = try #require(try stack.json(try await stack.request(.get, "/api/users", token: admin))["users"]?.arrayValue)
            #expect(Set(users.compactMap { $0["email"]?.stringValue }) == [adminEmail, memberEmail, secondAdminEmail])
            #expect(users.count == 3)
            #expect(users.allSatisfy { $0["user_id"]?.stringValue != nil && $0["name"]?.stringValue != nil && $0["created_at"]?.stringValue != nil })
            var roles: [String: String] = [:]
            for user in users {
                if let email = user["email"]?.stringValue { roles[email] = user["role"]?.stringValue ?? "missing" }
            }
            #expect(roles == [adminEmail: "admin", memberEmail: "member", secondAdminEmail: "admin"])
            #expect(users.first(where: { $0["email"]?.stringValue == memberEmail })?["user_id"]?.stringValue == memberID)

            // The second admin manages the tenant too.
            let secondAdmin = try await loginToken(stack, secondAdminEmail, "second password")
            #expect(try stack.json(try await stack.request(.get, "/api/users", token: secondAdmin))["users"]?.arrayValue?.count == 3)

            // Tenant B sees only its own user.
            let usersB = try #require(try stack.json(try await stack.request(.get, "/api/users", token: tenantB))["users"]?.arrayValue)
            #expect(usersB.compactMap { $0["email"]?.stringValue } == [otherTenantEmail])
        }
    }

    // MARK: API keys

    @Test func apiKeysAreShownOnceActAsTheirUserAndStopWorkingWhenRevoked() async throws {
        try await TestStack.run(workers: 0) { stack in
            let admin = try await stack.tenantToken(email: Self.email("keys"), password: "admin password")
            let adminMe = try stack.json(try await stack.request(.get, "/api/auth/me", token: admin))
            let adminID = try #require(adminMe["user_id"]?.stringValue)

            let created = try await stack.request(.post, "/api/keys", token: admin, json: #"{"name":"ci deploy"}"#)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let body = try stack.json(created)
            let id = try #require(body["id"]?.stringValue)
            let prefix = try #require(body["prefix"]?.stringValue)
            let key = try #require(body["key"]?.stringValue)
            #expect(body["name"]?.stringValue == "ci deploy")
            #expect(body["created_at"]?.stringValue != nil)
            #expect(!prefix.isEmpty && key.hasPrefix("nk_\(prefix)_"))
            let secret = String(key.dropFirst("nk_\(prefix)_".count))
            #expect(secret.count >= 16)

            // The listing describes the key but never shows it (or anything hashed from it).
            let listingText = String(buffer: try await stack.request(.get, "/api/keys", token: admin).body)
            #expect(!listingText.contains(secret))
            let listed = try #require(JSONValue(text: listingText)?["keys"]?.arrayValue)
            #expect(listed.count == 1)
            let entry = try #require(listed.first)
            #expect(entry["id"]?.stringValue == id && entry["name"]?.stringValue == "ci deploy" && entry["prefix"]?.stringValue == prefix)
            #expect(entry["created_at"]?.stringValue != nil)
            #expect(Self.isNullOrAbsent(entry["revoked_at"]))
            if case .object(let members) = entry {
                #expect(members.keys.allSatisfy { $0 != "key" && $0 != "secret" && !$0.contains("hash") }, "\(members.keys.sorted())")
            }

            // The key acts as the admin who created it, over REST and the WebSocket.
            let keyMe = try stack.json(try await stack.request(.get, "/api/auth/me", token: key))
            #expect(keyMe["user_id"]?.stringValue == adminID)
            #expect(keyMe["tenant_id"]?.stringValue != nil && keyMe["tenant_id"] == adminMe["tenant_id"])
            #expect(keyMe["role"]?.stringValue == "admin")
            let run = try await stack.submit(#"{"message":"submitted with a key"}"#, token: key)
            #expect(try await stack.request(.get, "/api/agent/status/\(run)", token: admin).status == .ok)
            let usedEntry = try stack.json(try await stack.request(.get, "/api/keys", token: admin))["keys"]?.arrayValue?.first
            #expect(usedEntry?["last_used_at"]?.stringValue != nil)
            let replies = try await webSocketExchange(stack, token: key, send: [])
            #expect(replies.first?["type"]?.stringValue == "connection_established")
            #expect(replies.first?["data"]?["user_id"]?.stringValue == adminID)
            #expect(replies.last?["data"]?["pong"] == .bool(true))

            // A key made by another admin acts as that admin.
            let secondEmail = Self.email("second-admin")
            let second = try stack.json(try await createUser(stack, token: admin, email: secondEmail, password: "second password", role: "admin"))
            let secondID = try #require(second["user_id"]?.stringValue)
            let secondKey = try await createKey(stack, token: try await loginToken(stack, secondEmail, "second password"), name: "second")
            #expect(try stack.json(try await stack.request(.get, "/api/auth/me", token: secondKey.key))["user_id"]?.stringValue == secondID)

            // Made-up and malformed keys are 401.
            let flipped = String(key.dropLast()) + (key.last == "A" ? "B" : "A")
            for fake in ["nk_", "nk_\(prefix)", "nk_\(prefix)_", "nk_\(prefix)_wrongsecret", "nk_zzzzzzzzzzzz_\(secret)", "nk_nope_nope", flipped] {
                expectError(try await stack.request(.get, "/api/auth/me", token: fake), .unauthorized, code: "unauthorized")
            }

            // Tenant B can neither see nor delete A's keys, nor read A's runs with its own key.
            let tenantB = try await stack.tenantToken()
            let keysB = try stack.json(try await stack.request(.get, "/api/keys", token: tenantB))
            #expect(keysB["keys"]?.arrayValue?.isEmpty == true)
            expectError(try await stack.request(.delete, "/api/keys/\(id)", token: tenantB), .notFound)
            let keyB = try await createKey(stack, token: tenantB, name: "b")
            expectError(try await stack.request(.get, "/api/agent/status/\(run)", token: keyB.key), .notFound, code: "run_not_found")
            expectError(try await stack.request(.delete, "/api/keys/\(keyB.id)", token: admin), .notFound)
            let listedA = try stack.json(try await stack.request(.get, "/api/keys", token: admin))["keys"]?.arrayValue ?? []
            #expect(!listedA.contains { $0["id"]?.stringValue == keyB.id })
            #expect(try await stack.request(.get, "/api/auth/me", token: key).status == .ok)
            #expect(try await stack.request(.get, "/api/auth/me", token: keyB.key).status == .ok)
            expectError(try await stack.request(.delete, "/api/keys/\(UUID())", token: admin), .notFound)
            expectError(try await stack.request(.delete, "/api/keys/not-a-uuid", token: admin), .notFound)

            // Revoked: refused everywhere; the other keys still work; the listing marks it and still hides it.
            let revoke = try await stack.request(.delete, "/api/keys/\(id)", token: admin)
            #expect(revoke.status == .noContent, "\(String(buffer: revoke.body))")
            expectError(try await stack.request(.get, "/api/auth/me", token: key), .unauthorized, code: "unauthorized")
            expectError(try await stack.request(.get, "/api/threads", token: key), .unauthorized)
            expectError(try await stack.request(.post, "/api/agent/runs", token: key, json: #"{"message":"revoked"}"#), .unauthorized)
            await #expect(throws: (any Error).self) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(stack.port)/ws?token=\(key)", logger: stack.logger) { _, _, _ in }
            }
            #expect(try await stack.request(.get, "/api/auth/me", token: secondKey.key).status == .ok)
            let afterText = String(buffer: try await stack.request(.get, "/api/keys", token: admin).body)
            #expect(!afterText.contains(secret))
            if let revoked = JSONValue(text: afterText)?["keys"]?.arrayValue?.first(where: { $0["id"]?.stringValue == id }) {
                #expect(revoked["revoked_at"]?.stringValue != nil)
            }
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: admin))
            #expect(history["runs"]?.arrayValue?.count == 1)
        }
    }

    // MARK: Rate limits

    @Test func runSubmissionsAreRateLimitedPerTenant() async throws {
        var options = TestStack.Options()
        options.workers = 0
        // A token every 10 s: slow enough that a loaded machine cannot refill the bucket between the burst and the check.
        options.rateLimits = RateLimits(runsPerSecond: 0.1, runBurst: 3, requestsPerSecond: 1000, requestBurst: 1000)
        try await TestStack.run(options) { stack in
            let tenantA = try await stack.tenantToken()
            let tenantB = try await stack.tenantToken()
            for index in 0..<3 { _ = try await stack.submit(#"{"message":"a \#(index)"}"#, token: tenantA) }
            expectRateLimited(try await stack.request(.post, "/api/agent/runs", token: tenantA, json: #"{"message":"a 3"}"#), retryAfterAtMost: 10)

            // B has a bucket of its own, of the same size.
            for index in 0..<3 { _ = try await stack.submit(#"{"message":"b \#(index)"}"#, token: tenantB) }
            expectRateLimited(try await stack.request(.post, "/api/agent/runs", token: tenantB, json: #"{"message":"b 3"}"#), retryAfterAtMost: 10)

            // A can still read, the refused run does not exist, and the bucket refills (a token every 10 s).
            let history = try stack.json(try await stack.request(.get, "/api/agent/history", token: tenantA))
            #expect(history["runs"]?.arrayValue?.count == 3)
            try await waitUntil("tenant A's run bucket to refill", timeout: .seconds(30)) {
                try await stack.request(.post, "/api/agent/runs", token: tenantA, json: #"{"message":"a later"}"#).status == .accepted
            }
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: tenantA))["runs"]?.arrayValue?.count == 4)
        }
    }

    @Test func startAgentOverTheWebSocketSharesTheRunLimit() async throws {
        var options = TestStack.Options()
        options.workers = 0
        options.rateLimits = RateLimits(runsPerSecond: 0.05, runBurst: 3, requestsPerSecond: 1000, requestBurst: 1000)
        try await TestStack.run(options) { stack in
            let tenantA = try await stack.tenantToken()
            let tenantB = try await stack.tenantToken()
            for index in 0..<3 { _ = try await stack.submit(#"{"message":"a \#(index)"}"#, token: tenantA) }
            let start = #"{"action":"start_agent","data":{"message":"one more"}}"#

            let refused = try await webSocketExchange(stack, token: tenantA, send: [start])
            #expect(refused.map { $0["type"]?.stringValue ?? "" } == ["connection_established", "error", "heartbeat"])
            #expect(refused.dropFirst().first?["data"]?["code"]?.stringValue == "rate_limited")
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: tenantA))["runs"]?.arrayValue?.count == 3)

            // B's start_agent goes through.
            let accepted = try await webSocketExchange(stack, token: tenantB, send: [start])
            #expect(!accepted.contains { $0["type"]?.stringValue == "error" }, "\(accepted)")
            #expect(try stack.json(try await stack.request(.get, "/api/agent/history", token: tenantB))["runs"]?.arrayValue?.count == 1)
        }
    }

    @Test func apiRequestsAreRateLimitedPerTenantNotPerUser() async throws {
        var options = TestStack.Options()
        options.workers = 0
        options.rateLimits = RateLimits(runsPerSecond: 1000, runBurst: 1000, requestsPerSecond: 0.05, requestBurst: 5)
        try await TestStack.run(options) { stack in
            let tenantA = try await stack.tenantToken()
            let tenantB = try await stack.tenantToken()
            // Request 1 of A's 5: a member of A, whose requests share A's bucket.
            let memberEmail = Self.email("member")
            let created = try await createUser(stack, token: tenantA, email: memberEmail, password: "member password")
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let member = try await loginToken(stack, memberEmail, "member password")
            // Requests 2 to 5.
            for path in ["/api/auth/me", "/api/threads", "/api/agent/history", "/api/auth/me"] {
                let response = try await stack.request(.get, path, token: tenantA)
                #expect(response.status == .ok, "\(path): \(String(buffer: response.body))")
            }
            expectRateLimited(try await stack.request(.get, "/api/auth/me", token: tenantA), retryAfterAtMost: 20)
            expectRateLimited(try await stack.request(.get, "/api/threads", token: member), retryAfterAtMost: 20)
            expectRateLimited(try await stack.request(.post, "/api/agent/runs", token: tenantA, json: #"{"message":"x"}"#), retryAfterAtMost: 20)

            // Another tenant is not affected.
            #expect(try await stack.request(.get, "/api/auth/me", token: tenantB).status == .ok)
            #expect(try await stack.request(.get, "/api/agent/history", token: tenantB).status == .ok)
        }
    }

    // MARK: Login failures

    @Test func fiveFailedLoginsLockThatEmailOnly() async throws {
        try await TestStack.run(workers: 0) { stack in
            let victim = Self.email("victim")
            let bystander = Self.email("bystander")
            _ = try await stack.tenantToken(email: victim, password: "victim password")
            _ = try await stack.tenantToken(email: bystander, password: "bystander password")
            for _ in 0..<5 {
                expectError(try await login(stack, victim, "wrong password"), .unauthorized, code: "invalid_credentials")
            }
            // Locked, even with the right password (the window is 15 minutes).
            expectRateLimited(try await login(stack, victim, "victim password"), retryAfterAtMost: 900)
            expectRateLimited(try await login(stack, victim, "wrong password"), retryAfterAtMost: 900)
            // The same address may still log in as someone else.
            let other = try await login(stack, bystander, "bystander password")
            #expect(other.status == .ok, "\(String(buffer: other.body))")
            #expect(try stack.json(other)["access_token"]?.stringValue != nil)
        }
    }

    @Test func twentyFailedLoginsFromOneAddressLockEveryEmail() async throws {
        try await TestStack.run(workers: 0) { stack in
            let bystander = Self.email("bystander")
            _ = try await stack.tenantToken(email: bystander, password: "bystander password")
            // 15 failures on three unknown emails (5 each, the per-email limit).
            for round in 0..<3 {
                let email = Self.email("nobody-\(round)")
                for _ in 0..<5 { expectError(try await login(stack, email, "guess password"), .unauthorized, code: "invalid_credentials") }
            }
            // Below the address limit, another email still gets a normal answer: failure 16.
            expectError(try await login(stack, bystander, "wrong password"), .unauthorized, code: "invalid_credentials")
            // Failures 17 to 20.
            let last = Self.email("nobody-3")
            for _ in 0..<4 { expectError(try await login(stack, last, "guess password"), .unauthorized, code: "invalid_credentials") }
            // Now the address is locked for every email, right password or not.
            expectRateLimited(try await login(stack, bystander, "bystander password"), retryAfterAtMost: 900)
            expectRateLimited(try await login(stack, Self.email("fresh"), "guess password"), retryAfterAtMost: 900)
        }
    }

    @Test func behindATrustedProxyTheForwardedClientIsCountedNotTheProxy() async throws {
        var options = TestStack.Options()
        options.workers = 0
        options.trustedProxies = TrustedProxies.parse("127.0.0.1").0  // the test client's connections come from here
        try await TestStack.run(options) { stack in
            func login(_ email: String, from address: String) async throws -> TestResponse {
                var headers = HTTPFields()
                headers[.xForwardedFor] = address
                return try await stack.request(
                    .post, "/api/auth/login", json: #"{"email":"\#(email)","password":"guess password"}"#, headers: headers
                )
            }
            // 24 failures through the proxy from 24 clients: no address reaches its limit of 20.
            for index in 0..<24 {
                expectError(try await login(Self.email("nobody"), from: "203.0.113.\(index + 1)"), .unauthorized, code: "invalid_credentials")
            }
            // 20 from one client lock that client only.
            for round in 0..<4 {
                let email = Self.email("guess-\(round)")
                for _ in 0..<5 { expectError(try await login(email, from: "198.51.100.7"), .unauthorized, code: "invalid_credentials") }
            }
            expectRateLimited(try await login(Self.email("fresh"), from: "198.51.100.7"), retryAfterAtMost: 900)
            expectError(try await login(Self.email("fresh"), from: "198.51.100.8"), .unauthorized, code: "invalid_credentials")
        }
    }

    // MARK: Helpers

    static func email(_ label: String) -> String { "\(label)-\(UUID().uuidString.prefix(8).lowercased())@example.com" }

    static func isNullOrAbsent(_ value: JSONValue?) -> Bool { value == nil || value == JSONValue.null }

    /// Checks the status and the `{"error": {"code", "message"}}` envelope.
    func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        let body = JSONValue(text: String(buffer: response.body))
        #expect(body?["error"]?["code"]?.stringValue != nil, "no error code in \(String(buffer: response.body))", sourceLocation: sourceLocation)
        #expect(body?["error"]?["message"]?.stringValue != nil, sourceLocation: sourceLocation)
        if let code { #expect(body?["error"]?["code"]?.stringValue == code, sourceLocation: sourceLocation) }
    }

    /// Checks a 429 `rate_limited` whose `Retry-After` is whole seconds in `1...limit`.
    func expectRateLimited(_ response: TestResponse, retryAfterAtMost limit: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        expectError(response, .tooManyRequests, code: "rate_limited", sourceLocation: sourceLocation)
        let header = response.headers[.retryAfter]
        let seconds = header.flatMap { Int($0) }
        #expect(seconds.map { (1...limit).contains($0) } == true, "Retry-After: \(header ?? "missing")", sourceLocation: sourceLocation)
    }

    func login(_ stack: TestStack, _ email: String, _ password: String) async throws -> TestResponse {
        try await stack.request(.post, "/api/auth/login", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
    }

    func loginToken(_ stack: TestStack, _ email: String, _ password: String) async throws -> String {
        let response = try await login(stack, email, password)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try #require(try stack.json(response)["access_token"]?.stringValue)
    }

    /// `POST /api/users`; `role` is left out of the body when `nil`.
    func createUser(_ stack: TestStack, token: String, email: String, password: String = "user password", role: String? = nil) async throws -> TestResponse {
        let roleField = role.map { #","role":"\#($0)""# } ?? ""
        return try await stack.request(
            .post, "/api/users", token: token, json: #"{"name":"Someone","email":"\#(email)","password":"\#(password)"\#(roleField)}"#
        )
    }

    /// `POST /api/keys`, expecting 201; returns the key's id and the key itself.
    func createKey(_ stack: TestStack, token: String, name: String) async throws -> (id: String, key: String) {
        let response = try await stack.request(.post, "/api/keys", token: token, json: #"{"name":"\#(name)"}"#)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        let body = try stack.json(response)
        return (try #require(body["id"]?.stringValue), try #require(body["key"]?.stringValue))
    }

    /// Connects to `/ws` with `token`, sends `messages` and then a ping, and returns everything received up to and
    /// including the pong (plain heartbeats left out).
    func webSocketExchange(_ stack: TestStack, token: String, send messages: [String]) async throws -> [JSONValue] {
        let replies = Mutex<[JSONValue]>([])
        let url = "ws://127.0.0.1:\(stack.port)/ws?token=\(token)"
        let logger = stack.logger
        _ = try await withDeadline("WebSocket replies", .seconds(20)) {
            try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                for message in messages + [#"{"action":"ping"}"#] { try await outbound.write(.text(message)) }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message, let value = JSONValue(text: text) else { continue }
                    let isPong = value["data"]?["pong"] == .bool(true)
                    if value["type"]?.stringValue == "heartbeat" && !isPong { continue }
                    replies.withLock { $0.append(value) }
                    if isPong { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
        return replies.withLock { $0 }
    }
}
