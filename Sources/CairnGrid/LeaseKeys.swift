import CairnFormats
import CairnPrimitives
import CairnStorage

/// Lease secrets per server and storage index, derived from one client secret as Tahoe-LAFS derives them
/// (client secret → file secret → bucket secret; here one keyed hash each), so a client can renew its leases
/// on any server from its secret alone, and no server learns anything that works on another.
struct LeaseKeys: Sendable {
    let client: [UInt8]

    /// The client secret is keyed by the grid's convergence secret: whoever shares the grid's secrets shares
    /// its leases, and nothing else is stored.
    init(convergenceSecret: [UInt8]) {
        client = TaggedHash.hash(Tags.leaseClient, [], key: convergenceSecret)
    }

    func secrets(_ index: StorageIndex, _ server: ServerID) -> LeaseSecrets {
        let input = index.bytes + server.bytes
        return LeaseSecrets(renew: TaggedHash.hash(Tags.leaseRenew, input, key: client),
                            cancel: TaggedHash.hash(Tags.leaseCancel, input, key: client))
    }
}
