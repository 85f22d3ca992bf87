#include "config/toml_reader.hpp"

#include <algorithm>

#include "smtp/text.hpp"

namespace ehlo::config::load_detail {

std::string escape_controls(std::string_view s) { return smtp::printable(s, s.size()); }

std::string in_quotes(std::string_view s) { return "'" + escape_controls(s) + "'"; }

std::string type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

}  // namespace ehlo::config::load_detail
