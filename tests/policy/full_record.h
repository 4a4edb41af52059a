// A fully populated ChildRecord for policy tests and benchmarks: every field
// of every section set to a non-default value (by reflection, so fields
// added to the schema later are populated too), with realistic list sizes:
// 10 legal status episodes, 200 attendance sessions (half at another school),
// 20 Operation Encompass notifications (a quarter to another school).
//
// Example:
//   kinex::record::v1::ChildRecord record = kinex::policy::testing::FullRecord();
#ifndef KINEX_TESTS_POLICY_FULL_RECORD_H_
#define KINEX_TESTS_POLICY_FULL_RECORD_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "kinex/record/v1/record.pb.h"

namespace kinex::policy::testing {

// The child's school, and another school some rows belong to.
inline constexpr char kSchoolUrn[] = "100869";
inline constexpr char kOtherSchoolUrn[] = "100870";

// Sets every field of `m` (recursively) to a non-default value; repeated
// fields get `repeat` elements.
inline void FillAllFields(google::protobuf::Message* m, int repeat = 2) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* r = m->GetReflection();
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int n = f->is_repeated() ? repeat : 1;
    for (int k = 0; k < n; ++k) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          google::protobuf::Message* sub =
              f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
          if (sub->GetDescriptor()->full_name() == "kinex.record.v1.Date") {
            sub->GetReflection()->SetInt32(sub, sub->GetDescriptor()->FindFieldByName("year"),
                                           2020 + k % 6);
            sub->GetReflection()->SetInt32(sub, sub->GetDescriptor()->FindFieldByName("month"),
                                           1 + k % 12);
            sub->GetReflection()->SetInt32(sub, sub->GetDescriptor()->FindFieldByName("day"),
                                           1 + k % 28);
          } else {
            FillAllFields(sub, repeat);
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string v = absl::StrCat(f->name(), "-", k);
          if (f->is_repeated()) {
            r->AddString(m, f, v);
          } else {
            r->SetString(m, f, v);
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const int v = f->enum_type()->value(f->enum_type()->value_count() - 1)->number();
          f->is_repeated() ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(m, f, 7) : r->SetInt32(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(m, f, 7) : r->SetInt64(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(m, f, 7) : r->SetUInt32(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(m, f, 7) : r->SetUInt64(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          f->is_repeated() ? r->AddDouble(m, f, 7) : r->SetDouble(m, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          f->is_repeated() ? r->AddFloat(m, f, 7) : r->SetFloat(m, f, 7);
          break;
      }
    }
  }
}

// The fully populated record (see the file comment).
inline kinex::record::v1::ChildRecord FullRecord() {
  kinex::record::v1::ChildRecord record;
  FillAllFields(&record);
  auto* scope = record.mutable_scope();
  scope->set_responsible_la_code("E09000033");
  scope->set_current_school_urn(kSchoolUrn);
  scope->set_registered_gp_ods_code("E87634");
  scope->clear_health_provider_ods_codes();
  scope->add_health_provider_ods_codes("RV3");
  scope->set_police_force_code("01");
  // 10 legal status episodes; the last one current and looked after.
  record.clear_legal_status();
  for (int i = 0; i < 10; ++i) {
    auto* e = record.add_legal_status();
    FillAllFields(e);
    if (i == 9) e->clear_end_date();
    e->set_looked_after(i == 9);
  }
  // 200 attendance sessions, half at another school.
  auto* education = record.mutable_education();
  education->clear_attendance_sessions();
  for (int i = 0; i < 200; ++i) {
    auto* s = education->add_attendance_sessions();
    FillAllFields(s);
    s->mutable_date()->set_day(1 + i % 28);
    s->set_school_urn(i % 2 == 0 ? kSchoolUrn : kOtherSchoolUrn);
  }
  education->mutable_enrolments(0)->set_urn(kOtherSchoolUrn);
  education->mutable_enrolments(1)->set_urn(kSchoolUrn);
  for (int i = 0; i < education->exclusions_size(); ++i) {
    auto* ex = education->mutable_exclusions(i);
    const auto* f = ex->GetDescriptor()->FindFieldByName("school_urn");
    if (f != nullptr) {
      ex->GetReflection()->SetString(ex, f, i == 0 ? kOtherSchoolUrn : kSchoolUrn);
    }
  }
  // Attainment: one result from another school, the rest from this one.
  for (int i = 0; i < education->attainment_size(); ++i) {
    education->mutable_attainment(i)->set_school_urn(i == 0 ? kOtherSchoolUrn : kSchoolUrn);
  }
  // 20 Operation Encompass notifications, a quarter to another school.
  auto* police = record.mutable_police();
  police->clear_encompass_notifications();
  for (int i = 0; i < 20; ++i) {
    auto* n = police->add_encompass_notifications();
    FillAllFields(n);
    n->set_school_urn(i % 4 == 0 ? kOtherSchoolUrn : kSchoolUrn);
  }
  return record;
}

}  // namespace kinex::policy::testing

#endif  // KINEX_TESTS_POLICY_FULL_RECORD_H_
