// swift-tools-version:6.0
import PackageDescription

// Language mode 5: parallel loops over raw buffers; Swift 6's strict Sendable checking would force boxes
// around every pointer without making them safer. (Grad mode is task-local, not a process global.)
let package = Package(
    name: "MotionGPT",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "TensorEngine", targets: ["TensorEngine"]),
        .library(name: "NeuralNetwork", targets: ["NeuralNetwork"]),
        .library(name: "MotionData", targets: ["MotionData"]),
        .library(name: "MotionRender", targets: ["MotionRender"]),
        .library(name: "TextTokenizer", targets: ["TextTokenizer"]),
        .library(name: "MotionVQ", targets: ["MotionVQ"]),
        .library(name: "MotionT5", targets: ["MotionT5"]),
        .library(name: "TextEncoder", targets: ["TextEncoder"]),
        .library(name: "MotionDiffusion", targets: ["MotionDiffusion"]),
        .library(name: "ModelHub", targets: ["ModelHub"]),
        .library(name: "Generation", targets: ["Generation"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "MotionServer", targets: ["MotionServer"]),
        .executable(name: "motiongpt", targets: ["motiongpt"]),
        .executable(name: "motiongpt-server", targets: ["motiongpt-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Hand-written AVX2/F16C kernels (compact-weight products, half conversion), chosen at run time.
        .target(name: "CKernels"),
        .target(name: "TensorEngine", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "NeuralNetwork", dependencies: ["TensorEngine", "CBLAS", "CKernels"]),
        .target(name: "MotionData", dependencies: ["TensorEngine"]),
        .target(name: "MotionRender", dependencies: ["MotionData", "TensorEngine"]),
        .target(name: "TextTokenizer", dependencies: ["TensorEngine"]),
        .target(name: "MotionVQ", dependencies: ["NeuralNetwork", "TensorEngine", "MotionData"]),
        .target(name: "MotionT5", dependencies: ["NeuralNetwork", "TensorEngine", "TextTokenizer"], resources: [.copy("Resources/motion_templates.json")]),
        .target(name: "TextEncoder", dependencies: ["NeuralNetwork", "TensorEngine", "TextTokenizer"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "MotionDiffusion", dependencies: ["NeuralNetwork", "TensorEngine", "MotionData"]),
        .target(name: "ModelHub", dependencies: ["MotionDiffusion", "TextEncoder", "MotionT5", "MotionVQ", "MotionData", "NeuralNetwork", "TensorEngine", "TextTokenizer"]),
        .target(name: "Generation", dependencies: ["ModelHub", "MotionDiffusion", "TextEncoder", "MotionT5", "MotionVQ", "MotionData", "NeuralNetwork", "TensorEngine", "TextTokenizer"]),
        .target(name: "Evaluation", dependencies: ["Generation", "ModelHub", "MotionDiffusion", "TextEncoder", "MotionVQ", "MotionData", "MotionRender", "NeuralNetwork", "TensorEngine"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Training", dependencies: ["Evaluation", "ModelHub", "MotionDiffusion", "TextEncoder", "MotionVQ", "MotionData", "MotionT5", "Generation", "NeuralNetwork", "TensorEngine", "TextTokenizer"]),
        .target(name: "Fuzzing", dependencies: ["TensorEngine", "NeuralNetwork", "MotionData", "TextTokenizer", "MotionT5", "MotionVQ"]),
        .executableTarget(
            name: "motiongpt",
            dependencies: [
                "TensorEngine", "NeuralNetwork", "MotionData", "MotionRender", "MotionVQ", "TextTokenizer", "MotionT5", "TextEncoder", "MotionDiffusion", "ModelHub", "Generation", "Evaluation", "Training", "Fuzzing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The HTTP API and playground: a thin layer over ModelHub and Generation, testable in process.
        .target(
            name: "MotionServer",
            dependencies: [
                "Evaluation", "Generation", "ModelHub", "MotionDiffusion", "TextEncoder", "MotionRender", "MotionData", "NeuralNetwork", "TensorEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "motiongpt-server",
            dependencies: [
                "MotionServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(name: "MotionServerTests", dependencies: [
            "MotionServer", "ModelHub", "MotionDiffusion", "MotionData", "NeuralNetwork", "TensorEngine",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "TensorEngineTests", dependencies: ["TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "TensorEngine"], resources: [.copy("Fixtures")]),
        // Fixtures (test rigs) are read from the source tree by path, as the shared data is.
        .testTarget(name: "MotionDataTests", dependencies: ["MotionData", "Evaluation", "TensorEngine"], exclude: ["Fixtures"]),
        .testTarget(name: "MotionVQTests", dependencies: ["MotionVQ", "NeuralNetwork", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "ModelHub", "MotionDiffusion", "TextEncoder", "MotionVQ", "MotionData", "NeuralNetwork", "TensorEngine"]),
        .testTarget(name: "MotionGPTTests", dependencies: ["ModelHub", "Generation", "Training", "MotionVQ", "MotionT5", "MotionData", "TextTokenizer", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MotionRenderTests", dependencies: ["MotionRender", "MotionData", "TensorEngine"]),
        .testTarget(name: "CLITests", dependencies: ["motiongpt", "MotionT5", "Evaluation", "ModelHub", "MotionDiffusion", "MotionData", "TensorEngine"]),
        .testTarget(name: "LMMPipelineTests", dependencies: ["Evaluation", "Generation", "ModelHub", "MotionDiffusion", "MotionData", "TextEncoder", "NeuralNetwork", "TensorEngine"]),
        .testTarget(name: "FuzzTests", dependencies: ["Fuzzing", "TensorEngine", "NeuralNetwork"]),
        .testTarget(name: "ModelHubTests", dependencies: ["ModelHub", "MotionDiffusion", "Generation", "Training", "MotionT5", "MotionVQ", "MotionData", "NeuralNetwork", "TensorEngine", "TextTokenizer"]),
        .testTarget(name: "TextTokenizerTests", dependencies: ["TextTokenizer"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Training", "ModelHub", "TextEncoder", "MotionData", "NeuralNetwork", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder", "ModelHub", "TextTokenizer", "NeuralNetwork", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MotionDiffusionTests", dependencies: ["MotionDiffusion", "MotionData", "NeuralNetwork", "TensorEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MotionT5Tests", dependencies: ["MotionT5", "ModelHub", "Generation", "NeuralNetwork", "TensorEngine", "TextTokenizer"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
