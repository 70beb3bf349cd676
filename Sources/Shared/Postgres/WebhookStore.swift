import Foundation
import Logging
import PostgresNIO

/// A completion webhook waiting to be delivered: the run's summary and where it goes.
public struct PendingWebhook: Sendable, Equatable {
    public let runID: RunID
    public let tenantID: TenantID
    public let url: String
    public let attempts: Int
    /// The JSON body: run id, tenant, pipeline, status, times and the error or result, as `GET /api/agent/status` has them.
    public let payload: String
}

/// Webhook delivery state, kept on the run's row.
public struct WebhookStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// Attempts before a webhook is given up.
    public static let maxAttempts = 8

    /// Ended runs whose webhook is due: never tried, or its backoff has passed.
    public func due(now: Date, limit: Int = 50, logger: Logger) async throws -> [PendingWebhook] {
        let rows = try await client.query(
            """
            SELECT id, tenant_id, webhook_url, webhook_attempts,
                   json_build_object('run_id', id, 'tenant_id', tenant_id, 'pipeline', pipeline, 'status', status,
                                     'attempt', attempt, 'created_at', created_at, 'started_at', started_at,
                                     'finished_at', finished_at, 'error', error, 'result', result)::text
            FROM runs
            WHERE webhook_url IS NOT NULL AND webhook_delivered_at IS NULL AND finished_at IS NOT NULL
              AND webhook_attempts < \(Self.maxAttempts) AND COALESCE(webhook_next_at, finished_at) <= \(now)
            ORDER BY finished_at LIMIT \(limit)
            """,
            logger: logger
        )
        var pending: [PendingWebhook] = []
        for try await (id, tenant, url, attempts, payload) in rows.decode((UUID, UUID, String, Int, String).self) {
            pending.append(PendingWebhook(runID: RunID(uuid: id), tenantID: TenantID(uuid: tenant), url: url, attempts: attempts, payload: payload))
        }
        return pending
    }

    public func delivered(_ run: RunID, logger: Logger) async throws {
        try await client.query(
            "UPDATE runs SET webhook_delivered_at = now(), webhook_attempts = webhook_attempts + 1, webhook_error = NULL WHERE id = \(run.uuid)",
            logger: logger
        )
    }

    /// Records a failed attempt; the next one is due at `retryAt` (`nil`: given up).
    public func failed(_ run: RunID, error: String, retryAt: Date?, logger: Logger) async throws {
        try await client.query(
            """
            UPDATE runs SET webhook_attempts = CASE WHEN \(retryAt == nil) THEN \(Self.maxAttempts) ELSE webhook_attempts + 1 END,
                webhook_next_at = \(retryAt), webhook_error = \(String(error.prefix(500)))
            WHERE id = \(run.uuid)
            """,
            logger: logger
        )
    }
}
