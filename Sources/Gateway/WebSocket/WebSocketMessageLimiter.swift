/// A token bucket over the messages one WebSocket client sends, read against the monotonic clock (no timers).
///
/// A message within the rate is accepted; one over it is rejected (the session answers `error` / `rate_limited` and drops
/// it). A client that keeps flooding, `Limit.closeAfter` rejections without letting the bucket fill up again, is told to go:
/// the session closes with 1008 (policy violation). A full bucket forgives earlier rejections.
struct WebSocketMessageLimiter: Sendable {
    /// The bucket's refill rate and size.
    struct Limit: Sendable, Equatable {
        /// Tokens added per second.
        var perSecond: Double
        /// Bucket size: messages a client may send at once.
        var burst: Int

        /// Rejections tolerated before the connection is closed: three bursts' worth.
        var closeAfter: Int { burst * 3 }

        /// 20 messages per second, bursts of 40.
        static let standard = Limit(perSecond: 20, burst: 40)
    }

    /// What to do with one inbound message.
    enum Verdict: Equatable {
        /// Within the rate: handle it.
        case accept
        /// Over the rate: answer `rate_limited` and drop it.
        case reject
        /// Over the rate for too long: close the connection with 1008.
        case close
    }

    let limit: Limit
    private var tokens: Double
    private var updated: ContinuousClock.Instant
    private var rejections = 0

    /// A full bucket at `now`.
    init(limit: Limit, now: ContinuousClock.Instant = .now) {
        self.limit = limit
        self.tokens = Double(limit.burst)
        self.updated = now
    }

    /// Takes a token for a message that arrived at `now`, if there is one.
    mutating func admit(at now: ContinuousClock.Instant = .now) -> Verdict {
        let capacity = Double(limit.burst)
        let elapsed = max(.zero, updated.duration(to: now))
        updated = max(updated, now)
        let components = elapsed.components
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        tokens = min(capacity, tokens + seconds * limit.perSecond)
        if tokens >= capacity { rejections = 0 }
        if tokens >= 1 {
            tokens -= 1
            return .accept
        }
        rejections += 1
        return rejections > limit.closeAfter ? .close : .reject
    }
}
