#include "tools/kinexctl/record_format.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "kinex/record/v1/record.pb.h"
#include "services/common/record_labels.h"

namespace kinex::ctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ValueText(const Message& msg, const FieldDescriptor* f, int index) {
  const Reflection* r = msg.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f)) ? "yes" : "no";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(msg, f, index) : r->GetEnumValue(msg, f);
      const auto* ev = f->enum_type()->FindValueByNumber(v);
      return ev != nullptr ? ev->name() : absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& m = rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f);
      const std::string& type = m.GetDescriptor()->full_name();
      const Reflection* mr = m.GetReflection();
      const auto* d = m.GetDescriptor();
      if (type == "kinex.record.v1.Date") {
        return absl::StrFormat("%04d-%02d-%02d", mr->GetInt32(m, d->FindFieldByName("year")),
                               mr->GetInt32(m, d->FindFieldByName("month")),
                               mr->GetInt32(m, d->FindFieldByName("day")));
      }
      if (type == "google.protobuf.Timestamp") {
        const absl::Time t = absl::FromUnixSeconds(mr->GetInt64(m, d->FindFieldByName("seconds")));
        return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
      }
      return m.ShortDebugString();
    }
  }
  return "";
}

void Flatten(const Message& msg, const std::string& prefix,
             std::map<std::string, std::vector<std::string>>& out) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    const bool leaf = f->message_type() == nullptr || IsValueType(f->message_type());
    const int n = f->is_repeated() ? r->FieldSize(msg, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (leaf) {
        out[path].push_back(ValueText(msg, f, i));
      } else {
        Flatten(f->is_repeated() ? r->GetRepeatedMessage(msg, f, i) : r->GetMessage(msg, f), path,
                out);
      }
    }
  }
}

}  // namespace

std::map<std::string, std::string> FlattenRecord(const Message& message) {
  std::map<std::string, std::vector<std::string>> values;
  Flatten(message, "", values);
  std::map<std::string, std::string> out;
  for (auto& [path, vs] : values) {
    std::string joined;
    for (size_t i = 0; i < vs.size(); ++i) absl::StrAppend(&joined, i ? "; " : "", vs[i]);
    out[path] = std::move(joined);
  }
  return out;
}

std::string ToJson(const Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace kinex::ctl
