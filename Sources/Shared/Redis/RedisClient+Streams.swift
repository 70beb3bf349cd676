import NIOCore

/// One entry read from a stream.
public struct StreamEntry: Sendable, Equatable {
    public let id: String
    public let fields: [String: String]
    /// The stream it was read from (empty when the reader did not say).
    public var stream: String = ""

    public init(id: String, fields: [String: String], stream: String = "") {
        self.id = id
        self.fields = fields
        self.stream = stream
    }
}

extension RedisClient {
    /// Appends an entry (`XADD stream * field value …`) and returns its id.
    @discardableResult
    public func xadd(_ stream: String, fields: KeyValuePairs<String, String>) async throws -> String {
        let reply = try await send(Self.xaddCommand(stream, fields: fields))
        guard let id = reply.string else { throw RedisError(.unexpectedReply, "XADD replied \(reply)") }
        return id
    }

    /// The arguments of `XADD stream * field value …`, for pipelines.
    public static func xaddCommand(_ stream: String, fields: KeyValuePairs<String, String>) -> [RedisArgument] {
        var command: [RedisArgument] = ["XADD", RedisArgument(stream), "*"]
        for (field, value) in fields {
            command.append(RedisArgument(field))
            command.append(RedisArgument(value))
        }
        return command
    }

    /// Creates the consumer group (and the stream) unless it exists.
    public func createGroup(_ group: String, on stream: String) async throws {
        do {
            try await send(["XGROUP", "CREATE", RedisArgument(stream), RedisArgument(group), "0", "MKSTREAM"])
        } catch let error as RedisError where error.kind == .server && error.message.hasPrefix("BUSYGROUP") {
            return
        }
    }

    /// Reads up to `count` new entries for `consumer`, waiting at most `block` for the first.
    ///
    /// Run this on a client of its own: the blocked connection cannot serve other commands meanwhile.
    public func readGroup(
        _ group: String,
        consumer: String,
        stream: String,
        count: Int,
        block: Duration?
    ) async throws -> [StreamEntry] {
        try await readGroup(group, consumer: consumer, streams: [stream], count: count, block: block)
    }

    /// Reads new entries from several streams at once (up to `count` from each), in the order the streams are named.
    ///
    /// - Parameter block: How long to wait for a first entry; `nil` returns at once.
    public func readGroup(
        _ group: String,
        consumer: String,
        streams: [String],
        count: Int,
        block: Duration?
    ) async throws -> [StreamEntry] {
        var command: [RedisArgument] = ["XREADGROUP", "GROUP", RedisArgument(group), RedisArgument(consumer), "COUNT", RedisArgument(count)]
        if let block { command += ["BLOCK", RedisArgument(Int(block.wholeMilliseconds))] }
        command += ["STREAMS"] + streams.map { RedisArgument($0) } + streams.map { _ in ">" }
        let reply = try await send(command, timeout: (block ?? .zero) + options.commandTimeout)
        let entries = try Self.parseReadReply(reply)
        return streams.flatMap { name in entries.filter { $0.stream == name } }
    }

    /// Parses an XREADGROUP reply (`[[stream, [entry, …]], …]`, or nil when a BLOCK timed out), in reply order.
    public static func parseReadReply(_ reply: RedisValue) throws -> [StreamEntry] {
        // A timed-out BLOCK replies nil in RESP2.
        guard let replies = reply.array else { return [] }
        return try replies.flatMap { stream -> [StreamEntry] in
            guard let pair = stream.array, pair.count == 2, let name = pair[0].string, let entries = pair[1].array else {
                throw RedisError(.unexpectedReply, "XREADGROUP stream reply \(stream)")
            }
            return try entries.compactMap(Self.parseEntry).map { entry in
                var entry = entry
                entry.stream = name
                return entry
            }
        }
    }

    /// Parses `[id, [field, value, …]]`; a deleted entry (nil fields) yields `nil`.
    public static func parseEntry(_ value: RedisValue) throws -> StreamEntry? {
        guard let pair = value.array, pair.count == 2, let id = pair[0].string else {
            throw RedisError(.unexpectedReply, "stream entry \(value)")
        }
        guard let flat = pair[1].array else { return nil }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let field = flat[index].string { fields[field] = flat[index + 1].string ?? "" }
            index += 2
        }
        return StreamEntry(id: id, fields: fields)
    }

    /// Acknowledges entries so they leave the group's pending list.
    @discardableResult
    public func ack(_ group: String, stream: String, ids: [String]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let reply = try await send(["XACK", RedisArgument(stream), RedisArgument(group)] + ids.map { RedisArgument($0) })
        return reply.int ?? 0
    }

    /// Publishes a payload on a channel and returns how many subscribers received it.
    @discardableResult
    public func publish(_ payload: ByteBuffer, on channel: String) async throws -> Int {
        try await send(["PUBLISH", RedisArgument(channel), RedisArgument(payload)]).int ?? 0
    }
}
