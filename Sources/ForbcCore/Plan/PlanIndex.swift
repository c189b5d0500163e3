/// The lookups by key that planning makes once per partition (an mdev by UUID, a recorded partition by UUID or
/// name), as dictionaries built once per plan: a linear search each time made planning quadratic in the partitions.
/// Where keys repeat, the first wins, as the searches they replace found the first.
struct PlanIndex {
    private let mdevs: [String: MediatedDevice]
    private let ownedByUUID: [String: OwnedPartition]
    private let ownedByName: [String: OwnedPartition]

    init(inventory: Inventory, state: HostState) {
        mdevs = Dictionary(inventory.mdevs.map { ($0.uuid, $0) }, uniquingKeysWith: { first, _ in first })
        ownedByUUID = Dictionary(
            state.partitions.compactMap { owned in owned.uuid.map { ($0, owned) } },
            uniquingKeysWith: { first, _ in first })
        ownedByName = Dictionary(state.partitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// `inventory.mdev(uuid)`.
    func mdev(_ uuid: String) -> MediatedDevice? { mdevs[uuid] }
    /// `state.owned(uuid:)`.
    func owned(uuid: String) -> OwnedPartition? { ownedByUUID[uuid] }
    /// `state.owned(name:)`.
    func owned(name: String) -> OwnedPartition? { ownedByName[name] }
}
