#include "src/cli/cli_output.h"

#include <algorithm>
#include <vector>

namespace pki::cli {

std::string TableValue(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + TableValue(v[i]);
    return out + "]";
  }
  if (v.is_object()) {
    std::string out = "map[";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {  // nlohmann orders keys, as Go prints maps
      out += (first ? "" : " ") + it.key() + ":" + TableValue(it.value());
      first = false;
    }
    return out + "]";
  }
  return v.dump();
}

std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].empty() ? size_t{3} : r[i].size());  // empty cells print n/a
    }
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i].empty() ? "n/a" : r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - (r[i].empty() ? 3 : r[i].size()) + 4, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(rows.front());
  std::vector<std::string> dashes;
  for (const auto& h : rows.front()) dashes.push_back(std::string(h.size(), '-'));
  out += line(dashes);
  for (size_t i = 1; i < rows.size(); ++i) out += line(rows[i]);
  return out;
}

std::string DataTable(const nlohmann::json& secret) {
  std::vector<std::vector<std::string>> rows = {{"Key", "Value"}};
  if (!secret.is_object()) return Columns(rows);
  auto lease = secret.find("lease_id");
  auto duration = secret.find("lease_duration");
  if (lease != secret.end() && lease->is_string() && !lease->get<std::string>().empty()) {
    rows.push_back({"lease_id", lease->get<std::string>()});
    rows.push_back({"lease_duration", TableValue(duration != secret.end() ? *duration : nlohmann::json()) + "s"});
    auto renewable = secret.find("renewable");
    rows.push_back({"lease_renewable", renewable != secret.end() ? TableValue(*renewable) : "false"});
  }
  auto data_it = secret.find("data");
  const nlohmann::json data = data_it != secret.end() ? *data_it : nlohmann::json::object();
  if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) rows.push_back({it.key(), TableValue(it.value())});
  }
  return Columns(rows);
}

std::string KeysTable(const nlohmann::json& secret) {
  std::vector<std::vector<std::string>> rows = {{"Keys"}};
  if (secret.is_object() && secret.contains("data") && secret["data"].is_object() &&
      secret["data"].contains("keys") && secret["data"]["keys"].is_array()) {
    for (const auto& k : secret["data"]["keys"]) rows.push_back({TableValue(k)});
  }
  return Columns(rows);
}

Result<std::string> RawField(const nlohmann::json& secret, const std::string& name, bool json) {
  const nlohmann::json* v = nullptr;
  if (secret.is_object() && secret.contains("data") && secret["data"].is_object() && secret["data"].contains(name)) {
    v = &secret["data"][name];
  } else if (secret.is_object() && secret.contains(name)) {
    v = &secret[name];
  }
  if (!v || v->is_null()) return Status::NotFound("Field \"" + name + "\" not present in secret");
  if (json) return v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return TableValue(*v);
}

std::string WarningsBlock(const nlohmann::json& secret) {
  if (!secret.is_object()) return "";
  auto it = secret.find("warnings");
  if (it == secret.end() || !it->is_array() || it->empty()) return "";
  std::string out = "WARNING! The following warnings were returned from Vault:\n\n";
  for (const auto& w : *it) out += "  * " + TableValue(w) + "\n\n";
  return out;
}

}  // namespace pki::cli
