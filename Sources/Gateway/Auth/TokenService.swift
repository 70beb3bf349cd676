import Foundation
import JWTKit
import Shared
import Synchronization

/// The claims of a Netra access token.
struct AccessClaims: JWTPayload {
    static let issuer = "netra"
    static let audience = "netra-api"

    var sub: SubjectClaim
    var tid: String
    var role: String
    var iss: IssuerClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var jti: IDClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try aud.verifyIntendedAudience(includes: Self.audience)
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "wrong issuer") }
    }
}

/// Issues and verifies HS256 access tokens.
///
/// A client sends the same token with every request until it expires, so the identities of verified tokens are kept
/// (keyed by the whole token, signature included) and a repeated token is only checked for expiry: verifying
/// (base64, JSON decoding of the claims, HMAC) was 5% of the gateway's CPU under load (`perf`). Logout is unaffected:
/// the denylist is read on every request (`AccessGuard`).
struct TokenService: Sendable {
    let keys: JWTKeyCollection
    let lifetime: Duration
    private let verified = VerifiedTokens()

    init(secret: String, lifetime: Duration) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetime
    }

    /// A signed token for the user, and its lifetime in seconds.
    func issue(for user: IdentityStore.User) async throws -> (token: String, expiresIn: Int) {
        let now = Date()
        let seconds = Int(lifetime.components.seconds)
        let claims = AccessClaims(
            sub: .init(value: user.id.description), tid: user.tenantID.description, role: user.role,
            iss: .init(value: AccessClaims.issuer), aud: .init(value: [AccessClaims.audience]), iat: .init(value: now),
            exp: .init(value: now.addingTimeInterval(TimeInterval(seconds))), jti: .init(value: UUID().uuidString)
        )
        return (try await keys.sign(claims), seconds)
    }

    /// The identity a token grants; throws 401 for anything invalid, expired or forged.
    func verify(_ token: String) async throws -> Identity {
        let now = Date()
        if let identity = verified.identity(of: token) {
            guard let expiry = identity.expiresAt, expiry > now else { throw NetraError.unauthorized }
            return identity
        }
        let identity: Identity
        do {
            let claims = try await keys.verify(token, as: AccessClaims.self)
            guard let tenant = TenantID(claims.tid), let user = UserID(claims.sub.value) else { throw NetraError.unauthorized }
            identity = Identity(tenantID: tenant, userID: user, role: claims.role, tokenID: claims.jti.value, expiresAt: claims.exp.value)
        } catch {
            throw NetraError.unauthorized
        }
        verified.keep(identity, of: token, now: now)
        return identity
    }
}

/// Identities of tokens whose signature and claims were verified, at most `limit` of them.
final class VerifiedTokens: Sendable {
    static let limit = 10_000
    private let identities = Mutex<[String: Identity]>([:])

    func identity(of token: String) -> Identity? {
        identities.withLock { $0[token] }
    }

    func keep(_ identity: Identity, of token: String, now: Date) {
        identities.withLock { identities in
            if identities.count >= Self.limit {
                identities = identities.filter { ($0.value.expiresAt ?? now) > now }
                if identities.count >= Self.limit { identities.removeAll(keepingCapacity: true) }
            }
            identities[token] = identity
        }
    }

    var count: Int { identities.withLock { $0.count } }
}
