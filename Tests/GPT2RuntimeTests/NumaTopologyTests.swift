import GPT2Runtime
import Testing

@Suite("NumaTopology")
struct NumaTopologyTests {
    @Test("discover() finds at least one node, each with CPUs this process may use")
    func discover() {
        let topology = NumaTopology.discover()
        #expect(topology.nodeCount >= 1)
        #expect(topology.nodeCount == topology.cpusByNode.count)
        #expect(topology.cpusByNode.allSatisfy { !$0.isEmpty })
        let all = topology.cpusByNode.flatMap { $0 }
        #expect(Set(all).count == all.count, "a CPU belongs to two nodes: \(topology.cpusByNode)")
        let allowed = Set(ThreadPool.availableCPUs())
        #expect(Set(all).isSubset(of: allowed))
        #expect(topology.cpus(forThreads: 1).count == 1)
    }

    @Test("one node: threads take its CPUs in order, then wrap")
    func oneNode() {
        let topology = NumaTopology(cpusByNode: [[0, 1]])
        #expect(topology.nodeCount == 1)
        #expect(topology.cpus(forThreads: 0) == [])
        #expect(topology.cpus(forThreads: 1) == [0])
        #expect(topology.cpus(forThreads: 2) == [0, 1])
        #expect(topology.cpus(forThreads: 3) == [0, 1, 0])
        #expect(topology.cpus(forThreads: 5) == [0, 1, 0, 1, 0])
    }

    @Test("two nodes of four CPUs: node 0 is filled before node 1")
    func twoNodes() {
        let topology = NumaTopology(cpusByNode: [[0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(topology.nodeCount == 2)
        #expect(topology.cpus(forThreads: 2) == [0, 1])
        #expect(topology.cpus(forThreads: 4) == [0, 1, 2, 3])
        #expect(topology.cpus(forThreads: 6) == [0, 1, 2, 3, 4, 5])
        #expect(topology.cpus(forThreads: 8) == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(topology.cpus(forThreads: 10) == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1])
    }

    @Test("uneven nodes, CPU ids not in order", arguments: [
        [[0], [1, 2, 3]],
        [[8, 9, 10], [2]],
        [[5, 6], [0, 1, 2, 3, 4], [7]],
    ])
    func unevenNodes(nodes: [[Int]]) {
        let topology = NumaTopology(cpusByNode: nodes)
        let flat = nodes.flatMap { $0 }
        let nodeOf = Dictionary(uniqueKeysWithValues: nodes.enumerated().flatMap { n, cpus in cpus.map { ($0, n) } })
        for threads in 0...(2 * flat.count + 1) {
            let cpus = topology.cpus(forThreads: threads)
            #expect(cpus.count == threads)
            // Thread i gets the i-th CPU of the nodes laid end to end (wrapping round).
            #expect(cpus == (0..<threads).map { flat[$0 % flat.count] }, "threads=\(threads)")
            // Node after node: within the first pass, node indices never go down.
            let firstPass = cpus.prefix(flat.count).map { nodeOf[$0]! }
            #expect(firstPass == firstPass.sorted(), "threads=\(threads): \(cpus)")
        }
    }

    @Test("no CPUs: no assignment")
    func empty() {
        #expect(NumaTopology(cpusByNode: []).cpus(forThreads: 4) == [])
    }
}
