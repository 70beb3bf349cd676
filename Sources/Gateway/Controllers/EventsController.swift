import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Shared

/// `GET /api/agent/runs/{run_id}/events?after=SEQ`: the run's durable event log after `SEQ`, as JSON, or, with
/// `Accept: text/event-stream`, as Server-Sent Events that replay the log and then follow the run live until its
/// final event (a reconnecting EventSource resumes from `Last-Event-ID`).
struct EventsController: Sendable {
    let runs: RunStore
    let relay: EventRelay
    let heartbeatInterval: Duration

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("/runs/{run_id}/events") { request, context in
            let identity = try context.requireIdentity()
            let id = try context.runIDParameter()
            guard let run = try await runs.run(id, tenant: identity.tenantID, logger: context.logger) else {
                throw NetraError.runNotFound
            }
            let after = try Self.after(request)
            if request.headers[.accept]?.contains("text/event-stream") == true {
                return stream(run, after: after, context: context)
            }
            let events = try await runs.events(of: id, tenant: identity.tenantID, after: after, logger: context.logger)
            // The stored wire messages are spliced in as they are: no decoding and re-encoding.
            let body = #"{"run_id":""# + id.description + #"","status":""# + run.status.rawValue + #"","events":["#
                + events.map(\.wireJSON).joined(separator: ",") + "]}"
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
    }

    /// `Last-Event-ID` wins over `?after=`; both must be whole numbers ≥ 0.
    private static func after(_ request: Request) throws -> Int {
        let header = request.headers[.lastEventID]
        guard let text = header ?? request.uri.queryParameters.get("after") else { return 0 }
        guard let value = Int(text), value >= 0 else {
            throw NetraError.invalid("\(header == nil ? "after" : "Last-Event-ID") must be a whole number ≥ 0")
        }
        return value
    }

    private func stream(_ run: RunRecord, after: Int, context: GatewayContext) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let relay = relay
        let logger = context.logger
        let heartbeat = heartbeatInterval
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let (events, continuation) = AsyncStream<String>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { continuation.finish() }
                    try await relay.relay(run: run.id, tenant: run.tenantID, after: after, logger: logger) { continuation.yield($0) }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: heartbeat)
                        continuation.yield("")
                    }
                }
                for await event in events {
                    try await writer.write(ByteBuffer(string: Self.frame(event)))
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        })
    }

    /// One SSE frame: `id` is the event's `seq`, `event` its type; an empty message is a keep-alive comment.
    static func frame(_ wireJSON: String) -> String {
        guard !wireJSON.isEmpty else { return ": keep-alive\n\n" }
        let probe = ServerMessage.probe(Array(wireJSON.utf8))
        var frame = ""
        if let seq = probe.seq { frame += "id: \(seq)\n" }
        if let type = probe.type { frame += "event: \(type)\n" }
        return frame + "data: \(wireJSON)\n\n"
    }
}
