// swift-tools-version:6.1
import PackageDescription

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Tests import many modules transitively; member-import checks there add noise without catching bugs.
let testSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let hummingbirdCore: Target.Dependency = .product(name: "HummingbirdCore", package: "hummingbird")
let hummingbirdTLS: Target.Dependency = .product(name: "HummingbirdTLS", package: "hummingbird")
let hummingbirdTesting: Target.Dependency = .product(name: "HummingbirdTesting", package: "hummingbird")
let websocket: Target.Dependency = .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")
let wsClient: Target.Dependency = .product(name: "WSClient", package: "swift-websocket")
let bcrypt: Target.Dependency = .product(name: "HummingbirdBcrypt", package: "hummingbird-auth")
let auth: Target.Dependency = .product(name: "HummingbirdAuth", package: "hummingbird-auth")
let jwt: Target.Dependency = .product(name: "JWTKit", package: "jwt-kit")
let postgres: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let configuration: Target.Dependency = .product(name: "Configuration", package: "swift-configuration")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")
let nio: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioWebSocket: Target.Dependency = .product(name: "NIOWebSocket", package: "swift-nio")
let nioTLS: Target.Dependency = .product(name: "NIOTLS", package: "swift-nio")
let nioSSL: Target.Dependency = .product(name: "NIOSSL", package: "swift-nio-ssl")
let httpClient: Target.Dependency = .product(name: "AsyncHTTPClient", package: "async-http-client")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")

let package = Package(
    name: "netra",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netra-gateway", targets: ["Gateway"]),
        .executable(name: "netra-worker", targets: ["Worker"]),
        .executable(name: "netra-scheduler", targets: ["Scheduler"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),
        .target(
            name: "Shared",
            dependencies: ["CHiredis", "CJemalloc", nio, nioPosix, nioSSL, nioTLS, postgres, lifecycle, unixSignals, logging, metrics, prometheus, configuration, argumentParser, hummingbird],
            resources: [.embedInCode("Postgres/Migrations"), .embedInCode("Supply/catalog.json")],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: ["Shared", hummingbird, hummingbirdCore, hummingbirdTLS, nioSSL, websocket, nioWebSocket, auth, bcrypt, jwt, crypto, argumentParser, metrics, httpClient],
            resources: [.embedInCode("OpenAPI/openapi.json"), .embedInCode("Public")],
            swiftSettings: settings
        ),
        .executableTarget(name: "Worker", dependencies: ["Shared", argumentParser, httpClient, hummingbird, metrics], swiftSettings: settings),
        .executableTarget(name: "Scheduler", dependencies: ["Shared", hummingbird, argumentParser, metrics, httpClient, crypto], swiftSettings: settings),
        .target(
            name: "SharedTestSupport",
            dependencies: ["Shared", logging, postgres, nio, nioPosix],
            path: "Tests/SharedTestSupport",
            swiftSettings: testSettings
        ),
        .testTarget(name: "SharedTests", dependencies: ["Shared", "SharedTestSupport", postgres, logging, nio], swiftSettings: testSettings),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "Worker", "Scheduler", "SharedTestSupport", hummingbirdTesting, wsClient, httpClient, nioSSL],
            swiftSettings: testSettings
        ),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "SharedTestSupport", hummingbird], swiftSettings: testSettings),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "SharedTestSupport"], swiftSettings: testSettings),
    ]
)
