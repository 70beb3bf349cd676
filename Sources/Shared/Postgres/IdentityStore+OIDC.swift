import Foundation
import Logging
import PostgresNIO

/// A tenant's single sign-on with an OpenID Connect issuer.
public struct OIDCSettings: Sendable, Equatable {
    /// The issuer identifier, e.g. `https://accounts.google.com`; its discovery document is `/.well-known/openid-configuration`.
    public var issuer: String
    public var clientID: String
    public var clientSecret: String
    /// Lower-case email domains whose people become members of the tenant on their first sign-in.
    public var allowedDomains: [String]
    public var updatedAt: Date?

    public init(issuer: String, clientID: String, clientSecret: String, allowedDomains: [String], updatedAt: Date? = nil) {
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.allowedDomains = allowedDomains
        self.updatedAt = updatedAt
    }
}

extension IdentityStore {
    /// The tenant's sign-in settings, if it has any.
    public func oidc(_ tenant: TenantID, logger: Logger) async throws -> OIDCSettings? {
        let rows = try await client.query(
            "SELECT issuer, client_id, client_secret, allowed_domains, updated_at FROM tenant_oidc WHERE tenant_id = \(tenant.uuid)",
            logger: logger
        )
        for try await (issuer, client, secret, domains, updated) in rows.decode((String, String, String, [String], Date).self) {
            return OIDCSettings(issuer: issuer, clientID: client, clientSecret: secret, allowedDomains: domains, updatedAt: updated)
        }
        return nil
    }

    /// Sets the tenant's sign-in settings; `false` when the tenant does not exist.
    public func setOIDC(_ tenant: TenantID, _ settings: OIDCSettings, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO tenant_oidc (tenant_id, issuer, client_id, client_secret, allowed_domains)
            SELECT id, \(settings.issuer), \(settings.clientID), \(settings.clientSecret), \(settings.allowedDomains) FROM tenants
            WHERE id = \(tenant.uuid)
            ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
                client_secret = excluded.client_secret, allowed_domains = excluded.allowed_domains, updated_at = now()
            RETURNING tenant_id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Removes the tenant's sign-in settings; `false` when it had none.
    public func deleteOIDC(_ tenant: TenantID, logger: Logger) async throws -> Bool {
        let rows = try await client.query(
            "DELETE FROM tenant_oidc WHERE tenant_id = \(tenant.uuid) RETURNING tenant_id", logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }
}
