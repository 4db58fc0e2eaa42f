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

// The duration `text` in units of `unit_ns` nanoseconds, truncated toward zero.
Result<int64_t> ParseDurationIn(std::string_view text, int64_t unit_ns) {
  const int64_t per_second = 1'000'000'000 / unit_ns;
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
    if (v > std::numeric_limits<int64_t>::max() / per_second) return BadDuration(text);
    return (negative ? -v : v) * per_second;
  }
  if (body.size() > 1 && body.back() == 'd' && AllDigits(body.substr(0, body.size() - 1))) {
    if (body.size() > 14) return BadDuration(text);
    int64_t days = std::stoll(std::string(body.substr(0, body.size() - 1)));
    if (days > std::numeric_limits<int64_t>::max() / (86400 * per_second)) return BadDuration(text);
    return (negative ? -1 : 1) * days * 86400 * per_second;
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
  int64_t units = static_cast<int64_t>(total_ns / static_cast<long double>(unit_ns));
  return negative ? -units : units;
}

}  // namespace

Result<int64_t> ParseDurationSeconds(std::string_view text) { return ParseDurationIn(text, 1'000'000'000); }

Result<int64_t> ParseDurationMillis(std::string_view text) { return ParseDurationIn(text, 1'000'000); }

std::string FormatGoDuration(int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string sign = seconds < 0 ? "-" : "";
  uint64_t s = seconds < 0 ? static_cast<uint64_t>(-seconds) : static_cast<uint64_t>(seconds);
  uint64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (h > 0) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(sec) + "s";
  if (m > 0) return sign + std::to_string(m) + "m" + std::to_string(sec) + "s";
  return sign + std::to_string(sec) + "s";
}

std::string FormatGoDurationMillis(int64_t millis) {
  if (millis % 1000 == 0) return FormatGoDuration(millis / 1000);
  std::string sign = millis < 0 ? "-" : "";
  uint64_t ms = millis < 0 ? static_cast<uint64_t>(-millis) : static_cast<uint64_t>(millis);
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  // Go prints the seconds with their fraction, trailing zeros dropped: "1.5s", "1m0.25s".
  std::string whole = FormatGoDuration(static_cast<int64_t>(ms / 1000));
  whole.pop_back();  // the 's'
  std::string frac = std::to_string(1000 + ms % 1000).substr(1);
  while (frac.back() == '0') frac.pop_back();
  return sign + whole + "." + frac + "s";
}

}  // namespace pki
