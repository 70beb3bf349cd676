import Foundation
import NIOCore
import NIOSSL

/// Loads the PEM files that TLS settings name, with errors that say which file and why.
public enum TLSFiles {
    /// A file that is missing, unreadable or holds no usable PEM data.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// The certificates in a PEM file (a CA bundle or a certificate chain, leaf first); at least one.
    ///
    /// - Throws: `Failure` (as do the other loaders).
    public static func certificates(at path: String) throws -> [NIOSSLCertificate] {
        try checkReadable(path)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw Failure(path: path, reason: "not a PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else { throw Failure(path: path, reason: "holds no PEM certificate") }
        return certificates
    }

    /// The private key in a PEM file (unencrypted).
    public static func privateKey(at path: String) throws -> NIOSSLPrivateKey {
        try checkReadable(path)
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw Failure(path: path, reason: "not an unencrypted PEM private key (\(error))")
        }
    }

    /// A client or server identity: the certificate chain of `certificateFile` and the key of `keyFile`.
    public static func identity(
        certificateFile: String,
        keyFile: String
    ) throws -> (chain: [NIOSSLCertificateSource], key: NIOSSLPrivateKeySource) {
        let chain = try certificates(at: certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        return (chain, .privateKey(try privateKey(at: keyFile)))
    }

    /// Whether `host` is an IPv4 or IPv6 literal (such hosts are matched against a certificate's IP entries and are
    /// never sent as SNI).
    public static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    private static func checkReadable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Failure(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw Failure(path: path, reason: "is a directory, not a PEM file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw Failure(path: path, reason: "not readable") }
    }
}
