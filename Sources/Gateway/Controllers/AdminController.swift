import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOPosix
import Logging
import Shared

/// `/api/admin`: tenant provisioning, guarded by the admin token.
struct AdminController: Sendable {
    let identities: IdentityStore
    let bcryptCost: UInt8
    let policies: TenantPolicies
    /// The configured defaults the overrides replace.
    let limits: RateLimits
    /// Where in-flight limits take effect; its `defaultLimit` is the configured default.
    let admission: Admission
    /// The operations console's failures and retries, across tenants.
    let runs: RunStore
    let control: RunControl

    /// A tenant's policy as the admin API shows it.
    struct TenantBody: Encodable {
        struct Limits: Encodable {
            let runsPerSecond: Int?
            let requestsPerSecond: Int?
            let maxInFlight: Int?
            enum CodingKeys: String, CodingKey {
                case runsPerSecond = "runs_per_second"
                case requestsPerSecond = "requests_per_second"
                case maxInFlight = "max_in_flight"
            }

            /// `null` stays in the output: it means "the default".
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(runsPerSecond, forKey: .runsPerSecond)
                try container.encode(requestsPerSecond, forKey: .requestsPerSecond)
                try container.encode(maxInFlight, forKey: .maxInFlight)
            }
        }

        let tenantID: TenantID
        let name: String
        let createdAt: Date
        let suspended: Bool
        let suspendedAt: Date?
        /// What applies now.
        let limits: Limits
        /// The tenant's own values (`null`: the default).
        let overrides: Limits

        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case name, suspended, limits, overrides
            case createdAt = "created_at"
            case suspendedAt = "suspended_at"
        }
    }

    struct CreateTenant: Decodable {
        struct User: Decodable {
            let name: String
            let email: String
            let password: String
        }

        let name: String
        let user: User
    }

    struct Failures: Encodable {
        let runs: [RunsController.RunBody]
    }

    struct Created: Encodable {
        let tenantID: TenantID
        let userID: UserID
        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case userID = "user_id"
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("/tenants") { request, context in
            let body = try await request.decodeJSON(CreateTenant.self, context: context)
            try Validate.name(body.name, field: "name")
            try Validate.name(body.user.name, field: "user.name")
            try Validate.email(body.user.email)
            try Validate.password(body.user.password)
            let cost = bcryptCost
            let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(body.user.password, cost: cost) }
            do {
                let (tenant, user) = try await identities.createTenant(
                    name: body.name, userName: body.user.name, email: body.user.email.lowercased(), passwordHash: hash, logger: context.logger
                )
                return try jsonResponse(Created(tenantID: tenant, userID: user), status: .created)
            } catch is IdentityStore.EmailTaken {
                throw NetraError(.conflict, .conflict, "a user with this email already exists")
            }
        }
        group.get("/tenants/{tenant_id}") { _, context in
            let tenant = try context.tenantIDParameter()
            return try jsonResponse(try body(try await identities.policy(tenant, logger: context.logger)))
        }
        group.patch("/tenants/{tenant_id}") { request, context in
            let tenant = try context.tenantIDParameter()
            let change = try Self.change(try await request.decodeJSON(JSONValue.self, context: context))
            let policy = try await identities.update(tenant, change, logger: context.logger)
            policies.invalidate(tenant)
            if let policy, change.maxInFlight != nil {
                do {
                    try await admission.setLimit(policy.maxInFlight, for: tenant)
                } catch {
                    // PostgreSQL holds the limit; the scheduler's reconciler copies it into Redis.
                    context.logger.warning("Applying the in-flight limit failed; the reconciler will", metadata: [LogKey.error: "\(error)"])
                }
            }
            return try jsonResponse(try body(policy))
        }
        group.post("/tenants/{tenant_id}/suspend") { _, context in
            let tenant = try context.tenantIDParameter()
            let policy = try await identities.setSuspended(tenant, true, logger: context.logger)
            policies.invalidate(tenant)
            context.logger.info("Tenant suspended", metadata: [LogKey.tenantID: "\(tenant)"])
            return try jsonResponse(try body(policy))
        }
        // The queue's figures: what an autoscaler or an operator reads (see `QueueStats`).
        group.get("/queue") { _, _ in
            try jsonResponse(try await QueueStats.read(admission: admission))
        }
        // The latest failed and dead runs of every tenant (the operations console's failures and dead letters).
        group.get("/failures") { request, context in
            let page = try await runs.recentFailures(limit: try Paging.limit(request), logger: context.logger)
            return try jsonResponse(Failures(runs: page.map { RunsController.RunBody($0, stages: nil, includeResult: false, showTenant: true) }))
        }
        // Queues a failed or dead run of any tenant again (the console's retry button).
        group.post("/runs/{run_id}/retry") { _, context in
            let id = try context.runIDParameter()
            guard let tenant = try await runs.tenant(of: id, logger: context.logger) else { throw NetraError.runNotFound }
            let entry = try await control.retry(id, tenant: tenant, logger: context.logger)
            context.logger.info("Operator retried a run", metadata: [LogKey.runID: "\(id)", LogKey.tenantID: "\(tenant)"])
            return try jsonResponse(
                RunsController.Accepted(runID: entry.runID, threadID: nil, status: .queued), status: .accepted
            )
        }
        group.post("/tenants/{tenant_id}/resume") { _, context in
            let tenant = try context.tenantIDParameter()
            let policy = try await identities.setSuspended(tenant, false, logger: context.logger)
            policies.invalidate(tenant)
            return try jsonResponse(try body(policy))
        }
    }

    private func body(_ policy: TenantPolicy?) throws -> TenantBody {
        guard let policy else { throw NetraError.tenantNotFound }
        return TenantBody(
            tenantID: policy.id, name: policy.name, createdAt: policy.createdAt, suspended: policy.isSuspended, suspendedAt: policy.suspendedAt,
            limits: .init(
                runsPerSecond: policy.runsPerSecond ?? Int(limits.runs.perSecond),
                requestsPerSecond: policy.requestsPerSecond ?? Int(limits.requests.perSecond),
                maxInFlight: policy.maxInFlight ?? admission.defaultLimit
            ),
            overrides: .init(runsPerSecond: policy.runsPerSecond, requestsPerSecond: policy.requestsPerSecond, maxInFlight: policy.maxInFlight)
        )
    }

    /// `{"runs_per_second": 5, "requests_per_second": null, "max_in_flight": 20}`: a number sets an override (1 to
    /// 1,000,000), `null` resets it to the default, a missing key leaves it.
    static func change(_ body: JSONValue) throws -> TenantPolicyChange {
        guard case .object(let fields) = body else { throw NetraError.invalid("the body must be a JSON object") }
        let known = ["runs_per_second", "requests_per_second", "max_in_flight"]
        if let unknown = fields.keys.first(where: { !known.contains($0) }) {
            throw NetraError.invalid("unknown field \(unknown); known: \(known.joined(separator: ", "))")
        }
        func value(_ name: String) throws -> Int?? {
            switch fields[name] {
            case nil: return nil
            case .null?: return .some(nil)
            case .number(let number)? where number == number.rounded() && (1...1_000_000).contains(number): return .some(Int(number))
            default: throw NetraError.invalid("\(name) must be a whole number from 1 to 1000000, or null")
            }
        }
        return TenantPolicyChange(
            runsPerSecond: try value("runs_per_second"), requestsPerSecond: try value("requests_per_second"), maxInFlight: try value("max_in_flight")
        )
    }
}

/// Field checks shared by the controllers; each failure is a 422 naming the field.
enum Validate {
    static func name(_ value: String, field: String) throws {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(trimmed.count) else { throw NetraError.invalid("\(field) must be 1 to 200 characters") }
    }

    static func email(_ value: String) throws {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !value.contains(" ") else {
            throw NetraError.invalid("email is not a valid address")
        }
    }

    static func password(_ value: String) throws {
        // bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
        guard value.count >= 8, value.utf8.count <= 72 else { throw NetraError.invalid("password must be 8 to 72 bytes long") }
    }
}
