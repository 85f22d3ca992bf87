#include "policy/alias_source.hpp"

#include <sys/stat.h>

#include <stdexcept>
#include <utility>

#include "observe/log.hpp"
#include "policy/alias_expansion.hpp"

namespace ehlo::policy {

std::vector<AliasFileSpec> alias_files(const config::Config& config) {
    std::vector<AliasFileSpec> files;
    for (const auto& path : config.aliases.files) files.push_back({path, AliasFormat::Aliases, {}});
    for (const auto& domain : config.domains) {
        if (!domain.alias_file.empty()) files.push_back({domain.alias_file, AliasFormat::Aliases, lower(domain.name)});
    }
    for (const auto& path : config.aliases.virtual_files) files.push_back({path, AliasFormat::Virtual, {}});
    return files;
}

AliasLoad load_alias_table(const std::vector<AliasFileSpec>& files, const LocalDomains& domains) {
    AliasTableBuilder builder(domains);
    for (const auto& spec : files) builder.add_file(spec);
    AliasLoad load;
    load.problems = builder.problems();
    auto table = builder.build();
    if (load.problems.empty()) load.problems = check_alias_targets(*table, domains);
    if (load.problems.empty()) load.table = std::move(table);
    return load;
}

AliasSource::AliasSource(std::vector<AliasFileSpec> files, const LocalDomains& domains)
    : files_(std::move(files)), domains_(domains) {
    auto before = stat_files();
    auto load = load_alias_table(files_, domains_);
    if (!load.table) {
        std::string message = "alias files have problems:";
        for (const auto& p : load.problems) message += "\n" + p.str();
        throw std::runtime_error(message);
    }
    loaded_ = std::move(before);
    table_ = std::move(load.table);
}

std::vector<AliasSource::FileState> AliasSource::stat_files() const {
    std::vector<FileState> states;
    states.reserve(files_.size());
    for (const auto& spec : files_) {
        FileState s;
        struct stat st{};
        if (::stat(spec.path.c_str(), &st) == 0) {
            s.exists = true;
            s.dev = st.st_dev;
            s.ino = st.st_ino;
            s.size = st.st_size;
            s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        }
        states.push_back(s);
    }
    return states;
}

AliasSource::Reload AliasSource::reload_locked(std::vector<FileState> before) {
    Reload result;
    result.attempted = true;
    auto load = load_alias_table(files_, domains_);
    // Whatever the outcome, these versions of the files have been judged: a bad file is
    // read again only when it changes again.
    loaded_ = std::move(before);
    changed_.reset();
    if (!load.table) {
        result.ok = false;
        result.problems = std::move(load.problems);
        for (const auto& p : result.problems) {
            observe::error("aliases-invalid", {{"file", p.file}, {"line", p.line}, {"problem", p.message}, {"kept", "previous table"}});
        }
        return result;
    }
    const std::size_t entries = load.table->size();
    std::shared_ptr<const AliasTable> old;
    {
        std::lock_guard lock(table_mutex_);
        old = std::exchange(table_, std::move(load.table));
    }
    old.reset();  // the old table, when no expansion holds it any more, is freed outside the lock
    observe::info("aliases-loaded", {{"files", files_.size()}, {"entries", entries}});
    return result;
}

AliasSource::Reload AliasSource::reload() {
    std::lock_guard lock(reload_mutex_);
    return reload_locked(stat_files());
}

AliasSource::Reload AliasSource::reload_if_changed() {
    std::lock_guard lock(reload_mutex_);
    auto now = stat_files();
    if (now == loaded_) {
        changed_.reset();
        return {};
    }
    if (!changed_ || *changed_ != now) {
        changed_ = std::move(now);  // seen changing: read it when it has stopped
        return {};
    }
    return reload_locked(std::move(now));
}

}  // namespace ehlo::policy
