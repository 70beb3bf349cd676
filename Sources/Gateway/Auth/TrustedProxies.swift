import Foundation
import Hummingbird
import Shared

/// The proxies (an Ingress, a load balancer) whose `X-Forwarded-For` the gateway believes, so that per-address login
/// limits count the real client rather than the proxy every request comes through.
///
/// Without trusted proxies the connection's peer is the client and the header is ignored: anyone could write it. With
/// them, and only when the peer is one of them, the client is the rightmost address in `X-Forwarded-For` that is not
/// itself a trusted proxy (each hop appends the address it received the request from, so entries to the left of the
/// last trusted hop are the client's own claims).
struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        let bytes: [UInt8]
        let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            for (a, b) in zip(address, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    var networks: [Network] = []

    /// Parses `10.0.0.0/8, 192.168.1.7, fd00::/8`; `nil` names the entry that is not an address or a network.
    static func parse(_ text: String?) -> (TrustedProxies, invalid: String?) {
        var proxies = TrustedProxies()
        for entry in (text ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = IPAddressLiteral.bytes(parts[0]).map(Self.unmapped) else { return (proxies, entry) }
            var length = bytes.count * 8
            if parts.count == 2 {
                guard let prefix = Int(parts[1]), (0...length).contains(prefix) else { return (proxies, entry) }
                length = prefix
            }
            proxies.networks.append(Network(bytes: bytes, prefixLength: length))
        }
        return (proxies, nil)
    }

    func trusts(_ address: String) -> Bool {
        guard let bytes = IPAddressLiteral.bytes(address).map(Self.unmapped) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client's address for `request`: its peer, or whom a trusted proxy says it forwards for.
    func client(of request: Request, context: GatewayContext) -> String? {
        client(peer: context.clientAddress, forwardedFor: request.headers[values: .xForwardedFor])
    }

    /// The client's address for a request from `peer` carrying these `X-Forwarded-For` values.
    func client(peer: String?, forwardedFor: [String]) -> String? {
        guard let peer, !networks.isEmpty, trusts(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard IPAddressLiteral.bytes(hop) != nil else { return peer }  // garbage: believe nothing further left
            if !trusts(hop) { return hop }
        }
        return hops.first ?? peer
    }

    /// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as its IPv4 bytes.
    private static func unmapped(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}
