import Foundation
import HTTPTypes
import Hummingbird
import Shared

/// Cross-origin access for browsers from an allow-list of origins (`cors.origins`).
///
/// Hummingbird's `CORSMiddleware` takes a list only through the variadic `.oneOf(_:)`, which a list read from
/// configuration cannot call, so this small middleware does the same job for an array: it echoes the request's
/// `Origin` in `Access-Control-Allow-Origin` only when the origin is listed, answers preflights (`OPTIONS` with
/// `Access-Control-Request-Method`) itself with 204, and marks every response `Vary: Origin` so that caches keep the
/// variants apart. It sends no `Access-Control-Allow-Credentials`: the API authenticates with bearer tokens and API
/// keys, never cookies. Install it only when the list is non-empty; without it no CORS header is ever sent.
struct CORSAllowListMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Allowed origins, lower-cased (browsers send scheme and host in lower case; compared case-insensitively).
    let origins: Set<String>

    static var allowedMethods: String { "GET, POST, PUT, PATCH, DELETE, OPTIONS" }
    static var allowedHeaders: String { "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, Accept" }
    /// Response headers a page's script may read.
    static var exposedHeaders: String { "Retry-After, Idempotent-Replayed" }
    /// Seconds a browser may cache a preflight's answer.
    static var maxAge: String { "600" }

    init(origins: [String]) {
        self.origins = Set(origins.map { $0.lowercased() })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestOrigin = request.headers[.origin]
        let allowed = requestOrigin.flatMap { origins.contains($0.lowercased()) ? $0 : nil }
        if request.method == .options, requestOrigin != nil, request.headers[.accessControlRequestMethod] != nil {
            var headers: HTTPFields = [.vary: "Origin"]
            if let allowed {
                headers[.accessControlAllowOrigin] = allowed
                headers[.accessControlAllowMethods] = Self.allowedMethods
                headers[.accessControlAllowHeaders] = Self.allowedHeaders
                headers[.accessControlMaxAge] = Self.maxAge
            }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[values: .vary].append("Origin")
        if let allowed {
            response.headers[.accessControlAllowOrigin] = allowed
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        return response
    }
}

/// The `cors.origins` setting.
enum CORSOrigins {
    /// Parses `cors.origins`: comma-separated `scheme://host[:port]` origins (a trailing `/` is dropped); `nil` or
    /// blank gives an empty list.
    ///
    /// - Throws: `ConfigurationError` naming `NETRA_CORS_ORIGINS` for an entry that is not an origin.
    static func parse(_ text: String?) throws -> [String] {
        guard let text else { return [] }
        return try text.split(separator: ",").compactMap { entry -> String? in
            var origin = entry.trimmingCharacters(in: .whitespaces)
            if origin.hasSuffix("/") { origin.removeLast() }
            guard !origin.isEmpty else { return nil }
            let separator = origin.range(of: "://")
            let scheme = separator.map { origin[..<$0.lowerBound].lowercased() } ?? ""
            let authority = separator.map { origin[$0.upperBound...] } ?? ""
            guard scheme == "http" || scheme == "https", !authority.isEmpty,
                !authority.contains(where: { "/?#*@ ".contains($0) })
            else {
                throw ConfigurationError(.corsOrigins, "expected comma-separated origins such as https://app.example.com, got '\(origin)'")
            }
            return origin
        }
    }
}
