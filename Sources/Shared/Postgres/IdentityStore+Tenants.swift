import Foundation
import Logging
import PostgresNIO

/// A tenant as the admin API shows it: its rate-limit overrides (`nil`: the configured default) and suspension.
public struct TenantPolicy: Sendable, Equatable {
    public let id: TenantID
    public let name: String
    public let createdAt: Date
    public var runsPerSecond: Int?
    public var requestsPerSecond: Int?
    /// Runs the tenant may have admitted at once.
    public var maxInFlight: Int?
    public var suspendedAt: Date?

    public var isSuspended: Bool { suspendedAt != nil }
}

/// A change to a tenant's overrides: `.some(nil)` resets one to the default, `nil` leaves it.
public struct TenantPolicyChange: Sendable {
    public var runsPerSecond: Int??
    public var requestsPerSecond: Int??
    public var maxInFlight: Int??

    public init(runsPerSecond: Int?? = nil, requestsPerSecond: Int?? = nil, maxInFlight: Int?? = nil) {
        self.runsPerSecond = runsPerSecond
        self.requestsPerSecond = requestsPerSecond
        self.maxInFlight = maxInFlight
    }
}

extension IdentityStore {
    /// The tenant's policy; `nil` for an unknown tenant.
    public func policy(_ tenant: TenantID, logger: Logger) async throws -> TenantPolicy? {
        let rows = try await client.query(
            """
            SELECT id, name, created_at, runs_per_second, requests_per_second, max_in_flight, suspended_at
            FROM tenants WHERE id = \(tenant.uuid)
            """,
            logger: logger
        )
        for try await (id, name, created, runs, requests, inFlight, suspended) in rows.decode((UUID, String, Date, Int?, Int?, Int?, Date?).self) {
            return TenantPolicy(
                id: TenantID(uuid: id), name: name, createdAt: created, runsPerSecond: runs, requestsPerSecond: requests, maxInFlight: inFlight,
                suspendedAt: suspended
            )
        }
        return nil
    }

    /// Every tenant's own in-flight limit, for tenants that have one.
    public func inFlightLimits(logger: Logger) async throws -> [TenantID: Int] {
        let rows = try await client.query("SELECT id, max_in_flight FROM tenants WHERE max_in_flight IS NOT NULL", logger: logger)
        var limits: [TenantID: Int] = [:]
        for try await (id, limit) in rows.decode((UUID, Int).self) { limits[TenantID(uuid: id)] = limit }
        return limits
    }

    /// Applies `change`; returns the new policy, `nil` for an unknown tenant.
    public func update(_ tenant: TenantID, _ change: TenantPolicyChange, logger: Logger) async throws -> TenantPolicy? {
        try await client.query(
            """
            UPDATE tenants SET
                runs_per_second = CASE WHEN \(change.runsPerSecond != nil) THEN \(change.runsPerSecond ?? nil) ELSE runs_per_second END,
                requests_per_second = CASE WHEN \(change.requestsPerSecond != nil) THEN \(change.requestsPerSecond ?? nil)
                                           ELSE requests_per_second END,
                max_in_flight = CASE WHEN \(change.maxInFlight != nil) THEN \(change.maxInFlight ?? nil) ELSE max_in_flight END
            WHERE id = \(tenant.uuid)
            """,
            logger: logger
        )
        return try await policy(tenant, logger: logger)
    }

    /// Suspends or resumes the tenant; returns the new policy, `nil` for an unknown tenant.
    public func setSuspended(_ tenant: TenantID, _ suspended: Bool, logger: Logger) async throws -> TenantPolicy? {
        try await client.query(
            """
            UPDATE tenants SET suspended_at = CASE WHEN \(suspended) THEN COALESCE(suspended_at, now()) END WHERE id = \(tenant.uuid)
            """,
            logger: logger
        )
        return try await policy(tenant, logger: logger)
    }
}
