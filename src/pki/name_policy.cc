#include "src/pki/name_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <set>

#include "src/core/text.h"

namespace pki {
namespace {

// ---- small string helpers ----

bool HasPrefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// UTF-8 code points in `s` (continuation bytes not counted).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// ---- punycode (RFC 3492), following golang.org/x/net/idna ----

constexpr int32_t kBase = 36, kDamp = 700, kInitialBias = 72, kInitialN = 128, kSkew = 38, kTMax = 26, kTMin = 1;

// a + b*c, or false on int32 overflow.
bool MulAdd(int32_t a, int32_t b, int32_t c, int32_t* out) {
  int64_t p = static_cast<int64_t>(b) * c;
  if (p > std::numeric_limits<int32_t>::max() - static_cast<int64_t>(a)) return false;
  *out = a + static_cast<int32_t>(p);
  return true;
}

int32_t Adapt(int32_t delta, int32_t num_points, bool first_time) {
  delta = first_time ? delta / kDamp : delta / 2;
  delta += delta / num_points;
  int32_t k = 0;
  while (delta > ((kBase - kTMin) * kTMax) / 2) {
    delta /= kBase - kTMin;
    k += kBase;
  }
  return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
}

char EncodeDigit(int32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

bool DecodeDigit(char c, int32_t* d) {
  if (c >= '0' && c <= '9') return *d = c - '0' + 26, true;
  if (c >= 'A' && c <= 'Z') return *d = c - 'A', true;
  if (c >= 'a' && c <= 'z') return *d = c - 'a', true;
  return false;
}

// UTF-8 to code points; an invalid byte becomes U+FFFD, as ranging over a Go string does.
std::vector<int32_t> DecodeUtf8(std::string_view s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    int32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static const int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (!ok) {
      out.push_back(0xfffd);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool PunycodeEncode(std::string_view label, std::string* out) {
  std::vector<int32_t> runes = DecodeUtf8(label);
  std::string output = "xn--";
  int32_t delta = 0, n = kInitialN, bias = kInitialBias, b = 0, remaining = 0;
  for (int32_t r : runes) {
    if (r < 0x80) {
      ++b;
      output += static_cast<char>(r);
    } else {
      ++remaining;
    }
  }
  int32_t h = b;
  if (b > 0) output += '-';
  while (remaining != 0) {
    int32_t m = std::numeric_limits<int32_t>::max();
    for (int32_t r : runes) {
      if (m > r && r >= n) m = r;
    }
    if (!MulAdd(delta, m - n, h + 1, &delta)) return false;
    n = m;
    for (int32_t r : runes) {
      if (r < n) {
        if (++delta < 0) return false;
        continue;
      }
      if (r > n) continue;
      int32_t q = delta;
      for (int32_t k = kBase;; k += kBase) {
        int32_t t = k <= bias ? kTMin : (k >= bias + kTMax ? kTMax : k - bias);
        if (q < t) break;
        output += EncodeDigit(t + (q - t) % (kBase - t));
        q = (q - t) / (kBase - t);
      }
      output += EncodeDigit(q);
      bias = Adapt(delta, h + 1, h == b);
      delta = 0;
      ++h;
      --remaining;
    }
    ++delta;
    ++n;
  }
  *out = std::move(output);
  return true;
}

// Only reports whether `encoded` (the part after "xn--") is valid punycode; the decoded form is not needed.
bool PunycodeValid(std::string_view encoded) {
  if (encoded.empty()) return true;
  size_t dash = encoded.rfind('-');
  size_t pos = dash == std::string_view::npos ? 0 : dash + 1;
  if (pos == 1) return false;
  if (pos == encoded.size()) return true;
  int32_t length = pos == 0 ? 0 : static_cast<int32_t>(DecodeUtf8(encoded.substr(0, pos - 1)).size());
  int32_t i = 0, n = kInitialN, bias = kInitialBias;
  while (pos < encoded.size()) {
    int32_t old_i = i, w = 1;
    for (int32_t k = kBase;; k += kBase) {
      if (pos == encoded.size()) return false;
      int32_t digit;
      if (!DecodeDigit(encoded[pos], &digit)) return false;
      ++pos;
      if (!MulAdd(i, digit, w, &i)) return false;
      int32_t t = k <= bias ? kTMin : (k >= bias + kTMax ? kTMax : k - bias);
      if (digit < t) break;
      if (!MulAdd(0, w, kBase - t, &w)) return false;
    }
    if (length >= 1024) return false;
    int32_t x = length + 1;
    bias = Adapt(i - old_i, x, old_i == 0);
    n += i / x;
    i %= x;
    if (n < 0 || n > 0x10ffff) return false;
    ++length;
    ++i;
  }
  return true;
}

// ---- hostname grammar (Vault's wildHostnameRegex) ----

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
bool IsLdhLabel(std::string_view l) {
  if (l.empty() || !IsAlnum(l.front()) || !IsAlnum(l.back())) return false;
  for (char c : l) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

// `\*`, `\*L`, `L\*`, `L\*L`
bool IsWildcardLabel(std::string_view l) {
  size_t star = l.find('*');
  if (star == std::string_view::npos || l.find('*', star + 1) != std::string_view::npos) return false;
  std::string_view before = l.substr(0, star), after = l.substr(star + 1);
  return (before.empty() || IsLdhLabel(before)) && (after.empty() || IsLdhLabel(after));
}

// ---- name matching (Vault's ValidateNames) ----

bool NameAllowed(const RoleEntry& role, const std::string& name) {
  std::string reduced = name;
  std::string email_domain = reduced;
  std::string wildcard_label;
  bool is_email = false;
  bool is_wildcard = false;

  if (name.find('@') != std::string::npos) {
    std::vector<std::string_view> parts = SplitView(name, '@');
    if (parts.size() != 2) return false;
    reduced = std::string(parts[1]);
    email_domain = reduced;
    is_email = true;
  }

  if (reduced.find('*') != std::string::npos) {
    is_wildcard = true;
    // An explicit ban on wildcards takes precedence over allow_any_name.
    if (!role.allow_wildcard_certificates) return false;
    if (reduced.find('*') != reduced.rfind('*')) return false;
    size_t dot = reduced.find('.');
    if (dot == std::string::npos) {
      wildcard_label = reduced;
      reduced.clear();
    } else {
      wildcard_label = reduced.substr(0, dot);
      reduced = reduced.substr(dot + 1);
      if (reduced.find('*') != std::string::npos) return false;
    }
  }
  // Wildcard email addresses make no sense.
  if (is_email && is_wildcard) return false;

  if (role.enforce_hostnames && !reduced.empty()) {
    Result<std::string> converted = HostnameToAscii(reduced);
    if (!converted.ok()) return false;
    std::string candidate = is_wildcard ? wildcard_label + "." + *converted : *converted;
    if (!IsValidHostname(candidate)) return false;
  }

  if (role.allow_any_name) return true;

  if (role.allow_localhost) {
    if (reduced == "localhost" || reduced == "localdomain" || (is_email && email_domain == "localhost") ||
        (is_email && email_domain == "localdomain")) {
      return true;
    }
    if (role.allow_subdomains) {
      if (HasSuffix(reduced, ".localhost") || (is_wildcard && reduced == "localhost")) return true;
      if (HasSuffix(reduced, ".localdomain") || (is_wildcard && reduced == "localdomain")) return true;
    }
  }

  for (const std::string& domain : role.allowed_domains) {
    if (domain.empty()) continue;
    if (role.allow_bare_domains && (EqualFoldAscii(name, domain) || (is_email && EqualFoldAscii(email_domain, domain)))) {
      return true;
    }
    if (role.allow_subdomains) {
      if (HasSuffix(reduced, "." + domain) || (is_wildcard && EqualFoldAscii(reduced, domain))) return true;
    }
    if (role.allow_glob_domains && domain.find('*') != std::string::npos &&
        GlobMatch(ToLowerAscii(domain), ToLowerAscii(name))) {
      return true;
    }
  }
  return false;
}

// ---- URI syntax (what Go's url.Parse rejects) ----

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// Every '%' starts a two-hex-digit escape; in a host, escapes below %80 other than %25 are refused.
bool ValidEscapes(std::string_view s, bool host) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return false;
    if (host && HexValue(s[i + 1]) < 8 && s.substr(i, 3) != "%25") return false;
    i += 2;
  }
  return true;
}

bool ValidOptionalPort(std::string_view port) {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  for (char c : port.substr(1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ValidHost(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.rfind(']');
    if (close == std::string_view::npos || !ValidOptionalPort(host.substr(close + 1))) return false;
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos && !ValidOptionalPort(host.substr(colon))) return false;
  }
  static const std::string_view kHostPunct = "-._~!$&'()*+,;=:[]<>\"%";
  for (unsigned char c : host) {
    if (c >= 0x80 || IsAlnum(static_cast<char>(c))) continue;
    if (kHostPunct.find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return ValidEscapes(host, /*host=*/true);
}

bool ValidUserinfo(std::string_view userinfo) {
  static const std::string_view kPunct = "-._:~!$&'()*+,;=%@";
  for (char c : userinfo) {
    if (!IsAlnum(c) && kPunct.find(c) == std::string_view::npos) return false;
  }
  return ValidEscapes(userinfo, /*host=*/false);
}

bool ParsableUri(std::string_view raw) {
  for (unsigned char c : raw) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  std::string_view rest = raw;
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    if (!ValidEscapes(rest.substr(hash + 1), false)) return false;
    rest = rest.substr(0, hash);
  }
  // Scheme: a letter, then letters, digits, '+', '-', '.', up to ':'.
  bool has_scheme = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (std::isalpha(static_cast<unsigned char>(c))) continue;
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return false;  // missing protocol scheme
      has_scheme = true;
      rest = rest.substr(i + 1);
    }
    break;
  }
  size_t query = rest.find('?');
  if (query != std::string_view::npos) rest = rest.substr(0, query);
  if (!HasPrefix(rest, "/")) {
    if (has_scheme) return true;  // opaque
    size_t colon = rest.find(':');
    size_t slash = rest.find('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) return false;
  }
  if ((has_scheme || !HasPrefix(rest, "///")) && HasPrefix(rest, "//")) {
    std::string_view authority = rest.substr(2);
    size_t slash = authority.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : authority.substr(slash);
    if (slash != std::string_view::npos) authority = authority.substr(0, slash);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      if (!ValidUserinfo(authority.substr(0, at))) return false;
      authority = authority.substr(at + 1);
    }
    if (!ValidHost(authority)) return false;
  }
  return ValidEscapes(rest, false);
}


std::string JoinGoSlice(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

}  // namespace

Result<OtherSan> ParseOtherSanEntry(const std::string& entry) {
  size_t semi = entry.find(';');
  if (semi == std::string::npos) {
    return Status::BadRequest("expected a semicolon in other SAN " + GoQuote(entry));
  }
  size_t colon = entry.find(':', semi + 1);
  if (colon == std::string::npos) return Status::BadRequest("expected a colon in other SAN " + GoQuote(entry));
  std::string_view type = std::string_view(entry).substr(semi + 1, colon - semi - 1);
  if (!EqualFoldAscii(type, "utf8") && !EqualFoldAscii(type, "utf-8")) {
    return Status::BadRequest("only utf8 other SANs are supported; found non-supported type in other SAN " +
                              GoQuote(entry));
  }
  return OtherSan{entry.substr(0, semi), entry.substr(colon + 1)};
}

Result<std::string> HostnameToAscii(std::string_view name) {
  auto invalid = [](std::string_view label) { return Status::BadRequest("idna: invalid label " + GoQuote(label)); };
  if (name.empty()) return invalid(name);
  // No valid name is longer than 253 ASCII bytes, and a label's punycode is longer than its code points: bound the
  // input before encoding, whose cost grows with the square of a label's distinct code points.
  if (name.size() > 253 * 4) return invalid(name.substr(0, 64));
  std::vector<std::string_view> labels = SplitView(name, '.');
  bool trailing_dot = labels.size() > 1 && labels.back().empty();
  if (trailing_dot) labels.pop_back();
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string_view label = labels[i];
    if (label.empty()) return invalid(name);
    std::string ascii;
    if (HasPrefix(label, "xn--")) {
      if (!PunycodeValid(label.substr(4))) return invalid(label);
      ascii = std::string(label);
    } else if (IsAscii(label)) {
      ascii = std::string(label);
    } else if (CodePoints(label) > 59 || !PunycodeEncode(label, &ascii)) {
      return invalid(label);
    }
    if (ascii.empty() || ascii.size() > 63) return invalid(ascii);
    if (i) out += '.';
    out += ascii;
  }
  if (out.size() > 253) return invalid(name);
  if (trailing_dot) out += '.';
  return out;
}

bool IsValidHostname(std::string_view ascii) {
  if (!ascii.empty() && ascii.back() == '.') ascii.remove_suffix(1);
  if (ascii.empty()) return false;
  std::vector<std::string_view> labels = SplitView(ascii, '.');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i == 0 && labels.size() > 1 && IsWildcardLabel(labels[i])) continue;
    if (!IsLdhLabel(labels[i])) return false;
  }
  return true;
}

Status AddCommonNameToSans(const std::string& cn, DnsAndEmailNames* names) {
  if (cn.empty()) return Status::Ok();
  if (cn.find('@') != std::string::npos) {
    names->emails.push_back(cn);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::string ascii, HostnameToAscii(cn));
  if (IsValidHostname(ascii)) names->dns_names.push_back(std::move(ascii));
  return Status::Ok();
}

Status AddAltNamesToSans(const std::string& alt_names, DnsAndEmailNames* names) {
  std::set<std::string> entries;  // sorted and de-duplicated, as strutil.ParseDedupAndSortStrings
  for (std::string_view part : SplitView(alt_names, ',')) {
    size_t b = part.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) continue;
    size_t e = part.find_last_not_of(" \t\r\n");
    entries.emplace(part.substr(b, e - b + 1));
  }
  for (const std::string& v : entries) {
    if (v.find('@') != std::string::npos) {
      names->emails.push_back(v);
      continue;
    }
    ASSIGN_OR_RETURN(std::string ascii, HostnameToAscii(v));
    if (!IsValidHostname(ascii)) {
      return Status::BadRequest("subject alternate name " + v +
                                " is not a valid DNS name and cannot be included as a SAN");
    }
    names->dns_names.push_back(std::move(ascii));
  }
  return Status::Ok();
}

std::optional<std::string> FirstDisallowedName(const RoleEntry& role, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (!NameAllowed(role, name)) return name;
  }
  return std::nullopt;
}

Status ValidateCommonName(const RoleEntry& role, const std::string& cn) {
  if (cn.empty()) return Status::Ok();
  const auto& v = role.cn_validations;
  if (v.size() == 1 && v[0] == "disabled") return Status::Ok();
  Status refused = Status::BadRequest("common name " + cn + " not allowed by this role");
  if (!NameAllowed(role, cn)) return refused;
  if (v.empty()) return Status::Ok();
  const char* needed = cn.find('@') != std::string::npos ? "email" : "hostname";
  for (const auto& allowed : v) {
    if (allowed == needed) return Status::Ok();
  }
  return refused;
}

Status ValidateDnsAndEmailSans(const RoleEntry& role, const std::vector<std::string>& dns_names,
                               const std::vector<std::string>& emails) {
  if (auto bad = FirstDisallowedName(role, dns_names)) {
    return Status::BadRequest("subject alternate name " + *bad + " not allowed by this role");
  }
  if (auto bad = FirstDisallowedName(role, emails)) {
    return Status::BadRequest("email address " + *bad + " not allowed by this role");
  }
  return Status::Ok();
}

Result<std::vector<OtherSan>> ParseOtherSans(const std::vector<std::string>& entries) {
  std::vector<OtherSan> out;
  for (const auto& entry : entries) {
    Result<OtherSan> san = ParseOtherSanEntry(entry);
    if (!san.ok()) return san.status().Annotate("could not parse requested other SAN");
    if (!IsDottedOid(san->oid)) {
      return Status::BadRequest("could not parse requested other SAN: invalid OID " + GoQuote(san->oid) +
                                " in other SAN " + GoQuote(entry));
    }
    out.push_back(std::move(san).value());
  }
  return out;
}

Status ValidateOtherSans(const RoleEntry& role, const std::vector<OtherSan>& requested) {
  const auto& allowed = role.allowed_other_sans;
  if (allowed.size() == 1 && allowed[0] == "*") return Status::Ok();
  std::vector<OtherSan> rules;
  for (const auto& entry : allowed) {
    Result<OtherSan> rule = ParseOtherSanEntry(entry);
    if (!rule.ok()) return rule.status().Annotate("error parsing role's allowed SANs");
    rules.push_back(std::move(rule).value());
  }
  for (const auto& san : requested) {
    bool oid_listed = false;
    bool value_ok = false;
    for (const auto& rule : rules) {
      if (rule.oid != san.oid) continue;
      oid_listed = true;
      if (GlobMatch(rule.value, san.value)) {
        value_ok = true;
        break;
      }
    }
    if (!oid_listed) return Status::BadRequest("other SAN OID " + san.oid + " not allowed by this role");
    if (!value_ok) {
      return Status::BadRequest("other SAN " + san.value + " not allowed for OID " + san.oid + " by this role");
    }
  }
  return Status::Ok();
}

Status ValidateUriSans(const RoleEntry& role, const std::vector<std::string>& uris, SanSource source) {
  if (uris.empty()) return Status::Ok();
  const char* via = source == SanSource::kApi ? "via the API" : "via CSR";
  if (role.allowed_uri_sans.empty()) {
    return Status::BadRequest(std::string("URI Subject Alternative Names are not allowed in this role, but were "
                                          "provided ") +
                              via);
  }
  for (const auto& uri : uris) {
    bool matched = false;
    for (const auto& pattern : role.allowed_uri_sans) {
      if (GlobMatch(pattern, uri)) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      return Status::BadRequest(std::string("URI Subject Alternative Names were provided ") + via +
                                " which are not valid for this role");
    }
    if (!ParsableUri(uri)) {
      return Status::BadRequest("the provided URI Subject Alternative Name " + GoQuote(uri) + " is not a valid URI");
    }
  }
  return Status::Ok();
}

Status ValidateSubjectSerialNumber(const RoleEntry& role, const std::string& serial_number) {
  for (const auto& allowed : role.allowed_serial_numbers) {
    if (allowed.empty()) continue;
    if (allowed == serial_number || (allowed.find('*') != std::string::npos && GlobMatch(allowed, serial_number))) {
      return Status::Ok();
    }
  }
  return Status::BadRequest("serial_number " + serial_number + " not allowed by this role");
}

Status ValidateUserIds(const RoleEntry& role, const std::vector<std::string>& user_ids) {
  for (const auto& id : user_ids) {
    bool ok = false;
    for (const auto& allowed : role.allowed_user_ids) {
      if (EqualFoldAscii(allowed, id) ||
          (!allowed.empty() && allowed.find('*') != std::string::npos && GlobMatch(allowed, id))) {
        ok = true;
        break;
      }
    }
    if (!ok) return Status::BadRequest("user_id " + id + " is not allowed by this role");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ParseIpSans(const RoleEntry& role, const std::vector<std::string>& ips,
                                             SanSource source) {
  std::vector<std::string> out;
  if (ips.empty()) return out;
  if (!role.allow_ip_sans) {
    if (source == SanSource::kCsr) {
      return Status::BadRequest(
          "IP Subject Alternative Names are not allowed in this role, but was provided some via CSR");
    }
    return Status::BadRequest("IP Subject Alternative Names are not allowed in this role, but was provided " +
                              JoinGoSlice(ips));
  }
  for (const auto& ip : ips) {
    char text[INET6_ADDRSTRLEN];
    unsigned char v4[4];
    unsigned char v6[16];
    if (inet_pton(AF_INET, ip.c_str(), v4) == 1) {
      inet_ntop(AF_INET, v4, text, sizeof(text));
    } else if (inet_pton(AF_INET6, ip.c_str(), v6) == 1) {
      static const unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      bool mapped = std::equal(kMappedPrefix, kMappedPrefix + 12, v6);
      if (mapped) {
        inet_ntop(AF_INET, v6 + 12, text, sizeof(text));
      } else {
        inet_ntop(AF_INET6, v6, text, sizeof(text));
      }
    } else {
      return Status::BadRequest("the value " + GoQuote(ip) + " is not a valid IP address");
    }
    out.emplace_back(text);
  }
  return out;
}

bool GlobMatch(std::string_view pattern, std::string_view subject) {
  if (pattern.empty()) return subject.empty();
  if (pattern == "*") return true;
  std::vector<std::string_view> parts = SplitView(pattern, '*');
  if (parts.size() == 1) return subject == pattern;
  bool leading = pattern.front() == '*';
  bool trailing = pattern.back() == '*';
  size_t end = parts.size() - 1;
  for (size_t i = 0; i < end; ++i) {
    size_t idx = subject.find(parts[i]);
    if (i == 0) {
      if (!leading && idx != 0) return false;
    } else if (idx == std::string_view::npos) {
      return false;
    }
    subject = subject.substr(idx + parts[i].size());
  }
  return trailing || HasSuffix(subject, parts[end]);
}

}  // namespace pki
