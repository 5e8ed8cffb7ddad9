#include "cli/table.h"

#include <algorithm>

namespace ct::cli {

namespace {

void append_padded(std::string& out, const std::string& cell, size_t width) {
    out += cell;
    for (size_t w = display_width(cell); w < width; ++w) out += ' ';
}

}  // namespace

std::string terminal_safe(std::string_view text) {
    std::string out(text);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

size_t display_width(std::string_view text) {
    // Every byte that does not continue a UTF-8 sequence starts a code point.
    return static_cast<size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::add_row(std::vector<std::string> cells) {
    cells.resize(rows_.front().size());
    for (auto& c : cells) c = terminal_safe(c);
    rows_.push_back(std::move(cells));
}

std::string Table::render() const {
    size_t columns = rows_.front().size();
    std::vector<size_t> widths(columns, 0);
    for (const auto& row : rows_)
        for (size_t i = 0; i < columns; ++i) widths[i] = std::max(widths[i], display_width(row[i]));
    std::string out;
    for (const auto& row : rows_) {
        std::string line;
        for (size_t i = 0; i < columns; ++i) {
            if (i + 1 == columns) line += row[i];
            else append_padded(line, row[i], widths[i] + 2);
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    }
    return out;
}

StreamTable::StreamTable(std::vector<std::string> headers, std::vector<size_t> min_widths)
    : headers_(std::move(headers)), widths_(std::move(min_widths)) {
    widths_.resize(headers_.size(), 0);
}

std::string StreamTable::header() { return line(headers_); }

std::string StreamTable::row(const std::vector<std::string>& cells) {
    std::vector<std::string> safe(headers_.size());
    for (size_t i = 0; i < safe.size() && i < cells.size(); ++i) safe[i] = terminal_safe(cells[i]);
    return line(safe);
}

std::string StreamTable::line(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i + 1 == cells.size()) {
            out += cells[i];
            break;
        }
        widths_[i] = std::max(widths_[i], display_width(cells[i]));
        append_padded(out, cells[i], widths_[i] + 2);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
    return out;
}

}  // namespace ct::cli
