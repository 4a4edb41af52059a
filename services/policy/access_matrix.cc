#include "services/policy/access_matrix.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/policy/evaluator.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
namespace rv1 = ::kinex::record::v1;

// One code for the principal and every scope link, so every scope relation
// holds; it starts with "E" so the child is in England.
constexpr char kCode[] = "E99999999";

pv1::DecisionRequest BaseRequest(cv1::AgencyKind kind, const std::string& role,
                                 cv1::Purpose purpose) {
  pv1::DecisionRequest r;
  r.mutable_principal()->set_agency_kind(kind);
  r.mutable_principal()->set_agency_code(kCode);
  r.mutable_principal()->set_role(role);
  rv1::ScopeLinks* s = r.mutable_child()->mutable_scope();
  s->set_responsible_la_code(kCode);
  s->set_current_school_urn(kCode);
  s->set_registered_gp_ods_code(kCode);
  s->set_police_force_code(kCode);
  r.mutable_child()->set_looked_after(true);
  r.set_purpose(purpose);
  return r;
}

// The same request with every basis there is: consent covering every
// category, every statutory basis, a justification and break-glass.
pv1::DecisionRequest WithEveryBasis(pv1::DecisionRequest r) {
  for (int b = 1; b < cv1::LegalBasis_ARRAYSIZE; ++b) {
    if (!cv1::LegalBasis_IsValid(b)) continue;
    pv1::AvailableBasis* ab = r.add_bases();
    ab->set_basis(static_cast<cv1::LegalBasis>(b));
    ab->set_consent_id("matrix");
    for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
      ab->add_categories(static_cast<rv1::Category>(c));
    }
    ab->set_recipient_agency_kind(r.principal().agency_kind());
    ab->add_purposes(r.purpose());
  }
  r.set_justification("access matrix");
  r.set_break_glass(true);
  return r;
}

int Count(const LeafSet& s, const LeafSet& within) {
  int n = 0;
  for (int i = 0; i < s.size(); ++i) n += (s.Test(i) && within.Test(i)) ? 1 : 0;
  return n;
}

// Whether a row filter of `e` narrows fields of `category`.
bool RowFiltered(const Evaluation& e, const Schema& schema, const LeafSet& category) {
  for (const auto& f : e.decision.row_filters()) {
    auto path = schema.Resolve(f.repeated_field());
    if (!path.ok()) continue;
    for (int i = path->leaf_begin; i < path->leaf_end; ++i) {
      if (category.Test(i) && e.plan->visible().Test(i)) return true;
    }
  }
  return false;
}

std::string Cell(int plain, int with_basis, int total) {
  if (with_basis == 0) return "withheld";
  if (plain == total) return "visible";
  if (plain == with_basis) return "partial";
  if (plain == 0) {
    return with_basis == total ? "needs basis" : "partial, needs basis";
  }
  return with_basis == total ? "visible; rest needs basis" : "partial; more with basis";
}

// The paths of the leaves labelled (locates), quoted for markdown.
std::vector<std::string> LocatingPaths(const Schema& schema) {
  std::vector<std::string> out;
  for (int i = 0; i < schema.leaf_count(); ++i) {
    if (schema.LocatingLeaves().Test(i)) out.push_back("`" + schema.leaves()[i].path + "`");
  }
  return out;
}

// The names of the set bits of a condition mask, by enum descriptor.
std::string MaskNames(uint32_t mask, const google::protobuf::EnumDescriptor* d) {
  std::vector<std::string> out;
  for (int i = 1; i < 32; ++i) {
    if ((mask & (1u << i)) == 0) continue;
    const google::protobuf::EnumValueDescriptor* v = d->FindValueByNumber(i);
    out.push_back(v != nullptr ? v->name() : absl::StrCat(i));
  }
  return absl::StrJoin(out, ", ");
}

// One line per GRANT rule: who, for what, on which conditions and which
// lawful basis (the gateways as cited in England and in Wales).
std::string GrantRulesMarkdown(const CompiledPolicy& policy) {
  std::string out =
      "\n## Grant rules: conditions and lawful bases\n\n"
      "Each granting rule declares the Art 6 basis and statutory gateways it relies on (the "
      "loader refuses one that declares none); the Art 9 or Art 10 condition comes from the "
      "basis the request meets (consent, a statutory basis with a justification, break-glass). "
      "A disclosure's receipt and audit event carry one tuple per controller whose data was "
      "disclosed. A gateway with no Welsh equivalent is dropped from a Welsh child's tuple; a "
      "rule resting only on English gateways must be conditioned on England.\n\n"
      "| Rule | Principals | Purposes | Scope | Conditions | Art 6 | Gateways |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const CompiledRule& rule : policy.rules) {
    if (rule.effect != pv1::GRANT) continue;
    std::vector<std::string> who;
    for (const CompiledMatcher& m : rule.principals) {
      who.push_back(absl::StrCat(AgencyKindSlug(m.kind), "/",
                                 m.roles.empty() ? "*" : absl::StrJoin(m.roles, " or ")));
    }
    std::vector<std::string> conditions;
    if (rule.condition.jurisdictions != 0) {
      conditions.push_back(MaskNames(rule.condition.jurisdictions, pv1::Jurisdiction_descriptor()));
    }
    if (rule.condition.statuses != 0) {
      conditions.push_back(MaskNames(rule.condition.statuses, pv1::ChildStatus_descriptor()));
    }
    if (rule.condition.arrangements != 0) {
      conditions.push_back(
          MaskNames(rule.condition.arrangements, rv1::ArrangementType_descriptor()));
    }
    std::vector<std::string> gateways;
    for (int g : rule.lawful_basis.gateways()) gateways.push_back(cv1::StatutoryGateway_Name(g));
    std::string art6 = cv1::Article6Basis_Name(rule.lawful_basis.article6());
    if (rule.lawful_basis.annex1_condition() != 0) {
      absl::StrAppend(&art6, " (", cv1::Annex1Condition_Name(rule.lawful_basis.annex1_condition()),
                      ")");
    }
    if (rule.lawful_basis.regime() == cv1::DPA_2018_PART_3)
      absl::StrAppend(&art6, ", DPA 2018 Part 3");
    absl::StrAppend(&out, "| ", rule.id, " | ", absl::StrJoin(who, ", "), " | ",
                    MaskNames(rule.purposes, cv1::Purpose_descriptor()), " | ",
                    pv1::Scope_Name(rule.scope), " | ",
                    conditions.empty() ? "none" : absl::StrJoin(conditions, "; "), " | ", art6,
                    " | ", absl::StrJoin(gateways, ", "), " |\n");
  }
  absl::StrAppend(
      &out,
      "\n## Shields\n\n"
      "The responsible LA can shield fields of a child's record (a standing decision not to "
      "share, with a reason): a shielded field is withheld from every principal but the LA's "
      "own local-authority roles, whatever the rules above grant and even on break-glass. A "
      "shield with `locating` covers every field labelled `(locates)`, whichever agency "
      "published it: ",
      absl::StrJoin(LocatingPaths(*policy.schema), ", "),
      ". The requester is told NOT_GRANTED (or another reason that also withholds the field), "
      "never that a shield exists; the audit event records SHIELDED.\n");
  return out;
}

}  // namespace

std::string AccessMatrixMarkdown(const CompiledPolicy& policy) {
  const Schema& schema = *policy.schema;
  std::vector<int> categories;
  for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
    if (schema.CategoryLeaves(static_cast<rv1::Category>(c)).Any()) {
      categories.push_back(c);
    }
  }
  std::string out;
  absl::StrAppend(&out,
                  "# Kinex access matrix\n\n"
                  "<!-- Generated by `kinexctl policy matrix policy/` from the default "
                  "policy set; do not edit by hand. -->\n\n",
                  "Policy version `", policy.version, "`.\n\n",
                  "Each row is a principal class (agency kind / role) and purpose; each "
                  "cell says what that principal sees of a data category for a child in "
                  "its scope (responsible LA, school roll, registered health provider or "
                  "police area), in England, currently looked after. Rules conditioned "
                  "on other facts (for example Welsh records or children who are not "
                  "looked after) may give less; the policy tests in `policy/tests/` pin "
                  "those cases down.\n\n"
                  "- **visible**: every field of the category, with no further basis.\n"
                  "- **partial**: some fields, and no basis would add more.\n"
                  "- **needs basis**: fields become visible only with consent on file, "
                  "a statutory basis with a written justification, or break-glass.\n"
                  "- **partial, needs basis** / **partial; more with basis** / **visible; "
                  "rest needs basis**: combinations of the above.\n"
                  "- **withheld**: nothing, whatever the basis.\n"
                  "- **(own rows)**: rows of repeated fields are filtered to the "
                  "principal's own (e.g. a school's attendance sessions).\n\n");
  std::vector<std::string> header = {"Principal", "Purpose"};
  for (int c : categories) header.push_back(rv1::Category_Name(c));
  absl::StrAppend(&out, "| ", absl::StrJoin(header, " | "), " |\n|");
  for (size_t i = 0; i < header.size(); ++i) absl::StrAppend(&out, "---|");
  absl::StrAppend(&out, "\n");
  std::vector<std::string> nothing;
  for (const auto& [kind, roles] : policy.roles) {
    for (const std::string& role : roles) {
      for (int p = 1; p < cv1::Purpose_ARRAYSIZE; ++p) {
        if (!cv1::Purpose_IsValid(p)) continue;
        const auto purpose = static_cast<cv1::Purpose>(p);
        pv1::DecisionRequest plain = BaseRequest(kind, role, purpose);
        const Evaluation a = Evaluate(policy, plain);
        const Evaluation b = Evaluate(policy, WithEveryBasis(plain));
        const std::string pclass = absl::StrCat(AgencyKindSlug(kind), "/", role);
        if (!b.plan->visible().Any()) {
          nothing.push_back(absl::StrCat(pclass, " for ", cv1::Purpose_Name(purpose)));
          continue;
        }
        std::vector<std::string> row = {pclass, cv1::Purpose_Name(purpose)};
        for (int c : categories) {
          const LeafSet& cat = schema.CategoryLeaves(static_cast<rv1::Category>(c));
          std::string cell =
              Cell(Count(a.plan->visible(), cat), Count(b.plan->visible(), cat), Count(cat, cat));
          if (RowFiltered(b, schema, cat)) cell += " (own rows)";
          row.push_back(std::move(cell));
        }
        absl::StrAppend(&out, "| ", absl::StrJoin(row, " | "), " |\n");
      }
    }
  }
  if (!nothing.empty()) {
    absl::StrAppend(&out,
                    "\nEvery other combination sees nothing (every category "
                    "withheld): ",
                    absl::StrJoin(nothing, "; "), ".\n");
  }
  absl::StrAppend(&out, GrantRulesMarkdown(policy));
  return out;
}

}  // namespace kinex::policy
