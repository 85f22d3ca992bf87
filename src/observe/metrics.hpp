// Prometheus metrics: counters, gauges and histograms, and their exposition in the text format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/), served at /metrics.
//
// Written here because Debian 12 packages no Prometheus client library for C++ (prometheus-cpp
// is not in it), and what ehlo needs is small: fixed metric families, a few labels with
// bounded values, and one text format.
//
// Updates are cheap from any number of threads: a counter or histogram is split into shards on
// separate cache lines, each thread adds to its own shard with one relaxed atomic operation,
// and a scrape sums the shards. Gauges are one atomic each (they change per connection or per
// queue change, not per byte). Looking a labelled series up takes a lock: callers look their
// series up once and keep the reference, which stays valid as long as the Registry.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ehlo::observe::metrics {

inline constexpr std::size_t kShards = 16;

// This thread's shard, 0..kShards-1 (threads are given shards round-robin).
std::size_t shard_index();

class Counter {
public:
    void inc(std::uint64_t n = 1) { shards_[shard_index()].n.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const;

private:
    struct alignas(64) Shard {
        std::atomic<std::uint64_t> n{0};
    };
    std::array<Shard, kShards> shards_;
};

class Gauge {
public:
    void set(double v) { v_.store(v, std::memory_order_relaxed); }
    void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
    void inc() { add(1); }
    void dec() { add(-1); }
    double value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> v_{0};
};

class Histogram {
public:
    // `bounds`: the buckets' upper bounds, strictly increasing and finite; +Inf is implied.
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (= count)
        double sum = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const { return bounds_; }

private:
    struct alignas(64) Shard {
        std::unique_ptr<std::atomic<std::uint64_t>[]> counts;  // per bucket, not cumulative
        std::atomic<double> sum{0};
    };
    std::vector<double> bounds_;
    std::array<Shard, kShards> shards_;
};

enum class Type { Counter, Gauge, Histogram };

// All series of one metric name: one per combination of label values.
template <typename Metric>
class Family {
public:
    using Factory = std::function<std::unique_ptr<Metric>()>;
    Family(std::vector<std::string> label_names, Factory make)
        : label_names_(std::move(label_names)), make_(std::move(make)) {}

    // The series for these label values (as many as the family has label names), created on
    // first use. Values are escaped on exposition; keep them few and bounded (never a value
    // taken from the network as is).
    Metric& with(std::initializer_list<std::string_view> values) {
        std::vector<std::string> key(values.begin(), values.end());
        return with(std::move(key));
    }
    Metric& with(std::vector<std::string> values);

    const std::vector<std::string>& label_names() const { return label_names_; }
    template <typename F>
    void each(F&& f) const {
        std::lock_guard lock(mutex_);
        for (const auto& [values, metric] : series_) f(values, *metric);
    }

private:
    std::vector<std::string> label_names_;
    Factory make_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

// A sample computed at scrape time (callback metrics: values another part keeps anyway).
struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
};

class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without "__" and
    // without "le" on histograms) and are registered once; a mistake there is a programming
    // error and throws std::invalid_argument.
    Counter& counter(const std::string& name, const std::string& help);
    Family<Counter>& counter_family(const std::string& name, const std::string& help, std::vector<std::string> labels);
    Gauge& gauge(const std::string& name, const std::string& help);
    Family<Gauge>& gauge_family(const std::string& name, const std::string& help, std::vector<std::string> labels);
    Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds);
    Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels, std::vector<double> bounds);
    // Samples read at each scrape, of a counter or gauge with these label names.
    void callback(const std::string& name, const std::string& help, Type type, std::vector<std::string> labels,
                  std::function<std::vector<Sample>()> read);

    // Every metric in the text format 0.0.4, with # HELP and # TYPE lines, in registration order.
    std::string expose() const;

    static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

private:
    struct Entry;
    using Source = std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
                                std::unique_ptr<Family<Histogram>>, std::function<std::vector<Sample>()>>;
    void add(const std::string& name, const std::string& help, Type type, const std::vector<std::string>& labels,
             Source source);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Entry>> entries_;
};

// The text format's escaping: in a label value \ " and newline; in HELP text \ and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value as the text format writes it: "3", "0.25", "+Inf", "-Inf", "NaN".
std::string format_value(double v);

template <typename Metric>
Metric& Family<Metric>::with(std::vector<std::string> values) {
    std::lock_guard lock(mutex_);
    values.resize(label_names_.size());
    auto it = series_.find(values);
    if (it == series_.end()) it = series_.emplace(std::move(values), make_()).first;
    return *it->second;
}

}  // namespace ehlo::observe::metrics
