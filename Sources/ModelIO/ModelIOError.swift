/// Errors thrown while reading or writing model files.
///
/// Every case names the file; `description` is a single line meant to be shown to the user as is.
public enum ModelIOError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, inspected or mapped (missing, a directory, unreadable, empty).
    case cannotOpen(path: String, reason: String)
    /// The file's contents break the rules of its format (`format` is e.g. "safetensors").
    case malformed(path: String, format: String, problem: String)
    /// `floats()` was asked for a tensor whose dtype has no fp32 conversion.
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    /// No tensor of that name exists in the file.
    case tensorNotFound(path: String, name: String)
    /// Writing failed: invalid entries or an I/O error.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .malformed(let path, let format, let problem):
            return "\(path): invalid \(format) file: \(problem)"
        case .unsupportedDType(let path, let tensor, let dtype):
            return "\(path): tensor \(quoted(tensor)) has dtype \(dtype.rawValue), which cannot be read as fp32 (only F32, F16 and BF16 can)"
        case .tensorNotFound(let path, let name):
            return "\(path): no tensor named \(quoted(name))"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}
