import Foundation

/// Calls and cost of one UTC calendar day. Days without events have no row (the spend trend counts them as $0).
public struct DailySpend: Codable, Sendable, Equatable {
    /// `YYYY-MM-DD`, in UTC.
    public var day: String
    public var calls: Int
    public var costUSD: Double

    public init(day: String, calls: Int, costUSD: Double) {
        self.day = day
        self.calls = calls
        self.costUSD = costUSD
    }

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case day, calls
        case costUSD = "cost_usd"
    }

    /// One row per UTC day with events, oldest first.
    public static let sql = """
        SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               count(*) AS calls,
               sum(cost_usd)::double precision AS cost_usd
        FROM workload_events
        WHERE tenant_id = $1 AND ts >= $2 AND ts < $3
        GROUP BY 1
        ORDER BY 1
        """
}

/// Calls and cost of one end user: the top ``limit`` users by cost (events without `user_id` are left out).
public struct UserSpend: Codable, Sendable, Equatable {
    public var userID: String
    public var calls: Int
    public var costUSD: Double

    public init(userID: String, calls: Int, costUSD: Double) {
        self.userID = userID
        self.calls = calls
        self.costUSD = costUSD
    }

    /// How many users the query returns.
    public static let limit = 20

    /// The wire names (snake_case), equal to the query's column names.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case calls
        case userID = "user_id"
        case costUSD = "cost_usd"
    }

    /// The top ``limit`` users by cost, most expensive first.
    public static let sql = """
        SELECT user_id,
               count(*) AS calls,
               sum(cost_usd)::double precision AS cost_usd
        FROM workload_events
        WHERE tenant_id = $1 AND ts >= $2 AND ts < $3 AND user_id IS NOT NULL
        GROUP BY user_id
        ORDER BY sum(cost_usd) DESC, user_id
        LIMIT \(limit)
        """
}
