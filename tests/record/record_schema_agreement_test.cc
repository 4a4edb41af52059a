// One record schema: the policy schema (services/policy/schema.h), the
// redactor, the publish ownership check (services/records/part_rules.h) and
// the disclosed-path collection (PresentLeafPaths, what receipts and audit
// events name) agree with the record-schema module
// (services/common/record_labels.h) on the leaves of the real ChildRecord
// and of a grown test schema (tests/record/testdata/kinex_test/
// grown_record.proto: a new section of well-known value types and a new
// unlabelled field), and the unlabelled field is never disclosed.
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "kinex/record/v1/record.pb.h"
#include "kinex_test/grown_record.pb.h"
#include "services/common/record_labels.h"
#include "services/policy/redactor.h"
#include "services/policy/schema.h"
#include "services/records/part_rules.h"
#include "tests/policy/full_record.h"

namespace kinex {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;
using Paths = std::set<std::string>;

// Every field of a record, set (tests/policy/full_record.h).
void Populate(Message* m) { policy::testing::FillAllFields(m); }

// The module's leaves: every leaf path, and the owner of each.
Paths ModuleLeaves(const Descriptor* root) {
  Paths out;
  for (const LabelledField& f : LabelledFields(root)) {
    if (f.leaf) out.insert(f.path);
  }
  return out;
}

Paths PolicySchemaLeaves(const policy::Schema& schema) {
  Paths out;
  for (const policy::Leaf& leaf : schema.leaves()) out.insert(leaf.path);
  return out;
}

Paths Present(const Message& m) {
  const std::vector<std::string> v = PresentLeafPaths(m);
  return {v.begin(), v.end()};
}

// What the publish ownership check sees of `m`: every leaf present that
// some agency kind does not own (so, with two kinds or more, every leaf).
Paths OwnershipCheckLeaves(const Message& m) {
  Paths out;
  const auto* kinds = common::v1::AgencyKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    for (const std::string& p : records::FieldsNotOwnedBy(
             m, static_cast<common::v1::AgencyKind>(kinds->value(i)->number()))) {
      out.insert(p);
    }
  }
  return out;
}

// The leaves the redactor keeps of a fully populated `full` under `visible`.
Paths Redacted(const Message& full, std::shared_ptr<const policy::Schema> schema,
               const policy::LeafSet& visible) {
  auto plan = policy::RedactionPlan::Build(std::move(schema), visible, {});
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return {};
  std::unique_ptr<Message> copy(full.New());
  copy->CopyFrom(full);
  const absl::Status applied = policy::Redactor().Apply(**plan, copy.get());
  EXPECT_TRUE(applied.ok()) << applied;
  return Present(*copy);
}

// Every collector agrees with the module on `root`'s leaves; returns them.
Paths ExpectAgreement(const Descriptor* root) {
  const Paths leaves = ModuleLeaves(root);
  EXPECT_GT(leaves.size(), 100u) << "the walk is not vacuous";

  auto schema = policy::Schema::Create(root);
  EXPECT_TRUE(schema.ok()) << schema.status();
  if (!schema.ok()) return leaves;
  EXPECT_EQ(PolicySchemaLeaves(**schema), leaves) << "policy schema";

  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(root);
  std::unique_ptr<Message> full(prototype->New());
  Populate(full.get());
  EXPECT_EQ(Present(*full), leaves) << "disclosed-path collection";
  EXPECT_EQ(OwnershipCheckLeaves(*full), leaves) << "publish ownership check";
  EXPECT_EQ(Redacted(*full, *schema, (*schema)->AllLeaves()), leaves) << "redactor";

  // The owner the ownership check applies is the module's owner label.
  for (const LabelledField& f : LabelledFields(root)) {
    if (!f.leaf || f.owner == common::v1::AGENCY_KIND_UNSPECIFIED) continue;
    EXPECT_THAT(records::FieldsNotOwnedBy(*full, f.owner), Not(Contains(f.path))) << f.path;
  }
  return leaves;
}

TEST(RecordSchemaAgreement, ChildRecord) {
  const Paths leaves = ExpectAgreement(record::v1::ChildRecord::descriptor());
  // Value types are leaves, not sections.
  EXPECT_THAT(leaves, Contains("identity.date_of_birth"));
  EXPECT_THAT(leaves, Contains("safeguarding.missing_episodes.start_time"));
  EXPECT_THAT(leaves, Not(Contains("identity.date_of_birth.year")));
  // The receipt's provenance reads owners from the same labels.
  for (const LabelledField& f : LabelledFields(record::v1::ChildRecord::descriptor())) {
    if (f.leaf) EXPECT_EQ(OwnerOfLeafPath(f.path), f.owner) << f.path;
  }
}

TEST(RecordSchemaAgreement, GrownSchemaWithANewSectionAndAnUnlabelledField) {
  const Paths leaves = ExpectAgreement(kinex_test::GrownChildRecord::descriptor());
  // Well-known types are leaves for every collector, wrappers included.
  EXPECT_THAT(leaves, Contains("kinship_support.weekly_hours"));
  EXPECT_THAT(leaves, Contains("kinship_support.review_interval"));
  EXPECT_THAT(leaves, Contains("kinship_support.reviews"));
  EXPECT_THAT(leaves, Not(Contains("kinship_support.weekly_hours.value")));
  EXPECT_THAT(leaves, Contains("unlabelled_note"));
  // The unlabelled field is reported, and only it.
  EXPECT_THAT(UnlabelledFields(kinex_test::GrownChildRecord::descriptor()),
              ::testing::ElementsAre("unlabelled_note: no category, no sensitivity, no owner"));
}

// Grants are by category (or by path of a labelled leaf: the policy loader
// refuses any other). Granting every category discloses every labelled leaf
// of the grown schema, the new section included, and never the unlabelled
// field.
TEST(RecordSchemaAgreement, AnUnlabelledFieldIsNeverDisclosed) {
  const Descriptor* root = kinex_test::GrownChildRecord::descriptor();
  auto schema = policy::Schema::Create(root);
  ASSERT_TRUE(schema.ok()) << schema.status();
  policy::LeafSet every_category((*schema)->leaf_count());
  for (int c = 1; c < record::v1::Category_ARRAYSIZE; ++c) {
    if (!record::v1::Category_IsValid(c)) continue;
    every_category |= (*schema)->CategoryLeaves(static_cast<record::v1::Category>(c));
  }
  kinex_test::GrownChildRecord full;
  Populate(&full);
  const Paths disclosed = Redacted(full, *schema, every_category);
  Paths labelled = ModuleLeaves(root);
  labelled.erase("unlabelled_note");
  EXPECT_EQ(disclosed, labelled);
  EXPECT_THAT(disclosed, Not(Contains("unlabelled_note")));
  EXPECT_THAT(disclosed, Contains("kinship_support.weekly_hours"));
}

// The grown schema keeps ChildRecord's shape: every ChildRecord field, with
// the same number, type and labels (so a section added to ChildRecord is
// added here too, and the agreement covers it).
TEST(RecordSchemaAgreement, GrownSchemaHasEveryChildRecordSection) {
  const Descriptor* real = record::v1::ChildRecord::descriptor();
  const Descriptor* grown = kinex_test::GrownChildRecord::descriptor();
  for (int i = 0; i < real->field_count(); ++i) {
    const FieldDescriptor* f = real->field(i);
    const FieldDescriptor* g = grown->FindFieldByName(f->name());
    ASSERT_NE(g, nullptr) << f->name() << " is missing from GrownChildRecord";
    EXPECT_EQ(g->number(), f->number()) << f->name();
    EXPECT_EQ(g->message_type(), f->message_type()) << f->name();
    EXPECT_EQ(g->is_repeated(), f->is_repeated()) << f->name();
    EXPECT_EQ(g->options().SerializeAsString(), f->options().SerializeAsString()) << f->name();
  }
}

}  // namespace
}  // namespace kinex
