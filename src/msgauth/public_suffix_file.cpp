// The one place msgauth reads a file: the Public Suffix List, once at start.
#include <fstream>
#include <sstream>

#include "msgauth/public_suffix.hpp"

namespace ehlo::msgauth {

PublicSuffixList load_public_suffix_list(const std::string& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (error) *error = "cannot read " + path;
        return PublicSuffixList::parse("");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return PublicSuffixList::parse(text.str());
}

}  // namespace ehlo::msgauth
