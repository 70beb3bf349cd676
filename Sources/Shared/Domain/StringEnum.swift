/// A string enum that clients send: a value it does not know fails to decode with a message naming the ones it
/// does (`expected one of "high", "normal", "low"`), where the standard library's message would name the Swift type.
public protocol StringEnum: RawRepresentable<String>, CaseIterable, Decodable {}

extension StringEnum {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = Self(rawValue: name) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected one of \(allowed)")
        }
        self = value
    }
}
