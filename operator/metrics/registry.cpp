#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <shared_mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace elector::metrics {

namespace {

// ---- names -----------------------------------------------------------------

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_rest(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

constexpr std::string_view total_suffix = "_total";

std::string_view without_total(std::string_view counter_name) {
    return counter_name.substr(0, counter_name.size() - total_suffix.size());
}

// ---- formatting ------------------------------------------------------------

// Prometheus' float syntax: +Inf, -Inf, NaN; integers (exact in a double)
// without exponent or fraction; anything else the shortest text that reads
// back as the same double.
void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0) {  // 2^53
        out += fmt::format_int(static_cast<std::int64_t>(v)).c_str();
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

// OpenMetrics wants "le" values as floats: an integral bound gets ".0".
std::string openmetrics_le(double v) {
    std::string s;
    if (std::isfinite(v)) {
        fmt::format_to(std::back_inserter(s), "{}", v);
        if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // "n": nan/inf never reach here
    } else {
        append_value(s, v);
    }
    return s;
}

std::string text_le(double v) {
    std::string s;
    append_value(s, v);
    return s;
}

// HELP text: backslash and newline; OpenMetrics also escapes double quotes.
void append_help(std::string& out, std::string_view help, bool escape_quote) {
    for (char c : help) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '"':
            if (escape_quote) {
                out += "\\\"";
            } else {
                out += c;
            }
            break;
        default: out += c;
        }
    }
}

void append_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '"': out += "\\\""; break;
        default: out += c;
        }
    }
}

// `a="x",b="y"`
template <class Values>
std::string render_labels(const std::vector<std::string>& names, const Values& values) {
    std::string out;
    std::size_t i = 0;
    for (const auto& value : values) {
        if (i != 0) out += ',';
        out += names[i];
        out += "=\"";
        append_label_value(out, value);
        out += '"';
        ++i;
    }
    return out;
}

std::string_view type_word(metric_type type) {
    switch (type) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

void append_header(std::string& out, std::string_view name, std::string_view help, metric_type type,
                   exposition_format format) {
    const bool om = format == exposition_format::openmetrics;
    const std::string_view family = om && type == metric_type::counter ? without_total(name) : name;
    out += "# HELP ";
    out += family;
    out += ' ';
    append_help(out, help, om);
    out += "\n# TYPE ";
    out += family;
    out += ' ';
    out += type_word(type);
    out += '\n';
}

// name{labels} value\n   (name value\n without labels)
void append_sample(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                   double value) {
    out += name;
    out += suffix;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    append_value(out, value);
    out += '\n';
}

void check_label_names(const std::vector<std::string>& label_names, std::string_view family) {
    for (std::size_t i = 0; i < label_names.size(); ++i) {
        if (!valid_label_name(label_names[i])) {
            throw std::invalid_argument(fmt::format("metric {}: invalid label name \"{}\"", family, label_names[i]));
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (label_names[j] == label_names[i]) {
                throw std::invalid_argument(fmt::format("metric {}: duplicate label name {}", family, label_names[i]));
            }
        }
    }
}

std::vector<std::string> names_of(metric_type type, const std::string& name) {
    switch (type) {
    case metric_type::counter: return {name, std::string(without_total(name))};
    case metric_type::gauge: return {name};
    case metric_type::histogram: return {name, name + "_bucket", name + "_sum", name + "_count"};
    }
    return {name};
}

// ---- Accept header ---------------------------------------------------------

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

struct media_range {
    std::string_view type;
    std::string_view version;
    double q = 1.0;
    std::size_t position = 0;
};

std::vector<media_range> parse_accept(std::string_view header) {
    std::vector<media_range> ranges;
    std::size_t position = 0;
    while (!header.empty()) {
        const std::size_t comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        media_range range{.position = position++};
        const std::size_t semi = item.find(';');
        range.type = trim(item.substr(0, semi));
        item = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
        while (!item.empty()) {
            const std::size_t next = item.find(';');
            const std::string_view param = item.substr(0, next);
            item = next == std::string_view::npos ? std::string_view{} : item.substr(next + 1);
            const std::size_t eq = param.find('=');
            if (eq == std::string_view::npos) continue;
            const std::string_view key = trim(param.substr(0, eq));
            std::string_view value = trim(param.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (iequals(key, "q")) {
                double q = 0;
                const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
                range.q = ec == std::errc{} && end == value.data() + value.size() && q >= 0 && q <= 1 ? q : 0.0;
            } else if (iequals(key, "version")) {
                range.version = value;
            }
        }
        if (!range.type.empty() && range.q > 0) ranges.push_back(range);
    }
    std::stable_sort(ranges.begin(), ranges.end(), [](const media_range& a, const media_range& b) { return a.q > b.q; });
    return ranges;
}

}  // namespace

negotiation negotiate(std::string_view accept_header) {
    for (const media_range& range : parse_accept(accept_header)) {
        if (iequals(range.type, "application/openmetrics-text")) {
            if (range.version.empty() || range.version == "1.0.0" || range.version == "0.0.1") {
                return {exposition_format::openmetrics, openmetrics_content_type};
            }
        } else if (iequals(range.type, "text/plain")) {
            if (range.version.empty() || range.version == "0.0.4") return {};
        } else if (range.type == "*/*" || iequals(range.type, "text/*")) {
            return {};
        }
    }
    return {};
}

bool valid_metric_name(std::string_view name) noexcept {
    if (name.empty() || !(name_start(name[0]) || name[0] == ':')) return false;
    return std::all_of(name.begin() + 1, name.end(), [](char c) { return name_rest(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) noexcept {
    if (name.empty() || !name_start(name[0]) || name.starts_with("__")) return false;
    return std::all_of(name.begin() + 1, name.end(), name_rest);
}

// ---- histogram series ------------------------------------------------------

histogram::histogram(std::shared_ptr<const std::vector<double>> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
    for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
    const std::vector<double>& bounds = *bounds_;
    std::size_t i = 0;
    if (std::isnan(v)) {
        i = bounds.size();
    } else if (bounds.size() <= 16) {
        while (i < bounds.size() && bounds[i] < v) ++i;
    } else {
        i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
    }
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
    snapshot s;
    s.upper_bounds = *bounds_;
    s.cumulative.reserve(bounds_->size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_->size(); ++i) {
        running += counts_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

// ---- families --------------------------------------------------------------

family_base::family_base(metric_type type, std::string name, std::string help, std::vector<std::string> label_names)
    : type_(type), name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

family_base::~family_base() = default;

std::shared_ptr<void> family_base::get_or_create(std::span<const std::string_view> values) {
    if (values.size() != label_names_.size()) {
        throw std::invalid_argument(fmt::format("metric {}: {} label values for {} label names", name_,
                                                values.size(), label_names_.size()));
    }
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it == series_.end()) {
        entry e{.series = make_series(), .labels = render_labels(label_names_, values)};
        it = series_.emplace(std::vector<std::string>(values.begin(), values.end()), std::move(e)).first;
    }
    return it->second.series;
}

bool family_base::remove(std::span<const std::string_view> values) {
    if (values.size() != label_names_.size()) {
        throw std::invalid_argument(fmt::format("metric {}: {} label values for {} label names", name_,
                                                values.size(), label_names_.size()));
    }
    std::lock_guard lock(mutex_);
    const auto it = series_.find(values);
    if (it == series_.end()) return false;
    series_.erase(it);
    return true;
}

std::size_t family_base::remove_if(const std::function<bool(std::span<const std::string>)>& pred) {
    std::lock_guard lock(mutex_);
    return std::erase_if(series_, [&](const auto& kv) { return pred(std::span<const std::string>(kv.first)); });
}

std::size_t family_base::size() const {
    std::lock_guard lock(mutex_);
    return series_.size();
}

std::vector<std::string> family_base::sample_names() const { return names_of(type_, name_); }

void family_base::write(std::string& out, exposition_format format) const {
    std::lock_guard lock(mutex_);
    if (series_.empty()) return;
    append_header(out, name_, help_, type_, format);
    for (const auto& [values, e] : series_) write_series(out, e.labels, e.series.get(), format);
}

counter_family::counter_family(std::string name, std::string help, std::vector<std::string> label_names)
    : family_base(metric_type::counter, std::move(name), std::move(help), std::move(label_names)) {}

std::shared_ptr<void> counter_family::make_series() const { return std::make_shared<metrics::counter>(); }

void counter_family::write_series(std::string& out, std::string_view labels, const void* series,
                                  exposition_format /*format*/) const {
    append_sample(out, name(), "", labels, static_cast<const metrics::counter*>(series)->value());
}

gauge_family::gauge_family(std::string name, std::string help, std::vector<std::string> label_names)
    : family_base(metric_type::gauge, std::move(name), std::move(help), std::move(label_names)) {}

std::shared_ptr<void> gauge_family::make_series() const { return std::make_shared<metrics::gauge>(); }

void gauge_family::write_series(std::string& out, std::string_view labels, const void* series,
                                exposition_format /*format*/) const {
    append_sample(out, name(), "", labels, static_cast<const metrics::gauge*>(series)->value());
}

histogram_family::histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::vector<double> upper_bounds)
    : family_base(metric_type::histogram, std::move(name), std::move(help), std::move(label_names)) {
    if (!upper_bounds.empty() && std::isinf(upper_bounds.back()) && upper_bounds.back() > 0) upper_bounds.pop_back();
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
        if (std::isnan(upper_bounds[i]) || (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i]))) {
            throw std::invalid_argument(
                fmt::format("histogram {}: bucket bounds must be strictly increasing numbers", this->name()));
        }
        le_text_.push_back(text_le(upper_bounds[i]));
        le_openmetrics_.push_back(openmetrics_le(upper_bounds[i]));
    }
    bounds_ = std::make_shared<const std::vector<double>>(std::move(upper_bounds));
}

std::shared_ptr<void> histogram_family::make_series() const { return std::make_shared<metrics::histogram>(bounds_); }

std::vector<std::string> histogram_family::sample_names() const { return names_of(metric_type::histogram, name()); }

void histogram_family::write_series(std::string& out, std::string_view labels, const void* series,
                                    exposition_format format) const {
    const auto& h = *static_cast<const metrics::histogram*>(series);
    const auto& le = format == exposition_format::openmetrics ? le_openmetrics_ : le_text_;
    // Cumulative counts from the per-bucket ones, read once each: the +Inf
    // bucket and _count are the same number, and buckets never decrease,
    // even while observe() runs concurrently.
    std::uint64_t running = 0;
    const std::size_t n = bounds_->size();
    for (std::size_t i = 0; i <= n; ++i) {
        running += h.counts_[i].load(std::memory_order_relaxed);
        out += name();
        out += "_bucket{";
        if (!labels.empty()) {
            out += labels;
            out += ',';
        }
        out += "le=\"";
        out += i < n ? std::string_view(le[i]) : std::string_view("+Inf");
        out += "\"} ";
        out += fmt::format_int(running).c_str();
        out += '\n';
    }
    append_sample(out, name(), "_sum", labels, h.sum_.load(std::memory_order_relaxed));
    out += name();
    out += "_count";
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += fmt::format_int(running).c_str();
    out += '\n';
}

// ---- registry --------------------------------------------------------------

registry::registry() = default;
registry::~registry() = default;

namespace {

void check_family(metric_type type, const std::string& name, const std::vector<std::string>& label_names) {
    if (!valid_metric_name(name)) throw std::invalid_argument(fmt::format("invalid metric name \"{}\"", name));
    if (type == metric_type::counter &&
        (!name.ends_with(total_suffix) || !valid_metric_name(without_total(name)))) {
        throw std::invalid_argument(fmt::format("counter {}: the name must end in _total", name));
    }
    check_label_names(label_names, name);
    if (type == metric_type::histogram &&
        std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
        throw std::invalid_argument(fmt::format("histogram {}: the label name \"le\" is reserved", name));
    }
}

}  // namespace

template <class F>
F& registry::add(std::unique_ptr<F> fresh) {
    std::lock_guard lock(mutex_);
    if (const auto it = families_.find(fresh->name()); it != families_.end()) {
        auto* existing = dynamic_cast<F*>(it->second.get());
        bool same = existing != nullptr && existing->help() == fresh->help() &&
                    existing->label_names() == fresh->label_names();
        if constexpr (std::is_same_v<F, histogram_family>) {
            same = same && existing->upper_bounds() == fresh->upper_bounds();
        }
        if (!same) {
            throw std::invalid_argument(fmt::format("metric {} is already registered differently", fresh->name()));
        }
        return *existing;
    }
    const std::vector<std::string> names = fresh->sample_names();
    for (const auto& n : names) {
        if (taken_names_.contains(n)) {
            throw std::invalid_argument(
                fmt::format("metric {}: the name {} clashes with another family", fresh->name(), n));
        }
    }
    taken_names_.insert(names.begin(), names.end());
    F& family = *fresh;
    families_.emplace(family.name(), std::move(fresh));
    if (family.label_names().empty()) family.get_or_create({});
    return family;
}

counter_family& registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
    check_family(metric_type::counter, name, label_names);
    return add(std::unique_ptr<counter_family>(
        new counter_family(std::move(name), std::move(help), std::move(label_names))));
}

gauge_family& registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
    check_family(metric_type::gauge, name, label_names);
    return add(std::unique_ptr<gauge_family>(new gauge_family(std::move(name), std::move(help), std::move(label_names))));
}

histogram_family& registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                      std::vector<double> upper_bounds) {
    check_family(metric_type::histogram, name, label_names);
    return add(std::unique_ptr<histogram_family>(
        new histogram_family(std::move(name), std::move(help), std::move(label_names), std::move(upper_bounds))));
}

// A collector runs under its slot's shared lock; removal takes the lock
// exclusively, so it waits for the scrapes running the collector.
struct registry::collector_slot {
    std::uint64_t id = 0;
    collector run;
    std::shared_mutex mutex;
    bool removed = false;
};

std::uint64_t registry::add_slot(collector c) {
    auto slot = std::make_shared<collector_slot>();
    slot->run = std::move(c);
    std::lock_guard lock(mutex_);
    slot->id = next_collector_id_++;
    collectors_.push_back(slot);
    return slot->id;
}

void registry::add_collector(collector c) { add_slot(std::move(c)); }

collector_registration registry::scoped_collector(collector c) { return {this, add_slot(std::move(c))}; }

void registry::remove_collector(std::uint64_t id) {
    std::shared_ptr<collector_slot> slot;
    {
        std::lock_guard lock(mutex_);
        const auto it = std::find_if(collectors_.begin(), collectors_.end(), [&](const auto& s) { return s->id == id; });
        if (it == collectors_.end()) return;
        slot = *it;
        collectors_.erase(it);
    }
    std::unique_lock lock(slot->mutex);
    slot->removed = true;
}

collector_registration::collector_registration(collector_registration&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(std::exchange(other.id_, 0)) {}

collector_registration& collector_registration::operator=(collector_registration&& other) noexcept {
    if (this != &other) {
        reset();
        registry_ = std::exchange(other.registry_, nullptr);
        id_ = std::exchange(other.id_, 0);
    }
    return *this;
}

void collector_registration::reset() {
    if (registry_ != nullptr) std::exchange(registry_, nullptr)->remove_collector(id_);
}

std::size_t registry::remove_matching(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    std::vector<family_base*> families;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, family] : families_) families.push_back(family.get());
    }
    std::size_t removed = 0;
    std::vector<std::pair<std::size_t, std::string_view>> wanted;  // label index, value
    for (family_base* family : families) {
        wanted.clear();
        const auto& names = family->label_names();
        for (const auto& [label, value] : labels) {
            const auto it = std::find(names.begin(), names.end(), label);
            if (it == names.end()) break;
            wanted.emplace_back(static_cast<std::size_t>(it - names.begin()), value);
        }
        if (wanted.size() != labels.size()) continue;
        removed += family->remove_if([&](std::span<const std::string> values) {
            return std::all_of(wanted.begin(), wanted.end(), [&](const auto& w) { return values[w.first] == w.second; });
        });
    }
    return removed;
}

namespace {

bool collected_valid(const collected_family& f) {
    if (!valid_metric_name(f.name)) return false;
    if (f.type == metric_type::histogram) return false;
    if (f.type == metric_type::counter && (!f.name.ends_with(total_suffix) || !valid_metric_name(without_total(f.name)))) {
        return false;
    }
    try {
        check_label_names(f.label_names, f.name);
    } catch (const std::invalid_argument&) {
        return false;
    }
    return true;
}

void write_collected(std::string& out, const collected_family& f, exposition_format format) {
    bool header = false;
    for (const collected_sample& s : f.samples) {
        if (s.label_values.size() != f.label_names.size()) continue;
        if (!header) {
            append_header(out, f.name, f.help, f.type, format);
            header = true;
        }
        append_sample(out, f.name, "", render_labels(f.label_names, s.label_values), s.value);
    }
}

}  // namespace

std::string registry::expose(exposition_format format) const {
    std::vector<std::shared_ptr<collector_slot>> collectors;
    {
        std::lock_guard lock(mutex_);
        collectors = collectors_;
    }
    std::vector<collected_family> collected;
    for (const auto& c : collectors) {
        std::shared_lock running(c->mutex);
        if (c->removed) continue;
        const std::size_t before = collected.size();
        try {
            c->run(collected);
        } catch (...) {
            collected.resize(before);
        }
    }

    std::vector<const family_base*> families;
    std::vector<const collected_family*> extra;
    {
        std::lock_guard lock(mutex_);
        families.reserve(families_.size());
        for (const auto& [name, family] : families_) families.push_back(family.get());
        std::set<std::string, std::less<>> seen;
        for (const collected_family& f : collected) {
            if (!collected_valid(f)) continue;
            const std::vector<std::string> names = names_of(f.type, f.name);
            if (std::any_of(names.begin(), names.end(),
                            [&](const std::string& n) { return taken_names_.contains(n) || seen.contains(n); })) {
                continue;
            }
            seen.insert(names.begin(), names.end());
            extra.push_back(&f);
        }
    }
    std::stable_sort(extra.begin(), extra.end(), [](const auto* a, const auto* b) { return a->name < b->name; });

    std::string out;
    out.reserve(last_size_.load(std::memory_order_relaxed) + 256);
    auto fi = families.begin();
    auto ei = extra.begin();
    while (fi != families.end() || ei != extra.end()) {
        if (ei == extra.end() || (fi != families.end() && (*fi)->name() < (*ei)->name)) {
            (*fi++)->write(out, format);
        } else {
            write_collected(out, **ei++, format);
        }
    }
    if (format == exposition_format::openmetrics) out += "# EOF\n";
    last_size_.store(out.size(), std::memory_order_relaxed);
    return out;
}

}  // namespace elector::metrics
