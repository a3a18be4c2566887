import GPT2Runtime
import Testing

@Suite("NUMA placement")
struct NumaPlacementTests {
    @Test("off: no pinning and no memory placement, whatever the topology")
    func off() {
        for topology in [NumaTopology(cpusByNode: [[0, 1]]), NumaTopology(cpusByNode: [[0, 1, 2, 3], [4, 5, 6, 7]])] {
            let plan = topology.placement(threads: 4, strategy: .off)
            #expect(plan == ThreadPlacement(cpus: [], nodes: []))
            #expect(!plan.placesMemory)
        }
    }

    @Test("one node: distribute and isolate pin in order and never move memory")
    func oneNode() {
        let topology = NumaTopology(cpusByNode: [[0, 1]])
        for strategy in [NumaStrategy.distribute, .isolate] {
            let plan = topology.placement(threads: 3, strategy: strategy)
            #expect(plan.cpus == [0, 1, 0])
            #expect(plan.nodes == [0, 0, 0])
            #expect(!plan.placesMemory)
        }
    }

    @Test("2 nodes × 4 CPUs: distribute alternates nodes; isolate stays on the current node")
    func twoNodes() {
        let topology = NumaTopology(cpusByNode: [[0, 1, 2, 3], [4, 5, 6, 7]])
        let d = topology.placement(threads: 4, strategy: .distribute)
        #expect(d.cpus == [0, 4, 1, 5])
        #expect(d.nodes == [0, 1, 0, 1])
        #expect(d.placesMemory)
        #expect(topology.placement(threads: 10, strategy: .distribute).cpus == [0, 4, 1, 5, 2, 6, 3, 7, 0, 4])
        let i = topology.placement(threads: 5, strategy: .isolate, currentNode: 1)
        #expect(i.cpus == [4, 5, 6, 7, 4])
        #expect(i.nodes == [1, 1, 1, 1, 1])
        #expect(!i.placesMemory)
        #expect(topology.placement(threads: 1, strategy: .distribute).placesMemory == false)
    }

    @Test("uneven nodes (3 + 1 CPUs, node ids 0 and 2): each node's CPUs wrap on their own")
    func unevenNodes() {
        let topology = NumaTopology(cpusByNode: [[0, 1, 2], [8]], nodeIDs: [0, 2])
        let d = topology.placement(threads: 6, strategy: .distribute)
        #expect(d.cpus == [0, 8, 1, 8, 2, 8])
        #expect(d.nodes == [0, 1, 0, 1, 0, 1])
        #expect(topology.placement(threads: 2, strategy: .isolate, currentNode: 1).cpus == [8, 8])
        #expect(topology.placement(threads: 2, strategy: .isolate, currentNode: 7).cpus == [8, 8])  // clamped
    }

    @Test("move() on this machine's topology is a harmless no-op with one node")
    func moveOnOneNode() {
        let topology = NumaTopology.discover()
        let buffer = HugePageBuffer<Float>(count: 1 << 20)
        for i in 0..<buffer.count { buffer.pointer[i] = Float(i) }
        if topology.nodeCount == 1 { topology.move(UnsafeRawPointer(buffer.pointer), bytes: 4 << 20, toNode: 0) }
        #expect(buffer.pointer[12345] == 12345)
    }
}
