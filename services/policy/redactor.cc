#include "services/policy/redactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/unknown_field_set.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::policy {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The default instance of `type`'s generated class, or null.
const Message* DefaultInstance(const Descriptor* type) {
  return google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
}

// The reflection of `type`'s generated class, or null.
const Reflection* GeneratedReflection(const Descriptor* type) {
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
  return prototype != nullptr ? prototype->GetReflection() : nullptr;
}

// The elements of a repeated message field without per-element reflection
// checks. GetRepeatedPtrField is deprecated in favour of RepeatedFieldRef,
// whose Get() copies each element: too slow for redaction.
const google::protobuf::RepeatedPtrField<Message>& Rows(const Reflection* refl, const Message& msg,
                                                        const FieldDescriptor* f) {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
  return refl->GetRepeatedPtrField<Message>(msg, f);
#pragma clang diagnostic pop
}

google::protobuf::RepeatedPtrField<Message>* MutableRows(const Reflection* refl, Message* msg,
                                                         const FieldDescriptor* f) {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
  return refl->MutableRepeatedPtrField<Message>(msg, f);
#pragma clang diagnostic pop
}

// A required argument missing.
absl::Status Missing(absl::string_view field, absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kInvalidField,
                         {{"field", std::string(field)}});
}

// A plan that does not fit; `key` is "path" or "field".
absl::Status PlanInvalid(absl::string_view key, absl::string_view value,
                         absl::string_view message) {
  return WithErrorReason(absl::InvalidArgumentError(message), reason::kRedactionPlanInvalid,
                         {{std::string(key), std::string(value)}});
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RedactionPlan>> RedactionPlan::Build(
    std::shared_ptr<const Schema> schema, const LeafSet& visible,
    const std::vector<BoundRowFilter>& filters) {
  if (schema == nullptr) return Missing("schema", "no schema");
  if (visible.size() != schema->leaf_count()) {
    return PlanInvalid("field", "visible", "leaf set does not fit the schema");
  }
  std::shared_ptr<RedactionPlan> plan(new RedactionPlan());
  plan->schema_ = schema;
  plan->visible_ = visible;
  std::vector<std::pair<const FieldDescriptor*, const Filter*>> bound;
  for (const BoundRowFilter& f : filters) {
    KINEX_ASSIGN_OR_RETURN(PathInfo path, schema->Resolve(f.repeated_field));
    if (!path.field->is_repeated() || path.child_node < 0) {
      return PlanInvalid("path", f.repeated_field,
                         absl::StrCat("row filter field \"", f.repeated_field,
                                      "\" is not a repeated message field"));
    }
    KINEX_ASSIGN_OR_RETURN(PathInfo key, schema->Resolve(f.key_field, path.child_node));
    if (key.field->is_repeated() || key.field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      return PlanInvalid(
          "path", f.key_field,
          absl::StrCat("row filter key \"", f.key_field, "\" is not a singular string"));
    }
    Filter filter;
    filter.equals = f.equals;
    const Descriptor* d = path.field->message_type();
    for (absl::string_view seg : absl::StrSplit(f.key_field, '.')) {
      const FieldDescriptor* kf = d->FindFieldByName(std::string(seg));
      if (kf->is_repeated()) {
        return PlanInvalid(
            "path", f.key_field,
            absl::StrCat("row filter key \"", f.key_field, "\" passes a repeated field"));
      }
      filter.key_chain.push_back(kf);
      filter.chain_reflections.push_back(GeneratedReflection(d));
      if (kf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        d = kf->message_type();
      }
    }
    plan->filters_.push_back(std::move(filter));
    bound.emplace_back(path.field, &plan->filters_.back());
  }
  plan->root_ = plan->BuildNode(0, bound);
  return std::shared_ptr<const RedactionPlan>(std::move(plan));
}

absl::StatusOr<std::shared_ptr<const RedactionPlan>> RedactionPlan::FromDecision(
    std::shared_ptr<const Schema> schema, const kinex::policy::v1::Decision& decision) {
  if (schema == nullptr) return Missing("schema", "no schema");
  LeafSet visible(schema->leaf_count());
  if (decision.allowed()) {
    for (const std::string& p : decision.allowed_paths()) {
      auto path = schema->Resolve(p);
      if (!path.ok()) {
        // The schema's reason (POLICY_UNKNOWN_PATH), naming the whole path.
        absl::Status s = CopyErrorReason(path.status(), absl::InvalidArgumentError(absl::StrCat(
                                                            "decision names unknown path \"", p,
                                                            "\": ", path.status().message())));
        AddErrorMetadata(s, "path", p);
        return s;
      }
      visible.SetRange(path->leaf_begin, path->leaf_end);
    }
  }
  std::vector<BoundRowFilter> filters;
  for (const auto& f : decision.row_filters()) {
    filters.push_back(BoundRowFilter{f.repeated_field(), f.key_field(), f.equals()});
  }
  return Build(std::move(schema), visible, filters);
}

const RedactionPlan::Node* RedactionPlan::BuildNode(
    int schema_node, const std::vector<std::pair<const FieldDescriptor*, const Filter*>>& filters) {
  const SchemaNode& sn = schema_->nodes()[schema_node];
  Node node;
  node.has_extensions = sn.descriptor->extension_range_count() > 0;
  node.reflection = GeneratedReflection(sn.descriptor);
  node.default_instance = DefaultInstance(sn.descriptor);
  for (const SchemaField& sf : sn.fields) {
    if (!visible_.AnyInRange(sf.leaf_begin, sf.leaf_end)) {
      node.clear.push_back(sf.field);
      continue;
    }
    node.kept.push_back(sf.field);
    if (sf.child_node >= 0) {
      const Filter* filter = nullptr;
      for (const auto& [field, f] : filters) {
        if (field == sf.field) filter = f;
      }
      node.descend.push_back(Descend{sf.field, BuildNode(sf.child_node, filters), filter});
    } else if (sf.field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      // A value kept whole: still descend, to drop unknown fields in it.
      node.descend.push_back(Descend{sf.field, KeepAll(sf.field->message_type()), nullptr});
    }
  }
  node.keep_whole = node.clear.empty();
  for (const Descend& d : node.descend) {
    node.keep_whole = node.keep_whole && d.filter == nullptr && d.child->keep_whole;
  }
  nodes_.push_back(std::move(node));
  return &nodes_.back();
}

const RedactionPlan::Node* RedactionPlan::KeepAll(const Descriptor* type) {
  for (const auto& [d, n] : keep_all_) {
    if (d == type) return n;
  }
  // Register before descending: value types may be recursive
  // (google.protobuf.Struct).
  nodes_.emplace_back();
  Node* node = &nodes_.back();
  keep_all_.emplace_back(type, node);
  node->has_extensions = type->extension_range_count() > 0;
  node->reflection = GeneratedReflection(type);
  node->default_instance = DefaultInstance(type);
  // Set before descending, so recursive value types terminate.
  node->keep_whole = true;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    node->kept.push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      node->descend.push_back(Descend{f, KeepAll(f->message_type()), nullptr});
    }
  }
  return node;
}

bool Redactor::RowMatches(const RedactionPlan::Filter& filter, const Message& row, bool cached) {
  const std::vector<const FieldDescriptor*>& chain = filter.key_chain;
  const Message* m = &row;
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    const Reflection* r = cached ? filter.chain_reflections[i] : m->GetReflection();
    if (!r->HasField(*m, chain[i])) return false;
    m = &r->GetMessage(*m, chain[i]);
  }
  const Reflection* r = cached ? filter.chain_reflections.back() : m->GetReflection();
  std::string scratch;
  return r->GetStringReference(*m, chain.back(), &scratch) == filter.equals;
}

bool Redactor::IsEmpty(const RedactionPlan::Node& node, const Message& msg, bool cached) {
  const Reflection* refl = cached ? node.reflection : msg.GetReflection();
  // Redaction left no unknown field or extension (ApplyNode clears them,
  // or NeedsCleaning found none): only the kept fields can be set.
  for (const FieldDescriptor* f : node.kept) {
    if (f->is_repeated() ? refl->FieldSize(msg, f) > 0 : refl->HasField(msg, f)) return false;
  }
  return true;
}

absl::Status Redactor::Apply(const RedactionPlan& plan, Message* message) const {
  if (message == nullptr) return Missing("message", "null message");
  if (message->GetDescriptor() != plan.root_descriptor()) {
    return PlanInvalid("field", "message",
                       absl::StrCat("cannot redact a ", message->GetDescriptor()->full_name(),
                                    " with a plan for ", plan.root_descriptor()->full_name()));
  }
  // The cached reflections fit only the generated classes (a DynamicMessage
  // of the same type takes the slower per-message path).
  ApplyNode(
      *plan.root_, message,
      plan.root_->reflection != nullptr && message->GetReflection() == plan.root_->reflection);
  return absl::OkStatus();
}

bool Redactor::NeedsCleaning(const RedactionPlan::Node& node, const Message& msg, bool cached) {
  const Reflection* refl = cached ? node.reflection : msg.GetReflection();
  if (!refl->GetUnknownFields(msg).empty()) return true;
  if (node.has_extensions) {
    std::vector<const FieldDescriptor*> set;
    refl->ListFields(msg, &set);
    for (const FieldDescriptor* f : set) {
      if (f->is_extension()) return true;
    }
  }
  for (const RedactionPlan::Descend& d : node.descend) {
    if (d.field->is_repeated()) {
      for (const Message& row : Rows(refl, msg, d.field)) {
        if (NeedsCleaning(*d.child, row, cached)) return true;
      }
    } else if (cached) {
      // An unset field reads as the default instance: nothing to clean.
      const Message& sub = refl->GetMessage(msg, d.field);
      if (&sub != d.child->default_instance && NeedsCleaning(*d.child, sub, cached)) {
        return true;
      }
    } else if (refl->HasField(msg, d.field) &&
               NeedsCleaning(*d.child, refl->GetMessage(msg, d.field), cached)) {
      return true;
    }
  }
  return false;
}

void Redactor::ApplyNode(const RedactionPlan::Node& node, Message* msg, bool cached) {
  if (node.keep_whole && !NeedsCleaning(node, *msg, cached)) return;
  const Reflection* refl = cached ? node.reflection : msg->GetReflection();
  if (!refl->GetUnknownFields(*msg).empty()) {
    refl->MutableUnknownFields(msg)->Clear();
  }
  if (node.has_extensions) {
    std::vector<const FieldDescriptor*> set;
    refl->ListFields(*msg, &set);
    for (const FieldDescriptor* f : set) {
      if (f->is_extension()) refl->ClearField(msg, f);
    }
  }
  for (const FieldDescriptor* f : node.clear) refl->ClearField(msg, f);
  for (const RedactionPlan::Descend& d : node.descend) {
    if (d.field->is_repeated()) {
      google::protobuf::RepeatedPtrField<Message>* rows = MutableRows(refl, msg, d.field);
      if (d.filter != nullptr) {
        int kept = 0;
        const int n = rows->size();
        for (int i = 0; i < n; ++i) {
          if (!d.filter->equals.empty() && RowMatches(*d.filter, rows->Get(i), cached)) {
            if (i != kept) rows->SwapElements(i, kept);
            ++kept;
          }
        }
        rows->DeleteSubrange(kept, n - kept);
      }
      // A row with nothing left in it would still tell the caller a row
      // exists (an incident, an enquiry): drop it. A row kept whole loses
      // nothing visible, so it is not measured (316 attendance sessions).
      const bool may_empty = !d.child->keep_whole;
      int kept = 0;
      const int n = rows->size();
      for (int i = 0; i < n; ++i) {
        Message* row = rows->Mutable(i);
        ApplyNode(*d.child, row, cached);
        if (may_empty && IsEmpty(*d.child, *row, cached)) continue;
        if (i != kept) rows->SwapElements(i, kept);
        ++kept;
      }
      if (kept != n) rows->DeleteSubrange(kept, n - kept);
    } else if (refl->HasField(*msg, d.field)) {
      Message* sub = refl->MutableMessage(msg, d.field);
      ApplyNode(*d.child, sub, cached);
      // No presence leaks: a section whose every leaf was withheld is not
      // sent as an empty message (`police {}` would say police data exists).
      if (IsEmpty(*d.child, *sub, cached)) refl->ClearField(msg, d.field);
    }
  }
}

}  // namespace kinex::policy
