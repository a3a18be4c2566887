#if arch(x86_64)
import _Builtin_intrinsics.intel.cpuid
#endif
import Foundation

/// What this CPU is and can do, read once from CPUID: the one place the runtime asks. Which
/// kernels exist is decided at build time (`GPT2_AVX2`, `GPT2_VNNI`, `GPT2_AVX512`, from the
/// target CPU); what the CPU running them is decides tuning (prefetch distances) and which
/// ceilings `gpt2 calibrate` can measure.
public struct CPUFeatures: Sendable, Equatable {
    /// The CPUID vendor string: "GenuineIntel", "AuthenticAMD", … ("" where there is none).
    public var vendor = ""
    /// Display family and model (family 25 = AMD Zen 3/4, 26 = Zen 5; Intel family 6).
    public var family = 0, model = 0
    public var avx2 = false, fma = false, f16c = false
    public var avx512f = false, avx512bw = false, avx512vl = false
    /// `vpdpbusd` (AVX-512 VNNI) and `vdpbf16ps` (AVX512_BF16).
    public var avx512vnni = false, avx512bf16 = false

    /// The CPU this process runs on.
    public static let current = detect()

    public var isIntel: Bool { vendor == "GenuineIntel" }

    /// Reads CPUID leaves 0, 1 and 7. (The kernel also enables the AVX state; /proc/cpuinfo's
    /// flags, which tests compare with, already account for it.)
    static func detect() -> CPUFeatures {
        var features = CPUFeatures()
        #if arch(x86_64)
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
        guard __get_cpuid(0, &a, &b, &c, &d) != 0 else { return features }
        let maxLeaf = a
        features.vendor = String(decoding: [b, d, c].flatMap { r in (0..<4).map { UInt8(truncatingIfNeeded: r >> (8 * UInt32($0))) } },
                                 as: UTF8.self)
        func bit(_ register: UInt32, _ n: UInt32) -> Bool { register >> n & 1 == 1 }
        if __get_cpuid(1, &a, &b, &c, &d) != 0 {
            let baseFamily = Int(a >> 8 & 0xF), baseModel = Int(a >> 4 & 0xF)
            features.family = baseFamily == 0xF ? baseFamily + Int(a >> 20 & 0xFF) : baseFamily
            features.model = baseFamily == 0xF || baseFamily == 6 ? Int(a >> 16 & 0xF) << 4 | baseModel : baseModel
            features.fma = bit(c, 12)
            features.f16c = bit(c, 29)
        }
        if maxLeaf >= 7, __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 {
            let subleaves = a
            features.avx2 = bit(b, 5)
            features.avx512f = bit(b, 16)
            features.avx512bw = bit(b, 30)
            features.avx512vl = bit(b, 31)
            features.avx512vnni = bit(c, 11)
            if subleaves >= 1, __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0 { features.avx512bf16 = bit(a, 5) }
        }
        #endif
        return features
    }
}

/// The environment variables the runtime reads, parsed once here and passed on as values.
/// (The build reads its own: `GPT2_TARGET_CPU`, `GPT2_VNNI`, `GPT2_AVX2`, `GPT2_AVX512`.)
public struct RuntimeEnvironment: Sendable {
    /// `GPT2_Q8_PREFETCH`: the Q8_0 GEMV's software prefetch distance in bytes (0 = none),
    /// instead of the per-vendor default.
    public var q8PrefetchBytes: Int?
    /// `GPT2_HOME`: where swift-gpt2 caches its default model and calibration.
    public var home: String?
    /// `XDG_CACHE_HOME`: the cache's parent when `GPT2_HOME` is not set.
    public var xdgCacheHome: String?

    public init(_ environment: [String: String]) {
        q8PrefetchBytes = environment["GPT2_Q8_PREFETCH"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        home = environment["GPT2_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        xdgCacheHome = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// This process's environment.
    public static let current = RuntimeEnvironment(ProcessInfo.processInfo.environment)
}
