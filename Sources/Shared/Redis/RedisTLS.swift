import NIOSSL

/// How a `rediss://` connection does TLS: whom it trusts, which name it expects, which certificate it shows.
///
/// Verification is always full: the server's chain must lead to a trusted CA and its certificate must carry the
/// expected name (a DNS name, or for an IP address the address itself). There is deliberately no switch to turn
/// verification off, and a `rediss://` endpoint never falls back to plaintext.
public struct RedisTLS: Sendable, Hashable {
    /// PEM file of the CAs to trust; `nil`: the system's trust store.
    public var caFile: String?
    /// PEM certificate (chain, leaf first) shown to servers that ask for one (`tls-auth-clients yes|optional`).
    public var certificateFile: String?
    /// The unencrypted PEM private key of `certificateFile`.
    public var keyFile: String?
    /// The DNS name the server's certificate must carry, also sent as SNI; `nil`: the endpoint's host.
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// The NIOSSL client configuration: TLS 1.2 or later, full verification, the files loaded now.
    ///
    /// - Throws: `TLSFiles.Failure` when a file is missing or unreadable.
    public func makeTLSConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .certificates(try TLSFiles.certificates(at: caFile)) }
        if let certificateFile, let keyFile {
            let identity = try TLSFiles.identity(certificateFile: certificateFile, keyFile: keyFile)
            configuration.certificateChain = identity.chain
            configuration.privateKey = identity.key
        }
        return configuration
    }

    /// The name to send as SNI and to verify, or `nil` to verify the connected IP address instead (NIOSSL matches
    /// the peer's address against the certificate's IP entries when it has no hostname).
    func expectedHostname(for host: String) -> String? {
        if let serverName { return serverName }
        return TLSFiles.isIPAddress(host) ? nil : host
    }
}
