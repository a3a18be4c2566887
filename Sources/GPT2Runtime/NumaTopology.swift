import CNuma

/// The machine's NUMA nodes and the CPUs of each, as libnuma reports them.
///
/// On a one-node machine, or where libnuma is unavailable, it is a single node holding every CPU
/// this process may use, so callers need no special case.
public struct NumaTopology: Sendable, Equatable {
    /// `cpusByNode[n]` = CPU ids of node `n` (nodes without CPUs are omitted).
    public var cpusByNode: [[Int]]
    /// libnuma's id of each node in `cpusByNode` (default: 0, 1, …).
    public var nodeIDs: [Int]

    public init(cpusByNode: [[Int]], nodeIDs: [Int]? = nil) {
        self.cpusByNode = cpusByNode
        self.nodeIDs = nodeIDs ?? Array(cpusByNode.indices)
        precondition(self.nodeIDs.count == cpusByNode.count)
    }

    public var nodeCount: Int { cpusByNode.count }

    /// Discovers the topology with libnuma, restricted to the CPUs this process may run on.
    public static func discover() -> NumaTopology {
        let allowed = Set(ThreadPool.availableCPUs())
        let fallback = NumaTopology(cpusByNode: [allowed.sorted()])
        guard numa_available() >= 0 else { return fallback }
        let maxNode = Int(numa_max_node())
        let maxCPU = Int(numa_num_configured_cpus())
        var nodes: [[Int]] = [], ids: [Int] = []
        for node in 0...maxNode {
            guard let mask = numa_allocate_cpumask() else { return fallback }
            defer { numa_free_cpumask(mask) }
            guard numa_node_to_cpus(Int32(node), mask) == 0 else { continue }
            let cpus = (0..<maxCPU).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 && allowed.contains($0) }
            if !cpus.isEmpty { nodes.append(cpus); ids.append(node) }
        }
        return nodes.isEmpty ? fallback : NumaTopology(cpusByNode: nodes, nodeIDs: ids)
    }

    /// CPUs for `threadCount` threads, filling node after node (thread i of a node stays on
    /// that node), so that each thread's slice of work can live in local memory.
    public func cpus(forThreads threadCount: Int) -> [Int] {
        let all = cpusByNode.flatMap { $0 }
        guard !all.isEmpty else { return [] }
        return (0..<threadCount).map { all[$0 % all.count] }
    }
}
