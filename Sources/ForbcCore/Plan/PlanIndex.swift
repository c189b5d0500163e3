/// The lookups by key that planning makes once per partition (an mdev by UUID, the mdevs of a parent, a recorded
/// partition by UUID or name), as dictionaries built on first use, once per plan: a linear search each time made
/// planning quadratic in the partitions. Where keys repeat, the first wins, as the searches they replace found the
/// first. A class, so that each dictionary is built lazily from the builder's non-mutating passes too.
final class PlanIndex {
    private let inventory: Inventory
    private let state: HostState

    init(inventory: Inventory, state: HostState) {
        self.inventory = inventory
        self.state = state
    }

    private lazy var mdevs = Dictionary(inventory.mdevs.map { ($0.uuid, $0) }, uniquingKeysWith: { first, _ in first })
    /// Each parent's mdevs with their positions in `inventory.mdevs`.
    private lazy var mdevsByParent = Dictionary(grouping: inventory.mdevs.enumerated(), by: \.element.parent)
    private lazy var ownedByUUID = Dictionary(
        state.partitions.compactMap { owned in owned.uuid.map { ($0, owned) } },
        uniquingKeysWith: { first, _ in first })
    private lazy var ownedByName = Dictionary(
        state.partitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// `inventory.mdev(uuid)`.
    func mdev(_ uuid: String) -> MediatedDevice? { mdevs[uuid] }
    /// `state.owned(uuid:)`.
    func owned(uuid: String) -> OwnedPartition? { ownedByUUID[uuid] }
    /// `state.owned(name:)`.
    func owned(name: String) -> OwnedPartition? { ownedByName[name] }

    /// The mdevs on `parents`, in inventory order: `inventory.mdevs.filter { parents.contains($0.parent) }`.
    func mdevs(on parents: Set<String>) -> [MediatedDevice] {
        parents.flatMap { mdevsByParent[$0] ?? [] }.sorted { $0.offset < $1.offset }.map(\.element)
    }
}
