import Testing

@testable import Gateway

/// Which address the per-address login limit counts: the peer, or behind a trusted proxy the forwarded client.
@Suite("Trusted proxies and X-Forwarded-For")
struct TrustedProxiesTests {
    @Test func networksAndAddressesParseAndMatch() {
        let (proxies, invalid) = TrustedProxies.parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,127.0.0.1")
        #expect(invalid == nil)
        #expect(proxies.trusts("10.42.0.3") && proxies.trusts("192.168.1.7") && proxies.trusts("fd12::1") && proxies.trusts("127.0.0.1"))
        #expect(proxies.trusts("::ffff:10.1.2.3"), "an IPv4-mapped address is its IPv4 address")
        #expect(!proxies.trusts("11.0.0.1") && !proxies.trusts("192.168.1.8") && !proxies.trusts("fe80::1") && !proxies.trusts("nonsense"))
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.1/x", "::/129"] {
            #expect(TrustedProxies.parse(bad).invalid == bad)
        }
        #expect(TrustedProxies.parse(nil).0.networks.isEmpty)
    }

    @Test func theClientIsTheRightmostUntrustedHopAndOnlyATrustedPeerIsBelieved() {
        let none = TrustedProxies()
        #expect(none.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.9"]) == "10.0.0.5", "no trusted proxies: the header is ignored")
        let (proxies, _) = TrustedProxies.parse("10.0.0.0/8")
        #expect(proxies.client(peer: "198.51.100.4", forwardedFor: ["203.0.113.9"]) == "198.51.100.4", "an untrusted peer cannot claim")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.9"]) == "203.0.113.9")
        // The client's own claim (left) is skipped: the last untrusted hop is the one the first proxy saw.
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["1.2.3.4, 203.0.113.9", "10.0.0.9"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["10.0.0.7, 10.0.0.9"]) == "10.0.0.7", "all trusted: the first")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: []) == "10.0.0.5")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.9, garbage"]) == "10.0.0.5")
    }
}
