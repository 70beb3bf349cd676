import Foundation

/// Declares a UUID-backed identifier type that encodes as a plain string.
public protocol UUIDIdentifier: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    var uuid: UUID { get }
    init(uuid: UUID)
}

extension UUIDIdentifier {
    public init() { self.init(uuid: UUID()) }
    public init?(_ description: String) {
        guard let uuid = UUID(uuidString: description) else { return nil }
        self.init(uuid: uuid)
    }
    public var description: String { uuid.lowercasedText }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let uuid = UUID(uuidString: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a UUID")
        }
        self.init(uuid: uuid)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A tenant: the unit of isolation. Every row and query is scoped by it.
public struct TenantID: UUIDIdentifier { public let uuid: UUID; public init(uuid: UUID) { self.uuid = uuid } }
/// A user inside a tenant.
public struct UserID: UUIDIdentifier { public let uuid: UUID; public init(uuid: UUID) { self.uuid = uuid } }
/// A conversation thread.
public struct ThreadID: UUIDIdentifier { public let uuid: UUID; public init(uuid: UUID) { self.uuid = uuid } }
/// One agent run.
public struct RunID: UUIDIdentifier { public let uuid: UUID; public init(uuid: UUID) { self.uuid = uuid } }

extension UUID {
    /// The canonical text in lower case (`8-4-4-4-12` hex digits), written in one pass: identifiers become text for
    /// every Redis key, admission argument and published event, and `uuidString.lowercased()` made two strings each
    /// time (`perf`).
    public var lowercasedText: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = ASCII.hexDigit(byte >> 4)
                    text[position + 1] = ASCII.hexDigit(byte & 0x0F)
                    position += 2
                }
                return position
            }
        }
    }
}
