import Foundation

/// The directory swift-gpt2 caches things in (the machine calibration, the default model):
/// `$GPT2_HOME`, else `$XDG_CACHE_HOME/swift-gpt2`, else `~/.cache/swift-gpt2`.
public func swiftGPT2CacheDirectory(_ environment: RuntimeEnvironment = .current) -> String {
    if let home = environment.home { return home }
    return (environment.xdgCacheHome ?? (NSHomeDirectory() + "/.cache")) + "/swift-gpt2"
}
