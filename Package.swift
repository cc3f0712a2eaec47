// swift-tools-version:6.0
import PackageDescription

/// One system-library target per C library, each with the Debian package that provides it.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cairn", targets: ["cairn"]),
        .library(name: "CairnGrid", targets: ["CairnGrid"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML: the server lists a Tahoe client node keeps (private/servers.yaml is written by hand).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C system libraries (DESIGN §2, bottom layer).
        systemLibrary("CSodium", pkgConfig: "libsodium", apt: "libsodium-dev"),
        systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
        systemLibrary("CISAL", pkgConfig: "libisal", apt: "libisal-dev"),
        // glibc's malloc tuning (libc6-dev): the command sets its mmap threshold at start.
        .systemLibrary(name: "CMalloc"),
        // Linked only by CairnGit (import, verify, export).
        systemLibrary("CGit2", pkgConfig: "libgit2", apt: "libgit2-dev"),
        // Linked only by CairnTahoe (HTTPS to Tahoe-LAFS storage nodes, pinned by SPKI).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev", "libssl-dev"])]),

        // Files: the one layer over the C file API (typed errno errors, EINTR loops, raw-byte paths, atomic replace).
        .target(name: "CairnFiles", exclude: ["README.md"]),
        // Primitives: hashing, stream cipher, signatures, random, base32, zlib, crc.
        .target(name: "CairnPrimitives", dependencies: ["CSodium", "CZlib", "CISAL"], exclude: ["README.md"]),
        // Erasure code: zfec-identical Reed–Solomon with ISA-L kernels; zfec's .fec file format.
        .target(name: "CairnErasure", dependencies: ["CairnFiles", "CISAL"], exclude: ["README.md"]),
        // Forward deltas: VCDIFF (RFC 3284) encoder and decoder, xdelta3-compatible.
        // Optimized even in debug builds: the delta tests (and the snapshot tests above them) run its
        // hot loops over megabytes, which -Onone makes tens of times slower.
        .target(name: "CairnDelta", dependencies: ["CairnPrimitives"], exclude: ["README.md"],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Caps & formats: cap strings, UEB, hash trees, share layout.
        .target(name: "CairnFormats", dependencies: ["CairnPrimitives"], exclude: ["README.md"]),
        // Storage: the StorageServer protocol and the embedded local-directory server.
        .target(name: "CairnStorage", dependencies: ["CairnFiles", "CairnPrimitives"], exclude: ["README.md"]),
        // Tahoe-LAFS storage nodes over their HTTP storage protocol: a StorageServer backend (CBOR, NURLs,
        // pinned TLS through libcurl, bandwidth buckets).
        .target(name: "CairnTahoe", dependencies: ["CCurl", "CairnFiles", "CairnPrimitives", "CairnStorage",
                                                  .product(name: "Yams", package: "Yams")], exclude: ["README.md"]),
        // Grid client: upload, download, check, repair, placement, grid configuration.
        .target(name: "CairnGrid", dependencies: ["CairnFiles", "CairnPrimitives", "CairnErasure", "CairnFormats", "CairnStorage", "CairnTahoe"], exclude: ["README.md"]),
        // Snapshots: objects, packs, delta chains, repository state, worktree scan.
        .target(name: "CairnSnapshots", dependencies: ["CairnFiles", "CairnPrimitives", "CairnFormats", "CairnGrid", "CairnDelta"], exclude: ["README.md"]),
        // Git import, verify and export: the only module that links libgit2.
        .target(name: "CairnGit", dependencies: ["CGit2", "CairnFiles", "CairnPrimitives", "CairnDelta", "CairnSnapshots"], exclude: ["README.md"]),
        // The command-line tool.
        .executableTarget(name: "cairn", dependencies: [
            "CMalloc", "CairnFiles", "CairnPrimitives", "CairnGrid", "CairnErasure", "CairnFormats", "CairnStorage", "CairnSnapshots", "CairnGit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "cairn-bench", dependencies: ["CairnFiles", "CairnGrid", "CairnErasure", "CairnFormats", "CairnPrimitives", "CISAL"],
                          path: "Benchmarks/CairnBench"),

        // A real Tahoe-LAFS grid on loopback for the tests (tahoe from .tahoe-venv, see README).
        .target(name: "TahoeTestGrid", path: "Tests/TahoeTestGrid", exclude: ["tahoe-grid.sh"]),

        .testTarget(name: "CairnFilesTests", dependencies: ["CairnFiles"]),
        .testTarget(name: "CairnPrimitivesTests", dependencies: ["CairnPrimitives"]),
        .testTarget(name: "CairnErasureTests", dependencies: ["CairnErasure"]),
        .testTarget(name: "CairnDeltaTests", dependencies: ["CairnDelta"]),
        .testTarget(name: "CairnFormatsTests", dependencies: ["CairnFormats"]),
        .testTarget(name: "CairnStorageTests", dependencies: ["CairnStorage"]),
        .testTarget(name: "CairnSnapshotsTests", dependencies: ["CairnSnapshots", "CairnFiles"]),
        .testTarget(name: "CairnGridTests", dependencies: ["CairnGrid", "CairnTahoe", "TahoeTestGrid"]),
        .testTarget(name: "CairnTahoeTests", dependencies: ["CairnTahoe", "CairnStorage", "CairnPrimitives"]),
        .testTarget(name: "CairnCLITests", dependencies: ["cairn", "CairnSnapshots", "CairnFiles", "CairnFormats", "CairnPrimitives", "TahoeTestGrid"]),
        .testTarget(name: "CairnGitTests", dependencies: ["CairnGit", "CairnSnapshots", "CairnFiles"]),
    ],
    swiftLanguageModes: [.v6]
)
