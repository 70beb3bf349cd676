import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

/// `GET /openapi.json` tells the truth: it documents exactly the routes the router has, and no bad input generated from
/// it (per operation: malformed JSON, wrong types, missing fields, oversized bodies, wrong content types, bad path,
/// query and header parameters, bad credentials) gets a 5xx or a status the document does not list for the operation.
@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test func everyRegisteredRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        var options = TestStack.Options()
        options.workers = 0
        try await TestStack.run(options) { stack in
            let response = try await stack.request(.get, "/openapi.json")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let document = try stack.json(response)
            #expect(document["openapi"]?.stringValue?.hasPrefix("3.1.") == true)

            // The routes the gateway registers: the same router builder the application uses, over dependencies that are
            // built but never started (no connection is opened).
            let dependencies = await GatewayDependencies(config: TestStack.gatewayConfiguration(stack.service), logger: stack.logger)
            let registered = Set(buildRouter(dependencies).routes.map { Self.route(method: $0.method.rawValue, path: $0.path.description) })
            #expect(registered.contains("GET /ws") && registered.contains("GET /openapi.json") && registered.contains("POST /api/agent/runs"))

            let operations = try Self.operations(document)
            let documented = Set(operations.map(\.route))
            #expect(operations.count == documented.count, "an operation is documented twice")
            let undocumented = registered.subtracting(documented).sorted()
            let missing = documented.subtracting(registered).sorted()
            #expect(undocumented.isEmpty, "registered but not documented: \(undocumented)")
            #expect(missing.isEmpty, "documented but not registered: \(missing)")

            // The document is consistent in itself.
            let schemes = document["components"]?["securitySchemes"]
            for operation in operations {
                let declared = Set(operation.parameters.filter { $0.location == "path" }.map(\.name))
                let templated = Set(operation.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
                #expect(declared == templated, "\(operation): path parameters \(declared.sorted()) vs template \(templated.sorted())")
                // Success is a 2xx, the WebSocket upgrade (101), or a redirect for the single sign-on steps.
                #expect(operation.statuses.contains { (200..<300).contains($0) || [101, 302, 303].contains($0) }, "\(operation) documents no success")
                for name in operation.schemeNames { #expect(schemes?[name] != nil, "\(operation) uses undefined security scheme \(name)") }
            }
            var ids: [String] = []
            Self.collect(document) { key, value in
                if key == "$ref", case .string(let reference) = value {
                    #expect(Self.resolve(value: reference, in: document) != nil, "unresolved $ref \(reference)")
                }
                if key == "operationId", case .string(let id) = value { ids.append(id) }
            }
            #expect(Set(ids).count == ids.count, "duplicate operationId")
        }
    }

    @Test func generatedBadInputNeverGetsA5xxOrAnUndocumentedStatus() async throws {
        var options = TestStack.Options()
        options.workers = 0  // nothing the fuzzer submits is executed
        var limits = RateLimits(runsPerSecond: 1_000_000, runBurst: 2_000_000, requestsPerSecond: 1_000_000, requestBurst: 2_000_000)
        limits.loginFailuresPerEmail = 1_000_000
        limits.loginFailuresPerAddress = 1_000_000
        options.rateLimits = limits  // so that no limit hides a path the fuzzer should reach
        try await TestStack.run(options) { stack in
            let email = "fuzz-owner@example.com"
            let password = "correct horse"
            let token = try await stack.tenantToken(email: email, password: password)
            // The admin routes act on another tenant, so that suspending or throttling it slows nothing down here.
            let victim = try await stack.tenantToken()
            let victimID = try #require(try stack.json(try await stack.request(.get, "/api/auth/me", token: victim))["tenant_id"]?.stringValue)
            let run = try await stack.submit(#"{"message":"fuzz target"}"#, token: token)
            let job = try #require(
                try stack.json(try await stack.request(.post, "/api/generation/start", token: token, json: #"{"events":10}"#))["job_id"]?.stringValue
            )
            let key = try #require(try stack.json(try await stack.request(.post, "/api/keys", token: token, json: #"{"name":"fuzz"}"#))["id"]?.stringValue)
            let forger = await TokenService(secret: "another-secret-another-secret-another", lifetime: .seconds(600))
            let stranger = IdentityStore.User(id: UserID(), tenantID: TenantID(), email: "x@example.com", name: "x", role: "admin", passwordHash: "")
            let forged = try await forger.issue(for: stranger).token

            let document = try stack.json(try await stack.request(.get, "/openapi.json"))
            let context = FuzzContext(
                token: token, adminToken: TestStack.adminToken, forgedToken: forged,
                pathValues: ["run_id": run, "job_id": job, "tenant_id": victimID, "key_id": key],
                bodyLimit: TestStack.gatewayConfiguration(stack.service).maxBodySize, uploadLimit: WorkloadController.maxUploadSize,
                exampleOverrides: ["login": .object(["email": .string(email), "password": .string(password)])]
            )
            let operations = try Self.operations(document)
            #expect(operations.count >= 30)
            let probes = operations.enumerated().map { Self.probes(for: $0.element, number: $0.offset, document: document, context: context) }
            // Logging out revokes the token every other probe uses: those probes go last, one at a time.
            let logout = operations.indices.filter { operations[$0].id == "logout" }
            let others = operations.indices.filter { operations[$0].id != "logout" }
            var outcomes = try await Self.send(others.flatMap { probes[$0] }, baseURL: stack.baseURL, concurrency: 6)
            outcomes += try await Self.send(logout.flatMap { probes[$0] }, baseURL: stack.baseURL, concurrency: 1)
            #expect(outcomes.count == probes.joined().count)

            var serverErrors: [String] = []
            var undocumented: [String] = []
            var noEnvelope: [String] = []
            var noAnswer: [String] = []
            for outcome in outcomes {
                let probe = outcome.probe
                let name = "\(probe.operation) [\(probe.label)]"
                guard let status = outcome.status else {
                    noAnswer.append("\(name): \(outcome.body)")
                    continue
                }
                if status >= 500 {
                    serverErrors.append("\(name) → \(status) \(outcome.body.prefix(200))")
                } else if !probe.allowed.contains(status) {
                    undocumented.append("\(name) → \(status), expected one of \(probe.allowed.sorted()): \(outcome.body.prefix(200))")
                }
                if (400..<500).contains(status) {
                    let error = JSONValue(text: outcome.body)?["error"]
                    if error?["code"]?.stringValue == nil || error?["message"]?.stringValue == nil
                        || outcome.contentType?.hasPrefix("application/json") != true
                    {
                        noEnvelope.append("\(name) → \(status) \(outcome.contentType ?? "no Content-Type"): \(outcome.body.prefix(200))")
                    }
                }
            }
            #expect(serverErrors.isEmpty, "\(serverErrors.count) probes got a 5xx:\n\(serverErrors.prefix(80).joined(separator: "\n"))")
            #expect(undocumented.isEmpty, "\(undocumented.count) undocumented statuses:\n\(undocumented.prefix(80).joined(separator: "\n"))")
            #expect(noEnvelope.isEmpty, "\(noEnvelope.count) 4xx without the error envelope:\n\(noEnvelope.prefix(40).joined(separator: "\n"))")
            #expect(noAnswer.isEmpty, "\(noAnswer.count) probes got no answer:\n\(noAnswer.prefix(40).joined(separator: "\n"))")

            // Still healthy, and whatever the fuzzer managed to store does not break a read.
            #expect(try await stack.request(.get, "/health").status == .ok)
            let reader = try await stack.request(.post, "/api/auth/login", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
            let readerToken = try #require(try stack.json(reader)["access_token"]?.stringValue)
            for operation in operations where operation.method == "GET" && operation.security == .tenant {
                let path = Self.fill(operation.path, with: context.pathValues)
                let response = try await stack.request(.get, path, token: readerToken)
                #expect(response.status.code < 500, "after the fuzz, GET \(path) → \(response.status.code): \(String(buffer: response.body).prefix(200))")
            }
        }
    }
}

// MARK: Reading the document

/// One operation of the document, with what the tests need from it.
struct DocumentedOperation: Sendable, CustomStringConvertible {
    enum Security: Sendable, Equatable {
        case unauthenticated, tenant, admin
    }

    struct Parameter: Sendable {
        let name: String
        /// `path`, `query` or `header`.
        let location: String
    }

    let id: String
    let method: String
    let path: String
    let security: Security
    /// The security schemes the operation names.
    let schemeNames: [String]
    /// The documented response statuses.
    let statuses: Set<Int>
    let parameters: [Parameter]
    /// Whether the operation documents a request body at all.
    let takesBody: Bool
    /// The `application/json` request body's schema (resolved) and example.
    let bodySchema: JSONValue?
    let bodyExample: JSONValue?

    var route: String { OpenAPITests.route(method: method, path: path) }
    var description: String { "\(method) \(path)" }
}

struct OpenAPIDocumentError: Error, CustomStringConvertible {
    let description: String
}

extension OpenAPITests {
    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// `METHOD /path/{param}`; Hummingbird's `:param` captures are written `{param}` as in OpenAPI.
    static func route(method: String, path: String) -> String {
        let segments = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
        return "\(method.uppercased()) /\(segments.joined(separator: "/"))"
    }

    static func operations(_ document: JSONValue) throws -> [DocumentedOperation] {
        guard case .object(let paths)? = document["paths"] else { throw OpenAPIDocumentError(description: "the document has no paths") }
        var operations: [DocumentedOperation] = []
        for (path, rawItem) in paths.sorted(by: { $0.key < $1.key }) {
            let item = resolve(rawItem, in: document)
            let shared = item["parameters"]?.arrayValue ?? []
            for method in methods {
                guard let operation = item[method] else { continue }
                let requirements = (operation["security"] ?? document["security"])?.arrayValue ?? []
                let schemeNames = requirements.flatMap { requirement -> [String] in
                    if case .object(let names) = requirement { return Array(names.keys) }
                    return []
                }
                let security: DocumentedOperation.Security =
                    requirements.isEmpty ? .unauthenticated : schemeNames.contains("adminToken") ? .admin : .tenant
                var statuses = Set<Int>()
                if case .object(let responses)? = operation["responses"] { statuses = Set(responses.keys.compactMap { Int($0) }) }
                let parameters = (shared + (operation["parameters"]?.arrayValue ?? [])).compactMap { raw -> DocumentedOperation.Parameter? in
                    let parameter = resolve(raw, in: document)
                    guard let name = parameter["name"]?.stringValue, let location = parameter["in"]?.stringValue else { return nil }
                    return .init(name: name, location: location)
                }
                let requestBody = operation["requestBody"].map { resolve($0, in: document) }
                let json = requestBody?["content"]?["application/json"]
                operations.append(
                    DocumentedOperation(
                        id: operation["operationId"]?.stringValue ?? "\(method) \(path)", method: method.uppercased(), path: path,
                        security: security, schemeNames: schemeNames, statuses: statuses, parameters: parameters,
                        takesBody: requestBody != nil, bodySchema: (json?["schema"]).map { resolve($0, in: document) }, bodyExample: json?["example"]
                    )
                )
            }
        }
        return operations
    }

    /// Follows a local `$ref` (`#/components/...`), repeatedly; anything else is returned as it is.
    static func resolve(_ value: JSONValue, in document: JSONValue) -> JSONValue {
        guard case .string(let reference)? = value["$ref"], let target = resolve(value: reference, in: document) else { return value }
        return resolve(target, in: document)
    }

    static func resolve(value reference: String, in document: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var current: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") {
            current = current?[part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        }
        return current
    }

    /// Calls `visit` with every member of every object in `value`.
    static func collect(_ value: JSONValue, _ visit: (String, JSONValue) -> Void) {
        switch value {
        case .object(let members):
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                visit(key, member)
                collect(member, visit)
            }
        case .array(let elements): for element in elements { collect(element, visit) }
        default: break
        }
    }

    /// The properties (by name) and required names of an object schema, through `$ref`, `oneOf`, `anyOf` and `allOf`.
    static func objectSchema(_ schema: JSONValue, in document: JSONValue) -> (properties: [(String, JSONValue)], required: Set<String>)? {
        let schema = resolve(schema, in: document)
        for combinator in ["allOf", "oneOf", "anyOf"] {
            for variant in schema[combinator]?.arrayValue ?? [] {
                if let found = objectSchema(variant, in: document) { return found }
            }
        }
        guard case .object(let properties)? = schema["properties"] else { return nil }
        let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        return (properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, required)
    }

    static func fill(_ path: String, with values: [String: String]) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix("{") else { return String(segment) }
            return values[String(segment.dropFirst().dropLast())] ?? fixedUUID
        }.joined(separator: "/")
    }
}

// MARK: Generating probes

/// What the fuzzer knows beyond the document: credentials, real ids for path parameters, body limits.
struct FuzzContext: Sendable {
    let token: String
    let adminToken: String
    /// Signed with another secret.
    let forgedToken: String
    /// Valid values of path parameters, by name; others get an unknown UUID.
    let pathValues: [String: String]
    let bodyLimit: Int
    let uploadLimit: Int
    /// Request bodies to start from instead of the document's example, by operation id.
    let exampleOverrides: [String: JSONValue]
}

/// One request, and the statuses it may get.
struct FuzzProbe: Sendable {
    let operation: String
    let label: String
    let method: String
    /// Path and query, percent-encoded.
    let target: String
    let headers: [(String, String)]
    let body: ByteBuffer?
    let allowed: Set<Int>
}

/// A step into a request body: an object member, or the first element of an array.
enum BodyStep: Sendable, Hashable {
    case key(String)
    case first
}

/// SplitMix64: a tiny seeded generator, so that the random mutations are the same on every run.
struct FuzzRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension OpenAPITests {
    static let seed: UInt64 = 0x6E65_7472_6166_757A
    /// An id nothing has.
    static let fixedUUID = "5f0c3a5e-0000-4000-8000-00000000f022"

    /// Values put in place of each documented body property, as raw JSON text (so that numbers beyond `Double` and
    /// escapes stay as written).
    static let values: [(label: String, json: String)] = [
        ("string", #""fuzz""#), ("empty string", #""""#), ("zero", "0"), ("negative", "-1"), ("fraction", "1.5"),
        ("above Int64", "9223372036854775808"), ("below Int64", "-9223372036854775809"), ("1e300", "1e300"),
        ("largest double", "1.7976931348623157e308"), ("1e999", "1e999"), ("true", "true"), ("null", "null"), ("empty array", "[]"),
        ("array", #"[1,"a",null]"#), ("empty object", "{}"), ("nested object", #"{"a":{"b":[{}]}}"#), ("NUL", #""\u0000""#),
        ("embedded NUL", #""a\u0000b""#), ("lone surrogate", #""\ud800""#), ("traversal", #""../../etc/passwd""#),
        ("SQL", #""' OR '1'='1' --""#), ("long unicode", "\"" + String(repeating: "é🧪", count: 300) + "\""), ("UUID", "\"\(fixedUUID)\""),
        ("date", #""2026-01-01T00:00:00Z""#), ("100 kB string", "\"" + String(repeating: "x", count: 100_000) + "\""),
    ]

    /// The values for nested properties.
    static let nestedValues = values.filter { ["string", "negative", "above Int64", "1e999", "null", "array", "empty object", "NUL"].contains($0.label) }

    static let malformed: [(label: String, text: String)] = [
        ("unclosed", "{"), ("truncated", #"{"message":"#), ("unclosed array", "[1,2"), ("bare word", "nul"), ("trailing comma", #"{"a":1,}"#),
        ("single quotes", "{'a':1}"), ("extra brace", "{}}"), ("lone surrogate", #""\ud800""#), ("BOM", "\u{FEFF}{}"),
        ("deep nesting", String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)),
    ]

    static let shapes: [(label: String, text: String)] = [
        ("array", "[]"), ("string", #""text""#), ("number", "42"), ("null", "null"), ("true", "true"), ("empty object", "{}"),
    ]

    static let pathValues: [(label: String, value: String)] = [
        ("not a UUID", "not-a-uuid"), ("3000 characters", String(repeating: "a", count: 3_000)), ("NUL", "%00"),
        ("UUID and NUL", "\(fixedUUID)%00"), ("dot dot", ".."), ("encoded traversal", "..%2F..%2Fetc%2Fpasswd"),
        ("traversal", "../../health"), ("unknown UUID", fixedUUID), ("nil UUID", "00000000-0000-0000-0000-000000000000"),
        // No invalid UTF-8 here: AsyncHTTPClient cannot send such a path (it decodes the URL's path, fails, and sends
        // `/`), so the probe never reached the route. Invalid UTF-8 in queries and bodies is probed below.
        ("SQL", "%27%20OR%20%271%27%3D%271"), ("unicode", "%C3%A9t%C3%A9"), ("empty", ""),
    ]

    static let queryValues: [(label: String, value: String)] = [
        ("word", "abc"), ("negative", "-1"), ("zero", "0"), ("one", "1"), ("201", "201"), ("beyond Int64", "99999999999999999999"),
        ("exponent", "1e3"), ("empty", ""), ("NUL", "%00"), ("invalid UTF-8", "%FF"), ("5000 digits", String(repeating: "9", count: 5_000)),
        ("UUID", fixedUUID), ("boolean", "true"), ("SQL", "%27%20OR%201%3D1"), ("NaN", "nan"),
    ]

    static let headerValues: [(label: String, value: String)] = [
        ("empty", ""), ("negative", "-1"), ("word", "abc"), ("fraction", "1.5"), ("beyond Int64", "99999999999999999999"),
        ("300 bytes", String(repeating: "k", count: 300)), ("255 bytes", String(repeating: "k", count: 255)),
    ]

    static func probes(for operation: DocumentedOperation, number: Int, document: JSONValue, context: FuzzContext) -> [FuzzProbe] {
        var probes: [FuzzProbe] = []
        let documented = operation.statuses
        let path = fill(operation.path, with: context.pathValues)
        let credential: String? =
            switch operation.security {
            case .unauthenticated: nil
            case .tenant: "Bearer \(context.token)"
            case .admin: "Bearer \(context.adminToken)"
            }
        func probe(
            _ label: String, target: String? = nil, method: String? = nil, authorization: String?? = .none, headers: [(String, String)] = [],
            body: ByteBuffer? = nil, contentType: String? = nil, allowed: Set<Int>? = nil
        ) {
            var all = headers
            if let authorization = authorization ?? credential { all.append(("Authorization", authorization)) }
            if let contentType { all.append(("Content-Type", contentType)) }
            probes.append(
                FuzzProbe(
                    operation: operation.description, label: label, method: method ?? operation.method, target: target ?? path, headers: all, body: body,
                    allowed: allowed ?? documented
                )
            )
        }

        // Credentials.
        probe("valid request")
        if operation.security != .unauthenticated {
            let otherKind = operation.security == .admin ? "Bearer \(context.token)" : "Bearer \(context.adminToken)"
            let credentials: [(String, String?)] = [
                ("no Authorization", nil), ("empty Authorization", ""), ("scheme only", "Bearer"), ("garbage token", "Bearer garbage"),
                ("Basic", "Basic dXNlcjpwYXNzd29yZA=="), ("bare key prefix", "Bearer nk_"),
                ("unknown key", "Bearer nk_abcdefghijkl_" + String(repeating: "A", count: 43)), ("overlong key", "Bearer nk_" + String(repeating: "k", count: 300)),
                ("forged token", "Bearer \(context.forgedToken)"), ("alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."),
                ("8000-byte token", "Bearer " + String(repeating: "a", count: 8_000)), ("the other kind of token", otherKind),
            ]
            for (label, value) in credentials { probe(label, authorization: .some(value), allowed: [401]) }
        }

        // Methods the path does not have.
        var methodsOfPath: Set<String> = []
        if case .object(let item)? = document["paths"]?[operation.path] { methodsOfPath = Set(item.keys.map { $0.uppercased() }) }
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] where !methodsOfPath.contains(method) {
            probe("method \(method)", method: method, allowed: [404, 405])
        }

        // Path parameters.
        let pathNames = operation.parameters.filter { $0.location == "path" }.map(\.name)
        for name in pathNames {
            for (label, value) in pathValues {
                var filled = context.pathValues
                filled[name] = value
                probe("\(name): \(label)", target: fill(operation.path, with: filled), allowed: documented.union([404]))
            }
        }

        // Query parameters, and one nobody knows.
        for name in operation.parameters.filter({ $0.location == "query" }).map(\.name) {
            for (label, value) in queryValues { probe("?\(name)=\(label)", target: "\(path)?\(name)=\(value)") }
            probe("?\(name) twice", target: "\(path)?\(name)=1&\(name)=abc")
        }
        probe("unknown query parameter", target: "\(path)?zzz=1&&=&%00")

        // Header parameters (never `Accept: text/event-stream`: a stream of a queued run would not end).
        for name in operation.parameters.filter({ $0.location == "header" }).map(\.name) {
            for (label, value) in headerValues { probe("\(name): \(label)", headers: [(name, value)]) }
        }

        // Bodies.
        let limit = operation.id == "ingestWorkload" ? context.uploadLimit : context.bodyLimit
        if operation.method != "GET" {
            probe("over the size limit", body: ByteBuffer(repeating: UInt8(ascii: "a"), count: limit + 1), contentType: "application/json")
            probe("malformed body", body: ByteBuffer(string: "{"), contentType: "application/json")
        }
        guard let schema = operation.bodySchema, let example = context.exampleOverrides[operation.id] ?? operation.bodyExample else {
            return probes
        }
        let exampleText = (try? JSONText.encode(example)) ?? "{}"
        func json(_ label: String, _ text: String, contentType: String? = "application/json") {
            probe(label, body: ByteBuffer(string: text), contentType: contentType)
        }
        json("the example", exampleText)
        probe("no body", contentType: "application/json")
        probe("invalid UTF-8", body: ByteBuffer(bytes: [0x7B, 0x22, 0xFF, 0xFE, 0x00, 0x22, 0x7D]), contentType: "application/json")
        for (label, text) in malformed { json("malformed: \(label)", text) }
        for (label, text) in shapes { json("top level \(label)", text) }
        for contentType in ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/csv"] {
            json("Content-Type \(contentType)", exampleText, contentType: contentType)
        }
        json("no Content-Type", exampleText, contentType: nil)

        let marker = "__netra_fuzz_marker__"
        for (steps, required) in propertyPaths(schema, in: document) {
            // Nested properties get fewer values: their parents already had the whole list.
            let nested = steps.filter { if case .key = $0 { true } else { false } }.count > 1
            let candidates = nested ? nestedValues : values
            let name = steps.map { step -> String in
                switch step {
                case .key(let key): key
                case .first: "[0]"
                }
            }.joined(separator: ".")
            if let marked = setting(steps[...], in: example, to: .string(marker)), let text = try? JSONText.encode(marked) {
                for (label, raw) in candidates { json("\(name) = \(label)", text.replacingOccurrences(of: "\"\(marker)\"", with: raw)) }
            }
            if required, let without = setting(steps[...], in: example, to: nil), let text = try? JSONText.encode(without) {
                json("without \(name)", text)
            }
        }
        let unknownSteps: [BodyStep] = schema["type"] == .string("array") ? [.first, .key("zzz_unknown")] : [.key("zzz_unknown")]
        if let extra = setting(unknownSteps[...], in: example, to: .number(1)), let text = try? JSONText.encode(extra) {
            json("unknown property", text)
        }

        // Seeded byte mutations of the example.
        var random = FuzzRandom(state: seed &+ UInt64(number))
        let alphabet = Array(#"{}[]":,\0123456789abcenlrstu -."#.utf8)
        for sample in 0..<8 {
            var bytes = Array(exampleText.utf8)
            for _ in 0..<(1 + sample % 4) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                switch UInt8.random(in: 0..<4, using: &random) {
                case 0: bytes.remove(at: index)
                case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: index)
                case 2: bytes[index] = UInt8.random(in: 0...255, using: &random)
                default: bytes.removeSubrange(index...)
                }
            }
            probe("mutation \(sample)", body: ByteBuffer(bytes: bytes), contentType: "application/json")
        }
        return probes
    }

    /// Every property of a body schema (two levels deep; through arrays into their first element), with whether it is
    /// required.
    static func propertyPaths(_ schema: JSONValue, in document: JSONValue, prefix: [BodyStep] = [], depth: Int = 2) -> [([BodyStep], Bool)] {
        let schema = resolve(schema, in: document)
        if schema["type"] == .string("array"), let items = schema["items"] {
            return propertyPaths(items, in: document, prefix: prefix + [.first], depth: depth)
        }
        guard depth > 0, let object = objectSchema(schema, in: document) else { return [] }
        var paths: [([BodyStep], Bool)] = []
        for (name, property) in object.properties {
            let path = prefix + [.key(name)]
            paths.append((path, object.required.contains(name)))
            paths += propertyPaths(property, in: document, prefix: path, depth: depth - 1)
        }
        return paths
    }

    /// `value` with the member at `steps` set to `newValue` (`nil` removes it); missing or `null` parents become
    /// empty objects or arrays.
    static func setting(_ steps: ArraySlice<BodyStep>, in value: JSONValue?, to newValue: JSONValue?) -> JSONValue? {
        guard let step = steps.first else { return newValue }
        switch step {
        case .key(let key):
            var members: [String: JSONValue] = [:]
            if case .object(let existing)? = value { members = existing }
            members[key] = setting(steps.dropFirst(), in: members[key], to: newValue)
            return .object(members)
        case .first:
            var elements: [JSONValue] = []
            if case .array(let existing)? = value { elements = existing }
            let first = setting(steps.dropFirst(), in: elements.first, to: newValue) ?? .null
            if elements.isEmpty { elements = [first] } else { elements[0] = first }
            return .array(elements)
        }
    }
}

// MARK: Sending

/// What a probe got.
struct FuzzOutcome: Sendable {
    let probe: FuzzProbe
    /// `nil` when no response came (the message is in `body`).
    let status: Int?
    let contentType: String?
    let body: String
}

extension OpenAPITests {
    /// Sends the probes, `concurrency` at a time, each on a pooled connection of its own (a probe that makes the server
    /// close its connection cannot disturb the next).
    static func send(_ probes: [FuzzProbe], baseURL: String, concurrency: Int) async throws -> [FuzzOutcome] {
        try await withThrowingTaskGroup(of: FuzzOutcome.self) { group in
            var pending = probes.makeIterator()
            var outcomes: [FuzzOutcome] = []
            outcomes.reserveCapacity(probes.count)
            for _ in 0..<concurrency {
                guard let probe = pending.next() else { break }
                group.addTask { await Self.send(probe, baseURL: baseURL) }
            }
            while let outcome = try await group.next() {
                outcomes.append(outcome)
                if let probe = pending.next() { group.addTask { await Self.send(probe, baseURL: baseURL) } }
            }
            return outcomes
        }
    }

    static func send(_ probe: FuzzProbe, baseURL: String) async -> FuzzOutcome {
        do {
            var request = HTTPClientRequest(url: baseURL + probe.target)
            request.method = .init(rawValue: probe.method)
            for (name, value) in probe.headers { request.headers.add(name: name, value: value) }
            if let body = probe.body { request.body = .bytes(body) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            return FuzzOutcome(
                probe: probe, status: Int(response.status.code), contentType: response.headers.first(name: "Content-Type"), body: String(buffer: body)
            )
        } catch {
            return FuzzOutcome(probe: probe, status: nil, contentType: nil, body: "\(error)")
        }
    }
}
