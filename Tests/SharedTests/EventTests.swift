import Foundation
import Shared
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

    @Test func streamEntryRoundTrips() throws {
        let entry = RunStreamEntry(runID: RunID(), tenantID: TenantID(), attempt: 3)
        let fields = Dictionary(uniqueKeysWithValues: entry.fields.map { ($0.key, $0.value) })
        #expect(RunStreamEntry(StreamEntry(id: "1-0", fields: fields)) == RunStreamEntry(streamID: "1-0", runID: entry.runID, tenantID: entry.tenantID, attempt: 3))
        #expect(RunStreamEntry(StreamEntry(id: "1-0", fields: ["run": "x"])) == nil)
    }
}
