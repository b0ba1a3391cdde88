#include "api/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/check.h"

namespace sinan::api {
namespace {

bool valid_name(const std::string& s, bool allow_colon) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
                        (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

void check_labels(const std::string& metric, const std::vector<std::string>& label_names, bool histogram) {
    for (size_t i = 0; i < label_names.size(); ++i) {
        const std::string& l = label_names[i];
        SINAN_CHECK(valid_name(l, false) && l.rfind("__", 0) != 0, metric + ": invalid label name '" + l + "'");
        SINAN_CHECK(!(histogram && l == "le"), metric + ": 'le' is reserved for histogram buckets");
        for (size_t j = 0; j < i; ++j) SINAN_CHECK(label_names[j] != l, metric + ": label '" + l + "' twice");
    }
}

// Prometheus floats: shortest round-trip form, with +Inf/-Inf/NaN spelled as the format wants.
std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
std::string escape(const std::string& s, bool quote) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       const std::string& extra = "") {
    if (names.empty() && extra.empty()) return "";
    std::string out = "{";
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i] + "=\"" + escape(values[i], true) + '"';
    }
    if (!extra.empty()) out += (names.empty() ? "" : ",") + extra;
    return out + "}";
}

void write_header(std::string& out, const std::string& name, const std::string& help, const char* type) {
    out += "# HELP " + name + ' ' + escape(help, false) + '\n';
    out += "# TYPE " + name + ' ' + type + '\n';
}

}  // namespace

void Counter::inc(double amount) {
    SINAN_CHECK(amount >= 0, "Counter::inc with a negative amount");
    value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
    for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
    // First bound >= v: Prometheus buckets count value <= le. NaN lands in +Inf.
    const size_t i =
        std::isnan(v) ? bounds_->size() : std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin();
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
    std::vector<uint64_t> out(bounds_->size() + 1);
    uint64_t total = 0;
    for (size_t i = 0; i < out.size(); ++i) out[i] = total += counts_[i].load(std::memory_order_relaxed);
    return out;
}

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename T>
T& Family<T>::with(const std::vector<std::string>& label_values) {
    SINAN_CHECK(label_values.size() == label_names_.size(), name_ + ": " + std::to_string(label_names_.size()) +
                                                                " label values expected, got " +
                                                                std::to_string(label_values.size()));
    std::lock_guard lock(mu_);
    auto& slot = children_[label_values];
    if (!slot) {
        if constexpr (std::is_same_v<T, Histogram>)
            slot = std::make_unique<Histogram>(&bounds_);
        else
            slot = std::make_unique<T>();
    }
    return *slot;
}

template <typename T>
void Family<T>::for_each(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [labels, child] : children_) fn(labels, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::claim(const std::string& name, const std::vector<std::string>& label_names, bool histogram) {
    SINAN_CHECK(valid_name(name, true), "invalid metric name '" + name + "'");
    SINAN_CHECK(!counters_.count(name) && !gauges_.count(name) && !histograms_.count(name),
                "metric '" + name + "' registered twice");
    check_labels(name, label_names, histogram);
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names) {
    std::lock_guard lock(mu_);
    claim(name, label_names, false);
    return *(counters_[name] = std::make_unique<CounterFamily>(name, help, label_names));
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names) {
    std::lock_guard lock(mu_);
    claim(name, label_names, false);
    return *(gauges_[name] = std::make_unique<GaugeFamily>(name, help, label_names));
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names, const std::vector<double>& bounds) {
    std::lock_guard lock(mu_);
    claim(name, label_names, true);
    SINAN_CHECK(!bounds.empty(), name + ": a histogram needs at least one bucket bound");
    for (size_t i = 0; i < bounds.size(); ++i) {
        SINAN_CHECK(std::isfinite(bounds[i]), name + ": bucket bounds must be finite (+Inf is implicit)");
        SINAN_CHECK(i == 0 || bounds[i] > bounds[i - 1], name + ": bucket bounds must increase strictly");
    }
    return *(histograms_[name] = std::make_unique<HistogramFamily>(name, help, label_names, bounds));
}

void Registry::on_render(std::function<void()> refresh) {
    std::lock_guard lock(mu_);
    hooks_.push_back(std::move(refresh));
}

std::string Registry::render() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard lock(mu_);
        hooks = hooks_;
    }
    for (const auto& h : hooks) h();  // outside mu_: a hook may call with()

    // Families in name order, whatever their type.
    std::map<std::string, std::function<void(std::string&)>> writers;
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : counters_) {
        writers[name] = [&f = *f](std::string& out) {
            write_header(out, f.name(), f.help(), "counter");
            f.for_each([&](const std::vector<std::string>& labels, const Counter& c) {
                out += f.name() + label_text(f.label_names(), labels) + ' ' + format_value(c.value()) + '\n';
            });
        };
    }
    for (const auto& [name, f] : gauges_) {
        writers[name] = [&f = *f](std::string& out) {
            write_header(out, f.name(), f.help(), "gauge");
            f.for_each([&](const std::vector<std::string>& labels, const Gauge& g) {
                out += f.name() + label_text(f.label_names(), labels) + ' ' + format_value(g.value()) + '\n';
            });
        };
    }
    for (const auto& [name, f] : histograms_) {
        writers[name] = [&f = *f](std::string& out) {
            write_header(out, f.name(), f.help(), "histogram");
            f.for_each([&](const std::vector<std::string>& labels, const Histogram& h) {
                const std::vector<uint64_t> counts = h.cumulative_counts();
                for (size_t i = 0; i < counts.size(); ++i) {
                    const std::string le = i < f.bounds().size() ? format_value(f.bounds()[i]) : "+Inf";
                    out += f.name() + "_bucket" + label_text(f.label_names(), labels, "le=\"" + le + '"') + ' ' +
                           std::to_string(counts[i]) + '\n';
                }
                const std::string l = label_text(f.label_names(), labels);
                out += f.name() + "_sum" + l + ' ' + format_value(h.sum()) + '\n';
                out += f.name() + "_count" + l + ' ' + std::to_string(counts.back()) + '\n';
            });
        };
    }
    std::string out;
    for (const auto& [name, write] : writers) write(out);
    return out;
}

}  // namespace sinan::api
