import Foundation
import Hummingbird
import Logging

/// Logs each request's method and path like Hummingbird's `LogRequestsMiddleware`, but never a credential.
///
/// `LogRequestsMiddleware` logs `request.uri` whole, query included, and the WebSocket takes its access token as
/// `/ws?token=…`: this one logs the path and the query with the values of credential-bearing parameters replaced by
/// `***`. No header is logged (`Authorization` and `Idempotency-Key` stay out of the logs).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    /// Query parameters whose values are secrets (compared lower-cased).
    static var redactedParameters: Set<String> {
        // `code` and `state` of a single sign-on callback are credentials too, and `login_hint` is an email.
        ["token", "access_token", "api_key", "apikey", "key", "password", "secret", "code", "state", "login_hint"]
    }

    init(_ level: Logger.Level = .debug) {
        self.level = level
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.log(
            level: level,
            "Request",
            metadata: [
                "hb.request.path": .string(Self.redacted(path: request.uri.path, query: request.uri.query)),
                "hb.request.method": .string(request.method.rawValue),
            ]
        )
        return try await next(request, context)
    }

    /// The path and query, with the values of `redactedParameters` replaced by `***`.
    static func redacted(path: String, query: String?) -> String {
        guard let query, !query.isEmpty else { return path }
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let decoded = name.removingPercentEncoding ?? String(name)
            return redactedParameters.contains(decoded.lowercased()) ? "\(name)=***" : String(pair)
        }
        return path + "?" + parts.joined(separator: "&")
    }
}
