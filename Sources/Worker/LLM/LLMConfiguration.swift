import Foundation
import Shared

/// Where the optional LLM is: an OpenAI-compatible chat-completions endpoint that triage may ask to classify the goal
/// and reporting may ask for a narrative. Without it every stage runs its deterministic rules.
///
/// - Configuration keys: `llm.base.url` (`NETRA_LLM_BASE_URL`, for example `http://127.0.0.1:8000/v1`), `llm.api.key`
///   (`NETRA_LLM_API_KEY`, sent as a bearer token, optional for local servers), `llm.model` (`NETRA_LLM_MODEL`) and
///   `llm.timeout` (`NETRA_LLM_TIMEOUT`, seconds one completion may take with its retries, default 10).
///
/// - Important: `description` never shows the API key, so the configuration is safe to log.
struct LLMConfiguration: Sendable, CustomStringConvertible {
    /// The base URL without a trailing `/`; requests go to `{baseURL}/chat/completions`.
    var baseURL: String
    var apiKey: String?
    var model: String
    /// The time one completion may take, every attempt and wait included.
    var timeout: Duration
    /// Retries after the first attempt, on 429, 5xx and connection errors.
    var maximumRetries = 2
    /// The wait before the first retry; it doubles per retry (a `Retry-After` header can lengthen it).
    var retryBaseDelay: Duration = .milliseconds(250)
    /// Replies larger than this are refused, unread.
    var maximumResponseBytes = 256 * 1024

    init(baseURL: String, apiKey: String?, model: String, timeout: Duration = .seconds(10)) {
        self.baseURL = Self.trimmingSlashes(baseURL)
        self.apiKey = apiKey
        self.model = model
        self.timeout = timeout
    }

    /// Reads the LLM settings: `nil` unless both the base URL and the model are set.
    ///
    /// - Throws: ``ConfigurationError`` when the base URL is not an http(s) URL or the timeout is out of range.
    init?(settings: Settings) throws {
        guard let baseURL = settings.string(.llmBaseURL), let model = settings.string(.llmModel) else { return nil }
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty, components.query == nil
        else {
            throw ConfigurationError(.llmBaseURL, "expected an http(s) URL such as http://127.0.0.1:8000/v1")
        }
        self.init(
            baseURL: baseURL, apiKey: settings.string(.llmAPIKey), model: model,
            timeout: try settings.seconds(.llmTimeout, default: .seconds(10), in: 0.05...600)
        )
    }

    /// `POST` target of a completion.
    var completionsURL: String { baseURL + "/chat/completions" }

    var description: String {
        "LLMConfiguration(model: \(model), timeout: \(timeout), api key: \(apiKey == nil ? "none" : "set"))"
    }

    private static func trimmingSlashes(_ url: String) -> String {
        var url = url.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
