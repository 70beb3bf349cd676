import Foundation
import Hummingbird
import ServiceLifecycle
import Logging
import NIOCore
import Synchronization

/// A local OpenAI-compatible endpoint for the LLM tests: `POST /v1/chat/completions` on 127.0.0.1 and a free port,
/// speaking the same wire format as the real one. Requests without the test key (401) or for another model (404)
/// are refused; the others are logged and answered by the test's `reply`.
enum ChatCompletionsTestServer {
    static let apiKey = "test-key-not-a-secret"
    static let model = "netra-test-model"

    /// A chat request as the server reads it.
    struct ReceivedRequest: Decodable, Sendable {
        struct Message: Decodable, Sendable {
            let role: String
            let content: String
        }

        struct Format: Decodable, Sendable {
            let type: String
        }

        let model: String
        let messages: [Message]
        let temperature: Double?
        let responseFormat: Format?

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature
            case responseFormat = "response_format"
        }
    }

    /// The accepted requests, in order.
    final class Log: Sendable {
        private let received = Mutex<[ReceivedRequest]>([])

        /// Records a request and returns its number, from 1.
        func append(_ request: ReceivedRequest) -> Int {
            received.withLock {
                $0.append(request)
                return $0.count
            }
        }

        var requests: [ReceivedRequest] { received.withLock { $0 } }
    }

    /// Answers the `call`-th accepted request (from 1).
    typealias Reply = @Sendable (_ call: Int, _ request: ReceivedRequest) async throws -> Response

    struct DidNotStart: Error {}

    /// Runs `body` with the server's base URL (`http://127.0.0.1:PORT/v1`) and its request log, then shuts the server
    /// down gracefully (a reply still sleeping to simulate a hang finishes first).
    static func with<Value>(
        reply: @escaping Reply, logger: Logger, _ body: (_ baseURL: String, _ log: Log) async throws -> Value
    ) async throws -> Value {
        let log = Log()
        let router = Router()
        router.post("/v1/chat/completions") { request, context -> Response in
            guard request.headers[.authorization] == "Bearer \(apiKey)" else { return status(.unauthorized) }
            let received = try await request.decode(as: ReceivedRequest.self, context: context)
            guard received.model == model else { return status(.notFound) }
            return try await reply(log.append(received), received)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) }, logger: logger
        )
        // Stopped by a graceful shutdown, not by cancelling its task: cancelling a NIO server while it accepts a
        // connection (a client still retrying) traps in NIOAsyncWriter's deinit (apple/swift-nio#2637).
        let server = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await server.run()
            }
            let outcome: Result<Value, any Error>
            if let port = await ports.first(where: { _ in true }), port > 0 {
                do {
                    outcome = .success(try await body("http://127.0.0.1:\(port)/v1", log))
                } catch {
                    outcome = .failure(error)
                }
            } else {
                outcome = .failure(DidNotStart())
            }
            await server.triggerGracefulShutdown()
            try await group.waitForAll()
            return try outcome.get()
        }
    }

    /// A `200` chat completion whose first choice says `content`.
    static func completion(_ content: String) -> Response {
        struct Completion: Encodable {
            struct Choice: Encodable {
                struct Message: Encodable {
                    let role = "assistant"
                    let content: String
                }

                let index = 0
                let message: Message
                let finish_reason = "stop"
            }

            let id = "chatcmpl-test"
            let object = "chat.completion"
            let model = ChatCompletionsTestServer.model
            let choices: [Choice]
        }
        let data = (try? JSONEncoder().encode(Completion(choices: [.init(message: .init(content: content))]))) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// An error reply with an OpenAI-style body, and `Retry-After` when given.
    static func status(_ status: HTTPResponse.Status, retryAfter: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = retryAfter }
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"test error","type":"server_error"}}"#))
        )
    }
}
