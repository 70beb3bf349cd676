import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Shared

/// An API error: a closed set of codes, rendered as `{"error": {"code", "message"}}` with its HTTP status.
struct NetraError: Error, HTTPResponseError, CustomStringConvertible {
    /// The machine-readable code.
    struct Code: Hashable, Sendable {
        let raw: String
        static let badRequest = Code(raw: "bad_request")
        static let invalidJSON = Code(raw: "invalid_json")
        static let invalidBody = Code(raw: "invalid_body")
        static let validation = Code(raw: "validation_failed")
        static let unauthorized = Code(raw: "unauthorized")
        static let invalidCredentials = Code(raw: "invalid_credentials")
        static let forbidden = Code(raw: "forbidden")
        static let notFound = Code(raw: "not_found")
        static let runNotFound = Code(raw: "run_not_found")
        static let threadNotFound = Code(raw: "thread_not_found")
        static let scheduleNotFound = Code(raw: "schedule_not_found")
        static let invalidCron = Code(raw: "invalid_cron")
        static let conflict = Code(raw: "conflict")
        static let threadBusy = Code(raw: "thread_busy")
        static let bodyTooLarge = Code(raw: "body_too_large")
        static let methodNotAllowed = Code(raw: "method_not_allowed")
        static let rateLimited = Code(raw: "rate_limited")
        static let tenantSuspended = Code(raw: "tenant_suspended")
        static let unavailable = Code(raw: "service_unavailable")
        static let invalidState = Code(raw: "invalid_state")
        static let invalidIDToken = Code(raw: "invalid_id_token")
        static let oidcDenied = Code(raw: "oidc_denied")
        static let oidcCodeRejected = Code(raw: "oidc_code_rejected")
        static let oidcUnavailable = Code(raw: "oidc_unavailable")
        static let emailNotAllowed = Code(raw: "email_not_allowed")
        static let internalError = Code(raw: "internal_error")
    }

    let code: Code
    let status: HTTPResponse.Status
    let message: String
    /// Seconds for the `Retry-After` header (429s).
    var retryAfter: Int?

    init(_ code: Code, _ status: HTTPResponse.Status, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    var description: String { "\(status.code) \(code.raw): \(message)" }

    static func notFound(_ code: Code = .notFound, _ message: String) -> NetraError { NetraError(code, .notFound, message) }
    static func invalid(_ message: String) -> NetraError { NetraError(.validation, .unprocessableContent, message) }
    static let runNotFound = NetraError.notFound(.runNotFound, "run not found")
    static let threadNotFound = NetraError.notFound(.threadNotFound, "thread not found")
    static let scheduleNotFound = NetraError.notFound(.scheduleNotFound, "schedule not found")
    static let tenantNotFound = NetraError.notFound(.notFound, "tenant not found")
    static let singleSignOnNotConfigured = NetraError.notFound(.notFound, "single sign-on is not configured for this tenant")
    static let unauthorized = NetraError(.unauthorized, .unauthorized, "missing or invalid credentials")
    static let unavailable = NetraError(.unavailable, .serviceUnavailable, "a backing service is unavailable; try again shortly")

    /// 429 with `Retry-After` (whole seconds, at least 1).
    static func rateLimited(_ message: String, retryAfterMilliseconds: Int) -> NetraError {
        var error = NetraError(.rateLimited, .tooManyRequests, message)
        error.retryAfter = max(1, (retryAfterMilliseconds + 999) / 1000)
        return error
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response(status: status)
    }

    /// The JSON error response.
    static func response(status: HTTPResponse.Status, code: String, message: String) -> Response {
        let body = ErrorEnvelope(error: .init(code: code, message: message))
        let data = (try? JSONEncoder().encode(body)) ?? Data(#"{"error":{"code":"internal_error","message":"error"}}"#.utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The error body.
struct ErrorEnvelope: Codable {
    struct Detail: Codable {
        let code: String
        let message: String
    }

    let error: Detail
}

/// Turns every error into the JSON envelope with the right status: `NetraError` as is, Hummingbird's `HTTPError`
/// and decoding errors as 4xx, and anything else as a logged 500 (or 503 when a backing service is down).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as NetraError {
            return error.response(status: error.status)
        } catch let error as HTTPError {
            return Self.translate(error)
        } catch let error as DecodingError {
            return NetraError.response(status: .badRequest, code: NetraError.Code.invalidJSON.raw, message: Self.describe(error))
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return NetraError.response(status: .contentTooLarge, code: NetraError.Code.bodyTooLarge.raw, message: "request body is too large")
        } catch {
            if isServiceUnavailable(error) {
                context.logger.warning("Backing service unavailable", metadata: ["error": "\(type(of: error))"])
                return NetraError.unavailable.response(status: .serviceUnavailable)
            }
            context.logger.error("Unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return NetraError.response(status: .internalServerError, code: NetraError.Code.internalError.raw, message: "internal error")
        }
    }

    private static func translate(_ error: HTTPError) -> Response {
        let code: NetraError.Code =
            switch error.status {
            case .notFound: .notFound
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .contentTooLarge: .bodyTooLarge
            case .methodNotAllowed: .methodNotAllowed
            case .badRequest: .badRequest
            default: error.status.code < 500 ? .badRequest : .internalError
            }
        let message = error.body ?? error.status.reasonPhrase
        return NetraError.response(status: error.status, code: code.raw, message: message)
    }

    /// The JSON kind a client should have sent for a Swift type: "a string", "an object", not `Dictionary<String, Any>`.
    static func jsonKind(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type, is UInt32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default:
            switch String(describing: type) {
            case let name where name.hasPrefix("Dictionary<"): "an object"
            case let name where name.hasPrefix("Array<"): "an array"
            case let name: name
            }
        }
    }

    /// A decoding error as one line that names the field, without echoing the input.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "body" : path
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(jsonKind(of: type))"
        case .valueNotFound(_, let context): return "\(path(context)): value is missing"
        case .keyNotFound(let key, let context):
            return "\(path(context) == "body" ? "" : path(context) + ".")\(key.stringValue): field is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "body is not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "body could not be decoded"
        }
    }
}

extension NetraError {
    fileprivate func response(status: HTTPResponse.Status) -> Response {
        var response = Self.response(status: status, code: code.raw, message: message)
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}
