// A small Prometheus metrics registry for `GET /metrics`: counters, gauges and histograms, each a
// family with a fixed list of label names; render() writes the text exposition format 0.0.4
// (# HELP / # TYPE lines, escaped label values, histograms as cumulative _bucket{le=...}, _sum
// and _count, so quantiles such as P50/P99 are derivable with histogram_quantile()).
//
// Use: register every family once at start-up, keep the returned reference, and pick a child per
// label set with with({"POST /v1/chat/completions", "200"}); for a hot path keep the child's
// reference too (children live as long as the registry and never move).
//
//   Registry reg;
//   auto& requests = reg.counter("sinan_requests_total", "HTTP requests", {"route", "code"});
//   requests.with({"/v1/models", "200"}).inc();
//   auto& ttft = reg.histogram("sinan_time_to_first_token_seconds", "...", {}, kLatencyBuckets);
//   ttft.with({}).observe(0.042);
//   std::string text = reg.render();
//
// Gauges that mirror state elsewhere (queue length, KV cache use) can be refreshed at scrape
// time by a hook given to on_render().
//
// Contract: metric and label names must be valid Prometheus names ([a-zA-Z_:][a-zA-Z0-9_:]*,
// labels without ':' and not starting with "__"; "le" is reserved for histograms), bucket bounds
// strictly increasing and finite, a name registered once, and with() given exactly as many values
// as the family has label names: these are programmer errors (SINAN_CHECK). Label values are any
// bytes; render() escapes them.
//
// Thread-safety: everything may be called from any thread. Updates (inc, set, observe) are lock-
// free atomics; with() takes the family's mutex (a map lookup); render() and with() may run at the
// same time as updates. A histogram's _count is the sum of its buckets, so _count always equals
// the +Inf bucket even while observations race with a scrape.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sinan::api {

// Latency buckets in seconds (1 ms to 60 s), for time-to-first-token and request latency.
inline const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,      2.5,   5,    10,    30,   60};

// A monotonically increasing value. inc() with a negative amount is a programmer error.
class Counter {
  public:
    void inc(double amount = 1);
    double value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
  public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0};
};

// Observations counted into buckets by upper bound (value <= bound), plus their sum.
class Histogram {
  public:
    explicit Histogram(const std::vector<double>* bounds);
    void observe(double v);
    // Snapshot: cumulative counts per bound, the +Inf count last (size bounds + 1), and the sum.
    std::vector<uint64_t> cumulative_counts() const;
    double sum() const { return sum_.load(std::memory_order_relaxed); }

  private:
    const std::vector<double>* bounds_;                // owned by the family
    std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; [bounds + 1]
    std::atomic<double> sum_{0};
};

// One metric name with its label names; children are created on first use of a label set.
template <typename T>
class Family {
  public:
    Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {});
    // The child for these label values (created with value 0 on first use).
    T& with(const std::vector<std::string>& label_values);

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    const std::vector<double>& bounds() const { return bounds_; }
    // Calls fn(label_values, child) for each child in label order, under the family's mutex.
    void for_each(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;

  private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    std::vector<double> bounds_;  // histograms only
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
  public:
    CounterFamily& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
    GaugeFamily& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
    HistogramFamily& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names, const std::vector<double>& bounds);

    // Runs `refresh` at the start of every render() (e.g. to set gauges from the scheduler).
    void on_render(std::function<void()> refresh);

    // The text exposition format (Content-Type: text/plain; version=0.0.4), families in name order.
    std::string render() const;

  private:
    // Checks the names (programmer errors abort) and that `name` is not taken; mu_ held.
    void claim(const std::string& name, const std::vector<std::string>& label_names, bool histogram);

    mutable std::mutex mu_;
    std::vector<std::function<void()>> hooks_;
    std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
    std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
    std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
};

// The Content-Type header value for render()'s output.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace sinan::api
