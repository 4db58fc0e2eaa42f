#include "src/core/duration.h"

#include <cctype>
#include <cmath>
#include <limits>

namespace pki {
namespace {

Status BadDuration(std::string_view text) {
  return Status::BadRequest("time: invalid duration \"" + std::string(text) + "\"");
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return int64_t{0};
  bool negative = false;
  std::string_view body = s;
  if (body.front() == '-' || body.front() == '+') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (AllDigits(body)) {
    if (body.size() > 18) return BadDuration(text);
    int64_t v = std::stoll(std::string(body));
    return negative ? -v : v;
  }
  if (body.size() > 1 && body.back() == 'd' && AllDigits(body.substr(0, body.size() - 1))) {
    if (body.size() > 14) return BadDuration(text);
    int64_t days = std::stoll(std::string(body.substr(0, body.size() - 1)));
    return (negative ? -1 : 1) * days * 86400;
  }
  if (body == "0") return int64_t{0};
  // Go syntax: a sequence of decimal numbers, each with optional fraction and a unit.
  long double total_ns = 0;
  size_t i = 0;
  if (body.empty()) return BadDuration(text);
  while (i < body.size()) {
    size_t start = i;
    while (i < body.size() && (std::isdigit(static_cast<unsigned char>(body[i])) || body[i] == '.')) ++i;
    std::string_view number = body.substr(start, i - start);
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return BadDuration(text);
    size_t ustart = i;
    while (i < body.size() && !std::isdigit(static_cast<unsigned char>(body[i])) && body[i] != '.') ++i;
    std::string_view unit = body.substr(ustart, i - ustart);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") scale = 1e3L;
    else if (unit == "ms") scale = 1e6L;
    else if (unit == "s") scale = 1e9L;
    else if (unit == "m") scale = 60e9L;
    else if (unit == "h") scale = 3600e9L;
    else return BadDuration(text);
    total_ns += std::stold(std::string(number)) * scale;
    if (total_ns > static_cast<long double>(std::numeric_limits<int64_t>::max())) return BadDuration(text);
  }
  int64_t secs = static_cast<int64_t>(total_ns / 1e9L);
  return negative ? -secs : secs;
}

std::string FormatGoDuration(int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string sign = seconds < 0 ? "-" : "";
  uint64_t s = seconds < 0 ? static_cast<uint64_t>(-seconds) : static_cast<uint64_t>(seconds);
  uint64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (h > 0) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(sec) + "s";
  if (m > 0) return sign + std::to_string(m) + "m" + std::to_string(sec) + "s";
  return sign + std::to_string(sec) + "s";
}

}  // namespace pki
