import NIOCore

/// One RESP2 reply, decoded by hiredis's reply reader.
public enum RedisValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    case bulkString(ByteBuffer)
    case array([RedisValue])
    case null

    /// The value as text, for simple and bulk strings.
    public var string: String? {
        switch self {
        case .simpleString(let value): value
        case .bulkString(let buffer): String(buffer: buffer)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// The value as an integer, for integer replies and numeric strings.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulkString, .simpleString: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply; `nil` for anything else (including a nil reply).
    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// `true` for the nil bulk string or nil array.
    public var isNull: Bool { self == .null }
}

/// One argument of a Redis command: raw bytes, with conversions from the usual types.
public struct RedisArgument: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    @usableFromInline let bytes: [UInt8]

    @inlinable public init(bytes: [UInt8]) { self.bytes = bytes }
    @inlinable public init(_ string: String) { self.bytes = Array(string.utf8) }
    @inlinable public init(_ int: Int) { self.bytes = Array(String(int).utf8) }
    @inlinable public init(_ buffer: ByteBuffer) { self.bytes = Array(buffer.readableBytesView) }
    @inlinable public init(stringLiteral value: String) { self.init(value) }
    @inlinable public init(integerLiteral value: Int) { self.init(value) }
}

/// Errors raised by the Redis client. Connection problems are typed so callers can retry or back off.
public struct RedisError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Kind: Hashable, Sendable {
        /// The server answered with an error reply (`-ERR …`).
        case server
        /// The connection closed (or was never established) before the reply arrived.
        case connectionClosed
        /// No reply arrived within the command's deadline; the connection was closed.
        case timeout
        /// Redis could not be reached; the client is backing off before it tries again.
        case unavailable
        /// The server sent bytes hiredis could not parse.
        case protocolError
        /// The reply had an unexpected shape for the command.
        case unexpectedReply
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "Redis \(kind): \(message)" }

    /// The server's NOGROUP: the stream or its consumer group does not exist (yet).
    public var isMissingGroup: Bool { kind == .server && message.hasPrefix("NOGROUP") }

    /// `true` when the failure is about reachability rather than the command itself.
    public var isConnectionFailure: Bool {
        switch kind {
        case .connectionClosed, .timeout, .unavailable: true
        default: false
        }
    }
}

extension RedisValue {
    /// A flat `[key, value, …]` reply (XINFO and friends) as a dictionary; `nil` when it is not one.
    public var fieldMap: [String: RedisValue]? {
        guard let items = array, items.count % 2 == 0 else { return nil }
        var fields: [String: RedisValue] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            if let key = items[index].string { fields[key] = items[index + 1] }
        }
        return fields
    }
}
