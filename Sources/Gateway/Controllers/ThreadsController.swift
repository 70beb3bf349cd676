import Foundation
import Hummingbird
import Shared

/// `/api/threads`: the caller's tenant's conversations.
struct ThreadsController: Sendable {
    let threads: ThreadStore

    struct CreateThread: Decodable {
        let title: String?
    }

    struct ThreadBody: Encodable {
        let id: ThreadID
        let title: String
        let createdAt: Date
        let updatedAt: Date
        enum CodingKeys: String, CodingKey {
            case id, title
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
        init(_ record: ThreadRecord) {
            id = record.id
            title = record.title
            createdAt = record.createdAt
            updatedAt = record.updatedAt
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(CreateThread.self, context: context)
            let title = body.title?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "New conversation"
            try Validate.name(title, field: "title")
            let thread = try await threads.create(tenant: identity.tenantID, user: identity.userID, title: title, logger: context.logger)
            return try jsonResponse(ThreadBody(thread), status: .created)
        }
        group.get("/") { request, context in
            let identity = try context.requireIdentity()
            let limit = try Paging.limit(request)
            let list = try await threads.list(tenant: identity.tenantID, limit: limit, logger: context.logger)
            return try jsonResponse(["threads": list.map(ThreadBody.init)])
        }
    }
}

/// Query-string paging shared by list routes.
enum Paging {
    /// `?limit=` from 1 to 200, default 50; anything else is a 422.
    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 50 }
        guard let limit = Int(text), (1...200).contains(limit) else { throw NetraError.invalid("limit must be from 1 to 200") }
        return limit
    }
}
