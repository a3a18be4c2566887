import Foundation
import Testing
@testable import GPT2Runtime

/// CPUID as the runtime reads it, against what the kernel reports in /proc/cpuinfo.
struct CPUFeaturesTests {
    @Test func cpuidAgreesWithProcCpuinfo() throws {
        #if arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let first = cpuinfo.components(separatedBy: "\n\n")[0]
        func field(_ name: String) -> String? {
            first.split(separator: "\n").first { $0.hasPrefix(name) }.map { String($0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) }
        }
        let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
        let cpu = CPUFeatures.current
        #expect(cpu.vendor.utf8.count == 12 && cpu.vendor == field("vendor_id"))
        #expect(cpu.family == field("cpu family").flatMap { Int($0) })
        #expect(cpu.model == field("model").flatMap { Int($0) })
        for (name, value) in [("avx2", cpu.avx2), ("fma", cpu.fma), ("f16c", cpu.f16c), ("avx512f", cpu.avx512f),
                              ("avx512bw", cpu.avx512bw), ("avx512vl", cpu.avx512vl), ("avx512_vnni", cpu.avx512vnni),
                              ("avx512_bf16", cpu.avx512bf16)] {
            #expect(value == flags.contains(name), "\(name)")
        }
        #endif
    }

    @Test func environmentOverridesAreParsedOnce() {
        let env = RuntimeEnvironment(["GPT2_Q8_PREFETCH": "1024", "GPT2_HOME": "/tmp/h"])
        #expect(env.q8PrefetchBytes == 1024 && env.home == "/tmp/h")
        let bad = RuntimeEnvironment(["GPT2_Q8_PREFETCH": "-5", "GPT2_HOME": ""])
        #expect(bad.q8PrefetchBytes == nil && bad.home == nil)
        #expect(RuntimeEnvironment([:]).q8PrefetchBytes == nil)
        #expect(swiftGPT2CacheDirectory(env) == "/tmp/h")
        #expect(swiftGPT2CacheDirectory(RuntimeEnvironment(["XDG_CACHE_HOME": "/tmp/x"])) == "/tmp/x/swift-gpt2")
    }
}
