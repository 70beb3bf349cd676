import Foundation
import Logging
import PostgresNIO
import Shared

/// A tenant with its first user on a migrated test database, and queued runs of it, created through the stores as
/// the gateway creates them.
public struct TestTenant: Sendable {
    public let id: TenantID
    public let user: UserID
    public let client: PostgresClient
    public let logger: Logger

    /// Applies the migrations (a no-op once applied) and creates a tenant whose user has a unique e-mail.
    public static func create(on client: PostgresClient, logger: Logger) async throws -> TestTenant {
        try await Migrations.apply(on: client, logger: logger)
        let (id, user) = try await IdentityStore(client: client).createTenant(
            name: "t", userName: "u", email: "\(UUID())@example.com", passwordHash: "x", logger: logger
        )
        return TestTenant(id: id, user: user, client: client, logger: logger)
    }

    /// A queued `bench` run of `stages` stages.
    public func queuedRun(stages: Int = 1) async throws -> RunRecord {
        try await RunStore(client: client).create(
            NewRun(
                tenantID: id, threadID: nil, userID: user, pipeline: "bench", input: #"{"message":"m","parameters":{}}"#,
                stageCount: stages, message: nil
            ),
            logger: logger
        )
    }
}
