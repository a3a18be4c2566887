// Summary statistics of timing samples, as llama-bench reports them.

/// Mean of `values` (0 for none).
public func mean(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
}

/// Sample standard deviation (n − 1 in the denominator, as llama-bench); 0 for fewer than 2.
public func standardDeviation(_ values: [Double]) -> Double {
    guard values.count > 1 else { return 0 }
    let m = mean(values)
    return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
}

/// The `p`-th percentile (0...100) by linear interpolation between closest ranks (numpy's
/// default), so p50 of an even count is the mean of the middle two; 0 for no values.
public func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = min(max(p, 0), 100) / 100 * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down)), high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}
