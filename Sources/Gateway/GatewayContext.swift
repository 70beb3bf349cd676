import Foundation
import Hummingbird
import NIOCore
import HummingbirdWebSocket
import Shared

/// Who is calling: set only by the authentication middleware.
struct Identity: Sendable, Equatable {
    let tenantID: TenantID
    let userID: UserID
    let role: String
    /// The access token's id and expiry (for logout); `nil` for an API key.
    var tokenID: String?
    var expiresAt: Date?
    /// The API key that authenticated the request, if one did.
    var apiKeyID: UUID?
    /// The request already took its token from the tenant's run bucket (submission routes take it together with
    /// the request bucket, in the same round trip).
    var runAdmitted = false

    var isAdmin: Bool { role == "admin" }

    /// 403 unless the caller is an admin of its tenant.
    func requireAdmin() throws {
        guard isAdmin else { throw NetraError(.forbidden, .forbidden, "only an admin of the tenant may do this") }
    }
}

/// The per-request context: Hummingbird's core storage plus the caller's identity.
struct GatewayContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// The authenticated caller; `nil` on public routes.
    var identity: Identity?
    /// The client's IP address (for per-address login limits); `nil` when the channel does not say.
    let clientAddress: String?

    init(source: Source) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.identity = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Request bodies above 1 MiB are refused with 413 while they are being read.
    var maxUploadSize: Int { 1 << 20 }

    /// The `{run_id}` path parameter; a malformed id is as unknown as a missing run (404 `run_not_found`).
    func runIDParameter() throws -> RunID {
        guard let text = parameters.get("run_id"), let id = RunID(text) else { throw NetraError.runNotFound }
        return id
    }

    /// The `{tenant_id}` path parameter; a malformed id is as unknown as a missing tenant (404).
    func tenantIDParameter() throws -> TenantID {
        guard let text = parameters.get("tenant_id"), let id = TenantID(text) else { throw NetraError.tenantNotFound }
        return id
    }

    /// The caller, or 401.
    func requireIdentity() throws -> Identity {
        guard let identity else { throw NetraError.unauthorized }
        return identity
    }
}

extension Request {
    /// Reads the body (up to the context's limit) and decodes it as JSON; errors become 400/413 responses.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: GatewayContext) async throws -> T {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw NetraError(.invalidJSON, .badRequest, "request body is empty") }
        // PostgreSQL text cannot hold U+0000: refuse it here rather than fail the insert.
        guard !Self.escapesNUL(buffer.readableBytesView) else {
            throw NetraError(.invalidJSON, .badRequest, "strings must not contain NUL characters (\\u0000)")
        }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// Whether JSON text spells U+0000 as an escape (a raw NUL byte is not valid JSON, so the decoder refuses it).
    static func escapesNUL(_ bytes: ByteBufferView) -> Bool {
        var index = bytes.startIndex
        let end = bytes.endIndex
        while index < end {
            guard bytes[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            let next = index + 1
            if next + 4 < end, bytes[next] == UInt8(ascii: "u"), bytes[next + 1] == UInt8(ascii: "0"), bytes[next + 2] == UInt8(ascii: "0"),
                bytes[next + 3] == UInt8(ascii: "0"), bytes[next + 4] == UInt8(ascii: "0")
            {
                return true
            }
            index += 2  // skip the escaped character, so `\\u0000` (an escaped backslash) is not mistaken for one
        }
        return false
    }
}

/// Encodes an API response body as JSON with the given status.
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try JSONText.encode(value))))
}
