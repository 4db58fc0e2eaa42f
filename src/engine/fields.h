// Field schemas: one place that parses, defaults and validates request parameters, as Vault's framework.FieldData.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/engine/request.h"

namespace pki {

enum class FieldType {
  kString,
  kInt,
  kBool,
  kDuration,          // "72h", "3d" or seconds; read back as integer seconds
  kCommaStringSlice,  // JSON list, or "a,b" string
  kStringSlice,       // JSON list (a single string becomes a one-element list)
  kMap,               // JSON object
};

struct FieldSchema {
  FieldType type = FieldType::kString;
  Json default_value;  // null: the type's zero value
  std::string description;
};

using FieldSchemas = std::map<std::string, FieldSchema>;

// The largest duration accepted, in seconds: Go's maximum time.Duration (about 292 years), as in Vault.
constexpr int64_t kMaxDurationSeconds = 9223372036;

// Converts a raw JSON value to the canonical JSON form of `type` (string, int64, bool, seconds, list of strings,
// object), applying Vault's weak typing. Errors name the field.
Result<Json> ParseField(const std::string& name, FieldType type, const Json& raw);

// Request parameters parsed against a schema. Values are parsed once at construction; getters return the parsed
// value or the schema default. Immutable after Parse; safe to read from any thread.
class FieldData {
 public:
  // Parses `raw` (an object) against `schemas`. Unknown keys are ignored and reported in *ignored.
  static Result<FieldData> Parse(const FieldSchemas* schemas, const Json& raw, std::vector<std::string>* ignored);

  // Whether the request carried the field (regardless of its value).
  bool Has(const std::string& name) const { return values_.count(name) != 0; }

  // The parsed value, else the default, else the type's zero value. The field must be declared.
  Json Get(const std::string& name) const;
  std::string GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  int64_t GetDuration(const std::string& name) const { return GetInt(name); }
  std::vector<std::string> GetStrings(const std::string& name) const;

 private:
  const FieldSchemas* schemas_ = nullptr;
  std::map<std::string, Json> values_;
};

}  // namespace pki
