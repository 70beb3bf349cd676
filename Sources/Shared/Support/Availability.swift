import PostgresNIO

/// Thrown by `withTimeout` when the operation did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible {
    public let duration: Duration
    public var description: String { "operation timed out after \(duration)" }
}

/// Runs `operation`, cancelling it and throwing `TimeoutError` if it takes longer than `duration`.
public func withTimeout<T: Sendable>(_ duration: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw TimeoutError(duration: duration)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimeoutError(duration: duration) }
        return result
    }
}

/// `true` when `error` says Redis or PostgreSQL could not be reached (as opposed to a bad request or a bug).
public func isServiceUnavailable(_ error: any Error) -> Bool {
    switch error {
    case let error as RedisError:
        return error.isConnectionFailure
    case let error as PSQLError:
        return [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown].contains(error.code)
    case let error as PostgresTransactionError:
        return [error.beginError, error.closureError, error.commitError].contains { $0.map(isServiceUnavailable) ?? false }
    case is TimeoutError:
        return true
    default:
        return false
    }
}
