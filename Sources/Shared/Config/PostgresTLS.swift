import NIOSSL
import PostgresNIO

/// How a PostgreSQL connection uses TLS, from libpq's URL parameters `sslmode`, `sslrootcert`, `sslcert`, `sslkey`.
///
/// The modes mean what they mean to libpq, except for the default:
/// - `disable` (and no `sslmode` at all): plaintext. libpq's default is `prefer`; Netra never silently downgrades,
///   so a URL that wants TLS says so.
/// - `prefer`: TLS when the server offers it, else plaintext (a downgrade an attacker can force; avoid it).
/// - `require`: TLS or no connection; the certificate is not verified, unless `sslrootcert` is given, in which case
///   the chain is verified as for `verify-ca` (as libpq does when a root certificate file exists).
/// - `verify-ca`: TLS, and the server's chain must lead to `sslrootcert` (default: the system's trust store; libpq
///   would read `~/.postgresql/root.crt`); the name is not checked.
/// - `verify-full`: as `verify-ca`, and the certificate must carry the URL's host (DNS name or IP address).
///
/// `sslrootcert=system` names the system's trust store explicitly (libpq 16), for `verify-ca` and `verify-full`.
/// `sslcert` and `sslkey` (PEM, both or neither) are the client certificate for servers that ask for one.
public struct PostgresTLS: Sendable, Hashable {
    /// libpq's `sslmode` values that Netra supports (`allow` is not one).
    public enum Mode: String, Sendable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var mode: Mode
    /// PEM file of the CAs to trust; `nil` or `system`: the system's trust store.
    public var rootCertificateFile: String?
    /// PEM client certificate (chain, leaf first) and its unencrypted PEM key.
    public var certificateFile: String?
    public var keyFile: String?

    /// Whether the server's certificate is checked at all (`require` and `prefer` check nothing without `sslrootcert`).
    public var verifiesServer: Bool {
        switch mode {
        case .disable: false
        case .prefer, .require: rootCertificateFile != nil
        case .verifyCA, .verifyFull: true
        }
    }

    public init(mode: Mode, rootCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.mode = mode
        self.rootCertificateFile = rootCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads the parameters of a database URL's query; rejects combinations libpq would not honour as written.
    public init(query: [String: String]) throws {
        let modeText = query["sslmode"]
        guard let mode = Mode(rawValue: modeText ?? "disable") else {
            let modes = Mode.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(.databaseURL, "unsupported sslmode '\(modeText ?? "")' (expected one of \(modes))")
        }
        self.init(mode: mode, rootCertificateFile: query["sslrootcert"], certificateFile: query["sslcert"], keyFile: query["sslkey"])
        let files = [("sslrootcert", rootCertificateFile), ("sslcert", certificateFile), ("sslkey", keyFile)]
        if mode == .disable, let named = files.first(where: { $0.1 != nil }) {
            throw ConfigurationError(.databaseURL, "\(named.0) needs sslmode=require, verify-ca or verify-full (TLS is off)")
        }
        if (certificateFile == nil) != (keyFile == nil) {
            throw ConfigurationError(.databaseURL, "sslcert and sslkey go together")
        }
        if rootCertificateFile == "system" && (mode == .prefer || mode == .require) {
            throw ConfigurationError(.databaseURL, "sslrootcert=system needs sslmode=verify-ca or verify-full")
        }
    }

    /// The NIOSSL configuration for this mode; `nil` for `disable`. Loads (and so checks) the files now.
    public func makeTLSConfiguration() throws -> TLSConfiguration? {
        guard mode != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = verification
        if let rootCertificateFile, rootCertificateFile != "system" {
            let roots = try Settings.load(.databaseURL) { try TLSFiles.certificates(at: rootCertificateFile) }
            configuration.trustRoots = .certificates(roots)
        }
        if let certificateFile, let keyFile {
            let identity = try Settings.identity(
                certificate: (key: .databaseURL, path: certificateFile), key: (key: .databaseURL, path: keyFile)
            )
            configuration.certificateChain = identity.chain
            configuration.privateKey = identity.key
        }
        return configuration
    }

    /// What `PostgresClient` takes: `.disable`, `.prefer(…)` or `.require(…)`.
    public func clientTLS() throws -> PostgresClient.Configuration.TLS {
        guard let configuration = try makeTLSConfiguration() else { return .disable }
        return mode == .prefer ? .prefer(configuration) : .require(configuration)
    }

    /// What a single `PostgresConnection` takes (tests and one-off probes), with its NIOSSL context built now.
    public func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = try makeTLSConfiguration() else { return .disable }
        let context = try NIOSSLContext(configuration: configuration)
        return mode == .prefer ? .prefer(context) : .require(context)
    }

    private var verification: CertificateVerification {
        switch mode {
        case .disable, .prefer, .require: rootCertificateFile == nil ? CertificateVerification.none : .noHostnameVerification
        case .verifyCA: .noHostnameVerification
        case .verifyFull: .fullVerification
        }
    }
}
