import Foundation

/// The `type` of a server → client message.
public enum EventType: String, Codable, Sendable, CaseIterable {
    case connectionEstablished = "connection_established"
    case heartbeat
    case agentStarted = "agent_started"
    case subAgentUpdate = "sub_agent_update"
    case toolCall = "tool_call"
    case toolResult = "tool_result"
    case agentLog = "agent_log"
    case agentCompleted = "agent_completed"
    case error
}

/// One event of a run, as stored in `run_events`, published on the run's channel and sent to clients.
///
/// `data` is JSON text kept as it was stored, so relaying an event never decodes and re-encodes it.
public struct RunEvent: Sendable, Equatable {
    public var runID: RunID
    public var threadID: ThreadID?
    public var seq: Int
    public var type: EventType
    public var agentName: String?
    /// JSON text of the event's `data`.
    public var data: String
    public var timestamp: Date

    public init(runID: RunID, threadID: ThreadID?, seq: Int, type: EventType, agentName: String?, data: String, timestamp: Date) {
        self.runID = runID
        self.threadID = threadID
        self.seq = seq
        self.type = type
        self.agentName = agentName
        self.data = data
        self.timestamp = timestamp
    }

    /// The client message: `{"type", "data", "metadata": {thread_id, run_id, agent_name, timestamp, seq}}`.
    public var wireJSON: String {
        ServerMessage.json(type: type, data: data, threadID: threadID, runID: runID, agentName: agentName, timestamp: timestamp, seq: seq)
    }
}

/// Builds server → client messages. The `data` part is inserted verbatim; it must already be JSON.
public enum ServerMessage {
    /// The full message text.
    public static func json(
        type: EventType,
        data: String,
        threadID: ThreadID? = nil,
        runID: RunID? = nil,
        agentName: String? = nil,
        timestamp: Date = Date(),
        seq: Int? = nil
    ) -> String {
        var text = #"{"type":""# + type.rawValue + #"","data":"# + data + #","metadata":{"thread_id":"#
        text += threadID.map { "\"\($0)\"" } ?? "null"
        text += #","run_id":"# + (runID.map { "\"\($0)\"" } ?? "null")
        text += #","agent_name":"# + (agentName.map(JSONText.quoted) ?? "null")
        text += #","timestamp":""# + JSONText.timestamp(timestamp) + "\""
        text += #","seq":"# + (seq.map(String.init) ?? "null") + "}}"
        return text
    }

    /// Encodes an `Encodable` payload as the `data` text of a message.
    public static func data(_ value: some Encodable) -> String {
        (try? JSONText.encode(value)) ?? "{}"
    }

    /// The `type` and `seq` of a wire message, read without decoding `data`.
    public static func probe(_ wireJSON: some Collection<UInt8>) -> (type: String?, seq: Int?) {
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(wireJSON)) else { return (nil, nil) }
        return (probe.type, probe.metadata?.seq)
    }

    private struct Probe: Decodable {
        struct Metadata: Decodable { let seq: Int? }
        let type: String?
        let metadata: Metadata?
    }
}

/// JSON helpers shared by every target: one encoder configuration, RFC 3339 timestamps.
public enum JSONText {
    /// Encodes with sorted keys and RFC 3339 dates with milliseconds.
    public static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes JSON text; dates are RFC 3339 strings (as `encode` and PostgreSQL's JSON functions write them).
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339.date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
            }
            return date
        }
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// A string as a JSON string literal.
    public static func quoted(_ string: String) -> String {
        (try? encode(string)) ?? "\"\""
    }

    /// RFC 3339 with milliseconds, in UTC.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
