import Foundation

extension GPT2Model {
    /// Every file that `load(path:)` and `loadTokenizer(path:)` read for `path`, whether or not it
    /// exists yet: the `.gguf` file itself; for a checkpoint directory its `config.json`,
    /// `model.safetensors`, `model.safetensors.index.json`, `vocab.json` and `merges.txt`; for a
    /// `.safetensors` file the file and those beside it. A tool that writes must not write over
    /// any of them (and should not create them, which would change what the checkpoint loads).
    public static func inputFiles(path: String) -> [String] {
        if isGGUF(path) { return [path] }
        var isDirectory: ObjCBool = false
        let directory: String
        var files: [String]
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            directory = path
            files = [path + "/model.safetensors", path + "/model.safetensors.index.json"]
        } else {
            let folder = (path as NSString).deletingLastPathComponent
            directory = folder.isEmpty ? "." : folder
            files = [path]
        }
        files += ["config.json", "vocab.json", "merges.txt"].map { directory + "/" + $0 }
        return files
    }
}
