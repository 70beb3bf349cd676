import Foundation
import Shared
import Testing

@testable import Worker

/// Event data the worker writes by hand on its hot path: the same text the encoder writes.
@Suite("Event data written without the encoder")
struct EventDataTests {
    @Test func aSubAgentUpdateIsWhatTheEncoderWrites() throws {
        var updates = [
            SubAgentUpdate(stageIndex: 0, stageCount: 5, status: "started"),
            SubAgentUpdate(stageIndex: 4, stageCount: 5, status: "completed"),
        ]
        updates[1].summary = #"Found 3 "cheaper" models\ for 12% less — ✓"#
        updates[1].durationMilliseconds = 1234
        var durationOnly = SubAgentUpdate(stageIndex: 2, stageCount: 3, status: "completed")
        durationOnly.durationMilliseconds = 0
        updates.append(durationOnly)
        for update in updates {
            #expect(update.json == (try JSONText.encode(update)))
        }
    }
}
