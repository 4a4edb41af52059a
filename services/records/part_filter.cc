#include "services/records/part_filter.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "services/common/error_reason.h"

namespace kinex::records {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// A path that names no field: INVALID_FIELD naming the request's `paths`.
absl::Status BadPath(std::string message) {
  return WithErrorReason(absl::InvalidArgumentError(std::move(message)), reason::kInvalidField,
                         {{"field", "paths"}});
}

}  // namespace

absl::StatusOr<PathFilter> PathFilter::Create(const Descriptor& type,
                                              const std::vector<std::string>& paths) {
  PathFilter f;
  f.type_ = &type;
  for (const std::string& path : paths) {
    const Descriptor* d = &type;
    Node* node = &f.root_;
    bool whole_above = false;  // an ancestor is already kept whole
    std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
    for (size_t i = 0; i < segments.size(); ++i) {
      const FieldDescriptor* field =
          d == nullptr ? nullptr : d->FindFieldByName(std::string(segments[i]));
      if (field == nullptr || segments[i].empty()) {
        return BadPath(
            absl::StrCat("paths: \"", path, "\" is not a field path of ", type.full_name()));
      }
      const bool last = i + 1 == segments.size();
      if (!last && field->type() != FieldDescriptor::TYPE_MESSAGE) {
        return BadPath(
            absl::StrCat("paths: \"", path, "\": ", field->name(), " is not a message field"));
      }
      if (whole_above) continue;
      auto [it, inserted] = node->children.try_emplace(field->number());
      if (!inserted && it->second.children.empty()) {
        whole_above = true;  // already kept whole
      } else if (last) {
        it->second.children.clear();  // the whole field, whatever was under it
      }
      node = &it->second;
      d = field->type() == FieldDescriptor::TYPE_MESSAGE ? field->message_type() : nullptr;
      // A node just created for an intermediate segment gets children below;
      // mark it so an empty map is not read as "whole" in the meantime.
    }
  }
  return f;
}

bool PathFilter::Filter(absl::string_view wire, const Node& node, std::string* out) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  while (true) {
    const int tag_start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(wire.size());
    auto it = node.children.find(WireFormatLite::GetTagFieldNumber(tag));
    if (it == node.children.end() || it->second.children.empty()) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      if (it != node.children.end()) {
        const absl::string_view kept = wire.substr(tag_start, in.CurrentPosition() - tag_start);
        out->append(kept.data(), kept.size());
      }
      continue;
    }
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      return false;  // a message field must be length-delimited
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    const int start = in.CurrentPosition();
    if (length > wire.size() - static_cast<size_t>(start)) return false;
    std::string inner;
    if (!Filter(wire.substr(start, length), it->second, &inner)) return false;
    if (!in.Skip(static_cast<int>(length))) return false;
    if (inner.empty()) continue;
    AppendVarint(tag, out);
    AppendVarint(inner.size(), out);
    out->append(inner.data(), inner.size());
  }
}

bool PathFilter::Apply(absl::string_view wire, std::string* out) const {
  if (root_.children.empty()) return true;
  return Filter(wire, root_, out);
}

bool PathFilter::Keeps(absl::string_view path) const {
  const Descriptor* d = type_;
  const Node* node = &root_;
  for (absl::string_view segment : absl::StrSplit(path, '.')) {
    if (d == nullptr) return false;
    const FieldDescriptor* field = d->FindFieldByName(std::string(segment));
    if (field == nullptr) return false;
    auto it = node->children.find(field->number());
    if (it == node->children.end()) return false;
    if (it->second.children.empty()) return true;
    node = &it->second;
    d = field->type() == FieldDescriptor::TYPE_MESSAGE ? field->message_type() : nullptr;
  }
  return true;
}

}  // namespace kinex::records
