// Aligned text tables for people. Cells are made safe for a terminal: control characters (a task
// name or event text could carry escape sequences) become '?'. Widths count UTF-8 code points.
// Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ct::cli {

// `text` with every control character (C0, DEL) replaced by '?'.
std::string terminal_safe(std::string_view text);
// Code points in UTF-8 `text` (its width in a terminal, for the scripts tables show).
size_t display_width(std::string_view text);

// A whole table known up front: every column as wide as its widest cell, columns two spaces
// apart, the last column not padded, one '\n' per line.
class Table {
public:
    explicit Table(std::vector<std::string> headers);
    // Missing cells are empty; extra cells are ignored.
    void add_row(std::vector<std::string> cells);
    size_t rows() const { return rows_.size(); }
    std::string render() const;

private:
    std::vector<std::vector<std::string>> rows_;  // the header first
};

// A table printed row by row as the rows arrive (an event stream): each column starts at a
// minimum width and only grows, so columns stay aligned as long as values fit and move right
// once when a longer value comes.
class StreamTable {
public:
    StreamTable(std::vector<std::string> headers, std::vector<size_t> min_widths);
    std::string header();
    std::string row(const std::vector<std::string>& cells);

private:
    std::string line(const std::vector<std::string>& cells);
    std::vector<std::string> headers_;
    std::vector<size_t> widths_;
};

}  // namespace ct::cli
