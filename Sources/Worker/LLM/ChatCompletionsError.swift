/// Why a chat completion failed. The description names the code and, for error replies, the HTTP status: never the
/// request, its headers (the API key) or the reply body.
struct ChatCompletionsError: Error, CustomStringConvertible, Sendable {
    /// The closed set of failures.
    struct Code: Hashable, Sendable {
        let raw: String

        /// The completion's time (``LLMConfiguration/timeout``) ran out.
        static let timeout = Code(raw: "timeout")
        /// The endpoint answered with a non-2xx status.
        static let status = Code(raw: "status")
        /// The connection could not be made or broke.
        static let connection = Code(raw: "connection")
        /// The reply was larger than ``LLMConfiguration/maximumResponseBytes``.
        static let responseTooLarge = Code(raw: "response_too_large")
        /// The reply was not a chat completion with text in `choices[0].message.content`.
        static let malformedReply = Code(raw: "malformed_reply")
    }

    let code: Code
    /// The HTTP status, for ``Code/status``.
    var status: Int?
    /// The wait the endpoint asked for (`Retry-After` in seconds), for ``Code/status``.
    var retryAfter: Duration?
    /// A short, secret-free detail.
    var detail: String

    init(_ code: Code, status: Int? = nil, retryAfter: Duration? = nil, detail: String) {
        self.code = code
        self.status = status
        self.retryAfter = retryAfter
        self.detail = detail
    }

    /// Whether another attempt may succeed: 408, 429 and 5xx replies, and connection errors.
    var isRetryable: Bool {
        switch code {
        case .connection: true
        case .status: status.map { $0 == 408 || $0 == 429 || (500...599).contains($0) } ?? false
        default: false
        }
    }

    var description: String { "chat completion failed (\(code.raw)): \(detail)" }
}
