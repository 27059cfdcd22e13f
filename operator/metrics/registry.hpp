#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// elector's Prometheus metrics: families of counters, gauges and histograms
// with fixed label names, series addressed by label values, collectors for
// values computed at scrape time, and exposition in the Prometheus text
// format 0.0.4 and in OpenMetrics 1.0.0 text.
//
//   metrics::registry reg;
//   auto& transitions = reg.counter("elector_transitions_total", "Leader changes.",
//                                   {"namespace", "group", "reason"});
//   auto series = transitions.with({"default", "web", "lease_expired"});  // keep it
//   series->inc();                                   // lock-free, no allocation
//   transitions.remove_if([](auto values) { return values[1] == "web"; });
//   std::string body = reg.expose(metrics::exposition_format::prometheus_text);
//
// Registration errors (bad names, conflicting families, a counter not ending
// in "_total", a wrong number of label values) throw std::invalid_argument:
// they are programming errors, found at startup.
namespace elector::metrics {

enum class metric_type { counter, gauge, histogram };

enum class exposition_format {
    prometheus_text,  // text/plain; version=0.0.4
    openmetrics,      // application/openmetrics-text; version=1.0.0
};

inline constexpr std::string_view prometheus_text_content_type = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view openmetrics_content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct negotiation {
    exposition_format format = exposition_format::prometheus_text;
    std::string_view content_type = prometheus_text_content_type;
};

// Picks the format for an HTTP Accept header (RFC 9110 media ranges with q
// values): OpenMetrics when application/openmetrics-text (version 1.0.0,
// 0.0.1 or none) is the most preferred acceptable range, else the text
// format (also for an empty or unparsable header and for */*).
[[nodiscard]] negotiation negotiate(std::string_view accept_header);

[[nodiscard]] bool valid_metric_name(std::string_view name) noexcept;  // [a-zA-Z_:][a-zA-Z0-9_:]*
[[nodiscard]] bool valid_label_name(std::string_view name) noexcept;   // [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix

// One series of a counter family. Only goes up. Whole increments go to an
// integer (one atomic add, also under contention); others to a double
// (a compare-and-swap loop).
class alignas(64) counter {
public:
    void inc() noexcept { ones_.fetch_add(1, std::memory_order_relaxed); }
    // v < 0 and NaN are ignored: a counter never goes down.
    void inc(double v) noexcept {
        if (v >= 0) rest_.fetch_add(v, std::memory_order_relaxed);
    }
    [[nodiscard]] double value() const noexcept {
        return static_cast<double>(ones_.load(std::memory_order_relaxed)) + rest_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint64_t> ones_{0};
    std::atomic<double> rest_{0.0};
};

// One series of a gauge family.
class alignas(64) gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void inc(double v = 1.0) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
    void dec(double v = 1.0) noexcept { value_.fetch_sub(v, std::memory_order_relaxed); }
    [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// One series of a histogram family: counts per bucket (upper bounds
// inclusive, as Prometheus' "le"), the sum and the count of observations.
class alignas(64) histogram {
public:
    explicit histogram(std::shared_ptr<const std::vector<double>> upper_bounds);

    // Lock-free; NaN lands in the +Inf bucket (and makes the sum NaN).
    void observe(double v) noexcept;

    struct snapshot {
        std::vector<double> upper_bounds;      // without +Inf
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;  // == cumulative.back()
    };
    [[nodiscard]] snapshot read() const;

private:
    friend class histogram_family;
    std::shared_ptr<const std::vector<double>> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_->size() + 1, not cumulative
    std::atomic<double> sum_{0.0};
};

namespace detail {
// Orders label-value tuples lexicographically, across std::string and
// std::string_view ranges (lookups without building a key).
struct values_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        auto ai = a.begin();
        auto bi = b.begin();
        for (; ai != a.end() && bi != b.end(); ++ai, ++bi) {
            const int c = std::string_view(*ai).compare(std::string_view(*bi));
            if (c != 0) return c < 0;
        }
        return ai == a.end() && bi != b.end();
    }
};
}  // namespace detail

// What the families of all three types share: identity, series storage and
// removal. Owned by a registry; references stay valid for its lifetime.
class family_base {
public:
    virtual ~family_base();
    family_base(const family_base&) = delete;
    family_base& operator=(const family_base&) = delete;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::string& help() const noexcept { return help_; }
    [[nodiscard]] const std::vector<std::string>& label_names() const noexcept { return label_names_; }
    [[nodiscard]] metric_type type() const noexcept { return type_; }

    // Drops one series (label values in declared order). Returns whether it
    // existed. A handle to it stays usable; it just no longer shows, and a
    // later with() of the same values starts a new series from zero. Throws
    // std::invalid_argument for a wrong number of values.
    bool remove(std::initializer_list<std::string_view> values) { return remove(std::span(values.begin(), values.size())); }
    bool remove(std::span<const std::string_view> values);
    // Drops every series whose label values (declared order) satisfy pred.
    // Returns how many. pred runs under the family's lock: keep it simple.
    std::size_t remove_if(const std::function<bool(std::span<const std::string>)>& pred);
    // Number of series.
    [[nodiscard]] std::size_t size() const;

protected:
    family_base(metric_type type, std::string name, std::string help, std::vector<std::string> label_names);
    // The series for these values, created on first use. Throws
    // std::invalid_argument for a wrong number of values.
    std::shared_ptr<void> get_or_create(std::span<const std::string_view> values);

private:
    friend class registry;
    virtual std::shared_ptr<void> make_series() const = 0;
    // Appends the samples of one series; labels: escaped `a="x",b="y"` or "".
    virtual void write_series(std::string& out, std::string_view labels, const void* series,
                              exposition_format format) const = 0;
    void write(std::string& out, exposition_format format) const;
    // Names of the samples this family writes, for conflict checks.
    [[nodiscard]] virtual std::vector<std::string> sample_names() const;

    struct entry {
        std::shared_ptr<void> series;
        std::string labels;  // rendered once, at creation
    };

    metric_type type_;
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, entry, detail::values_less> series_;
};

class counter_family final : public family_base {
public:
    // The series for these label values (declared order), created at 0 on
    // first use. Keep the handle: increments through it take no lock.
    std::shared_ptr<metrics::counter> with(std::initializer_list<std::string_view> values) {
        return with(std::span(values.begin(), values.size()));
    }
    std::shared_ptr<metrics::counter> with(std::span<const std::string_view> values) {
        return std::static_pointer_cast<metrics::counter>(get_or_create(values));
    }

private:
    friend class registry;
    counter_family(std::string name, std::string help, std::vector<std::string> label_names);
    std::shared_ptr<void> make_series() const override;
    void write_series(std::string& out, std::string_view labels, const void* series,
                      exposition_format format) const override;
};

class gauge_family final : public family_base {
public:
    std::shared_ptr<metrics::gauge> with(std::initializer_list<std::string_view> values) {
        return with(std::span(values.begin(), values.size()));
    }
    std::shared_ptr<metrics::gauge> with(std::span<const std::string_view> values) {
        return std::static_pointer_cast<metrics::gauge>(get_or_create(values));
    }

private:
    friend class registry;
    gauge_family(std::string name, std::string help, std::vector<std::string> label_names);
    std::shared_ptr<void> make_series() const override;
    void write_series(std::string& out, std::string_view labels, const void* series,
                      exposition_format format) const override;
};

class histogram_family final : public family_base {
public:
    std::shared_ptr<metrics::histogram> with(std::initializer_list<std::string_view> values) {
        return with(std::span(values.begin(), values.size()));
    }
    std::shared_ptr<metrics::histogram> with(std::span<const std::string_view> values) {
        return std::static_pointer_cast<metrics::histogram>(get_or_create(values));
    }
    [[nodiscard]] const std::vector<double>& upper_bounds() const noexcept { return *bounds_; }

private:
    friend class registry;
    histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> upper_bounds);
    std::shared_ptr<void> make_series() const override;
    void write_series(std::string& out, std::string_view labels, const void* series,
                      exposition_format format) const override;
    [[nodiscard]] std::vector<std::string> sample_names() const override;

    std::shared_ptr<const std::vector<double>> bounds_;
    std::vector<std::string> le_text_;         // per bound, text format ("1", "0.5")
    std::vector<std::string> le_openmetrics_;  // per bound, OpenMetrics ("1.0", "0.5")
};

// A family computed at scrape time by a collector (counter or gauge only).
struct collected_sample {
    std::vector<std::string> label_values;  // as many as label_names
    double value = 0;
};
struct collected_family {
    std::string name;  // a counter's ends in "_total"
    std::string help;
    metric_type type = metric_type::gauge;
    std::vector<std::string> label_names;
    std::vector<collected_sample> samples;
};
// Appends families to the vector. Runs on the scraping thread, possibly on
// several at once. A collected family that is invalid (bad names, a
// histogram, a counter without "_total") or whose names clash with a
// registered family or an earlier collected one is left out, as is a sample
// with the wrong number of label values; an exception drops that
// collector's output for this scrape.
using collector = std::function<void(std::vector<collected_family>&)>;

class registry;

// Keeps a collector registered while it lives (registry::scoped_collector):
// destroying or resetting it removes the collector, after waiting for a
// scrape that is running it, so the collector may capture objects that die
// with the registration. Move-only.
class collector_registration {
public:
    collector_registration() = default;
    ~collector_registration() { reset(); }
    collector_registration(collector_registration&& other) noexcept;
    collector_registration& operator=(collector_registration&& other) noexcept;
    collector_registration(const collector_registration&) = delete;
    collector_registration& operator=(const collector_registration&) = delete;

    void reset();

private:
    friend class registry;
    collector_registration(registry* r, std::uint64_t id) : registry_(r), id_(id) {}
    registry* registry_ = nullptr;
    std::uint64_t id_ = 0;
};

class registry {
public:
    registry();
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // Registers a family, or returns the existing one when the name, type,
    // help, label names (and buckets) are the same. Throws
    // std::invalid_argument for invalid names, a counter name not ending in
    // "_total", duplicate label names, "le" on a histogram, non-increasing or
    // NaN buckets, or a clash with another family's names (including the
    // _bucket/_sum/_count a histogram writes and a counter's name without
    // "_total"). A family without labels has its one series from the start.
    counter_family& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
    gauge_family& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
    // upper_bounds strictly increasing; a trailing +Inf is implied (and
    // dropped if given).
    histogram_family& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

    // A collector for the registry's lifetime.
    void add_collector(collector c);
    // A collector for the registration's lifetime (which must not outlast
    // the registry).
    [[nodiscard]] collector_registration scoped_collector(collector c);

    // Across every family that has all the given label names: drops each
    // series whose labels equal all the given values. Returns how many.
    //   reg.remove_matching({{"namespace", "default"}, {"group", "web"}});
    std::size_t remove_matching(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

    // The whole registry, families sorted by name, series by label values.
    // Families without series are left out. Never throws but for bad_alloc.
    [[nodiscard]] std::string expose(exposition_format format) const;

private:
    friend class collector_registration;
    struct collector_slot;

    template <class F>
    F& add(std::unique_ptr<F> fresh);
    std::uint64_t add_slot(collector c);
    void remove_collector(std::uint64_t id);

    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<family_base>, std::less<>> families_;
    std::set<std::string, std::less<>> taken_names_;  // every sample/family name of families_
    std::vector<std::shared_ptr<collector_slot>> collectors_;
    std::uint64_t next_collector_id_ = 1;
    mutable std::atomic<std::size_t> last_size_{0};  // reserve() hint for expose()
};

}  // namespace elector::metrics
