// A thin owner of SQLite connections and statements for the history (not a public header of
// observe/): RAII, binding by position, and errors as text, so the history's code reads as SQL
// and not as handle juggling. Debian's libsqlite3 is the database; this only wraps its C API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace ehlo::observe::sqlite {

class Statement;

class Database {
public:
    Database() = default;
    ~Database();
    Database(Database&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Opens (read_only = false: creates) the file; "" on success, else why not.
    std::string open(const std::string& path, bool read_only);
    bool is_open() const { return db_ != nullptr; }
    void close();

    // Runs one or more statements without results; "" on success, else the error.
    std::string exec(std::string_view sql);
    // The last error of this connection, as text.
    std::string error() const;
    // The primary result code of the last failed call (SQLITE_FULL, SQLITE_READONLY, ...).
    int error_code() const;
    std::int64_t changes() const;

    sqlite3* handle() const { return db_; }

private:
    sqlite3* db_ = nullptr;
};

// One prepared statement; prepared once, reset and re-bound for each use.
class Statement {
public:
    Statement() = default;
    Statement(const Database& db, std::string_view sql);  // check ok() afterwards
    ~Statement();
    Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    bool ok() const { return stmt_ != nullptr; }

    // Parameters count from 1, as in SQL's ?1. An empty text binds NULL when `empty_is_null`.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text, bool empty_is_null = false);
    // The same without a copy: `text` must stay valid until the statement is reset (run()
    // resets it). For the writer's hot statements, whose texts live in the batch.
    Statement& bind_view(int index, std::string_view text);
    Statement& bind_null(int index);

    // SQLITE_ROW (a row is ready), SQLITE_DONE, or an error code.
    int step();
    // Runs to completion, ignoring rows; true on SQLITE_DONE.
    bool run();
    void reset();

    std::int64_t integer(int column) const;
    std::string text(int column) const;
    bool is_null(int column) const;

private:
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace ehlo::observe::sqlite
