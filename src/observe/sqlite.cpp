#include "observe/sqlite.hpp"

#include <sqlite3.h>

namespace ehlo::observe::sqlite {

Database::~Database() { close(); }

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        close();
        db_ = other.db_;
        other.db_ = nullptr;
    }
    return *this;
}

std::string Database::open(const std::string& path, bool read_only) {
    close();
    // SQLite's memory statistics cost a global mutex per allocation; nothing here reads them.
    // (Only possible before SQLite initializes; afterwards the call is refused, harmlessly.)
    static const bool configured = [] {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        return true;
    }();
    (void)configured;
    // NOMUTEX: each connection is used by one thread at a time (the writer's by its thread,
    // a reader's under its own lock), so SQLite's per-call mutex would only cost.
    const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                      SQLITE_OPEN_NOMUTEX;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return why;
    }
    sqlite3_extended_result_codes(db, 0);
    db_ = db;
    return {};
}

void Database::close() {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
}

std::string Database::exec(std::string_view sql) {
    if (!db_) return "database not open";
    char* message = nullptr;
    const std::string text(sql);
    if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return {};
    std::string why = message ? message : error();
    sqlite3_free(message);
    return why;
}

std::string Database::error() const { return db_ ? sqlite3_errmsg(db_) : "database not open"; }

int Database::error_code() const { return db_ ? (sqlite3_errcode(db_) & 0xff) : SQLITE_CANTOPEN; }

std::int64_t Database::changes() const { return db_ ? sqlite3_changes64(db_) : 0; }

Statement::Statement(const Database& db, std::string_view sql) {
    if (!db.handle()) return;
    if (sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                           nullptr) != SQLITE_OK) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
    }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        stmt_ = other.stmt_;
        other.stmt_ = nullptr;
    }
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text, bool empty_is_null) {
    if (empty_is_null && text.empty()) {
        sqlite3_bind_null(stmt_, index);
    } else {
        // A default string_view has no data pointer, which SQLite would take for NULL.
        sqlite3_bind_text64(stmt_, index, text.data() ? text.data() : "", text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    return *this;
}

Statement& Statement::bind_view(int index, std::string_view text) {
    if (text.empty()) {
        sqlite3_bind_null(stmt_, index);
    } else {
        sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    return *this;
}

Statement& Statement::bind_null(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}

int Statement::step() { return stmt_ ? sqlite3_step(stmt_) & 0xff : SQLITE_MISUSE; }

bool Statement::run() {
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = step();
    reset();
    return rc == SQLITE_DONE;
}

void Statement::reset() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

}  // namespace ehlo::observe::sqlite
