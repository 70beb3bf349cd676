import Foundation
import Hummingbird
import Shared

/// `/api/threads`: the caller's tenant's conversations.
struct ThreadsController: Sendable {
    let threads: ThreadStore

    struct CreateThread: Decodable {
        let title: String?
    }

    struct RenameThread: Decodable {
        let title: String
    }

    struct ThreadBody: Encodable {
        let id: ThreadID
        let title: String
        let createdAt: Date
        let updatedAt: Date
        /// Whether it is the caller's active thread (`PUT /api/threads/{id}/switch`).
        let active: Bool
        enum CodingKeys: String, CodingKey {
            case id, title, active
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
        init(_ record: ThreadRecord, active: ThreadID? = nil) {
            id = record.id
            title = record.title
            createdAt = record.createdAt
            updatedAt = record.updatedAt
            self.active = record.id == active
        }
    }

    struct Conversation: Encodable {
        let threadID: ThreadID
        let messages: [MessageBody]
        enum CodingKeys: String, CodingKey {
            case threadID = "thread_id"
            case messages
        }
    }

    struct MessageBody: Encodable {
        /// In lower case, as every identifier the API gives out (Foundation would write a `UUID` in upper case).
        let id: String
        let runID: RunID?
        let role: String
        let content: String
        let createdAt: Date
        enum CodingKeys: String, CodingKey {
            case id, role, content
            case runID = "run_id"
            case createdAt = "created_at"
        }
        init(_ message: ThreadMessage) {
            id = message.id.lowercasedText
            runID = message.runID
            role = message.role
            content = message.content
            createdAt = message.createdAt
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
            let active = try await threads.activeThread(user: identity.userID, tenant: identity.tenantID, logger: context.logger)
            return try jsonResponse(["threads": list.map { ThreadBody($0, active: active) }])
        }
        group.get("/{thread_id}") { _, context in
            let identity = try context.requireIdentity()
            let id = try threadID(context)
            guard let thread = try await threads.thread(id, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.threadNotFound
            }
            let active = try await threads.activeThread(user: identity.userID, tenant: identity.tenantID, logger: context.logger)
            return try jsonResponse(ThreadBody(thread, active: active))
        }
        group.patch("/{thread_id}") { request, context in
            let identity = try context.requireIdentity()
            let id = try threadID(context)
            let body = try await request.decodeJSON(RenameThread.self, context: context)
            let title = body.title.trimmingCharacters(in: .whitespacesAndNewlines)
            try Validate.name(title, field: "title")
            guard let thread = try await threads.rename(id, tenant: identity.tenantID, title: title, logger: context.logger) else {
                throw NetraError.threadNotFound
            }
            return try jsonResponse(ThreadBody(thread))
        }
        group.delete("/{thread_id}") { _, context in
            let identity = try context.requireIdentity()
            guard try await threads.delete(try threadID(context), tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.threadNotFound
            }
            return Response(status: .noContent)
        }
        group.put("/{thread_id}/switch") { _, context in
            let identity = try context.requireIdentity()
            let id = try threadID(context)
            guard let thread = try await threads.activate(id, tenant: identity.tenantID, user: identity.userID, logger: context.logger) else {
                throw NetraError.threadNotFound
            }
            return try jsonResponse(ThreadBody(thread, active: thread.id))
        }
        group.get("/{thread_id}/messages") { request, context in
            let identity = try context.requireIdentity()
            let id = try threadID(context)
            let limit = try Paging.limit(request, maximum: 1_000, default: 200)
            guard try await threads.thread(id, tenant: identity.tenantID, logger: context.logger) != nil else {
                throw NetraError.threadNotFound
            }
            let messages = try await threads.messages(id, tenant: identity.tenantID, limit: limit, logger: context.logger)
            return try jsonResponse(Conversation(threadID: id, messages: messages.map(MessageBody.init)))
        }
    }

    private func threadID(_ context: GatewayContext) throws -> ThreadID {
        guard let text = context.parameters.get("thread_id"), let id = ThreadID(text) else { throw NetraError.threadNotFound }
        return id
    }
}

/// Query-string paging shared by list routes.
enum Paging {
    /// `?limit=` from 1 to `maximum` (200), default `default` (50); anything else is a 422.
    static func limit(_ request: Request, maximum: Int = 200, default fallback: Int = 50) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return fallback }
        guard let limit = Int(text), (1...maximum).contains(limit) else { throw NetraError.invalid("limit must be from 1 to \(maximum)") }
        return limit
    }
}
