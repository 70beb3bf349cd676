import Foundation
import Logging

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a log handler writes: each call receives one whole line, newline included.
///
/// `standardError` hands each line to a single `write(2)`, so concurrent loggers need no shared lock and a line
/// is never split by another process's output (pipes keep writes of up to `PIPE_BUF` bytes whole; longer lines
/// are still one call). Tests pass a closure that collects the lines.
public struct LogSink: Sendable {
    private let body: @Sendable ([UInt8]) -> Void

    /// - Parameter body: Receives one complete line (UTF-8, ending in `\n`) per call; may be called concurrently.
    public init(_ body: @escaping @Sendable ([UInt8]) -> Void) { self.body = body }

    /// Writes one complete line.
    public func write(_ line: [UInt8]) { body(line) }

    /// The process's standard error (file descriptor 2).
    public static let standardError = LogSink { line in writeFully(toDescriptor: 2, line) }
}

/// `write(2)` until every byte is out: one call unless the kernel takes part of the line or a signal interrupts it.
private func writeFully(toDescriptor descriptor: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        guard var next = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = write(descriptor, next, remaining)
            if written > 0 {
                next += written
                remaining -= written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return  // nowhere left to report a failing stderr
            }
        }
    }
}

/// Adapts a `LogSink` to swift-log's `StreamLogHandler`, which writes each line with one `write(_:)` call.
struct LogSinkStream: TextOutputStream, Sendable {
    let sink: LogSink
    mutating func write(_ string: String) { sink.write(Array(string.utf8)) }
}

/// Writes each log event as one JSON object on one line:
/// `{"ts":"2026-11-29T18:00:00.123Z","level":"info","logger":"netra.gateway","msg":"…","run_id":…,"source":"Worker"}`.
///
/// Field order: `ts` (UTC, milliseconds), `level`, `logger` (the label), `msg`, then `run_id`, `tenant_id`, `stage`
/// and `attempt` when present, then the other metadata sorted by key, then `source`, and `file` and `line` only at
/// `debug` and `trace`. Metadata merges the handler's own, then the metadata provider's, then the call site's (each
/// wins over the one before), then the event's error as `error.message` and `error.type`, as `StreamLogHandler`
/// does. Strings and `stringConvertible` values become JSON strings, arrays and dictionaries JSON arrays and objects.
/// A metadata key that equals one of the fixed fields is written as `metadata.KEY`. This handler does not redact:
/// wrap it in `RedactingLogHandler` (as `LogBootstrap` does).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: LogSink

    /// - Parameters:
    ///   - label: The logger's label, written as `logger`.
    ///   - sink: Where lines go; standard error by default.
    ///   - metadataProvider: Contextual metadata added to every event; the bootstrapped provider by default.
    public init(label: String, sink: LogSink = .standardError, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { merged.merge(provided) { $1 } }
        if let explicit = event.metadata, !explicit.isEmpty { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = .string("\(error)")
            merged["error.type"] = .string(String(reflecting: type(of: error)))
        }
        var line = JSONLineWriter()
        line.field("ts") { $0.timestamp(LogClock.now()) }
        line.field("level") { $0.string(event.level.rawValue) }
        line.field("logger") { $0.string(label) }
        line.field("msg") { $0.string(event.message.description) }
        for key in Self.leadingKeys { if let value = merged.removeValue(forKey: key) { line.field(key) { $0.value(value) } } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.field(Self.fixedFields.contains(key) ? "metadata." + key : key) { $0.value(value) }
        }
        line.field("source") { $0.string(event.source) }
        if event.level <= .debug {
            line.field("file") { $0.string(event.file) }
            line.field("line") { $0.integer(Int(event.line)) }
        }
        sink.write(line.finish())
    }

    /// Metadata written right after `msg`, in this order.
    private static let leadingKeys = [LogKey.runID, LogKey.tenantID, LogKey.stage, LogKey.attempt]
    /// Field names the handler writes itself.
    private static let fixedFields: Set<String> = ["ts", "level", "logger", "msg", "source", "file", "line"]
}

/// The wall clock as seconds and milliseconds since 1970.
enum LogClock {
    static func now() -> (seconds: Int, milliseconds: Int) {
        // Foundation's clock rather than clock_gettime: `timespec`'s members resolve through whichever module
        // imported the C header first (Dispatch's in a release build), which member-import checks refuse.
        let millis = Int((Date().timeIntervalSince1970 * 1000).rounded(.down))
        return (millis / 1000, millis % 1000)
    }
}

/// Builds one JSON object line byte by byte (no Foundation, no intermediate strings).
struct JSONLineWriter {
    private(set) var bytes: [UInt8]
    private var isFirstField = true

    init() {
        bytes = [UInt8(ascii: "{")]
        bytes.reserveCapacity(256)
    }

    /// Appends `"name":` and then whatever `body` writes.
    mutating func field(_ name: String, _ body: (inout JSONLineWriter) -> Void) {
        if !isFirstField { bytes.append(UInt8(ascii: ",")) }
        isFirstField = false
        string(name)
        bytes.append(UInt8(ascii: ":"))
        body(&self)
    }

    /// Closes the object and appends the newline.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    mutating func value(_ value: Logger.MetadataValue) {
        switch value {
        case .string(let text):
            string(text)
        case .stringConvertible(let convertible):
            string(convertible.description)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            bytes.append(UInt8(ascii: "{"))
            for (index, entry) in dictionary.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(entry.key)
                bytes.append(UInt8(ascii: ":"))
                self.value(entry.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped; everything else (UTF-8 included) verbatim.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                bytes += [ASCII.hexDigit(byte >> 4), ASCII.hexDigit(byte & 0xF)]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func integer(_ number: Int) {
        bytes += Array(String(number).utf8)
    }

    /// `"2026-11-29T18:00:00.123Z"`.
    mutating func timestamp(_ time: (seconds: Int, milliseconds: Int)) {
        bytes.append(UInt8(ascii: "\""))
        RFC3339.write(seconds: time.seconds, milliseconds: time.milliseconds, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
