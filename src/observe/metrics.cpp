#include "observe/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace ehlo::observe::metrics {
namespace {

std::atomic<std::size_t> g_next_shard{0};

bool valid_name(std::string_view name, bool colons) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!letter && !(digit && i > 0)) return false;
    }
    return true;
}

std::string_view type_word(Type t) {
    switch (t) {
        case Type::Counter: return "counter";
        case Type::Gauge: return "gauge";
        case Type::Histogram: return "histogram";
    }
    return "untyped";
}

// {a="1",b="2"} with an extra label (le) if given; "" without labels.
std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        out += names[i];
        out += "=\"";
        out += escape_label_value(i < values.size() ? values[i] : std::string());
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
    return out;
}

void sample_line(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
    out += name;
    out += labels;
    out += ' ';
    out += value;
    out += '\n';
}

}  // namespace

std::size_t shard_index() {
    thread_local const std::size_t index = g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
    return index;
}

std::uint64_t Counter::value() const {
    std::uint64_t n = 0;
    for (const auto& s : shards_) n += s.n.load(std::memory_order_relaxed);
    return n;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
            throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    }
    for (auto& s : shards_) {
        s.counts = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
        for (std::size_t i = 0; i <= bounds_.size(); ++i) s.counts[i].store(0, std::memory_order_relaxed);
    }
}

void Histogram::observe(double v) {
    // A bucket counts the observations at or below its bound ("le"); linear search: a dozen
    // bounds fit in two cache lines and the branch predictor learns the usual ones.
    std::size_t i = 0;
    while (i < bounds_.size() && !(v <= bounds_[i])) ++i;
    auto& s = shards_[shard_index()];
    s.counts[i].fetch_add(1, std::memory_order_relaxed);
    s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot snap;
    snap.cumulative.assign(bounds_.size() + 1, 0);
    for (const auto& s : shards_) {
        for (std::size_t i = 0; i <= bounds_.size(); ++i) snap.cumulative[i] += s.counts[i].load(std::memory_order_relaxed);
        snap.sum += s.sum.load(std::memory_order_relaxed);
    }
    for (std::size_t i = 1; i < snap.cumulative.size(); ++i) snap.cumulative[i] += snap.cumulative[i - 1];
    return snap;
}

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string escape_help(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    // Shortest form that reads back as the same double (Go's ParseFloat reads it, as
    // Prometheus does).
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

struct Registry::Entry {
    std::string name, help;
    Type type = Type::Counter;
    std::vector<std::string> labels;
    Source source;

    void write(std::string& out) const;
};

void Registry::Entry::write(std::string& out) const {
    std::string samples;
    if (auto* f = std::get_if<std::unique_ptr<Family<Counter>>>(&source)) {
        (*f)->each([&](const std::vector<std::string>& values, const Counter& c) {
            sample_line(samples, name, label_text(labels, values), std::to_string(c.value()));
        });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&source)) {
        (*g)->each([&](const std::vector<std::string>& values, const Gauge& gauge) {
            sample_line(samples, name, label_text(labels, values), format_value(gauge.value()));
        });
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&source)) {
        (*h)->each([&](const std::vector<std::string>& values, const Histogram& hist) {
            const auto snap = hist.snapshot();
            const std::string bucket = name + "_bucket";
            for (std::size_t i = 0; i < hist.bounds().size(); ++i)
                sample_line(samples, bucket, label_text(labels, values, "le", format_value(hist.bounds()[i])),
                            std::to_string(snap.cumulative[i]));
            sample_line(samples, bucket, label_text(labels, values, "le", "+Inf"), std::to_string(snap.cumulative.back()));
            sample_line(samples, name + "_sum", label_text(labels, values), format_value(snap.sum));
            // _count is the +Inf bucket of the same snapshot, so the two always agree.
            sample_line(samples, name + "_count", label_text(labels, values), std::to_string(snap.cumulative.back()));
        });
    } else if (auto* read = std::get_if<std::function<std::vector<Sample>()>>(&source)) {
        for (const auto& s : (*read)()) sample_line(samples, name, label_text(labels, s.label_values), format_value(s.value));
    }
    if (samples.empty()) return;  // a labelled family nobody used yet
    out += "# HELP " + name + " " + escape_help(help) + "\n";
    out += "# TYPE " + name + " " + std::string(type_word(type)) + "\n";
    out += samples;
}

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::add(const std::string& name, const std::string& help, Type type, const std::vector<std::string>& labels,
                   Source source) {
    if (!valid_name(name, true)) throw std::invalid_argument("bad metric name: " + name);
    for (const auto& l : labels) {
        if (!valid_name(l, false) || l.rfind("__", 0) == 0 || (type == Type::Histogram && l == "le"))
            throw std::invalid_argument("bad label name for " + name + ": " + l);
    }
    // A histogram's series (_bucket, _sum, _count) must not meet another metric's name either.
    auto clashes = [](const std::string& histogram, const std::string& other) {
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (histogram + suffix == other) return true;
        return false;
    };
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_) {
        if (e->name == name || (e->type == Type::Histogram && clashes(e->name, name)) ||
            (type == Type::Histogram && clashes(name, e->name)))
            throw std::invalid_argument("metric name registered twice: " + name);
    }
    auto entry = std::make_unique<Entry>();
    entry->name = name;
    entry->help = help;
    entry->type = type;
    entry->labels = labels;
    entry->source = std::move(source);
    entries_.push_back(std::move(entry));
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> labels) {
    auto family = std::make_unique<Family<Counter>>(labels, [] { return std::make_unique<Counter>(); });
    auto& ref = *family;
    add(name, help, Type::Counter, labels, std::move(family));
    return ref;
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
    return counter_family(name, help, {}).with(std::vector<std::string>{});
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> labels) {
    auto family = std::make_unique<Family<Gauge>>(labels, [] { return std::make_unique<Gauge>(); });
    auto& ref = *family;
    add(name, help, Type::Gauge, labels, std::move(family));
    return ref;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
    return gauge_family(name, help, {}).with(std::vector<std::string>{});
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> labels, std::vector<double> bounds) {
    Histogram check(bounds);  // throws on bad bounds before anything is registered
    auto family = std::make_unique<Family<Histogram>>(
        labels, [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
    auto& ref = *family;
    add(name, help, Type::Histogram, labels, std::move(family));
    return ref;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
    return histogram_family(name, help, {}, std::move(bounds)).with(std::vector<std::string>{});
}

void Registry::callback(const std::string& name, const std::string& help, Type type, std::vector<std::string> labels,
                        std::function<std::vector<Sample>()> read) {
    if (type == Type::Histogram) throw std::invalid_argument("callback metrics are counters or gauges: " + name);
    add(name, help, type, labels, std::move(read));
}

std::string Registry::expose() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& e : entries_) e->write(out);
    return out;
}

}  // namespace ehlo::observe::metrics
