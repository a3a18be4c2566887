// What this binary is: `gpt2 --version` and llama-bench's `build_commit` and `cpu_info` fields.
// It lives in Profiling because this module is compiled with the kernels' build conditions
// (GPT2_AVX2, GPT2_AVX512, GPT2_VNNI), which the CLI target is not.

import Foundation
import GPT2Runtime

/// The version, source commit and compiled kernel paths of this build, and the CPU it runs on.
public enum BuildInfo {
    /// swift-gpt2's version.
    public static let version = "0.4.0"

    /// The x86 kernel paths compiled in, as Package.swift chose them from the target CPU
    /// (`GPT2_TARGET_CPU`, `native` by default). The portable Swift path is always compiled.
    public static let compiledKernels: [String] = {
        var paths: [String] = []
        #if GPT2_AVX2
        paths.append("AVX2")
        #endif
        #if GPT2_AVX512
        paths.append("AVX-512")
        #endif
        #if GPT2_VNNI
        paths.append("AVX-512 VNNI")
        #endif
        return paths
    }()

    /// The commit checked out in the source tree this binary was built from, read when first
    /// asked: the tree is the one `#filePath` names at build time, so a binary run beside its
    /// checkout reports that checkout's HEAD (which may have moved on since the build), and any
    /// other binary reports "unknown". No build step records the commit: SwiftPM runs no git
    /// without a plugin.
    public static let commit: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        return gitCommit(checkout: root) ?? "unknown"
    }()

    /// The target CPU the build compiled for: the `-march` that the SwiftPM build description
    /// beside this binary (`.build/debug.yaml` for `.build/<triple>/debug/gpt2`) passes to the
    /// compiler, "generic" when it passes none (`GPT2_TARGET_CPU=generic`), "not recorded" for a
    /// binary away from its build directory.
    public static let targetCPU: String = {
        let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let description = directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(directory.lastPathComponent + ".yaml").path
        guard let text = try? String(contentsOfFile: description, encoding: .utf8) else { return "not recorded" }
        guard let flag = text.range(of: "-march=") else { return "generic" }
        return String(text[flag.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }()

    /// The CPU's model name from /proc/cpuinfo ("" where there is none), as llama-bench's `cpu_info`.
    public static let cpuModelName: String = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }()

    /// The features of the running CPU that the kernels use, by name.
    public static var runningCPUFeatures: [String] {
        let cpu = CPUFeatures.current
        return [("AVX2", cpu.avx2), ("FMA", cpu.fma), ("F16C", cpu.f16c), ("AVX-512F", cpu.avx512f),
                ("AVX-512BW", cpu.avx512bw), ("AVX-512VL", cpu.avx512vl), ("AVX-512 VNNI", cpu.avx512vnni),
                ("AVX-512 BF16", cpu.avx512bf16)].filter(\.1).map(\.0)
    }

    /// `gpt2 --version`'s text.
    public static var versionText: String {
        """
        gpt2 \(version)
        commit: \(commit) (the source checkout's HEAD, read at run time)
        target CPU: \(targetCPU) (GPT2_TARGET_CPU at build time, from the build description)
        kernels compiled: \(compiledKernels.isEmpty ? "portable Swift only" : "portable Swift, " + compiledKernels.joined(separator: ", ")); no bf16 kernels
        running CPU: \(cpuModelName.isEmpty ? "unknown" : cpuModelName) (\(runningCPUFeatures.isEmpty ? "none of AVX2/AVX-512" : runningCPUFeatures.joined(separator: " ")))
        """
    }

    /// The commit a git checkout at `root` has checked out, or nil when `root` is not one. Reads
    /// `.git` (a directory, or for a worktree a file naming one), `HEAD`, and the branch it names
    /// from a loose ref or `packed-refs` in the common directory.
    public static func gitCommit(checkout root: String) -> String? {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func isHash(_ text: String) -> Bool {
            text.count == 40 && text.allSatisfy { $0.isHexDigit }
        }
        func resolve(_ path: String, from base: String) -> String { path.hasPrefix("/") ? path : base + "/" + path }
        var gitDirectory = root + "/.git"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: gitDirectory, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue {
            guard let link = read(gitDirectory), link.hasPrefix("gitdir: ") else { return nil }
            gitDirectory = resolve(String(link.dropFirst("gitdir: ".count)), from: root)
        }
        guard let head = read(gitDirectory + "/HEAD") else { return nil }
        guard head.hasPrefix("ref: ") else { return isHash(head) ? head : nil }
        let ref = String(head.dropFirst("ref: ".count))
        let common = read(gitDirectory + "/commondir").map { resolve($0, from: gitDirectory) } ?? gitDirectory
        for directory in [gitDirectory, common] {
            if let hash = read(directory + "/" + ref), isHash(hash) { return hash }
        }
        for line in (read(common + "/packed-refs") ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[1] == ref, isHash(String(fields[0])) { return String(fields[0]) }
        }
        return nil
    }
}
