// Order statistics for the benchmark's tables: medians across repetitions, latency
// percentiles within one run.
#ifndef MMC_BENCH_STATS_H
#define MMC_BENCH_STATS_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace mmc::bench {

// The q-quantile (0..1) of values by the nearest-rank method; NaN when empty. Sorts.
template <typename T>
double quantile(std::vector<T>& values, double q) {
    if (values.empty()) return std::nan("");
    std::sort(values.begin(), values.end());
    std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    if (rank > 0) --rank;
    return static_cast<double>(values[std::min(rank, values.size() - 1)]);
}

// Median and spread of one measure over the repetitions of a run.
struct Summary {
    double median = std::nan("");
    double min = std::nan("");
    double max = std::nan("");
    // (max - min) / 2 / median: the +/- the tables print, as a fraction.
    double spread() const { return median > 0 ? (max - min) / 2 / median : std::nan(""); }
};

inline Summary summarize(std::vector<double> values) {
    Summary s;
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    std::size_t n = values.size();
    s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    s.min = values.front();
    s.max = values.back();
    return s;
}

}  // namespace mmc::bench

#endif
