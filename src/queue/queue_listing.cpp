#include "queue/queue_listing.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <system_error>

#include "queue/queue_id.hpp"
#include "queue/spool_file.hpp"

namespace ehlo::queue {
namespace {

std::int64_t seconds_of(std::uint64_t unix_us) { return static_cast<std::int64_t>(unix_us / 1000000); }

std::string utc_time(std::uint64_t unix_us) {
    const std::time_t t = static_cast<std::time_t>(seconds_of(unix_us));
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

}  // namespace

MessageSummary summarize(const SpoolHeader& header, std::uint64_t content_size,
                         const std::vector<RecipientState>& recipients, bool held) {
    MessageSummary summary;
    summary.id = header.id;
    summary.arrival = seconds_of(header.arrival_us);
    summary.size = content_size;
    summary.sender = header.envelope.sender_str();
    summary.session = header.reception.session_id;
    summary.held = held;
    for (std::size_t i = 0; i < recipients.size() && i < header.envelope.recipients.size(); ++i) {
        const RecipientState& state = recipients[i];
        RecipientSummary r;
        r.address = header.envelope.recipients[i].address.str();
        r.status = held && !state.final() ? "held" : std::string(to_string(state.status));
        r.attempts = state.attempts;
        if (state.status == DeliveryStatus::Deferred) r.next_attempt = seconds_of(state.next_attempt_us);
        if (state.status == DeliveryStatus::Deferred || state.status == DeliveryStatus::Failed) r.last_error = state.text;
        summary.recipients.push_back(std::move(r));
    }
    return summary;
}

std::string describe_attempt(const AttemptRecord& attempt, const smtp::Envelope& envelope) {
    std::string text = utc_time(attempt.time_us);
    text += ' ';
    text += attempt.recipient < envelope.recipients.size() ? envelope.recipients[attempt.recipient].address.str() : "?";
    text += ' ';
    text += attempt.outcome;
    if (!attempt.peer.empty()) text += " " + attempt.peer;
    if (!attempt.detail.empty()) text += (attempt.peer.empty() ? " " : ": ") + attempt.detail;
    return text;
}

std::optional<MessageSummary> summarize_quarantined(const std::filesystem::path& corrupt_dir, const std::string& id) {
    if (!is_valid_queue_id(id)) return std::nullopt;
    const auto path = corrupt_dir / id;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    // What of the envelope can still be read is shown, for the operator to judge by.
    SpoolReadResult light = read_spool_file(path, SpoolRead::Light);
    MessageSummary summary;
    if (light.status == SpoolFileStatus::Ok) {
        const SpoolFileContents& c = light.contents;
        summary = summarize(c.header, c.content_size, c.recipients, c.held);
    }
    summary.id = id;
    summary.arrival = seconds_of(queue_id_time(id));
    summary.size = static_cast<std::uint64_t>(st.st_size);
    summary.held = false;
    summary.corrupt = true;
    SpoolReadResult read = read_spool_file(path);
    summary.damage = read.status == SpoolFileStatus::Ok ? "quarantined" : read.detail;
    return summary;
}

std::vector<MessageSummary> list_spool_files(const std::filesystem::path& spool_dir, const std::set<std::string>& skip) {
    auto names_in = [](const std::filesystem::path& dir, bool required) {
        std::vector<std::string> names;
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) {
            if (required) throw std::system_error(errno, std::system_category(), "cannot read " + dir.string());
            return names;
        }
        while (const dirent* entry = ::readdir(d.get()))
            if (is_valid_queue_id(entry->d_name)) names.emplace_back(entry->d_name);
        std::sort(names.begin(), names.end());
        return names;
    };
    const std::filesystem::path queue_dir = spool_dir / "queue";
    std::vector<MessageSummary> out;
    for (const std::string& name : names_in(queue_dir, true)) {
        if (skip.count(name)) continue;
        // Read only, and lightly. A file being received has no End yet and is left out, as is
        // one gone since the listing (delivered meanwhile) or one not understood.
        SpoolReadResult read = read_spool_file(queue_dir / name, SpoolRead::Light);
        if (read.status != SpoolFileStatus::Ok) continue;
        const SpoolFileContents& c = read.contents;
        out.push_back(summarize(c.header, c.content_size, c.recipients, c.held));
    }
    for (const std::string& name : names_in(spool_dir / "corrupt", false))
        if (auto q = summarize_quarantined(spool_dir / "corrupt", name)) out.push_back(std::move(*q));
    return out;
}

std::vector<MessageSummary> list_spool(const std::filesystem::path& spool_dir) { return list_spool_files(spool_dir); }

std::vector<std::string> spool_sessions_with_prefix(const std::filesystem::path& spool_dir, std::string_view prefix) {
    std::vector<std::string> out;
    const std::filesystem::path queue_dir = spool_dir / "queue";
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(queue_dir.c_str()), ::closedir);
    if (!d) return out;
    while (const dirent* entry = ::readdir(d.get())) {
        if (!is_valid_queue_id(entry->d_name)) continue;
        SpoolReadResult read = read_spool_file(queue_dir / entry->d_name, SpoolRead::Light);
        if (read.status != SpoolFileStatus::Ok) continue;
        const std::string& session = read.contents.header.reception.session_id;
        if (session.compare(0, prefix.size(), prefix) == 0) out.push_back(session);
    }
    return out;
}

}  // namespace ehlo::queue
