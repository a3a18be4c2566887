import CNuma
import Glibc

/// Where threads and their weights go on a NUMA machine, as llama.cpp's `--numa`.
public enum NumaStrategy: String, Sendable, CaseIterable {
    /// No pinning, no memory placement (the kernel's default first-touch policy).
    case off
    /// Threads round-robin over the nodes (thread i on node i mod nodes), each pinned to a CPU
    /// of its node; each thread's slice of the packed weights is moved to its node.
    case distribute
    /// Only the current node's CPUs (threads wrap over them); memory stays where it is.
    case isolate
}

/// The outcome of planning: a CPU per thread (empty = no pinning) and the index in
/// `NumaTopology.cpusByNode` of each thread's node (empty = no memory placement).
public struct ThreadPlacement: Sendable, Equatable {
    public var cpus: [Int]
    public var nodes: [Int]
    public init(cpus: [Int], nodes: [Int]) { self.cpus = cpus; self.nodes = nodes }

    /// True when weights must be moved: threads on more than one node.
    public var placesMemory: Bool { Set(nodes).count > 1 }
}

extension NumaTopology {
    /// Plans `threads` threads under `strategy`. `currentNode` is the index (in `cpusByNode`)
    /// of the node the caller runs on, used by `.isolate`. On one node every strategy pins at
    /// most and never moves memory.
    public func placement(threads: Int, strategy: NumaStrategy, currentNode: Int = 0) -> ThreadPlacement {
        guard threads > 0, nodeCount > 0 else { return ThreadPlacement(cpus: [], nodes: []) }
        switch strategy {
        case .off:
            return ThreadPlacement(cpus: [], nodes: [])
        case .distribute:
            let nodes = (0..<threads).map { $0 % nodeCount }
            let cpus = (0..<threads).map { i in
                let node = cpusByNode[i % nodeCount]
                return node[(i / nodeCount) % node.count]
            }
            return ThreadPlacement(cpus: cpus, nodes: nodes)
        case .isolate:
            let node = min(max(0, currentNode), nodeCount - 1)
            let cpus = (0..<threads).map { cpusByNode[node][$0 % cpusByNode[node].count] }
            return ThreadPlacement(cpus: cpus, nodes: Array(repeating: node, count: threads))
        }
    }

    /// The index in `cpusByNode` of the node whose CPU the caller is running on (0 if unknown).
    public func currentNodeIndex() -> Int {
        let cpu = Int(gpt2_sched_getcpu())
        return cpusByNode.firstIndex { $0.contains(cpu) } ?? 0
    }

    /// Moves the pages of `start ..< start+bytes` to node `node` (an index in `cpusByNode`):
    /// `mbind(MPOL_BIND, MPOL_MF_MOVE)`, page-aligned inward. Does nothing on one node.
    public func move(_ start: UnsafeRawPointer, bytes: Int, toNode node: Int) {
        guard nodeCount > 1, numa_available() >= 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + bytes) / page * page
        guard hi > lo else { return }
        var mask = [UInt](repeating: 0, count: (nodeIDs[node] / UInt.bitWidth) + 1)
        mask[nodeIDs[node] / UInt.bitWidth] |= 1 << UInt(nodeIDs[node] % UInt.bitWidth)
        _ = mask.withUnsafeMutableBufferPointer {
            mbind(UnsafeMutableRawPointer(bitPattern: lo), UInt(hi - lo), 2 /* MPOL_BIND */,
                  UnsafePointer($0.baseAddress), UInt($0.count * UInt.bitWidth + 1), UInt32(1 << 1) /* MPOL_MF_MOVE */)
        }
    }
}
