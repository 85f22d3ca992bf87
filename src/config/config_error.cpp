#include "config/config.hpp"

namespace ehlo::config {

// The compiler's FILE:LINE:COLUMN form, so editors and CI logs can jump to the spot.
std::string ConfigError::str() const {
    std::string out = file;
    if (line != 0) {
        out += ":" + std::to_string(line);
        if (column != 0) out += ":" + std::to_string(column);
    }
    return out + ": " + message;
}

}  // namespace ehlo::config
