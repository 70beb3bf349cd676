import Foundation
import JWTKit
import Shared
import SharedTestSupport
import Testing

@testable import Gateway

/// Access tokens: what a verified token is worth on its next use, which the gateway answers from memory.
@Suite("Access tokens verified once per token")
struct TokenServiceTests {
    let user = IdentityStore.User(id: UserID(), tenantID: TenantID(), email: "t@example.com", name: "t", role: "member", passwordHash: "")

    func claims(expiring expiry: Date) -> AccessClaims {
        AccessClaims(
            sub: .init(value: user.id.description), tid: user.tenantID.description, role: user.role, iss: .init(value: AccessClaims.issuer),
            aud: .init(value: [AccessClaims.audience]), iat: .init(value: Date()), exp: .init(value: expiry), jti: .init(value: UUID().uuidString)
        )
    }

    @Test func aRememberedTokenStopsWorkingWhenItExpires() async throws {
        let service = await TokenService(secret: TestStack.jwtSecret, lifetime: .seconds(60))
        let expiry = Date(timeIntervalSinceNow: 1.5)
        let token = try await service.keys.sign(claims(expiring: expiry))
        let first = try await service.verify(token)
        #expect(first.userID == user.id && first.tenantID == user.tenantID && first.role == "member")
        #expect(try await service.verify(token) == first)
        try await waitUntil("the token's expiry", timeout: .seconds(10)) { Date() > expiry.addingTimeInterval(0.1) }
        await #expect(throws: NetraError.self) { try await service.verify(token) }
    }

    @Test func aTamperedCopyOfARememberedTokenIsRefused() async throws {
        let service = await TokenService(secret: TestStack.jwtSecret, lifetime: .seconds(60))
        let (token, _) = try await service.issue(for: user)
        _ = try await service.verify(token)
        var parts = token.split(separator: ".").map(String.init)
        // Another tenant in the claims, the signature left as it was.
        let forged = claims(expiring: Date(timeIntervalSinceNow: 60))
        var other = forged
        other.tid = TenantID().description
        parts[1] = Data(try JSONEncoder().encode(other)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        await #expect(throws: NetraError.self) { try await service.verify(parts.joined(separator: ".")) }
        await #expect(throws: NetraError.self) { try await service.verify(token + "x") }
        #expect(try await service.verify(token).tenantID == user.tenantID)
    }

    @Test func theRememberedTokensAreBoundedAndTheExpiredGoFirst() {
        let cache = VerifiedTokens()
        let now = Date()
        func identity(expiring expiry: Date) -> Identity {
            Identity(tenantID: user.tenantID, userID: user.id, role: user.role, tokenID: nil, expiresAt: expiry)
        }
        // Half already expired, half valid, up to the limit.
        for index in 0..<VerifiedTokens.limit {
            cache.keep(identity(expiring: now.addingTimeInterval(index.isMultiple(of: 2) ? -1 : 600)), of: "t\(index)", now: now)
        }
        #expect(cache.count == VerifiedTokens.limit)
        cache.keep(identity(expiring: now.addingTimeInterval(600)), of: "new", now: now)
        #expect(cache.count == VerifiedTokens.limit / 2 + 1)
        #expect(cache.identity(of: "t0") == nil && cache.identity(of: "t1") != nil && cache.identity(of: "new") != nil)
        // All valid and full: it starts over rather than grow.
        for index in 0..<VerifiedTokens.limit { cache.keep(identity(expiring: now.addingTimeInterval(600)), of: "u\(index)", now: now) }
        #expect(cache.count <= VerifiedTokens.limit)
    }
}
