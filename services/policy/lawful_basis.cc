#include "services/policy/lawful_basis.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "kinex/record/v1/record.pb.h"
#include "services/common/record_labels.h"

namespace kinex::policy {
namespace {

namespace cv1 = ::kinex::common::v1;
namespace pv1 = ::kinex::policy::v1;
namespace rv1 = ::kinex::record::v1;

struct LeafLabels {
  int category = 0;
  int sensitivity = 0;
  cv1::AgencyKind owner = cv1::AGENCY_KIND_UNSPECIFIED;
};

// Labels of every leaf path of ChildRecord, built once.
const absl::flat_hash_map<std::string, LeafLabels>& LeafLabelsByPath() {
  static const auto* labels = [] {
    auto* out = new absl::flat_hash_map<std::string, LeafLabels>();
    for (const LabelledField& f : LabelledFields(rv1::ChildRecord::descriptor())) {
      if (f.leaf) (*out)[f.path] = LeafLabels{f.category, f.sensitivity, f.owner};
    }
    return out;
  }();
  return *labels;
}

std::string RegimeCitation(cv1::LegalRegime regime) {
  return regime == cv1::DPA_2018_PART_3
             ? "Data Protection Act 2018 Part 3: law enforcement processing"
             : "UK GDPR and Data Protection Act 2018 Part 2";
}

std::string Article6Citation(cv1::Article6Basis basis) {
  switch (basis) {
    case cv1::ARTICLE6_CONSENT:
      return "UK GDPR Art 6(1)(a): consent";
    case cv1::ARTICLE6_LEGAL_OBLIGATION:
      return "UK GDPR Art 6(1)(c): legal obligation";
    case cv1::ARTICLE6_VITAL_INTERESTS:
      return "UK GDPR Art 6(1)(d): vital interests (break-glass)";
    case cv1::ARTICLE6_PUBLIC_TASK:
      return "UK GDPR Art 6(1)(e): public task";
    case cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST:
      return "UK GDPR Art 6(1)(ea): recognised legitimate interest (Data (Use and Access) Act "
             "2025)";
    case cv1::ARTICLE6_LAW_ENFORCEMENT_TASK:
      return "Data Protection Act 2018 s35(2)(b): necessary for a law enforcement task of a "
             "competent authority";
    default:
      return "";
  }
}

std::string Annex1Citation(cv1::Annex1Condition condition) {
  switch (condition) {
    case cv1::ANNEX1_PUBLIC_BODY_REQUEST:
      return "UK GDPR Annex 1: disclosure on request to a public body that states the function "
             "it needs the data for";
    case cv1::ANNEX1_SAFEGUARDING_VULNERABLE_INDIVIDUAL:
      return "UK GDPR Annex 1: safeguarding vulnerable individuals";
    default:
      return "";
  }
}

std::string SensitiveCitation(cv1::SensitiveDataCondition condition, bool criminal) {
  // Art 10 conditions are the DPA 2018 Sch 1 conditions through s10(5).
  const char* art = criminal ? "UK GDPR Art 10 with DPA 2018 s10(5), " : "";
  switch (condition) {
    case cv1::EXPLICIT_CONSENT:
      return criminal ? absl::StrCat(art, "Sch 1 para 29: consent")
                      : "UK GDPR Art 9(2)(a): explicit consent";
    case cv1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK:
      return absl::StrCat(criminal ? art : "UK GDPR Art 9(2)(g) with DPA 2018 ",
                          "Sch 1 para 18: safeguarding of children and of individuals at risk");
    case cv1::HEALTH_OR_SOCIAL_CARE_PURPOSES:
      return absl::StrCat(criminal ? art : "UK GDPR Art 9(2)(h) with DPA 2018 ",
                          "Sch 1 para 2: health or social care purposes");
    case cv1::VITAL_INTERESTS_OF_THE_CHILD:
      return criminal ? absl::StrCat(art,
                                     "Sch 1 para 30: protecting an individual's vital "
                                     "interests")
                      : "UK GDPR Art 9(2)(c): vital interests";
    case cv1::LAW_ENFORCEMENT_SAFEGUARDING_SCH8:
      return "Data Protection Act 2018 s35(5) with Sch 8 para 4: safeguarding of children and "
             "of individuals at risk";
    case cv1::STATUTORY_AND_GOVERNMENT_PURPOSES:
      return absl::StrCat(criminal ? art : "UK GDPR Art 9(2)(g) with DPA 2018 ",
                          "Sch 1 para 6: statutory and government purposes");
    default:
      return "";
  }
}

// The Art 9/10 (or Part 3) condition a met basis stands for.
cv1::SensitiveDataCondition ConditionOf(cv1::LegalBasis met, bool part3) {
  switch (met) {
    case cv1::CONSENT:
      return cv1::EXPLICIT_CONSENT;
    case cv1::SAFEGUARDING_OF_CHILDREN:
      return part3 ? cv1::LAW_ENFORCEMENT_SAFEGUARDING_SCH8
                   : cv1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK;
    case cv1::HEALTH_OR_SOCIAL_CARE:
      return cv1::HEALTH_OR_SOCIAL_CARE_PURPOSES;
    case cv1::VITAL_INTERESTS:
      return cv1::VITAL_INTERESTS_OF_THE_CHILD;
    case cv1::LAW_ENFORCEMENT_SAFEGUARDING:
      return part3 ? cv1::LAW_ENFORCEMENT_SAFEGUARDING_SCH8
                   : cv1::SAFEGUARDING_OF_CHILDREN_AND_INDIVIDUALS_AT_RISK;
    case cv1::PUBLIC_TASK:
    case cv1::LEGAL_OBLIGATION:
      return cv1::STATUTORY_AND_GOVERNMENT_PURPOSES;
    default:
      return cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED;
  }
}

// One ground applied to one controller.
cv1::LawfulBasis TupleFor(const pv1::Ground& ground, const Controller& controller,
                          pv1::Jurisdiction jurisdiction, const std::string& stated_function) {
  const pv1::DeclaredBasis& declared = ground.declared();
  const bool part3 =
      controller.kind == cv1::POLICE && (declared.regime() == cv1::DPA_2018_PART_3 ||
                                         ground.met() == cv1::LAW_ENFORCEMENT_SAFEGUARDING);
  cv1::LawfulBasis t;
  t.set_controller_kind(controller.kind);
  t.set_controller_code(controller.code);
  t.set_regime(part3 ? cv1::DPA_2018_PART_3 : cv1::UK_GDPR);
  cv1::Article6Basis art6 = declared.article6();
  if (part3) {
    art6 = cv1::ARTICLE6_LAW_ENFORCEMENT_TASK;
  } else if (ground.met() == cv1::VITAL_INTERESTS) {
    art6 = cv1::ARTICLE6_VITAL_INTERESTS;
  } else if (ground.met() == cv1::CONSENT && ground.sensitivity() == rv1::PERSONAL) {
    art6 = cv1::ARTICLE6_CONSENT;
  } else if (art6 == cv1::ARTICLE6_LAW_ENFORCEMENT_TASK) {
    // A police request answered by a controller outside Part 3 (an LA, a
    // school) rests on the controller's public task.
    art6 = cv1::ARTICLE6_PUBLIC_TASK;
  }
  t.set_article6(art6);
  if (art6 == cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST) {
    t.set_annex1_condition(declared.annex1_condition());
    if (declared.annex1_condition() == cv1::ANNEX1_PUBLIC_BODY_REQUEST) {
      t.set_stated_function(stated_function);
    }
  }
  const cv1::SensitiveDataCondition condition = ConditionOf(ground.met(), part3);
  if (ground.sensitivity() == rv1::SPECIAL_CATEGORY) {
    t.set_special_category_condition(condition);
  } else if (ground.sensitivity() == rv1::CRIMINAL_OFFENCE) {
    t.set_criminal_offence_condition(condition);
  }
  for (int g : declared.gateways()) {
    const std::string cited = GatewayCitation(static_cast<cv1::StatutoryGateway>(g), jurisdiction);
    if (!cited.empty()) t.add_gateways(static_cast<cv1::StatutoryGateway>(g));
  }
  t.set_consent_id(ground.consent_id());

  t.add_citations(RegimeCitation(t.regime()));
  t.add_citations(Article6Citation(art6));
  if (t.annex1_condition() != cv1::ANNEX1_CONDITION_UNSPECIFIED) {
    t.add_citations(Annex1Citation(t.annex1_condition()));
  }
  if (t.special_category_condition() != cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED) {
    t.add_citations(SensitiveCitation(t.special_category_condition(), false));
  }
  if (t.criminal_offence_condition() != cv1::SENSITIVE_DATA_CONDITION_UNSPECIFIED) {
    t.add_citations(SensitiveCitation(t.criminal_offence_condition(), true));
  }
  for (int g : t.gateways()) {
    t.add_citations(GatewayCitation(static_cast<cv1::StatutoryGateway>(g), jurisdiction));
  }
  if (!t.stated_function().empty()) {
    t.add_citations(absl::StrCat("Stated function: ", t.stated_function()));
  }
  return t;
}

// Everything but the categories, for merging tuples.
std::string MergeKey(const cv1::LawfulBasis& t) {
  std::string out;
  if (t.categories().empty()) {
    t.SerializeToString(&out);  // only for equality within one process
    return out;
  }
  cv1::LawfulBasis key = t;
  key.clear_categories();
  key.SerializeToString(&out);
  return out;
}

}  // namespace

std::string GatewayCitation(cv1::StatutoryGateway gateway, pv1::Jurisdiction jurisdiction) {
  const bool wales = jurisdiction == pv1::WALES;
  if (jurisdiction != pv1::ENGLAND && !wales) return "";
  switch (gateway) {
    case cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS:
      return wales ? "Children Act 2004 s28: arrangements to safeguard and promote the welfare "
                     "of children (Wales)"
                   : "Children Act 2004 s11: arrangements to safeguard and promote the welfare "
                     "of children";
    case cv1::CA2004_S16LA_DUTY_TO_SHARE:
      return wales ? ""
                   : "Children Act 2004 s16LA: duty to share safeguarding and welfare "
                     "information (Children's Wellbeing and Schools Act 2026)";
    case cv1::CA1989_S17_CHILDREN_IN_NEED:
      return wales ? "Social Services and Well-being (Wales) Act 2014 s37: duty to meet the care "
                     "and support needs of a child"
                   : "Children Act 1989 s17: services for children in need";
    case cv1::CA1989_S47_CHILD_PROTECTION:
      return wales ? "Children Act 1989 s47 and Social Services and Well-being (Wales) Act 2014 "
                     "s130: child protection enquiries, duty to report children at risk"
                   : "Children Act 1989 s47: child protection enquiries";
    case cv1::CA1989_S22_LOOKED_AFTER_CHILDREN:
      return wales ? "Social Services and Well-being (Wales) Act 2014 s78: general duty of a "
                     "local authority to looked-after children"
                   : "Children Act 1989 s22 and s22(3A): duties to looked-after children, "
                     "including promoting their education";
    case cv1::CA1989_S23ZZA_PREVIOUSLY_LOOKED_AFTER:
      return wales ? ""
                   : "Children Act 1989 s23ZZA: information and advice for previously "
                     "looked-after children";
    case cv1::VSH_KINSHIP_EXTENSION_GUIDANCE:
      return wales ? ""
                   : "DfE guidance (2024): the virtual school head's role extended to "
                     "children in kinship care (non-statutory)";
    case cv1::DAA2021_S49A_OPERATION_ENCOMPASS:
      return "Domestic Abuse Act 2021 s49A: police tell the child's school of domestic abuse "
             "(Operation Encompass)";
    case cv1::CDA1998_S115_CRIME_PREVENTION:
      return "Crime and Disorder Act 1998 s115: disclosure for the purposes of the Act";
    case cv1::KINSHIP_FINANCIAL_SUPPORT:
      return wales ? "Social Services and Well-being (Wales) Act 2014 s35 and the Special "
                     "Guardianship (Wales) Regulations 2018: support for kinship carers"
                   : "Children Act 1989 s14F and the Special Guardianship Regulations 2005: "
                     "special guardianship support, including financial support";
    case cv1::NHS_HEALTH_CARE:
      return wales ? "National Health Service (Wales) Act 2006: the child's health care"
                   : "National Health Service Act 2006: the child's health care";
    default:
      return "";
  }
}

pv1::Jurisdiction JurisdictionOfLa(const std::string& la_code) {
  if (!la_code.empty() && la_code[0] == 'E') return pv1::ENGLAND;
  if (!la_code.empty() && la_code[0] == 'W') return pv1::WALES;
  return pv1::JURISDICTION_UNSPECIFIED;
}

std::vector<cv1::LawfulBasis> LawfulBasesFor(const pv1::Decision& decision,
                                             const std::vector<std::string>& disclosed_paths,
                                             const std::vector<Controller>& controllers,
                                             pv1::Jurisdiction jurisdiction,
                                             const std::string& stated_function) {
  // Which owner kinds disclosed something of each (category, sensitivity).
  std::map<std::pair<int, int>, std::set<int>> owners;
  const auto& labels = LeafLabelsByPath();
  for (const std::string& path : disclosed_paths) {
    auto it = labels.find(path);
    if (it == labels.end()) continue;
    owners[{it->second.category, it->second.sensitivity}].insert(it->second.owner);
  }
  std::vector<cv1::LawfulBasis> out;
  std::vector<std::string> keys;  // MergeKey of out[i]
  std::map<std::string, size_t> index;
  for (const pv1::Ground& ground : decision.grounds()) {
    auto found = owners.find({ground.category(), ground.sensitivity()});
    if (found == owners.end()) continue;
    for (const Controller& controller : controllers) {
      if (!found->second.contains(controller.kind)) continue;
      cv1::LawfulBasis t = TupleFor(ground, controller, jurisdiction, stated_function);
      std::string key = MergeKey(t);
      auto [it, inserted] = index.emplace(key, out.size());
      if (inserted) {
        out.push_back(std::move(t));
        keys.push_back(std::move(key));
      }
      cv1::LawfulBasis& merged = out[it->second];
      if (std::find(merged.categories().begin(), merged.categories().end(), ground.category()) ==
          merged.categories().end()) {
        merged.add_categories(ground.category());
      }
    }
  }
  for (cv1::LawfulBasis& t : out) {
    std::sort(t.mutable_categories()->begin(), t.mutable_categories()->end());
  }
  // Per controller: ordinary data first, then special category, then
  // criminal offence data; ties broken by the rest of the tuple (its merge
  // key, computed once per tuple rather than once per comparison).
  auto rank = [&](size_t i) {
    const cv1::LawfulBasis& t = out[i];
    return std::make_tuple(static_cast<int>(t.controller_kind()),
                           std::string_view(t.controller_code()),
                           static_cast<int>(t.special_category_condition()),
                           static_cast<int>(t.criminal_offence_condition()),
                           static_cast<int>(t.article6()), std::string_view(keys[i]));
  };
  std::vector<size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank(a) < rank(b); });
  std::vector<cv1::LawfulBasis> sorted;
  sorted.reserve(out.size());
  for (size_t i : order) sorted.push_back(std::move(out[i]));
  return sorted;
}

}  // namespace kinex::policy
