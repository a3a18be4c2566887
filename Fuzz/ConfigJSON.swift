// libFuzzer target: GPT2Config(json:) (Sources/GPT2/Model/GPT2Config.swift) on arbitrary bytes.
// Any input must either give a config that passes its own validation or throw a GPT2Error; a
// crash, hang or memory error is a defect. Built by scripts/fuzz.sh.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigJSON(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let json = Data(bytes: data, count: size)
    guard let config = try? GPT2Config(json: json) else { return 0 }
    do { try config.validate() } catch { preconditionFailure("parsed config fails validation: \(error)") }
    _ = config.headSize
    // What the parser accepted must survive a write and re-read unchanged.
    let reread = try! GPT2Config(json: config.jsonData())
    precondition(reread == config, "config.json round trip changed \(config) into \(reread)")
    return 0
}
