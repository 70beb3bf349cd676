import Foundation

/// The parts of a service URL such as `redis://:secret@host:6379/0` or `postgres://user:pw@host/db`.
struct ServiceURL {
    let scheme: String
    let host: String
    let port: Int?
    let user: String?
    let password: String?
    let path: String
    let query: [String: String]

    init?(_ string: String) {
        guard let components = URLComponents(string: string),
            let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.user = components.user?.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 }
        self.password = components.password?.removingPercentEncoding
        self.path = components.path
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        self.query = query
    }
}
