import Foundation
import Hummingbird
import Shared

/// Requires a valid access token or API key (`Authorization: Bearer …`, or `?token=` where `allowQueryToken` is set,
/// as browsers cannot set headers on a WebSocket), refuses logged-out tokens, applies the tenant's request rate
/// limit, and puts the caller's identity into the context.
struct AuthMiddleware: RouterMiddleware {
    let tokens: TokenService
    let apiKeys: APIKeys
    let access: AccessGuard
    var allowQueryToken = false

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        var context = context
        let credential = try token(in: request)
        let identity: Identity
        if APIKeys.looksLikeKey(credential) {
            identity = try await apiKeys.identity(for: credential, logger: context.logger)
        } else {
            identity = try await tokens.verify(credential)
        }
        var admitted = identity
        admitted.runAdmitted = request.method == .post && Self.submissionPaths.contains(request.uri.path)
        try await access.admitRequest(admitted, includingRun: admitted.runAdmitted, logger: context.logger)
        context.identity = admitted
        return try await next(request, context)
    }

    /// The credential of an `Authorization: Bearer …` header (scheme in any case, surrounding blanks trimmed).
    ///
    /// Read on the bytes: `lowercased()` copied the whole header and `trimmingCharacters(in:)` went through NSString,
    /// 5% of the gateway's CPU under load (`perf`).
    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        guard bytes.count >= 7, zip(bytes.prefix(7), "bearer ".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.index(bytes.startIndex, offsetBy: 7)
        var end = bytes.endIndex
        while start < end, isBlank(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isBlank(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Routes that submit a run: their request also takes the run token, in the same Redis round trip.
    static let submissionPaths: Set<String> = ["/api/agent/runs", "/api/generation/start"]

    private func token(in request: Request) throws -> String {
        if let header = request.headers[.authorization], let token = Self.bearerToken(header) {
            return token
        }
        if allowQueryToken, let token = request.uri.queryParameters.get("token"), !token.isEmpty {
            return token
        }
        throw NetraError.unauthorized
    }
}

/// Guards `/api/admin`: the configured admin token as a bearer token, compared in constant time.
struct AdminMiddleware: RouterMiddleware {
    let adminToken: String

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        // The scheme read as for every other bearer token (any case, blanks around the token trimmed).
        guard let header = request.headers[.authorization], let token = AuthMiddleware.bearerToken(header),
            APIKeys.constantTimeEquals(Array(token.utf8), Array(adminToken.utf8))
        else { throw NetraError.unauthorized }
        return try await next(request, context)
    }
}
