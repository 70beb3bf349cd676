import Foundation
import Shared
import Testing

@testable import Gateway

/// `/api/threads`: create, list, read, rename, switch, delete, and the conversation of users' messages and replies.
@Suite("Threads API")
struct ThreadsTests {
    @Test func aThreadsLifeFromCreationToDeletion() async throws {
        try await TestStack.run(workers: 1) { stack in
            let token = try await stack.tenantToken()
            let created = try await stack.request(.post, "/api/threads", token: token, json: #"{"title":"  Cut my bill  "}"#)
            #expect(created.status == .created)
            let thread = try #require(try stack.json(created)["id"]?.stringValue)
            #expect(try stack.json(created)["title"]?.stringValue == "Cut my bill")
            let other = try #require(try stack.json(try await stack.request(.post, "/api/threads", token: token, json: "{}"))["id"]?.stringValue)

            // Switching marks the caller's active thread, in the list and on the thread.
            #expect(try stack.json(try await stack.request(.put, "/api/threads/\(thread)/switch", token: token))["active"] == .bool(true))
            let listed = try #require(try stack.json(try await stack.request(.get, "/api/threads", token: token))["threads"]?.arrayValue)
            #expect(listed.map { $0["id"]?.stringValue } == [thread, other], "the switched-to thread is the most recent")
            #expect(listed.map { $0["active"] } == [.bool(true), .bool(false)])

            let renamed = try await stack.request(.patch, "/api/threads/\(thread)", token: token, json: #"{"title":"Budget"}"#)
            #expect(try stack.json(renamed)["title"]?.stringValue == "Budget")
            #expect(try await stack.request(.patch, "/api/threads/\(thread)", token: token, json: #"{"title":"  "}"#).status.code == 422)
            #expect(try stack.json(try await stack.request(.get, "/api/threads/\(thread)", token: token))["title"]?.stringValue == "Budget")

            // Two runs on the thread: each user message is followed by the run's reply, in order.
            for message in ["first question", "second question"] {
                let run = try await stack.submit(
                    #"{"message":"\#(message)","thread_id":"\#(thread)","pipeline":"bench","parameters":{"stages":1}}"#, token: token
                )
                #expect(try await stack.waitForFinalStatus(run, token: token)["status"]?.stringValue == "succeeded")
            }
            let conversation = try stack.json(try await stack.request(.get, "/api/threads/\(thread)/messages", token: token))
            let messages = try #require(conversation["messages"]?.arrayValue)
            #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "user", "assistant"])
            #expect(messages[0]["content"]?.stringValue == "first question")
            #expect(messages[2]["content"]?.stringValue == "second question")
            #expect(messages[1]["run_id"] == messages[0]["run_id"] && messages[1]["run_id"] != nil)
            #expect(messages[3]["content"]?.stringValue?.contains("stage-1") == true, "the bench run's result is its reply")
            #expect(try stack.json(try await stack.request(.get, "/api/threads/\(other)/messages", token: token))["messages"]?.arrayValue?.isEmpty == true)

            // Deleting removes the thread and its conversation; the runs stay, without a thread.
            #expect(try await stack.request(.delete, "/api/threads/\(thread)", token: token).status == .noContent)
            for path in ["/api/threads/\(thread)", "/api/threads/\(thread)/messages"] {
                #expect(try await stack.request(.get, path, token: token).status == .notFound)
            }
            #expect(try await stack.request(.delete, "/api/threads/\(thread)", token: token).status == .notFound)
            #expect(try await stack.request(.get, "/api/threads/not-a-uuid", token: token).status == .notFound)
            let history = try #require(try stack.json(try await stack.request(.get, "/api/agent/history", token: token))["runs"]?.arrayValue)
            #expect(history.count == 2)
            #expect(history.allSatisfy { $0["thread_id"] == nil })
        }
    }
}
