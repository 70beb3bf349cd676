import NIOSSL

extension Settings {
    /// The TLS settings of a `rediss://` endpoint, checked now (files readable, key matching its certificate).
    ///
    /// A `NETRA_REDIS_TLS_*` setting next to a plaintext `redis://` URL is an error: whoever set it expects TLS.
    public func redisTLS(for endpoint: RedisEndpoint) throws -> RedisTLS? {
        let keys: [SettingKey] = [.redisTLSCAFile, .redisTLSCertFile, .redisTLSKeyFile, .redisTLSServerName]
        guard endpoint.tls != nil else {
            if let key = keys.first(where: { string($0) != nil }) {
                throw ConfigurationError(key, "is set, but \(SettingKey.redisURL.environmentName) is not a rediss:// URL")
            }
            return nil
        }
        let tls = RedisTLS(
            caFile: string(.redisTLSCAFile),
            certificateFile: try pairedFile(.redisTLSCertFile, with: .redisTLSKeyFile),
            keyFile: try pairedFile(.redisTLSKeyFile, with: .redisTLSCertFile),
            serverName: string(.redisTLSServerName)
        )
        if let name = tls.serverName, TLSFiles.isIPAddress(name) {
            throw ConfigurationError(.redisTLSServerName, "must be a DNS name (an IP address host is verified as it is)")
        }
        if let caFile = tls.caFile { _ = try Self.load(.redisTLSCAFile) { try TLSFiles.certificates(at: caFile) } }
        if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
            _ = try Self.identity(
                certificate: (key: .redisTLSCertFile, path: certificateFile), key: (key: .redisTLSKeyFile, path: keyFile)
            )
        }
        return tls
    }

    /// The gateway's server TLS configuration, when `tls.cert.file` and `tls.key.file` are set (both or neither).
    public func serverTLS() throws -> TLSConfiguration? {
        guard let certificateFile = try pairedFile(.tlsCertFile, with: .tlsKeyFile),
            let keyFile = try pairedFile(.tlsKeyFile, with: .tlsCertFile)
        else { return nil }
        let identity = try Self.identity(
            certificate: (key: .tlsCertFile, path: certificateFile), key: (key: .tlsKeyFile, path: keyFile)
        )
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: identity.chain, privateKey: identity.key)
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// A file setting that needs its partner (a certificate needs its key and the other way round).
    private func pairedFile(_ key: SettingKey, with partner: SettingKey) throws -> String? {
        let value = string(key)
        if value == nil && string(partner) != nil {
            throw ConfigurationError(key, "is required when \(partner.environmentName) is set")
        }
        return value
    }

    /// Loads a certificate chain and its key, checking that they belong together.
    static func identity(
        certificate: (key: SettingKey, path: String),
        key: (key: SettingKey, path: String)
    ) throws -> (chain: [NIOSSLCertificateSource], key: NIOSSLPrivateKeySource) {
        let chain = try load(certificate.key) { try TLSFiles.certificates(at: certificate.path) }
        let privateKey = try load(key.key) { try TLSFiles.privateKey(at: key.path) }
        var probe = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey)
        )
        do {
            _ = try NIOSSLContext(configuration: probe)
        } catch {
            throw ConfigurationError(key.key, "\(key.path) does not belong to the certificate in \(certificate.path) (\(error))")
        }
        return (chain.map { .certificate($0) }, .privateKey(privateKey))
    }

    /// Runs a file load, reporting its failure against the setting that named the file.
    static func load<T>(_ key: SettingKey, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as TLSFiles.Failure {
            throw ConfigurationError(key, failure.description)
        }
    }
}
