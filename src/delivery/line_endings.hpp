// Maildir files use the local convention, LF, while SMTP content and the spool use CRLF.
#pragma once

#include <string>
#include <string_view>

namespace ehlo::delivery {

// Turns CRLF into LF across piece boundaries: a CR that ends one piece is held back until the
// next piece shows whether an LF follows. A CR not followed by LF is kept as it is (the SMTP
// core refuses bare CR, so this is only a safeguard against rewriting what we do not expect).
class CrlfToLf {
public:
    void convert(std::string_view in, std::string& out);
    // End of content: writes a held-back CR.
    void finish(std::string& out);

private:
    bool held_cr_ = false;
};

}  // namespace ehlo::delivery
