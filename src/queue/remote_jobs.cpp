#include "queue/remote_jobs.hpp"

#include <algorithm>
#include <iterator>


namespace ehlo::queue {

std::vector<RemoteGroup> group_by_target(const std::vector<std::pair<std::size_t, delivery::RemoteTarget>>& routed) {
    std::vector<RemoteGroup> groups;
    for (const auto& [index, target] : routed) {
        auto it = std::find_if(groups.begin(), groups.end(), [&](const RemoteGroup& g) {
            return g.target == target && g.recipients.size() < kMaxRecipientsPerJob;
        });
        if (it == groups.end()) {
            groups.push_back({target, {}});
            it = std::prev(groups.end());
        }
        it->recipients.push_back(index);
    }
    return groups;
}

delivery::RemoteJob make_job(const std::string& queue_id, const smtp::Envelope& envelope, const RemoteGroup& group,
                             const SharedContent& shared) {
    delivery::RemoteJob job;
    job.queue_id = queue_id;
    job.envelope = envelope;
    job.recipients = group.recipients;
    job.content = shared.content;
    job.content_size = shared.size;
    job.eight_bit = shared.facts.eight_bit;
    job.target = group.target;
    bool utf8 = envelope.sender && envelope.sender->needs_smtputf8();
    for (std::size_t i : group.recipients) utf8 = utf8 || envelope.recipients[i].address.needs_smtputf8();
    job.needs_smtputf8 = utf8 || (envelope.smtputf8 && shared.facts.utf8_headers);
    return job;
}

}  // namespace ehlo::queue
