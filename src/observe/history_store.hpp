// The writer's side of the history database (internal to observe/): one connection, its
// prepared statements, a batch of events in one transaction, and retention in small steps.
// Used only by History's writer thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "observe/history_event.hpp"
#include "observe/sqlite.hpp"

namespace ehlo::observe {

class HistoryStore {
public:
    HistoryStore();
    ~HistoryStore();
    HistoryStore(const HistoryStore&) = delete;
    HistoryStore& operator=(const HistoryStore&) = delete;

    // Opens or creates the database; `max_bytes` caps its size (0 = no cap): past it a write
    // fails as on a full disk. "" on success, else why not.
    std::string open(const std::string& path, std::uint64_t max_bytes);
    bool is_open() const { return db_.is_open(); }
    void close();

    struct Outcome {
        std::string error;        // "" = written
        bool reopen = false;      // the connection is unusable (I/O error, damage): open anew
    };
    // All of `batch` in one transaction, or nothing of it.
    Outcome write(const std::vector<std::unique_ptr<Event>>& batch);

    // Deletes at most about `step` rows of each kind that the retention has passed (events
    // and messages whose latest event is before `cutoff_us`); the number of rows deleted, or
    // -1 with `error` set.
    std::int64_t prune_step(std::int64_t cutoff_us, std::size_t step, std::string& error);

    // Copies the write-ahead log into the database, which syncs both, when what is not yet
    // copied has reached `cap` frames, or, with `idle`, whenever there is any: the writer calls
    // it after each batch (History::run decides when it is idle). Under load the history's
    // own syncs then wait for a pause instead of queueing in front of the spool's, and each
    // page is copied once, not once per 1000 frames as SQLite's automatic checkpoint does.
    static constexpr int kWalFrames = 8192;  // 32 MiB of 4 KiB pages
    void checkpoint(bool idle, int cap = kWalFrames);
    int wal_frames() const { return wal_frames_ - copied_frames_; }  // not yet copied

private:
    struct Statements;
    struct Batch;
    bool add(Batch& b, const Event& e);
    bool insert_rows(Batch& b);
    bool write_recipients(const Batch& b);
    Outcome failed();

    sqlite::Database db_;
    std::unique_ptr<Statements> st_;
    // Frames in the write-ahead log after the last commit (sqlite3_wal_hook), and how many of
    // them a checkpoint has copied. A log that cannot start again from its beginning (a reader
    // held it at the next commit) keeps its copied frames, which are not counted again.
    int wal_frames_ = 0;
    int copied_frames_ = 0;
};

// The reply (or local error) of a refusal or failure with what is between < and > left out,
// so that "550 5.1.1 <a@x>: unknown" and "550 5.1.1 <b@x>: unknown" count as one error; ""
// for events that are not refusals or failures.
std::string error_key(const Event& e);

}  // namespace ehlo::observe
