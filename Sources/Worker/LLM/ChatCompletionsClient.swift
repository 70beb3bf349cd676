import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Shared

/// A small client of an OpenAI-compatible `POST {base}/chat/completions`: one request shape (model, messages,
/// temperature 0, an optional response format), one answer (`choices[0].message.content`).
///
/// One completion is bounded by ``LLMConfiguration/timeout``, all attempts and waits included. 408, 429 and 5xx replies
/// and connection errors are retried up to ``LLMConfiguration/maximumRetries`` times, after an exponential backoff or
/// the `Retry-After` the endpoint asked for, whichever is longer; a wait that would end past the deadline is not
/// taken. Replies are read up to ``LLMConfiguration/maximumResponseBytes``.
struct ChatCompletionsClient: Sendable {
    /// One chat message.
    struct Message: Codable, Sendable, Equatable {
        /// `system`, `user` or `assistant`.
        var role: String
        var content: String

        static func system(_ content: String) -> Message { Message(role: "system", content: content) }
        static func user(_ content: String) -> Message { Message(role: "user", content: content) }
    }

    /// The `response_format` of a request.
    struct ResponseFormat: Codable, Sendable, Equatable {
        var type: String

        /// `{"type":"json_object"}`: the model must answer with one JSON object.
        static let jsonObject = ResponseFormat(type: "json_object")
    }

    let configuration: LLMConfiguration
    let httpClient: HTTPClient

    /// - Parameters:
    ///   - configuration: The endpoint, key, model and limits.
    ///   - httpClient: The client that sends requests; the shared one by default (never shut down).
    init(configuration: LLMConfiguration, httpClient: HTTPClient = .shared) {
        self.configuration = configuration
        self.httpClient = httpClient
    }

    /// Asks for a completion of `messages` and returns the text of the first choice.
    ///
    /// - Parameters:
    ///   - messages: The conversation, system message first.
    ///   - responseFormat: Sent as `response_format` when set.
    /// - Throws: ``ChatCompletionsError`` (after the retries, when retryable), or `CancellationError` when the calling
    ///   task is cancelled.
    func complete(_ messages: [Message], responseFormat: ResponseFormat? = nil, logger: Logger) async throws -> String {
        let body = try JSONEncoder().encode(
            WireRequest(model: configuration.model, messages: messages, temperature: 0, responseFormat: responseFormat)
        )
        let deadline = ContinuousClock.now + configuration.timeout
        let timeout = configuration.timeout
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask { try await self.attempts(Array(body), until: deadline, logger: logger) }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw ChatCompletionsError(.timeout, detail: "no usable reply within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let content = try await group.next() else {
                throw ChatCompletionsError(.timeout, detail: "no usable reply within \(timeout)")
            }
            return content
        }
    }

    /// The first attempt and its retries.
    private func attempts(_ body: [UInt8], until deadline: ContinuousClock.Instant, logger: Logger) async throws -> String {
        var retry = 0
        while true {
            do {
                return try await send(body, until: deadline, logger: logger)
            } catch let error as ChatCompletionsError where error.isRetryable && retry < configuration.maximumRetries {
                let backoff = configuration.retryBaseDelay * (1 << retry)
                let wait = max(backoff, error.retryAfter ?? .zero)
                guard ContinuousClock.now + wait < deadline else { throw error }
                retry += 1
                logger.debug(
                    "Retrying the LLM request", metadata: ["llm.retry": "\(retry)", "llm.wait": "\(wait)", LogKey.error: "\(error)"]
                )
                try await Task.sleep(for: wait)
            }
        }
    }

    /// One HTTP exchange.
    private func send(_ body: [UInt8], until deadline: ContinuousClock.Instant, logger: Logger) async throws -> String {
        var request = HTTPClientRequest(url: configuration.completionsURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(body)

        let response: HTTPClientResponse
        do {
            let remaining = deadline - ContinuousClock.now
            response = try await httpClient.execute(request, deadline: .now() + TimeAmount(remaining), logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw ChatCompletionsError(.timeout, detail: "no reply within \(configuration.timeout)")
        } catch let error where error is CancellationError || Task.isCancelled {
            throw CancellationError()
        } catch {
            throw ChatCompletionsError(.connection, detail: "\(error)")
        }

        let status = Int(response.status.code)
        guard (200...299).contains(status) else {
            // Read (a bounded part of) the error body so the connection can be reused; its content is not used.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            throw ChatCompletionsError(.status, status: status, retryAfter: Self.retryAfter(response.headers), detail: "HTTP \(status)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: configuration.maximumResponseBytes)
        } catch is NIOTooManyBytesError {
            throw ChatCompletionsError(.responseTooLarge, detail: "reply over \(configuration.maximumResponseBytes) bytes")
        } catch let error where error is CancellationError || Task.isCancelled {
            throw CancellationError()
        } catch {
            throw ChatCompletionsError(.connection, detail: "reading the reply: \(error)")
        }
        return try Self.content(of: Data(buffer.readableBytesView))
    }

    /// `choices[0].message.content` of a reply body.
    static func content(of body: Data) throws -> String {
        guard let reply = try? JSONDecoder().decode(WireResponse.self, from: body) else {
            throw ChatCompletionsError(.malformedReply, detail: "not a chat completion")
        }
        guard let content = reply.choices.first?.message.content, !content.isEmpty else {
            throw ChatCompletionsError(.malformedReply, detail: "no text in choices[0].message.content")
        }
        return content
    }

    /// `Retry-After` as a number of seconds (an HTTP date counts as absent).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers.first(name: "Retry-After"), let seconds = Double(text.trimmingCharacters(in: .whitespaces)),
            seconds.isFinite, seconds >= 0
        else { return nil }
        return .milliseconds(Int64(min(seconds, 3600) * 1000))
    }

    /// The request body.
    struct WireRequest: Encodable {
        let model: String
        let messages: [Message]
        let temperature: Double
        let responseFormat: ResponseFormat?

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature
            case responseFormat = "response_format"
        }
    }

    /// The parts of a reply the client reads.
    struct WireResponse: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable {
                let content: String?
            }

            let message: Message
        }

        let choices: [Choice]
    }
}
