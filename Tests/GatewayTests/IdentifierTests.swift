import Foundation
import HTTPTypes
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

@Suite("Identifiers and names the API gives out")
struct IdentifierTests {
    /// Every string in `value` that is a UUID, with where it was found.
    func uuids(in value: JSONValue, at path: String = "") -> [(path: String, text: String)] {
        switch value {
        case .string(let text): UUID(uuidString: text) != nil ? [(path, text)] : []
        case .array(let items): items.enumerated().flatMap { uuids(in: $1, at: "\(path)[\($0)]") }
        case .object(let fields): fields.flatMap { uuids(in: $1, at: "\(path).\($0)") }
        default: []
        }
    }

    @Test func everyIdentifierIsLowerCaseAndAScheduleKeepsItsZonesName() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            var responses: [(String, JSONValue)] = []
            func call(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil) async throws -> JSONValue {
                let response = try await stack.request(method, path, token: token, json: body)
                #expect(response.status.code < 300, "\(method) \(path): \(String(buffer: response.body))")
                let json = try stack.json(response)
                responses.append(("\(method) \(path)", json))
                return json
            }
            let thread = try #require(try await call(.post, "/api/threads", #"{"title":"t"}"#)["id"]?.stringValue)
            let run = try #require(
                try await call(.post, "/api/agent/runs", #"{"message":"hi","thread_id":"\#(thread)","pipeline":"bench","parameters":{"stages":1}}"#)["run_id"]?
                    .stringValue
            )
            _ = try await stack.waitForFinalStatus(run, token: token)
            let messages = try await call(.get, "/api/threads/\(thread)/messages")
            // The agent's reply is identified by its run: the same text, so that clients can match them.
            let reply = messages["messages"]?.arrayValue?.first { $0["role"]?.stringValue == "assistant" }
            #expect(reply?["id"]?.stringValue == run && reply?["run_id"]?.stringValue == run)
            _ = try await call(.get, "/api/threads")
            _ = try await call(.get, "/api/agent/status/\(run)")
            let schedule = try await call(.post, "/api/schedules", #"{"cron":"0 9 * * *","message":"x"}"#)
            #expect(schedule["time_zone"]?.stringValue == "UTC")
            let berlin = try await call(.post, "/api/schedules", #"{"cron":"0 9 * * *","time_zone":"Europe/Berlin","message":"x"}"#)
            #expect(berlin["time_zone"]?.stringValue == "Europe/Berlin")
            _ = try await call(.get, "/api/schedules")
            _ = try await call(.post, "/api/keys", #"{"name":"k"}"#)
            _ = try await call(.get, "/api/keys")
            _ = try await call(.get, "/api/users")

            let found = responses.flatMap { route, json in uuids(in: json).map { (route, $0.path, $0.text) } }
            #expect(found.count >= 15)
            for (route, path, text) in found {
                #expect(text == text.lowercased(), "\(route) \(path): \(text)")
            }
        }
    }
}
