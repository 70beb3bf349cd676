import Foundation
@testable import Shared
import Testing

@Suite("Wire format of server messages")
struct EventTests {
    @Test func wireMessageCarriesDataVerbatimAndMetadata() throws {
        let run = RunID()
        let thread = ThreadID()
        let event = RunEvent(
            runID: run, threadID: thread, seq: 7, type: .subAgentUpdate, agentName: "tri\"age",
            data: #"{"status":"started","n":[1,2]}"#, timestamp: Date(timeIntervalSince1970: 1_700_000_000.25)
        )
        let decoded = try JSONText.decode(JSONValue.self, from: event.wireJSON)
        #expect(decoded["type"] == .string("sub_agent_update"))
        #expect(decoded["data"] == JSONValue(text: #"{"status":"started","n":[1,2]}"#))
        #expect(decoded["metadata"]?["seq"] == .number(7))
        #expect(decoded["metadata"]?["run_id"] == .string(run.description))
        #expect(decoded["metadata"]?["thread_id"] == .string(thread.description))
        #expect(decoded["metadata"]?["agent_name"] == .string("tri\"age"))
        #expect(decoded["metadata"]?["timestamp"] == .string("2023-11-14T22:13:20.250Z"))
        let probe = ServerMessage.probe(Array(event.wireJSON.utf8))
        #expect(probe.seq == 7 && probe.type == "sub_agent_update")
    }

    @Test func theProbeReadsWhatTheDecoderReads() throws {
        func decoded(_ text: String) -> (String?, Int?) {
            struct Probe: Decodable {
                struct Metadata: Decodable { let seq: Int? }
                let type: String?
                let metadata: Metadata?
            }
            let probe = try? JSONDecoder().decode(Probe.self, from: Data(text.utf8))
            return (probe?.type, probe?.metadata?.seq)
        }
        let run = RunID()
        let datas = [#"{}"#, #"{"seq":9}"#, #"{"metadata":{"seq":3}}"#, #""\"seq\":4}}""#, "[1,2]", "null", #"{"text":"}}"}"#]
        for (index, data) in datas.enumerated() {
            for seq in [nil, 0, 1, 12, 123_456_789] as [Int?] {
                for type in [EventType.agentLog, .agentCompleted, .heartbeat, .toolResult] {
                    let text = ServerMessage.json(
                        type: type, data: data, threadID: index % 2 == 0 ? ThreadID() : nil, runID: run, agentName: "a\"b\\", seq: seq
                    )
                    let fast = try #require(text.utf8.withContiguousStorageIfAvailable { ServerMessage.probeEnds($0) } ?? nil, "\(text)")
                    #expect(fast.type == type.rawValue && fast.seq == seq, "\(text)")
                    #expect(decoded(text) == (type.rawValue, seq), "\(text)")
                }
            }
        }
        // Anything else is left to the decoder, and gets its answer.
        for other in [#"{"type":"x","data":{"seq":5}}"#, #"{"data":1,"type":"x","metadata":{"seq":2}}"#, #"{"type":"a\"b","metadata":{"seq":2}}"#, "", "}}", "not json"] {
            #expect(other.utf8.withContiguousStorageIfAvailable { ServerMessage.probeEnds($0) } ?? nil == nil, "\(other)")
            let probe = ServerMessage.probe(Array(other.utf8))
            #expect(probe == decoded(other), "\(other)")
        }
    }

    @Test func quotedStringsAreJSONThatDecodesToTheOriginal() throws {
        let strings = [
            "", "triage", "a \"quoted\" name", #"back\slash"#, "line\nbreak\r\ttab", "\u{0}\u{1}\u{1f}\u{7f}", "ünïcödé 🚀 日本",
            "</script>", "slash/es", "\u{2028}",
        ]
        for string in strings {
            let quoted = JSONText.quoted(string)
            #expect(try JSONDecoder().decode(String.self, from: Data(quoted.utf8)) == string, "\(quoted)")
            #expect(quoted.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "no raw control character in \(quoted)")
        }
        #expect(JSONText.quoted("a\"b\\c\u{1}") == #""a\"b\\c\u0001""#)
    }

    @Test func timestampsAreWhatFoundationsFormatStyleWrites() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var times: [Double] = [0, 1.9996, 1.0005, 951_782_400.999, 1_700_000_000, 1_764_480_000.1239, 4_102_444_799.999]
        for _ in 0..<20_000 { times.append(Double.random(in: 946_684_800...4_102_444_800)) }
        for _ in 0..<20_000 { times.append(Double(Int.random(in: 946_684_800_000...4_102_444_800_000)) / 1000) }
        for time in times {
            let date = Date(timeIntervalSince1970: time)
            #expect(JSONText.timestamp(date) == date.formatted(style), "at \(time)")
        }
    }

    @Test func identifiersAreLowerCaseCanonicalUUIDs() {
        for _ in 0..<10_000 {
            let uuid = UUID()
            #expect(uuid.lowercasedText == uuid.uuidString.lowercased())
            #expect(RunID(uuid: uuid).description == uuid.uuidString.lowercased())
        }
        let fixed = UUID(uuidString: "00FF10AB-9C0D-4E5F-A1B2-C3D4E5F60789")!
        #expect(TenantID(uuid: fixed).description == "00ff10ab-9c0d-4e5f-a1b2-c3d4e5f60789")
    }

    @Test func streamEntryRoundTrips() throws {
        let entry = RunStreamEntry(runID: RunID(), tenantID: TenantID(), attempt: 3)
        let fields = Dictionary(uniqueKeysWithValues: entry.fields.map { ($0.key, $0.value) })
        #expect(RunStreamEntry(StreamEntry(id: "1-0", fields: fields)) == RunStreamEntry(streamID: "1-0", runID: entry.runID, tenantID: entry.tenantID, attempt: 3))
        #expect(RunStreamEntry(StreamEntry(id: "1-0", fields: ["run": "x"])) == nil)
    }
}
