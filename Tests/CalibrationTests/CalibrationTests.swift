import Foundation
import Testing
@testable import Calibration

@Suite struct CalibrationTests {
    @Test func cacheRoundTripAndThreadLookup() throws {
        let c = MachineCeilings(readGBs: [25, 32], fp32GFLOPs: [117, 235], int8GOPs: nil, bufferBytes: 1 << 30, measuredAt: "x")
        let path = NSTemporaryDirectory() + "gpt2-cal-" + UUID().uuidString + "/calibration.json"
        try c.save(path: path)
        #expect(MachineCeilings.loadCached(path: path) == c)
        #expect(MachineCeilings.loadCached(path: path + ".missing") == nil)
        #expect(c.readBandwidth(threads: 1) == 25 && c.readBandwidth(threads: 8) == 32 && c.fp32Peak(threads: 2) == 235)
        #expect(c.table().contains("| 2 | 32.0 | 235 | not measured |"))
    }

    @Test func measurementsArePositive() {
        let c = Calibrator.measure(maxThreads: 2, bufferBytes: 64 << 20, repetitions: 1)
        #expect(c.readGBs.count == 2 && c.fp32GFLOPs.count == 2)
        #expect(c.readGBs.allSatisfy { $0 > 0 } && c.fp32GFLOPs.allSatisfy { $0 > 0 })
        #expect((c.int8GOPs != nil) == Calibrator.canMeasureVNNI)
    }
}
