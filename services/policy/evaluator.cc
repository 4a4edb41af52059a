#include "services/policy/evaluator.h"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/common/error_reason.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
namespace rv1 = ::kinex::record::v1;

// What evaluation looks at, derived once from the request.
struct Facts {
  bool relation[pv1::Scope_ARRAYSIZE] = {};
  int jurisdiction = pv1::JURISDICTION_UNSPECIFIED;
  uint32_t statuses = 0;
  uint32_t arrangements = 0;  // bit per kinex::record::v1::ArrangementType
  bool justified = false;
  bool break_glass = false;
  bool stated_function = false;
  // Whether the responsible LA's shields bind this principal (everyone but
  // the LA's own roles).
  bool shielded = false;
};

Facts ComputeFacts(const pv1::DecisionRequest& request) {
  Facts f;
  const std::string& code = request.principal().agency_code();
  const rv1::ScopeLinks& scope = request.child().scope();
  const bool has_code = !code.empty();
  f.relation[pv1::RESPONSIBLE_AUTHORITY] = has_code && code == scope.responsible_la_code();
  f.relation[pv1::SCHOOL_ROLL] = has_code && code == scope.current_school_urn();
  bool health = has_code && code == scope.registered_gp_ods_code();
  for (const std::string& ods : scope.health_provider_ods_codes()) {
    health = health || (has_code && code == ods);
  }
  f.relation[pv1::REGISTERED_HEALTH] = health;
  f.relation[pv1::POLICE_AREA] = has_code && code == scope.police_force_code();
  f.relation[pv1::ANY] = true;
  const std::string& la = scope.responsible_la_code();
  if (!la.empty() && la[0] == 'E') f.jurisdiction = pv1::ENGLAND;
  if (!la.empty() && la[0] == 'W') f.jurisdiction = pv1::WALES;
  if (request.child().looked_after()) f.statuses |= 1u << pv1::LOOKED_AFTER;
  if (request.child().previously_looked_after()) {
    f.statuses |= 1u << pv1::PREVIOUSLY_LOOKED_AFTER;
  }
  if (f.statuses == 0) f.statuses = 1u << pv1::NOT_LOOKED_AFTER;
  for (int a : request.child().arrangement_types()) {
    if (a > 0 && a < 32 && rv1::ArrangementType_IsValid(a)) f.arrangements |= 1u << a;
  }
  f.justified = !absl::StripAsciiWhitespace(request.justification()).empty();
  f.break_glass = request.break_glass();
  f.stated_function = !absl::StripAsciiWhitespace(request.stated_function()).empty();
  const bool own_la = request.principal().agency_kind() == cv1::LOCAL_AUTHORITY &&
                      f.relation[pv1::RESPONSIBLE_AUTHORITY];
  f.shielded =
      !own_la && (request.child().shield_locating() || !request.child().shielded_paths().empty());
  return f;
}

bool MatchesPrincipal(const std::vector<CompiledMatcher>& ms, const pv1::Principal& p) {
  for (const CompiledMatcher& m : ms) {
    if (m.kind != p.agency_kind()) continue;
    if (!m.code.empty() && m.code != p.agency_code()) continue;
    if (!m.roles.empty() && std::find(m.roles.begin(), m.roles.end(), p.role()) == m.roles.end()) {
      continue;
    }
    return true;
  }
  return false;
}

bool ConditionHolds(const CompiledCondition& c, const Facts& f) {
  if (c.jurisdictions != 0 && (c.jurisdictions & (1u << f.jurisdiction)) == 0) {
    return false;
  }
  if (c.statuses != 0 && (c.statuses & f.statuses) == 0) return false;
  if (c.arrangements != 0 && (c.arrangements & f.arrangements) == 0) return false;
  return true;
}

// Whether a rule's declared basis can be relied on for this request: a
// recognised legitimate interest on request of a public body needs the
// requester's stated function.
bool DeclaredBasisHolds(const CompiledRule& rule, const Facts& f) {
  const pv1::DeclaredBasis& b = rule.lawful_basis;
  if (b.article6() == cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST &&
      b.annex1_condition() == cv1::ANNEX1_PUBLIC_BODY_REQUEST) {
    return f.stated_function;
  }
  return true;
}

// The leaves the responsible LA's shields withhold; an unknown path fails
// the evaluation (closed).
absl::StatusOr<LeafSet> ShieldedLeaves(const Schema& schema, const pv1::ChildContext& child) {
  LeafSet out(schema.leaf_count());
  if (child.shield_locating()) out |= schema.LocatingLeaves();
  for (const std::string& path : child.shielded_paths()) {
    absl::StatusOr<PathInfo> info = schema.Resolve(path);
    if (!info.ok()) {
      // The schema's reason (POLICY_UNKNOWN_PATH) and path.
      return CopyErrorReason(info.status(), absl::InvalidArgumentError(absl::StrCat(
                                                "a shield names an unknown field path (",
                                                info.status().message(), ")")));
    }
    out.SetRange(info->leaf_begin, info->leaf_end);
  }
  return out;
}

// Whether an available basis covers category `c` for this principal and
// purpose. Consent must name what it covers; statutory bases cover what
// they do not restrict.
bool Covers(const pv1::AvailableBasis& b, int category, const pv1::DecisionRequest& request) {
  const bool consent = b.basis() == cv1::CONSENT;
  if (consent && b.consent_id().empty()) return false;
  if (b.categories().empty()) {
    if (consent) return false;
  } else if (category >= 0 && std::find(b.categories().begin(), b.categories().end(), category) ==
                                  b.categories().end()) {
    return false;
  }
  const pv1::Principal& p = request.principal();
  if (b.recipient_agency_kind() == cv1::AGENCY_KIND_UNSPECIFIED) {
    if (consent) return false;
  } else if (b.recipient_agency_kind() != p.agency_kind()) {
    return false;
  }
  if (!b.recipient_agency_code().empty() && b.recipient_agency_code() != p.agency_code()) {
    return false;
  }
  if (b.purposes().empty()) {
    if (consent) return false;
  } else if (std::find(b.purposes().begin(), b.purposes().end(), request.purpose()) ==
             b.purposes().end()) {
    return false;
  }
  return true;
}

struct BasisChoice {
  cv1::LegalBasis basis = cv1::LEGAL_BASIS_UNSPECIFIED;
  std::string consent_id;
  pv1::Obligation obligation = pv1::OBLIGATION_UNSPECIFIED;
};

// The first alternative the request satisfies for category `c`, if any.
bool ChooseBasis(const std::vector<pv1::BasisAlternative>& alts, int c,
                 const pv1::DecisionRequest& request, const Facts& f, BasisChoice* out) {
  for (const pv1::BasisAlternative& alt : alts) {
    if (alt.requires_justification() && !f.justified) continue;
    if (alt.break_glass()) {
      if (f.break_glass && f.justified) {
        *out = {cv1::VITAL_INTERESTS, "", pv1::BREAK_GLASS_REVIEW};
        return true;
      }
      continue;
    }
    const pv1::Obligation ob =
        alt.requires_justification() ? pv1::REQUIRE_JUSTIFICATION : pv1::OBLIGATION_UNSPECIFIED;
    if (alt.inherent()) {
      *out = {alt.basis(), "", ob};
      return true;
    }
    for (const pv1::AvailableBasis& b : request.bases()) {
      if (b.basis() == alt.basis() && Covers(b, c, request)) {
        *out = {alt.basis(), b.consent_id(), ob};
        return true;
      }
    }
  }
  return false;
}

std::string PrincipalClass(const pv1::Principal& p) {
  return absl::StrCat(AgencyKindSlug(p.agency_kind()), "/", p.role());
}

struct BasisUseEntry {
  BasisChoice choice;
  int category;
  int sensitivity;
  LeafSet leaves;
  int rule;
};

struct Contribution {
  int rule;
  LeafSet leaves;
};

// Appends to `paths` the coarsest paths covering exactly `visible`.
void CoarsenPaths(const Schema& schema, int node, const LeafSet& visible,
                  std::vector<std::string>* paths) {
  for (const SchemaField& sf : schema.nodes()[node].fields) {
    if (sf.leaf_begin == sf.leaf_end) continue;
    if (visible.AllInRange(sf.leaf_begin, sf.leaf_end)) {
      paths->push_back(sf.path);
    } else if (sf.child_node >= 0 && visible.AnyInRange(sf.leaf_begin, sf.leaf_end)) {
      CoarsenPaths(schema, sf.child_node, visible, paths);
    }
  }
}

// The categories the schema has leaves for.
std::vector<int> SchemaCategories(const Schema& schema) {
  std::vector<int> out;
  for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
    if (schema.CategoryLeaves(static_cast<rv1::Category>(c)).Any()) {
      out.push_back(c);
    }
  }
  return out;
}

Evaluation DenyAll(const CompiledPolicy& policy, const std::string& reason,
                   std::vector<std::string>* trace) {
  Evaluation e;
  e.decision.set_allowed(false);
  e.decision.set_policy_version(policy.version);
  e.decision.set_deny_reason(reason);
  for (int c : SchemaCategories(*policy.schema)) {
    pv1::WithheldCategory* w = e.decision.add_withheld();
    w->set_category(static_cast<rv1::Category>(c));
    w->set_reason(pv1::EVALUATION_ERROR);
  }
  auto plan = RedactionPlan::Build(policy.schema, LeafSet(policy.schema->leaf_count()), {});
  e.plan = plan.ok() ? *plan : nullptr;
  if (trace != nullptr) trace->push_back(absl::StrCat("deny: ", reason));
  return e;
}

}  // namespace

Evaluation Evaluate(const CompiledPolicy& policy, const pv1::DecisionRequest& request,
                    std::vector<std::string>* trace) {
  const pv1::Principal& principal = request.principal();
  const int kind = principal.agency_kind();
  if (kind == cv1::AGENCY_KIND_UNSPECIFIED || !cv1::AgencyKind_IsValid(kind)) {
    return DenyAll(policy, "invalid request: principal agency kind is unset", trace);
  }
  if (principal.role().empty()) {
    return DenyAll(policy, "invalid request: principal role is empty", trace);
  }
  if (request.purpose() == cv1::PURPOSE_UNSPECIFIED || !cv1::Purpose_IsValid(request.purpose())) {
    return DenyAll(policy, "invalid request: purpose is unset", trace);
  }
  const Schema& schema = *policy.schema;
  const int n = schema.leaf_count();
  const Facts facts = ComputeFacts(request);
  const std::string pclass = PrincipalClass(principal);
  const std::string purpose_name = cv1::Purpose_Name(request.purpose());
  if (trace != nullptr) {
    trace->push_back(absl::StrCat("policy ", policy.version, "; principal ", pclass, "; purpose ",
                                  purpose_name));
  }

  LeafSet labelled(n);
  for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
    labelled |= schema.CategoryLeaves(static_cast<rv1::Category>(c));
  }
  LeafSet shielded(n);
  if (facts.shielded) {
    absl::StatusOr<LeafSet> s = ShieldedLeaves(schema, request.child());
    if (!s.ok())
      return DenyAll(policy, absl::StrCat("evaluation error: ", s.status().message()), trace);
    shielded = *std::move(s);
  }
  LeafSet granted(n), needs_basis(n), out_of_scope(n), denied(n);
  std::vector<int> deny_rule(n, -1);
  std::vector<Contribution> contributions;
  std::vector<BasisUseEntry> uses;
  std::vector<std::string> matched;
  bool any_rule_for_class = false;

  for (int idx : policy.rules_by_kind[kind]) {
    const CompiledRule& rule = policy.rules[idx];
    const std::string label = absl::StrCat(
        "rule \"", rule.id, "\" (", pv1::Effect_Name(rule.effect), ", ", rule.location, "): ");
    if (!MatchesPrincipal(rule.principals, principal)) {
      if (trace) trace->push_back(label + "principal does not match");
      continue;
    }
    if ((rule.purposes & (1u << request.purpose())) == 0) {
      if (trace) trace->push_back(label + "purpose not covered");
      continue;
    }
    any_rule_for_class = true;
    if (!ConditionHolds(rule.condition, facts)) {
      if (trace) {
        trace->push_back(label +
                         "condition does not hold (jurisdiction, child "
                         "status or arrangement)");
      }
      continue;
    }
    if (!facts.relation[rule.scope]) {
      if (rule.effect == pv1::GRANT) out_of_scope |= rule.targets;
      if (trace) {
        trace->push_back(absl::StrCat(label, "scope ", pv1::Scope_Name(rule.scope),
                                      " does not hold: child out of scope"));
      }
      continue;
    }
    matched.push_back(rule.id);
    if (rule.effect == pv1::DENY) {
      denied |= rule.targets;
      for (int i = 0; i < n; ++i) {
        if (rule.targets.Test(i) && deny_rule[i] < 0) deny_rule[i] = idx;
      }
      if (trace) trace->push_back(label + "applies: withholds what it names");
      continue;
    }
    if (rule.requires_justification && !facts.justified) {
      needs_basis |= rule.targets;
      if (trace) {
        trace->push_back(label +
                         "applies, but needs a justification the request "
                         "lacks: grants nothing");
      }
      continue;
    }
    if (!DeclaredBasisHolds(rule, facts)) {
      needs_basis |= rule.targets;
      if (trace) {
        trace->push_back(label +
                         "applies, but its recognised legitimate interest needs "
                         "the requester's stated function: grants nothing");
      }
      continue;
    }
    LeafSet contrib(n);
    std::vector<std::string> notes;
    for (int s = rv1::PERSONAL; s <= rv1::CRIMINAL_OFFENCE; ++s) {
      LeafSet part = rule.targets & schema.SensitivityLeaves(static_cast<rv1::Sensitivity>(s));
      part &= labelled;
      if (!part.Any()) continue;
      const std::string sname = rv1::Sensitivity_Name(s);
      if (!rule.has_requirement[s]) {
        if (s == rv1::PERSONAL) {
          contrib |= part;
          for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
            LeafSet pc = part & schema.CategoryLeaves(static_cast<rv1::Category>(c));
            if (pc.Any()) uses.push_back(BasisUseEntry{{}, c, s, std::move(pc), idx});
          }
        } else {
          needs_basis |= part;
          if (trace) notes.push_back(sname + " withheld: rule states no basis");
        }
        continue;
      }
      for (int c = 1; c < rv1::Category_ARRAYSIZE; ++c) {
        LeafSet pc = part & schema.CategoryLeaves(static_cast<rv1::Category>(c));
        if (!pc.Any()) continue;
        BasisChoice choice;
        if (ChooseBasis(rule.alternatives[s], c, request, facts, &choice)) {
          contrib |= pc;
          if (trace) {
            notes.push_back(absl::StrCat(
                rv1::Category_Name(c), "/", sname, " on ", cv1::LegalBasis_Name(choice.basis),
                choice.consent_id.empty() ? "" : " (consent " + choice.consent_id + ")"));
          }
          uses.push_back(BasisUseEntry{std::move(choice), c, s, std::move(pc), idx});
        } else {
          needs_basis |= pc;
          if (trace) {
            notes.push_back(absl::StrCat(rv1::Category_Name(c), "/", sname,
                                         " withheld: no consent or basis "
                                         "satisfies the rule"));
          }
        }
      }
    }
    granted |= contrib;
    int count = 0;
    for (int i = 0; i < n; ++i) count += contrib.Test(i) ? 1 : 0;
    if (trace) {
      trace->push_back(absl::StrCat(label, "applies: grants ", count, " fields",
                                    notes.empty() ? "" : "; ", absl::StrJoin(notes, "; ")));
    }
    contributions.push_back(Contribution{idx, std::move(contrib)});
  }
  if (trace && !any_rule_for_class) {
    trace->push_back(
        absl::StrCat("no rule applies to ", pclass, " for ", purpose_name, ": deny by default"));
  }

  // A shield withholds as if no rule granted the field: the requester is
  // told NOT_GRANTED (or whatever else withholds it), never that a shield
  // exists; Decision.shielded tells the audit.
  LeafSet unshielded_visible = granted;
  unshielded_visible.AndNot(denied);
  const bool shield_bites = shielded.Intersects(unshielded_visible);
  if (shield_bites) {
    granted.AndNot(shielded);
    if (trace) trace->push_back("the responsible LA's shield withholds what it covers");
  }
  LeafSet visible = granted;
  visible.AndNot(denied);

  Evaluation e;
  pv1::Decision& d = e.decision;
  d.set_policy_version(policy.version);
  d.set_allowed(visible.Any());

  // Paths.
  std::vector<std::string> paths;
  CoarsenPaths(schema, 0, visible, &paths);
  std::sort(paths.begin(), paths.end());
  for (std::string& p : paths) d.add_allowed_paths(std::move(p));

  // Obligations, row filters, bases: only from what remains visible.
  std::set<int> obligations;
  std::vector<BoundRowFilter> filters;
  for (const Contribution& c : contributions) {
    if (!c.leaves.Intersects(visible)) continue;
    const CompiledRule& rule = policy.rules[c.rule];
    for (pv1::Obligation o : rule.obligations) obligations.insert(o);
    if (rule.requires_justification) {
      obligations.insert(pv1::REQUIRE_JUSTIFICATION);
    }
    const LeafSet kept = c.leaves & visible;
    for (const CompiledRowFilter& f : rule.row_filters) {
      if (!kept.AnyInRange(f.leaf_begin, f.leaf_end)) continue;
      bool dup = false;
      for (const BoundRowFilter& b : filters) {
        dup = dup || (b.repeated_field == f.repeated_field && b.key_field == f.key_field);
      }
      if (!dup) {
        filters.push_back(BoundRowFilter{f.repeated_field, f.key_field, principal.agency_code()});
      }
    }
  }
  std::set<std::tuple<int, int, int, std::string>> seen_uses;
  std::set<std::tuple<int, int, std::string, int, std::string>> seen_grounds;
  for (const BasisUseEntry& u : uses) {
    if (!u.leaves.Intersects(visible)) continue;
    const CompiledRule& rule = policy.rules[u.rule];
    if (seen_grounds
            .emplace(u.category, u.sensitivity, rule.id, u.choice.basis, u.choice.consent_id)
            .second) {
      pv1::Ground* g = d.add_grounds();
      g->set_category(static_cast<rv1::Category>(u.category));
      g->set_sensitivity(static_cast<rv1::Sensitivity>(u.sensitivity));
      g->set_rule_id(rule.id);
      *g->mutable_declared() = rule.lawful_basis;
      g->set_met(u.choice.basis);
      g->set_consent_id(u.choice.consent_id);
    }
    if (u.choice.basis == cv1::LEGAL_BASIS_UNSPECIFIED) continue;  // declared basis only
    if (u.choice.obligation != pv1::OBLIGATION_UNSPECIFIED) {
      obligations.insert(u.choice.obligation);
    }
    if (!seen_uses.emplace(u.category, u.sensitivity, u.choice.basis, u.choice.consent_id).second) {
      continue;
    }
    pv1::BasisUse* bu = d.add_bases_used();
    bu->set_category(static_cast<rv1::Category>(u.category));
    bu->set_sensitivity(static_cast<rv1::Sensitivity>(u.sensitivity));
    bu->set_basis(u.choice.basis);
    bu->set_consent_id(u.choice.consent_id);
  }
  std::sort(d.mutable_grounds()->begin(), d.mutable_grounds()->end(),
            [](const pv1::Ground& a, const pv1::Ground& b) {
              return std::make_tuple(a.category(), a.sensitivity(), a.rule_id(), a.met(),
                                     a.consent_id()) < std::make_tuple(b.category(),
                                                                       b.sensitivity(), b.rule_id(),
                                                                       b.met(), b.consent_id());
            });
  if (shield_bites) {
    for (int c : SchemaCategories(schema)) {
      if (schema.CategoryLeaves(static_cast<rv1::Category>(c))
              .Intersects(shielded & unshielded_visible)) {
        d.add_shielded(static_cast<rv1::Category>(c));
      }
    }
  }
  for (int o : obligations) d.add_obligations(static_cast<pv1::Obligation>(o));
  std::sort(filters.begin(), filters.end(), [](const BoundRowFilter& a, const BoundRowFilter& b) {
    return a.repeated_field < b.repeated_field;
  });
  for (const BoundRowFilter& f : filters) {
    pv1::AppliedRowFilter* af = d.add_row_filters();
    af->set_repeated_field(f.repeated_field);
    af->set_key_field(f.key_field);
    af->set_equals(f.equals);
  }
  std::sort(matched.begin(), matched.end());
  matched.erase(std::unique(matched.begin(), matched.end()), matched.end());
  for (std::string& m : matched) d.add_matched_rule_ids(std::move(m));

  // Withheld categories.
  std::set<std::string> reasons;
  for (int c : SchemaCategories(schema)) {
    const LeafSet& cat = schema.CategoryLeaves(static_cast<rv1::Category>(c));
    LeafSet withheld = cat;
    withheld.AndNot(visible);
    if (!withheld.Any()) continue;
    pv1::WithheldCategory* w = d.add_withheld();
    w->set_category(static_cast<rv1::Category>(c));
    w->set_partial(cat.Intersects(visible));
    if (withheld.Intersects(denied)) {
      w->set_reason(pv1::DENIED_BY_RULE);
      for (int i = 0; i < n; ++i) {
        if (withheld.Test(i) && denied.Test(i)) {
          w->set_rule_id(policy.rules[deny_rule[i]].id);
          break;
        }
      }
      reasons.insert(absl::StrCat("denied by rule \"", w->rule_id(), "\""));
    } else if (withheld.Intersects(needs_basis)) {
      w->set_reason(pv1::NEEDS_CONSENT_OR_BASIS);
      reasons.insert("needs consent or a legal basis with justification");
    } else if (withheld.Intersects(out_of_scope)) {
      w->set_reason(pv1::OUT_OF_SCOPE);
      reasons.insert("the child is outside the principal's scope");
    } else {
      w->set_reason(pv1::NOT_GRANTED);
      reasons.insert(absl::StrCat("no rule grants ", pclass, " this for ", purpose_name));
    }
    if (trace) {
      trace->push_back(absl::StrCat("category ", rv1::Category_Name(c), ": withheld ",
                                    pv1::WithheldReason_Name(w->reason()),
                                    w->rule_id().empty() ? "" : " by \"" + w->rule_id() + "\"",
                                    w->partial() ? " (partly visible)" : ""));
    }
  }
  if (!d.allowed()) {
    d.set_deny_reason(absl::StrCat("nothing may be disclosed: ", absl::StrJoin(reasons, "; ")));
  }
  if (trace) {
    trace->push_back(
        absl::StrCat(d.allowed() ? "allow: " : "deny: ",
                     d.allowed() ? absl::StrJoin(d.allowed_paths(), ", ") : d.deny_reason()));
  }

  auto plan = RedactionPlan::Build(policy.schema, visible, filters);
  if (!plan.ok()) {
    return DenyAll(policy, absl::StrCat("evaluation error: ", plan.status().message()), trace);
  }
  e.plan = std::move(*plan);
  return e;
}

std::string EvaluationCacheKey(const pv1::DecisionRequest& request) {
  const Facts f = ComputeFacts(request);
  const pv1::Principal& p = request.principal();
  std::string key;
  key.reserve(64 + p.agency_code().size() + p.role().size());
  auto add = [&key](const std::string& s) {
    key.append(std::to_string(s.size()));
    key.push_back(':');
    key.append(s);
  };
  // Enum values are written in full: the request is untrusted, and an
  // out-of-range value must never alias a valid one.
  key.append(std::to_string(p.agency_kind()));
  key.push_back(',');
  key.append(std::to_string(request.purpose()));
  key.push_back(',');
  uint32_t bits = 0;
  for (int s = 1; s < pv1::Scope_ARRAYSIZE; ++s) {
    if (f.relation[s]) bits |= 1u << s;
  }
  bits |= f.statuses << 8;
  bits |= static_cast<uint32_t>(f.jurisdiction) << 16;
  bits |= (f.justified ? 1u : 0u) << 20;
  bits |= (f.break_glass ? 1u : 0u) << 21;
  bits |= (f.stated_function ? 1u : 0u) << 22;
  key.append(std::to_string(bits));
  key.push_back(',');
  key.append(std::to_string(f.arrangements));
  key.push_back('|');
  add(p.agency_code());
  add(p.role());
  // Shields are per child: they are part of the key whenever they bind.
  if (f.shielded) {
    key.push_back(request.child().shield_locating() ? 'L' : 's');
    for (const std::string& path : request.child().shielded_paths()) add(path);
    key.push_back('|');
  }
  for (const pv1::AvailableBasis& b : request.bases()) {
    // Bases that cannot cover this principal and purpose change nothing.
    if (!Covers(b, -1, request)) continue;
    key.push_back('b');
    key.append(std::to_string(b.basis()));
    key.push_back(':');
    for (int c : b.categories()) {
      key.append(std::to_string(c));
      key.push_back(',');
    }
    key.push_back(':');
    add(b.consent_id());
  }
  return key;
}

absl::Status MayRecordConsent(const CompiledPolicy& policy, const pv1::Principal& principal,
                              const pv1::ChildContext& child, cv1::LegalBasis basis) {
  pv1::DecisionRequest request;
  *request.mutable_principal() = principal;
  *request.mutable_child() = child;
  const Facts facts = ComputeFacts(request);
  if (basis > 0 && basis < 32) {
    for (const CompiledRecorder& r : policy.recorders) {
      if ((r.bases & (1u << basis)) == 0) continue;
      if (!MatchesPrincipal(r.principals, principal)) continue;
      if (!ConditionHolds(r.condition, facts)) continue;
      if (!facts.relation[r.scope]) continue;
      return absl::OkStatus();
    }
  }
  return WithErrorReason(absl::PermissionDeniedError(absl::StrCat(
                             "policy ", policy.version.substr(0, 12), " does not let ",
                             PrincipalClass(principal), " record ",
                             cv1::LegalBasis_IsValid(basis) ? cv1::LegalBasis_Name(basis)
                                                            : absl::StrCat(static_cast<int>(basis)),
                             " for this child")),
                         reason::kPolicyDenied);
}

}  // namespace kinex::policy
