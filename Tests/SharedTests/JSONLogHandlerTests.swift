import Foundation
import Logging
import Shared
import Synchronization
import Testing

@Suite("Structured logs: JSON lines and redaction")
struct JSONLogHandlerTests {
    @Test func writesOneJSONObjectPerCallWithFieldsInOrder() throws {
        let lines = LineCollector()
        let logger = lines.jsonLogger(level: .trace)
        logger.info("Claimed run", metadata: [
            "zeta": "last", LogKey.attempt: "2", "alpha": "first", LogKey.stage: "triage",
            LogKey.tenantID: "t-1", LogKey.runID: "r-1",
        ])
        logger.notice("Second")

        let written = lines.all
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.hasSuffix("\n") && $0.filter { $0 == "\n" }.count == 1 })
        let object = try parse(written[0])
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "netra.test")
        #expect(object["msg"] as? String == "Claimed run")
        #expect(object["run_id"] as? String == "r-1")
        #expect(object["tenant_id"] as? String == "t-1")
        #expect(object["stage"] as? String == "triage")
        #expect(object["attempt"] as? String == "2")
        #expect(object["source"] as? String == "SharedTests")
        #expect(object["file"] == nil && object["line"] == nil)

        let timestamp = try #require(object["ts"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: timestamp))
        #expect(abs(date.timeIntervalSinceNow) < 60)

        let order = ["ts", "level", "logger", "msg", "run_id", "tenant_id", "stage", "attempt", "alpha", "zeta", "source"]
        let positions = try order.map { key in try #require(written[0].range(of: "\"\(key)\":")).lowerBound }
        #expect(positions == positions.sorted())
        #expect(try parse(written[1])["msg"] as? String == "Second")
    }

    @Test func addsFileAndLineOnlyAtDebugAndTrace() throws {
        let lines = LineCollector()
        let logger = lines.jsonLogger(level: .trace)
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        let objects = try lines.all.map(parse)
        #expect(objects.count == 3)
        for object in objects.prefix(2) {
            #expect((object["file"] as? String)?.hasSuffix("JSONLogHandlerTests.swift") == true)
            #expect((object["line"] as? Int ?? 0) > 0)
        }
        #expect(objects[2]["file"] == nil && objects[2]["line"] == nil)
    }

    @Test func writesMetadataValuesAsJSONTypes() throws {
        let lines = LineCollector()
        lines.jsonLogger(level: .info).info("types", metadata: [
            "text": .string("plain"),
            "number": .stringConvertible(42),
            "list": .array(["a", .stringConvertible(7), .dictionary(["k": "v"])]),
            "map": .dictionary(["inner": .array(["x"]), "name": "n"]),
            "level": "collides",
        ])
        let object = try parse(try #require(lines.all.first))
        #expect(object["text"] as? String == "plain")
        #expect(object["number"] as? String == "42")
        let list = try #require(object["list"] as? [Any])
        #expect(list.count == 3 && list[0] as? String == "a" && list[1] as? String == "7")
        #expect((list[2] as? [String: Any])?["k"] as? String == "v")
        let map = try #require(object["map"] as? [String: Any])
        #expect(map["inner"] as? [String] == ["x"] && map["name"] as? String == "n")
        #expect(object["level"] as? String == "info" && object["metadata.level"] as? String == "collides")
    }

    @Test func escapesAnyString() throws {
        let tricky = "say \"hi\" \\ back\\slash\nnew line\r\ttab \u{0} nul \u{1F} unit \u{7F} del 🚀 é 中文 \u{2028}"
        let lines = LineCollector()
        lines.jsonLogger(level: .info).info("\(tricky)", metadata: [tricky: .string(tricky), "nested": [.string(tricky)]])
        let line = try #require(lines.all.first)
        #expect(line.dropLast().contains("\n") == false)
        #expect(line.contains("🚀 é 中文"))  // non-ASCII stays UTF-8, not \u escapes
        #expect(line.contains(#"\u0000"#) && line.contains(#"\""#) && line.contains(#"\\"#))
        let object = try parse(line)
        #expect(object["msg"] as? String == tricky)
        #expect(object[tricky] as? String == tricky)
        #expect(object["nested"] as? [String] == [tricky])
    }

    @Test(arguments: LogFormat.allCases)
    func redactsSecretMetadataKeys(format: LogFormat) throws {
        let secretKeys = ["password", "db_password", "Token", "refresh_token", "jwt.secret", "Authorization", "api_key", "X-Api-Key", "APIKEY", "key"]
        let lines = LineCollector()
        var logger = Logger(label: "netra.test") { LogBootstrap.makeHandler(label: $0, format: format, level: .info, sink: lines.sink) }
        logger[metadataKey: "llm.api.key"] = "hunter2-base"
        var metadata: Logger.Metadata = ["idempotency_key": "visible", "headers": ["authorization": "Bearer hunter2-nested", "accept": "json"]]
        for key in secretKeys { metadata[key] = "hunter2-\(key)" }
        logger.info("Logged in", metadata: metadata)

        let line = try #require(lines.all.first)
        #expect(!line.contains("hunter2"))
        #expect(line.contains("visible"))
        if format == .json {
            let object = try parse(line)
            for key in secretKeys + ["llm.api.key"] { #expect(object[key] as? String == "***", "\(key)") }
            #expect(object["idempotency_key"] as? String == "visible")
            #expect((object["headers"] as? [String: String]) == ["authorization": "***", "accept": "json"])
        } else {
            for key in secretKeys + ["llm.api.key"] { #expect(line.contains("\(key)=***"), "\(key)") }
            #expect(line.contains("idempotency_key=visible"))
        }
    }

    @Test(arguments: LogFormat.allCases)
    func scrubsSecretsInMessagesAndValues(format: LogFormat) throws {
        let lines = LineCollector()
        let logger = Logger(label: "netra.test") { LogBootstrap.makeHandler(label: $0, format: format, level: .info, sink: lines.sink) }
        logger.warning(
            "connect redis://:hunter2a@cache:6379/0 as postgres://netra:hunter2b@db/netra with token=hunter2c, Authorization: Bearer hunter2d",
            metadata: ["error": "login failed: password=\"hunter2e\" for http://host:8080/path"]
        )
        logger.error("Stage failed", error: LeakyError())

        let written = lines.all
        #expect(written.count == 2)
        #expect(!written.joined().contains("hunter2"))
        let line = written[0]
        #expect(line.contains("redis://:***@cache:6379/0") && line.contains("postgres://netra:***@db/netra"))
        #expect(line.contains("token=***") && line.contains("Bearer ***") && line.contains("http://host:8080/path"))
        #expect(written[1].contains("api_key=***"))
    }

    @Test func redactionRules() {
        for key in ["password", "PASSWORD", "user.password", "token", "admin_token", "secret", "jwt.secret", "authorization", "api_key", "api-key", "apikey", "key", "KEY"] {
            #expect(LogRedaction.isSecret(key: key), "\(key)")
        }
        for key in ["run_id", "idempotency_key", "monkey", "keys", "tenant_id", "stage"] {
            #expect(!LogRedaction.isSecret(key: key), "\(key)")
        }
        #expect(LogRedaction.scrub("no secrets here: a=b, see https://example.com/x") == "no secrets here: a=b, see https://example.com/x")
        #expect(LogRedaction.scrub("x-api-key=abc&next=1") == "x-api-key=***&next=1")
        #expect(LogRedaction.scrub("Basic dXNlcjpwdw== ok") == "Basic *** ok")
    }

    @Test func filtersByLevel() throws {
        let lines = LineCollector()
        let logger = Logger(label: "netra.test") { LogBootstrap.makeHandler(label: $0, format: .json, level: .notice, sink: lines.sink) }
        #expect(logger.logLevel == .notice)
        logger.debug("hidden")
        logger.info("hidden")
        logger.notice("shown")
        logger.error("shown too")
        #expect(try lines.all.map { try parse($0)["msg"] as? String } == ["shown", "shown too"])
    }

    @Test func callSiteMetadataWinsOverProviderOverHandler() throws {
        let provider = Logger.MetadataProvider { ["b": "provider", "c": "provider", "d": "provider"] }
        for wrapped in [false, true] {
            let lines = LineCollector()
            var logger = Logger(label: "netra.test") { label -> any LogHandler in
                if wrapped { return LogBootstrap.makeHandler(label: label, format: .json, level: .info, sink: lines.sink, metadataProvider: provider) }
                return JSONLogHandler(label: label, sink: lines.sink, metadataProvider: provider)
            }
            logger[metadataKey: "a"] = "handler"
            logger[metadataKey: "b"] = "handler"
            logger[metadataKey: "c"] = "handler"
            logger.info("merge", metadata: ["c": "call"])
            let object = try parse(try #require(lines.all.first))
            #expect(object["a"] as? String == "handler")
            #expect(object["b"] as? String == "provider")
            #expect(object["c"] as? String == "call")
            #expect(object["d"] as? String == "provider")
        }
    }

    @Test func concurrentCallsWriteWholeLines() async throws {
        let lines = LineCollector()
        let logger = lines.jsonLogger(level: .info)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask { for index in 0..<50 { logger.info("line", metadata: ["n": "\(task)-\(index)", "pad": .string(String(repeating: "x", count: 300))]) } }
            }
        }
        let objects = try lines.all.map(parse)
        #expect(objects.count == 400)
        #expect(Set(objects.compactMap { $0["n"] as? String }).count == 400)
    }

    @Test func settingsAcceptTextOrJSONAndRejectOthers() throws {
        #expect(SettingKey.logFormat.environmentName == "NETRA_LOG_FORMAT")
        #expect(SettingKey.logFormat.flagName == "--log-format")
        #expect(try Settings(environment: [:]).logFormat() == .text)
        #expect(try Settings(environment: ["NETRA_LOG_FORMAT": "JSON"]).logFormat() == .json)
        #expect(try Settings(flags: ["log.format": "text"], environment: ["NETRA_LOG_FORMAT": "json"]).logFormat() == .text)
        #expect(try ServiceConfiguration(settings: Settings(environment: ["NETRA_LOG_FORMAT": "json"])).logFormat == .json)
        #expect(throws: ConfigurationError.self) { try ServiceConfiguration(settings: Settings(environment: ["NETRA_LOG_FORMAT": "xml"])) }
        do {
            _ = try Settings(environment: ["NETRA_LOG_FORMAT": "xml"]).logFormat()
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            #expect(error.description == "configuration error: NETRA_LOG_FORMAT (--log-format): expected text or json; got 'xml'")
        }
    }
}

/// Collects the lines a handler writes.
private final class LineCollector: Sendable {
    private let lines = Mutex<[String]>([])

    var sink: LogSink {
        LogSink { line in self.lines.withLock { $0.append(String(decoding: line, as: UTF8.self)) } }
    }

    var all: [String] { lines.withLock { $0 } }

    func jsonLogger(level: Logger.Level) -> Logger {
        Logger(label: "netra.test") { label in
            var handler = JSONLogHandler(label: label, sink: self.sink, metadataProvider: nil)
            handler.logLevel = level
            return handler
        }
    }
}

/// An error whose description carries a secret.
private struct LeakyError: Error, CustomStringConvertible {
    var description: String { "upstream rejected api_key=hunter2f" }
}

private func parse(_ line: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(object as? [String: Any])
}
