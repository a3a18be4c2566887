import Testing
@testable import Profiling
