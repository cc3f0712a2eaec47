import CairnPrimitives
/// Paths inside one local server directory (Documentation/LocalGrid.md, "Layout").
///
///     <root>/FORMAT                              "cairn-local-server 1\n"
///     <root>/packs/pack-<16 hex>.pack            share records
///     <root>/packs/pack-<16 hex>.idx             that pack's index
///     <root>/large/<2 hex>/<32 hex>/<share>      one large share (storage index in hex, share number in decimal)
///     <root>/tmp/                                files being created (large shares, new packs)
///     <root>/quarantine/<32 hex>.<share>.<16 hex>  a share's old bytes, superseded by a repair
///     <root>/corruption-reports                  one line per share reported corrupt
struct ServerLayout: Sendable {
    static let formatLine = "cairn-local-server 1\n"

    let root: String
    var formatFile: String { root + "/FORMAT" }
    var packs: String { root + "/packs" }
    var large: String { root + "/large" }
    var tmp: String { root + "/tmp" }
    var quarantine: String { root + "/quarantine" }
    var reportsFile: String { root + "/corruption-reports" }

    func packPath(_ base: String) -> String { packs + "/" + base + ".pack" }
    func indexPath(_ base: String) -> String { packs + "/" + base + ".idx" }

    func largePrefixDirectory(_ index: StorageIndex) -> String { large + "/" + String(index.hex.prefix(2)) }
    func largeDirectory(_ index: StorageIndex) -> String { largePrefixDirectory(index) + "/" + index.hex }
    func largePath(_ index: StorageIndex, _ share: UInt32) -> String { largeDirectory(index) + "/" + String(share) }
}

