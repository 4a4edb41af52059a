// Redaction plans and the redactor: deny-by-default field removal by
// protobuf reflection.
//
// A RedactionPlan is compiled once per decision (and cached with it): a tree
// mirroring the record's message types that says, per message, which fields
// to clear and which message fields to descend into, with optional row
// filters on repeated message fields. Applying it clears every field the
// plan does not keep, every unknown field (bytes from a newer schema) and
// every extension, through nested and repeated messages. Nothing passes
// unless the plan names it, and nothing betrays what was withheld: a message
// (section or repeated row) left with no field set is removed, not sent
// empty.
//
// Example:
//   KINEX_ASSIGN_OR_RETURN(auto evaluation, engine->Evaluate(request));
//   Redactor redactor;
//   KINEX_RETURN_IF_ERROR(redactor.Apply(*evaluation->plan, &record));
#ifndef KINEX_SERVICES_POLICY_REDACTOR_H_
#define KINEX_SERVICES_POLICY_REDACTOR_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "kinex/policy/v1/policy.pb.h"
#include "services/policy/leaf_set.h"
#include "services/policy/schema.h"

namespace kinex::policy {

// A row filter with its value bound (see kinex.policy.v1.RowFilter).
struct BoundRowFilter {
  // Path of the repeated message field.
  std::string repeated_field;
  // Path of the string key inside one row.
  std::string key_field;
  // Rows whose key differs from `equals` are removed; an empty `equals`
  // removes every row (fail closed).
  std::string equals;
};

// A compiled redaction plan. Immutable; thread-safe.
class RedactionPlan {
 public:
  // Builds the plan that keeps exactly the leaves in `visible`, with
  // `filters` on repeated fields. INVALID_ARGUMENT on a bad filter path.
  static absl::StatusOr<std::shared_ptr<const RedactionPlan>> Build(
      std::shared_ptr<const Schema> schema, const LeafSet& visible,
      const std::vector<BoundRowFilter>& filters);

  // Builds the plan a Decision describes (allowed_paths, row_filters), e.g.
  // one received from a remote Policy service. INVALID_ARGUMENT on a path
  // the schema does not have.
  static absl::StatusOr<std::shared_ptr<const RedactionPlan>> FromDecision(
      std::shared_ptr<const Schema> schema, const kinex::policy::v1::Decision& decision);

  // The message type the plan applies to.
  const google::protobuf::Descriptor* root_descriptor() const { return schema_->root(); }
  // The leaves the plan keeps.
  const LeafSet& visible() const { return visible_; }

 private:
  friend class Redactor;
  struct Node;
  struct Filter {
    std::vector<const google::protobuf::FieldDescriptor*> key_chain;
    // The generated reflection of the message each key_chain field is read
    // from (null where the type has no generated class).
    std::vector<const google::protobuf::Reflection*> chain_reflections;
    std::string equals;
  };
  struct Descend {
    const google::protobuf::FieldDescriptor* field;
    const Node* child;
    const Filter* filter;  // may be null
  };
  struct Node {
    std::vector<const google::protobuf::FieldDescriptor*> clear;
    std::vector<Descend> descend;
    // Every field the plan keeps here (leaves and descended messages): once
    // redacted, the message is empty exactly when none of them is set.
    std::vector<const google::protobuf::FieldDescriptor*> kept;
    bool has_extensions = false;
    // Nothing cleared or filtered here or below: the subtree is kept whole,
    // so it is only checked (read-only) for unknown fields and extensions.
    bool keep_whole = false;
    // The generated reflection of this node's type (null when the type has
    // no generated class): looked up once, not per message.
    const google::protobuf::Reflection* reflection = nullptr;
    // The generated default instance (what reading an unset field gives).
    const google::protobuf::Message* default_instance = nullptr;
  };

  RedactionPlan() = default;
  const Node* BuildNode(
      int schema_node,
      const std::vector<std::pair<const google::protobuf::FieldDescriptor*, const Filter*>>&
          filters);
  const Node* KeepAll(const google::protobuf::Descriptor* type);

  std::shared_ptr<const Schema> schema_;
  LeafSet visible_;
  std::deque<Node> nodes_;
  std::deque<Filter> filters_;
  std::vector<std::pair<const google::protobuf::Descriptor*, const Node*>> keep_all_;
  const Node* root_ = nullptr;
};

// Applies redaction plans. Stateless; thread-safe.
class Redactor {
 public:
  // Clears from `message` everything `plan` does not keep, and removes rows
  // failing its row filters. INVALID_ARGUMENT (message unchanged) when the
  // message is not of the plan's type.
  absl::Status Apply(const RedactionPlan& plan, google::protobuf::Message* message) const;

 private:
  // `cached`: messages are of the generated classes, so each node's cached
  // reflection applies (checked once at the root).
  static void ApplyNode(const RedactionPlan::Node& node, google::protobuf::Message* msg,
                        bool cached);
  // Whether `msg`, already redacted by `node`, has nothing left in it (what
  // ByteSizeLong() == 0 says, without sizing every row below it).
  static bool IsEmpty(const RedactionPlan::Node& node, const google::protobuf::Message& msg,
                      bool cached);
  static bool RowMatches(const RedactionPlan::Filter& filter, const google::protobuf::Message& row,
                         bool cached);
  // Whether a keep_whole subtree holds unknown fields or extensions.
  static bool NeedsCleaning(const RedactionPlan::Node& node, const google::protobuf::Message& msg,
                            bool cached);
};

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_REDACTOR_H_
