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
        // Appended into one string of the right size: `+` chains and interpolated identifiers made this 7% of a
        // worker's CPU in the throughput benchmark (`perf`), every published event passing through here.
        var text = ""
        text.reserveCapacity(data.utf8.count + 200)
        text += #"{"type":""#
        text += type.rawValue
        text += #"","data":"#
        text += data
        text += #","metadata":{"thread_id":"#
        if let threadID { text += "\""; text += threadID.description; text += "\"" } else { text += "null" }
        text += #","run_id":"#
        if let runID { text += "\""; text += runID.description; text += "\"" } else { text += "null" }
        text += #","agent_name":"#
        text += agentName.map(JSONText.quoted) ?? "null"
        text += #","timestamp":""#
        text += JSONText.timestamp(timestamp)
        text += #"","seq":"#
        text += seq.map(String.init) ?? "null"
        text += "}}"
        return text
    }

    /// Encodes an `Encodable` payload as the `data` text of a message.
    public static func data(_ value: some Encodable) -> String {
        (try? JSONText.encode(value)) ?? "{}"
    }

    /// The `type` and `seq` of a wire message, read without decoding `data`.
    ///
    /// The gateway reads them for every message it relays to every client watching (20,000 a second in
    /// `scripts/bench websocket`), so a message in the exact shape `json(…)` writes (`{"type":"…"` first, `"seq":N}}`
    /// or `"seq":null}}` last) is read off its two ends; anything else goes through `JSONDecoder`. Only messages
    /// `json(…)` wrote are probed (run channels carry nothing else), which is what makes reading the ends sound.
    public static func probe(_ wireJSON: some Collection<UInt8>) -> (type: String?, seq: Int?) {
        if let fast = wireJSON.withContiguousStorageIfAvailable({ probeEnds($0) }) ?? Array(wireJSON).withUnsafeBufferPointer({ probeEnds($0) }) {
            return fast
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(wireJSON)) else { return (nil, nil) }
        return (probe.type, probe.metadata?.seq)
    }

    private static let typePrefix = Array(#"{"type":""#.utf8)
    private static let seqKey = Array(#","seq":"#.utf8)

    /// `type` and `seq` of a message in `json(…)`'s shape, or `nil` when it is not in that shape.
    static func probeEnds(_ bytes: UnsafeBufferPointer<UInt8>) -> (type: String?, seq: Int?)? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), brace = UInt8(ascii: "}")
        guard bytes.count > typePrefix.count + seqKey.count + 4, bytes.starts(with: typePrefix) else { return nil }
        // The type: up to the next quote (event types never hold escapes; one that did is left to the decoder).
        var end = typePrefix.count
        while end < bytes.count, bytes[end] != quote {
            if bytes[end] == backslash { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        let type = String(decoding: UnsafeBufferPointer(rebasing: bytes[typePrefix.count..<end]), as: UTF8.self)
        // The seq: `,"seq":` then digits or null, then the two closing braces.
        guard bytes[bytes.count - 1] == brace, bytes[bytes.count - 2] == brace else { return nil }
        var start = bytes.count - 2
        while start > end, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[start - 1]) { start -= 1 }
        let value = UnsafeBufferPointer(rebasing: bytes[start..<(bytes.count - 2)])
        let seq: Int?
        if value.isEmpty {
            guard start - 4 > end, Array(bytes[(start - 4)..<start]) == Array("null".utf8) else { return nil }
            start -= 4
            seq = nil
        } else {
            guard value.count <= 18, let parsed = Int(String(decoding: value, as: UTF8.self)) else { return nil }
            seq = parsed
        }
        guard start - seqKey.count > end, bytes[(start - seqKey.count)..<start].elementsEqual(seqKey) else { return nil }
        return (type, seq)
    }

    private struct Probe: Decodable {
        struct Metadata: Decodable { let seq: Int? }
        let type: String?
        let metadata: Metadata?
    }
}

/// JSON helpers shared by every target: one encoder configuration, RFC 3339 timestamps.
public enum JSONText {
    /// One configured encoder and decoder for every call (both are safe to share once configured), rather than a new
    /// one per value: stage outputs, event data and run inputs pass through them on every run.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339.date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
            }
            return date
        }
        return decoder
    }()

    /// Encodes with sorted keys and RFC 3339 dates with milliseconds.
    public static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes JSON text; dates are RFC 3339 strings (as `encode` and PostgreSQL's JSON functions write them).
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    /// A string as a JSON string literal (RFC 8259: `"` and `\` escaped, control characters as `\uXXXX` or their
    /// short forms).
    ///
    /// Written out rather than through `JSONEncoder`: every published event quotes its agent's name, and the encoder
    /// made that 8% of a worker's CPU in the throughput benchmark (`perf`).
    public static func quoted(_ string: String) -> String {
        var text = "\""
        text.reserveCapacity(string.utf8.count + 2)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
        return text
    }

    /// RFC 3339 with milliseconds, in UTC.
    public static func timestamp(_ date: Date) -> String { RFC3339.text(date) }
}
