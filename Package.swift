// swift-tools-version: 6.0
import PackageDescription

/// One settings array for every target of ours: Swift 6 language mode (strict concurrency)
/// everywhere, and no warnings — a warning in our code fails the build (dependencies'
/// warnings are theirs and stay warnings).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "Trellis",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trellis", targets: ["TrellisCLI"]),
        .library(name: "TrellisPQ", targets: ["TrellisPQ"]),
        .library(name: "TrellisCore", targets: ["TrellisCore"]),
        .library(name: "TrellisStore", targets: ["TrellisStore"]),
        .library(name: "TrellisScheduler", targets: ["TrellisScheduler"]),
        .library(name: "TrellisRelay", targets: ["TrellisRelay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"4.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        // The only place C is seen.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "TrellisPQ", dependencies: ["CLibPQ"], swiftSettings: swiftSettings),
        .target(name: "TrellisCore", dependencies: ["Yams"], swiftSettings: swiftSettings),
        // Turns migrations/, sql/ and queries/ into a Swift source at build time.
        .executableTarget(name: "EmbedSQLTool", swiftSettings: swiftSettings),
        .plugin(name: "EmbedSQLPlugin", capability: .buildTool(), dependencies: ["EmbedSQLTool"]),
        .target(
            name: "TrellisStore",
            dependencies: [
                "TrellisPQ", "TrellisCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedSQLPlugin"]
        ),
        .target(
            name: "TrellisScheduler",
            dependencies: [
                "TrellisStore", "TrellisPQ", "TrellisCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The push relay: HTTP control API, SSE and WebSocket streams of the event log.
        .target(
            name: "TrellisRelay",
            dependencies: [
                "TrellisStore", "TrellisPQ", "TrellisCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedSQLPlugin"]
        ),
        // Benchmarks and fault injection (`trellis bench`, `trellis chaos`) with their own
        // queries (queries/bench, queries/chaos), out of the product modules; used only by the CLI.
        .target(
            name: "TrellisBench",
            dependencies: ["TrellisStore", "TrellisPQ", "TrellisCore", "TrellisRelay"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedSQLPlugin"]
        ),
        .executableTarget(
            name: "TrellisCLI",
            dependencies: [
                "TrellisStore", "TrellisPQ", "TrellisCore", "TrellisScheduler", "TrellisRelay", "TrellisBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisTestSupport",
            dependencies: ["TrellisStore", "TrellisPQ"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisPQTests",
            dependencies: ["TrellisPQ", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        // Golden/ holds wire-format files the tests read from the source tree.
        .testTarget(name: "TrellisCoreTests", dependencies: ["TrellisCore"], exclude: ["Golden"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TrellisSchedulerTests",
            dependencies: ["TrellisScheduler", "TrellisStore", "TrellisTestSupport", "TrellisCLI", "TrellisRelay"],
            // Agents/ holds the Python A2A agent the a2a handler's tests start.
            exclude: ["Agents"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisStoreTests",
            dependencies: ["TrellisStore", "TrellisPQ", "TrellisTestSupport", "TrellisBench"],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisRelayTests",
            dependencies: [
                "TrellisRelay", "TrellisStore", "TrellisPQ", "TrellisTestSupport", "TrellisScheduler", "TrellisCore", "TrellisBench",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            // Agents/ holds the Python a2a-sdk client the workflows-as-agents test runs.
            exclude: ["Agents"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisCLITests",
            dependencies: ["TrellisCLI", "TrellisStore", "TrellisTestSupport", "TrellisBench"],
            swiftSettings: swiftSettings
        ),
    ]
)
