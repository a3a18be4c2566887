import Foundation

/// The directory swift-gpt2 caches things in (the machine calibration, the default model):
/// `$GPT2_HOME`, else `$XDG_CACHE_HOME/swift-gpt2`, else `~/.cache/swift-gpt2`.
public func swiftGPT2CacheDirectory() -> String {
    let env = ProcessInfo.processInfo.environment
    if let home = env["GPT2_HOME"], !home.isEmpty { return home }
    let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
    return cache + "/swift-gpt2"
}
