import Foundation

/// Which completion-webhook URLs a run may carry, and which addresses a delivery may reach.
///
/// Only `http` and `https`. With `allowedHosts` empty any host may be named; otherwise only those hosts (exactly, or
/// `*.example.com` for its subdomains). At delivery, a host that resolves to a link-local (cloud metadata), loopback,
/// private or unspecified address is refused unless it is listed in `allowedHosts` by name: naming a host is the
/// operator's consent to reach it.
public struct WebhookPolicy: Sendable, Equatable {
    public var allowedHosts: [String]

    public init(allowedHosts: [String] = []) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
    }

    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Checks a URL a client gives; returns it normalised.
    public func validate(_ text: String) throws(Refusal) -> URL {
        guard text.utf8.count <= 2_000, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            !host.isEmpty
        else {
            throw Refusal(description: "webhook_url must be an absolute http or https URL")
        }
        guard scheme == "http" || scheme == "https" else { throw Refusal(description: "webhook_url must use http or https") }
        guard url.user == nil && url.password == nil else { throw Refusal(description: "webhook_url must not carry credentials") }
        if !allowedHosts.isEmpty && !isListed(host) {
            throw Refusal(description: "webhook_url's host is not among the allowed webhook hosts")
        }
        if !isListed(host), let address = IPAddressClass(literal: host), address.isInternal {
            throw Refusal(description: "webhook_url must not point at a \(address) address")
        }
        return url
    }

    /// Whether `host` is named in the allow-list (exactly or by a `*.` suffix).
    public func isListed(_ host: String) -> Bool {
        let host = host.lowercased()
        return allowedHosts.contains { pattern in
            pattern.hasPrefix("*.") ? host.hasSuffix(String(pattern.dropFirst(1))) : pattern == host
        }
    }
}

/// The class of an IP address, as far as webhook deliveries care.
public enum IPAddressClass: Equatable, Sendable, CustomStringConvertible {
    case linkLocal, loopback, privateNetwork, unspecified, publicAddress

    public var isInternal: Bool { self != .publicAddress }

    public var description: String {
        switch self {
        case .linkLocal: "link-local (metadata)"
        case .loopback: "loopback"
        case .privateNetwork: "private-network"
        case .unspecified: "unspecified"
        case .publicAddress: "public"
        }
    }

    /// Classifies an IPv4 or IPv6 literal (brackets allowed); `nil` when `text` is not one.
    public init?(literal text: String) {
        guard let bytes = IPAddressLiteral.bytes(text) else { return nil }
        if bytes.count == 4 { self.init(ipv4: bytes) } else { self.init(ipv6: bytes) }
    }

    public init(ipv4 b: [UInt8]) {
        switch (b[0], b[1]) {
        case (0, _): self = .unspecified
        case (127, _): self = .loopback
        case (169, 254): self = .linkLocal
        case (10, _), (192, 168), (100, 64...127): self = .privateNetwork
        case (172, 16...31): self = .privateNetwork
        default: self = .publicAddress
        }
    }

    public init(ipv6 b: [UInt8]) {
        if b.allSatisfy({ $0 == 0 }) {
            self = .unspecified
        } else if b.dropLast().allSatisfy({ $0 == 0 }) && b[15] == 1 {
            self = .loopback
        } else if b[0] == 0xFE && (b[1] & 0xC0) == 0x80 {
            self = .linkLocal
        } else if (b[0] & 0xFE) == 0xFC {
            self = .privateNetwork  // unique local, fd00:ec2::254 (a metadata address) among them
        } else if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            self.init(ipv4: Array(b[12..<16]))  // IPv4-mapped
        } else {
            self = .publicAddress
        }
    }
}

/// IP address literals as bytes.
public enum IPAddressLiteral {
    /// The 4 bytes of an IPv4 or the 16 of an IPv6 literal (brackets allowed); `nil` for anything else.
    public static func bytes(_ text: String) -> [UInt8]? {
        let text = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        // Plain byte buffers rather than in_addr/in6_addr: those C types resolve through whichever module imported the
        // system headers first (NIO's CNIOLinux in a clean build), which member-import checks then refuse.
        var v4 = [UInt8](repeating: 0, count: 4)
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }
}
