#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "kube/time.hpp"

// Lookups into API objects that never throw: a field that is missing or of
// the wrong type reads as absent (nullptr, nullopt or the fallback). Shared
// by the typed views of Kubernetes objects and of elector's own resource.
namespace elector::kube::json_fields {

using json = nlohmann::json;

inline const json* child(const json* j, const char* key) {
    if (j == nullptr || !j->is_object()) return nullptr;
    auto it = j->find(key);
    return it == j->end() ? nullptr : &*it;
}

template <class... Keys>
const json* at_path(const json* j, Keys... keys) {
    ((j = child(j, keys)), ...);
    return j;
}

inline const std::string* as_string(const json* j) {
    return j != nullptr && j->is_string() ? j->get_ptr<const std::string*>() : nullptr;
}

inline std::string string_or(const json* j, std::string fallback = {}) {
    const std::string* s = as_string(j);
    return s != nullptr ? *s : std::move(fallback);
}

// An integer that fits T; a float, a string or an out-of-range number is absent.
template <std::integral T>
std::optional<T> as_int(const json* j) {
    if (j == nullptr) return std::nullopt;
    if (j->is_number_unsigned()) {
        const auto v = j->get<std::uint64_t>();
        return std::in_range<T>(v) ? std::optional<T>(static_cast<T>(v)) : std::nullopt;
    }
    if (j->is_number_integer()) {
        const auto v = j->get<std::int64_t>();
        return std::in_range<T>(v) ? std::optional<T>(static_cast<T>(v)) : std::nullopt;
    }
    return std::nullopt;
}

template <std::integral T>
T int_or(const json* j, T fallback) {
    return as_int<T>(j).value_or(fallback);
}

inline bool bool_or(const json* j, bool fallback) {
    return j != nullptr && j->is_boolean() ? j->get<bool>() : fallback;
}

// metav1.Time or MicroTime; nullopt if absent or not a valid time.
inline std::optional<time_point> as_time(const json* j) {
    const std::string* s = as_string(j);
    return s != nullptr ? parse_time(*s) : std::nullopt;
}

}  // namespace elector::kube::json_fields
