import GPT2Runtime
import Testing

@Suite("AlignedBuffer and clocks")
struct AlignedBufferAndClockTests {
    @Test("64-byte aligned and zeroed", arguments: [0, 1, 3, 16, 17, 1000, 100_003])
    func alignedAndZeroed(count: Int) {
        let floats = AlignedBuffer<Float>(count: count)
        #expect(UInt(bitPattern: floats.pointer) % 64 == 0)
        #expect(floats.count == count)
        #expect(floats.buffer.count == count)
        #expect(floats.buffer.allSatisfy { $0 == 0 })
        let bytes = AlignedBuffer<Int8>(count: count)
        #expect(UInt(bitPattern: bytes.pointer) % 64 == 0)
        #expect(bytes.buffer.allSatisfy { $0 == 0 })
        // Writable over its whole length.
        for i in 0..<count { floats.pointer[i] = Float(i) }
        #expect(count == 0 || floats.pointer[count - 1] == Float(count - 1))
    }

    @Test("unzeroed buffers are still aligned")
    func unzeroed() {
        let buffer = AlignedBuffer<Double>(count: 33, zeroed: false)
        #expect(UInt(bitPattern: buffer.pointer) % 64 == 0)
    }

    @Test("monotonic clock never goes back; peak RSS is positive")
    func clocks() {
        var last = monotonicNanoseconds()
        for _ in 0..<10_000 {
            let now = monotonicNanoseconds()
            #expect(now >= last)
            last = now
        }
        #expect(peakResidentBytes() > 0)
    }
}
