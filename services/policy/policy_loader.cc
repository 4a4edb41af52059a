// Parsing, validation and compilation of PolicySet files (see
// compiled_policy.h).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "openssl/sha.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/status_macros.h"
#include "services/common/textproto.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/lawful_basis.h"

namespace kinex::policy {
namespace {

namespace pv1 = ::kinex::policy::v1;
namespace cv1 = ::kinex::common::v1;
namespace rv1 = ::kinex::record::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

// Positions of parsed fields, for "file:line:col" in messages. Falls back
// to the enclosing message's position when a field was not in the text.
class Loc {
 public:
  Loc(const std::string* file, const TextFormat::ParseInfoTree* tree, const Descriptor* desc,
      std::string fallback)
      : file_(file), tree_(tree), desc_(desc), fallback_(std::move(fallback)) {}

  // "file:line:col" of field `name` (element `index` when repeated).
  std::string Of(const std::string& name, int index = -1) const {
    const FieldDescriptor* f = desc_->FindFieldByName(name);
    if (tree_ != nullptr && f != nullptr) {
      // List syntax ("field: [a, b]") records only some elements: fall back
      // to the nearest earlier one, which is on the same or an earlier line.
      for (int i = f->is_repeated() ? std::max(index, 0) : -1; i >= -1; --i) {
        TextFormat::ParseLocation l = tree_->GetLocation(f, i);
        if (l.line >= 0) {
          return absl::StrCat(*file_, ":", l.line + 1, ":", l.column + 1);
        }
        if (i <= 0) break;
      }
    }
    return fallback_;
  }
  // The Loc of nested message field `name` (element `index`).
  Loc Nested(const std::string& name, int index = -1) const {
    const FieldDescriptor* f = desc_->FindFieldByName(name);
    const TextFormat::ParseInfoTree* nested = nullptr;
    if (tree_ != nullptr && f != nullptr) {
      nested = tree_->GetTreeForNested(f, f->is_repeated() ? std::max(index, 0) : -1);
    }
    return Loc(file_, nested, f->message_type(), Of(name, index));
  }
  // Position of this message itself.
  const std::string& self() const { return fallback_; }

 private:
  const std::string* file_;
  const TextFormat::ParseInfoTree* tree_;
  const Descriptor* desc_;
  std::string fallback_;
};

// `status`, an error in policy file `file` whose message starts
// "<file>:<line>:", with reason POLICY_INVALID naming the file and line.
absl::Status PolicyInvalid(absl::Status status, absl::string_view file,
                           ErrorMetadata metadata = {}) {
  metadata["file"] = std::string(file);
  absl::string_view rest = status.message();
  if (absl::ConsumePrefix(&rest, file) && absl::ConsumePrefix(&rest, ":")) {
    size_t n = 0;
    while (n < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    if (n > 0) metadata["line"] = std::string(rest.substr(0, n));
  }
  return WithErrorReason(std::move(status), reason::kPolicyInvalid, metadata);
}

// Collects errors, one a line. The status names the first error's file and
// line (and its field path when it is an unknown one).
class Errors {
 public:
  void Add(const std::string& where, const std::string& message) {
    if (errors_.empty()) first_where_ = where;
    errors_.push_back(absl::StrCat(where, ": ", message));
  }
  // An error about `path`, a field path the record schema does not have.
  void AddUnknownPath(const std::string& where, const std::string& message,
                      const std::string& path) {
    if (errors_.empty()) first_path_ = path;
    Add(where, message);
  }
  bool empty() const { return errors_.empty(); }
  absl::Status ToStatus() const {
    absl::Status status = absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    ErrorMetadata metadata;
    if (!first_path_.empty()) metadata["path"] = first_path_;
    // "file:line:col".
    const size_t col = first_where_.rfind(':');
    const size_t line =
        col == std::string::npos || col == 0 ? std::string::npos : first_where_.rfind(':', col - 1);
    if (line == std::string::npos) {
      return WithErrorReason(std::move(status), reason::kPolicyInvalid, metadata);
    }
    return PolicyInvalid(std::move(status), first_where_.substr(0, line), std::move(metadata));
  }

 private:
  std::vector<std::string> errors_;
  std::string first_where_;
  std::string first_path_;
};

std::string EnumName(const google::protobuf::EnumDescriptor* e, int value) {
  const auto* v = e->FindValueByNumber(value);
  return v != nullptr ? v->name() : absl::StrCat(value);
}

bool ValidRoleName(const std::string& r) {
  if (r.empty() || r.size() > 64) return false;
  for (char c : r) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) {
      return false;
    }
  }
  return true;
}

// Which scopes can hold for which principal kinds.
bool ScopeFitsKind(pv1::Scope scope, cv1::AgencyKind kind) {
  switch (scope) {
    case pv1::RESPONSIBLE_AUTHORITY:
      return kind == cv1::LOCAL_AUTHORITY || kind == cv1::VIRTUAL_SCHOOL;
    case pv1::SCHOOL_ROLL:
      return kind == cv1::SCHOOL;
    case pv1::REGISTERED_HEALTH:
      return kind == cv1::HEALTH;
    case pv1::POLICE_AREA:
      return kind == cv1::POLICE;
    case pv1::ANY:
      return true;
    default:
      return false;
  }
}

struct ParsedFile {
  std::string name;
  pv1::PolicySet set;
  std::unique_ptr<TextFormat::ParseInfoTree> tree;
};

class Compiler {
 public:
  Compiler(std::shared_ptr<const Schema> schema, CompiledPolicy* out)
      : schema_(std::move(schema)), out_(out) {}

  void DeclareRoles(const ParsedFile& file) {
    Loc loc(&file.name, file.tree.get(), pv1::PolicySet::descriptor(), file.name + ":1:1");
    for (int i = 0; i < file.set.roles_size(); ++i) {
      const pv1::RoleDeclaration& decl = file.set.roles(i);
      Loc dloc = loc.Nested("roles", i);
      if (!cv1::AgencyKind_IsValid(decl.agency_kind()) ||
          decl.agency_kind() == cv1::AGENCY_KIND_UNSPECIFIED) {
        errors_.Add(dloc.Of("agency_kind"),
                    decl.agency_kind() == 0
                        ? "agency_kind is required"
                        : absl::StrCat("unknown agency kind ", decl.agency_kind()));
        continue;
      }
      if (decl.names().empty()) {
        errors_.Add(dloc.self(), "role declaration lists no names");
      }
      for (int j = 0; j < decl.names_size(); ++j) {
        if (!ValidRoleName(decl.names(j))) {
          errors_.Add(dloc.Of("names", j), absl::StrCat("invalid role name \"", decl.names(j),
                                                        "\" (lower case letters, digits, '-')"));
          continue;
        }
        roles_[decl.agency_kind()].insert(decl.names(j));
      }
    }
  }

  void CompileFile(const ParsedFile& file) {
    Loc loc(&file.name, file.tree.get(), pv1::PolicySet::descriptor(), file.name + ":1:1");
    for (int i = 0; i < file.set.rules_size(); ++i) {
      CompileRule(file.set.rules(i), loc.Nested("rules", i));
    }
    for (int i = 0; i < file.set.consent_recorders_size(); ++i) {
      CompileRecorder(file.set.consent_recorders(i), loc.Nested("consent_recorders", i));
    }
  }

  void Finish() {
    for (const auto& [kind, names] : roles_) {
      out_->roles[kind] = std::vector<std::string>(names.begin(), names.end());
    }
    out_->rules_by_kind.assign(cv1::AgencyKind_ARRAYSIZE, {});
    for (size_t i = 0; i < out_->rules.size(); ++i) {
      std::set<cv1::AgencyKind> kinds;
      for (const CompiledMatcher& m : out_->rules[i].principals) {
        kinds.insert(m.kind);
      }
      for (cv1::AgencyKind k : kinds) {
        out_->rules_by_kind[k].push_back(static_cast<int>(i));
      }
    }
  }

  const Errors& errors() const { return errors_; }

 private:
  bool CheckId(const std::string& id, const std::string& where, const char* what) {
    if (id.empty()) {
      errors_.Add(where, absl::StrCat(what, " id is required"));
      return false;
    }
    auto [it, inserted] = ids_.emplace(id, where);
    if (!inserted) {
      errors_.Add(where, absl::StrCat("duplicate ", what, " id \"", id, "\" (first defined at ",
                                      it->second, ")"));
      return false;
    }
    return true;
  }

  // Compiles principal matchers; false on error.
  bool CompileMatchers(const google::protobuf::RepeatedPtrField<pv1::PrincipalMatcher>& in,
                       const Loc& loc, std::vector<CompiledMatcher>* out) {
    bool ok = true;
    for (int i = 0; i < in.size(); ++i) {
      const pv1::PrincipalMatcher& m = in[i];
      Loc mloc = loc.Nested("principals", i);
      if (m.agency_kind() == cv1::AGENCY_KIND_UNSPECIFIED ||
          !cv1::AgencyKind_IsValid(m.agency_kind())) {
        errors_.Add(mloc.Of("agency_kind"),
                    m.agency_kind() == 0 ? "agency_kind is required"
                                         : absl::StrCat("unknown agency kind ", m.agency_kind()));
        ok = false;
        continue;
      }
      CompiledMatcher cm;
      cm.kind = m.agency_kind();
      cm.code = m.agency_code();
      const auto declared = roles_.find(m.agency_kind());
      for (int j = 0; j < m.roles_size(); ++j) {
        if (declared == roles_.end() || !declared->second.count(m.roles(j))) {
          errors_.Add(mloc.Of("roles", j),
                      absl::StrCat("unknown role \"", m.roles(j), "\" for agency kind ",
                                   cv1::AgencyKind_Name(m.agency_kind())));
          ok = false;
          continue;
        }
        cm.roles.push_back(m.roles(j));
      }
      out->push_back(std::move(cm));
    }
    return ok;
  }

  bool CompileCondition(const pv1::Condition& c, const Loc& loc, CompiledCondition* out) {
    bool ok = true;
    for (int i = 0; i < c.jurisdictions_size(); ++i) {
      const int j = c.jurisdictions(i);
      if (j == 0 || !pv1::Jurisdiction_IsValid(j)) {
        errors_.Add(
            loc.Of("jurisdictions", i),
            absl::StrCat("unknown jurisdiction ", EnumName(pv1::Jurisdiction_descriptor(), j)));
        ok = false;
        continue;
      }
      out->jurisdictions |= 1u << j;
    }
    for (int i = 0; i < c.child_statuses_size(); ++i) {
      const int s = c.child_statuses(i);
      if (s == 0 || !pv1::ChildStatus_IsValid(s)) {
        errors_.Add(
            loc.Of("child_statuses", i),
            absl::StrCat("unknown child status ", EnumName(pv1::ChildStatus_descriptor(), s)));
        ok = false;
        continue;
      }
      out->statuses |= 1u << s;
    }
    for (int i = 0; i < c.arrangement_types_size(); ++i) {
      const int a = c.arrangement_types(i);
      if (a == 0 || !rv1::ArrangementType_IsValid(a)) {
        errors_.Add(loc.Of("arrangement_types", i),
                    absl::StrCat("unknown arrangement type ",
                                 EnumName(rv1::ArrangementType_descriptor(), a)));
        ok = false;
        continue;
      }
      out->arrangements |= 1u << a;
    }
    return ok;
  }

  // Checks a GRANT rule's declared lawful basis and stores it, gateways
  // sorted. A granting rule that declares no basis or no gateway fails the
  // load: a disclosure is never "basis unspecified".
  bool CompileDeclaredBasis(const pv1::Rule& rule, const Loc& loc, CompiledRule* cr) {
    const std::string& id = rule.id();
    if (!rule.has_lawful_basis()) {
      errors_.Add(loc.Of("id"), absl::StrCat("rule \"", id,
                                             "\" grants but declares no lawful_basis (article6 "
                                             "and at least one statutory gateway)"));
      return false;
    }
    const pv1::DeclaredBasis& b = rule.lawful_basis();
    Loc bloc = loc.Nested("lawful_basis");
    bool ok = true;
    const int a6 = b.article6();
    if (a6 == 0 || !cv1::Article6Basis_IsValid(a6)) {
      errors_.Add(a6 == 0 ? bloc.self() : bloc.Of("article6"),
                  a6 == 0 ? absl::StrCat("rule \"", id, "\": lawful_basis.article6 is required")
                          : absl::StrCat("unknown article6 basis ", a6));
      ok = false;
    }
    const bool rli = a6 == cv1::ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST;
    const int annex = b.annex1_condition();
    if (rli && (annex == 0 || !cv1::Annex1Condition_IsValid(annex))) {
      errors_.Add(bloc.self(), absl::StrCat("rule \"", id,
                                            "\": a recognised legitimate interest needs an "
                                            "annex1_condition"));
      ok = false;
    }
    if (!rli && annex != 0) {
      errors_.Add(bloc.Of("annex1_condition"),
                  absl::StrCat("rule \"", id,
                               "\": annex1_condition only goes with "
                               "ARTICLE6_RECOGNISED_LEGITIMATE_INTEREST"));
      ok = false;
    }
    const int regime = b.regime();
    if (!cv1::LegalRegime_IsValid(regime)) {
      errors_.Add(bloc.Of("regime"), absl::StrCat("unknown legal regime ", regime));
      ok = false;
    }
    const bool part3 = regime == cv1::DPA_2018_PART_3;
    if (part3) {
      for (const CompiledMatcher& m : cr->principals) {
        if (m.kind != cv1::POLICE) {
          errors_.Add(bloc.Of("regime"), absl::StrCat("rule \"", id,
                                                      "\": DPA_2018_PART_3 is law-enforcement "
                                                      "processing, for police principals only"));
          ok = false;
          break;
        }
      }
    }
    if ((a6 == cv1::ARTICLE6_LAW_ENFORCEMENT_TASK) != part3 && a6 != 0) {
      errors_.Add(bloc.Of("article6"),
                  absl::StrCat("rule \"", id,
                               "\": ARTICLE6_LAW_ENFORCEMENT_TASK goes with regime "
                               "DPA_2018_PART_3, and only with it"));
      ok = false;
    }
    if (b.gateways().empty()) {
      errors_.Add(bloc.self(),
                  absl::StrCat("rule \"", id, "\": lawful_basis names no statutory gateway"));
      ok = false;
    }
    std::set<int> gateways;
    bool any_welsh = false;
    for (int i = 0; i < b.gateways_size(); ++i) {
      const int g = b.gateways(i);
      if (g == 0 || !cv1::StatutoryGateway_IsValid(g)) {
        errors_.Add(bloc.Of("gateways", i),
                    absl::StrCat("unknown statutory gateway ",
                                 EnumName(cv1::StatutoryGateway_descriptor(), g)));
        ok = false;
        continue;
      }
      gateways.insert(g);
      any_welsh |= !GatewayCitation(static_cast<cv1::StatutoryGateway>(g), pv1::WALES).empty();
    }
    // England-only rules never apply to Welsh records: a rule resting only
    // on English duties must say so in its condition.
    const uint32_t england_only = 1u << pv1::ENGLAND;
    if (ok && !any_welsh && cr->condition.jurisdictions != england_only) {
      errors_.Add(bloc.self(), absl::StrCat("rule \"", id,
                                            "\": every gateway it relies on is England-only, so "
                                            "it needs condition { jurisdictions: ENGLAND }"));
      ok = false;
    }
    if (!ok) return false;
    cr->lawful_basis = b;
    cr->lawful_basis.clear_gateways();
    for (int g : gateways) {
      cr->lawful_basis.add_gateways(static_cast<cv1::StatutoryGateway>(g));
    }
    return true;
  }

  // Checks the scope is set (or defaults it) and fits some principal kind.
  bool CheckScope(pv1::Scope scope, const std::vector<CompiledMatcher>& ms, const std::string& id,
                  const std::string& where) {
    if (scope == pv1::SCOPE_UNSPECIFIED || !pv1::Scope_IsValid(scope)) {
      errors_.Add(where, scope == 0 ? "scope is required" : absl::StrCat("unknown scope ", scope));
      return false;
    }
    bool ok = true;
    for (const CompiledMatcher& m : ms) {
      if (!ScopeFitsKind(scope, m.kind)) {
        errors_.Add(
            where, absl::StrCat("rule \"", id, "\" can never match: scope ", pv1::Scope_Name(scope),
                                " never holds for agency kind ", cv1::AgencyKind_Name(m.kind)));
        ok = false;
      }
    }
    return ok;
  }

  void CompileRule(const pv1::Rule& rule, const Loc& loc) {
    const std::string where = loc.Of("id");
    if (!CheckId(rule.id(), where, "rule")) return;
    const std::string& id = rule.id();
    CompiledRule cr;
    cr.id = id;
    cr.location = loc.self();
    cr.effect = rule.effect();
    bool ok = true;
    if (rule.effect() != pv1::GRANT && rule.effect() != pv1::DENY) {
      errors_.Add(loc.Of("effect"),
                  rule.effect() == 0
                      ? absl::StrCat("rule \"", id, "\": effect is required")
                      : absl::StrCat("rule \"", id, "\": unknown effect ", rule.effect()));
      return;
    }
    const bool grant = rule.effect() == pv1::GRANT;
    if (rule.principals().empty()) {
      errors_.Add(where, absl::StrCat("rule \"", id, "\" can never match: no principals"));
      ok = false;
    }
    ok &= CompileMatchers(rule.principals(), loc, &cr.principals);
    // Purposes.
    for (int i = 0; i < rule.purposes_size(); ++i) {
      const int p = rule.purposes(i);
      if (p == 0 || !cv1::Purpose_IsValid(p)) {
        errors_.Add(loc.Of("purposes", i),
                    absl::StrCat("unknown purpose ", EnumName(cv1::Purpose_descriptor(), p)));
        ok = false;
        continue;
      }
      cr.purposes |= 1u << p;
    }
    if (rule.purposes().empty()) {
      if (grant) {
        errors_.Add(where, absl::StrCat("rule \"", id, "\" can never match: no purposes"));
        ok = false;
      } else {
        cr.purposes = ~0u;  // a deny with no purposes denies for all
      }
    }
    // Scope.
    cr.scope = rule.scope();
    if (!grant && cr.scope == pv1::SCOPE_UNSPECIFIED) cr.scope = pv1::ANY;
    ok &= CheckScope(cr.scope, cr.principals, id, rule.scope() == 0 ? where : loc.Of("scope"));
    ok &= CompileCondition(rule.condition(), loc.Nested("condition"), &cr.condition);
    // Targets.
    cr.targets = LeafSet(schema_->leaf_count());
    if (rule.categories().empty() && rule.field_paths().empty()) {
      errors_.Add(where, absl::StrCat("rule \"", id, "\" names no categories or field paths"));
      ok = false;
    }
    for (int i = 0; i < rule.categories_size(); ++i) {
      const int c = rule.categories(i);
      if (c == 0 || !rv1::Category_IsValid(c)) {
        errors_.Add(loc.Of("categories", i),
                    absl::StrCat("unknown category ", EnumName(rv1::Category_descriptor(), c)));
        ok = false;
        continue;
      }
      cr.targets |= schema_->CategoryLeaves(static_cast<rv1::Category>(c));
    }
    for (int i = 0; i < rule.field_paths_size(); ++i) {
      auto path = schema_->Resolve(rule.field_paths(i));
      if (!path.ok()) {
        errors_.AddUnknownPath(loc.Of("field_paths", i),
                               absl::StrCat("unknown field path \"", rule.field_paths(i),
                                            "\": ", path.status().message()),
                               rule.field_paths(i));
        ok = false;
        continue;
      }
      cr.targets.SetRange(path->leaf_begin, path->leaf_end);
    }
    // Grant-only parts.
    if (!grant) {
      if (!rule.basis_requirements().empty() || rule.requires_justification() ||
          !rule.obligations().empty() || !rule.row_filters().empty()) {
        errors_.Add(where, absl::StrCat("rule \"", id,
                                        "\": a DENY rule takes no basis_requirements, "
                                        "requires_justification, obligations or row_filters"));
        ok = false;
      }
      if (rule.has_lawful_basis()) {
        errors_.Add(loc.Of("lawful_basis"),
                    absl::StrCat("rule \"", id, "\": a DENY rule takes no lawful_basis"));
        ok = false;
      }
    } else {
      ok &= CompileBases(rule, loc, &cr);
      ok &= CompileDeclaredBasis(rule, loc, &cr);
      for (int i = 0; i < rule.obligations_size(); ++i) {
        const int o = rule.obligations(i);
        if (o == 0 || !pv1::Obligation_IsValid(o)) {
          errors_.Add(
              loc.Of("obligations", i),
              absl::StrCat("unknown obligation ", EnumName(pv1::Obligation_descriptor(), o)));
          ok = false;
          continue;
        }
        cr.obligations.push_back(static_cast<pv1::Obligation>(o));
      }
      cr.requires_justification = rule.requires_justification();
      for (int i = 0; i < rule.row_filters_size(); ++i) {
        ok &= CompileRowFilter(rule.row_filters(i), cr, loc.Nested("row_filters", i), &cr);
      }
    }
    if (ok && grant) ok &= CheckCanGrant(cr, where);
    if (ok) out_->rules.push_back(std::move(cr));
  }

  bool CompileBases(const pv1::Rule& rule, const Loc& loc, CompiledRule* cr) {
    bool ok = true;
    for (int i = 0; i < rule.basis_requirements_size(); ++i) {
      const pv1::BasisRequirement& req = rule.basis_requirements(i);
      Loc rloc = loc.Nested("basis_requirements", i);
      const int s = req.sensitivity();
      if (s == 0 || !rv1::Sensitivity_IsValid(s)) {
        errors_.Add(
            rloc.Of("sensitivity"),
            absl::StrCat("unknown sensitivity ", EnumName(rv1::Sensitivity_descriptor(), s)));
        ok = false;
        continue;
      }
      if (cr->has_requirement[s]) {
        errors_.Add(rloc.Of("sensitivity"),
                    absl::StrCat("rule \"", rule.id(), "\": second basis requirement for ",
                                 rv1::Sensitivity_Name(s)));
        ok = false;
        continue;
      }
      if (req.alternatives().empty()) {
        errors_.Add(rloc.self(), absl::StrCat("rule \"", rule.id(), "\": basis requirement for ",
                                              rv1::Sensitivity_Name(s), " lists no alternatives"));
        ok = false;
      }
      const bool sensitive = s != rv1::PERSONAL;
      for (int j = 0; j < req.alternatives_size(); ++j) {
        const pv1::BasisAlternative& alt = req.alternatives(j);
        Loc aloc = rloc.Nested("alternatives", j);
        const int b = alt.basis();
        if (alt.break_glass()) {
          if (b != 0 || alt.inherent()) {
            errors_.Add(aloc.self(),
                        "a break_glass alternative takes no basis or "
                        "inherent (break-glass is recorded as "
                        "VITAL_INTERESTS)");
            ok = false;
          }
          continue;
        }
        if (b == 0 || !cv1::LegalBasis_IsValid(b)) {
          errors_.Add(aloc.Of("basis"), b == 0 ? "an alternative needs a basis or break_glass"
                                               : absl::StrCat("unknown legal basis ", b));
          ok = false;
          continue;
        }
        if (b == cv1::CONSENT && alt.inherent()) {
          errors_.Add(aloc.Of("inherent"), "CONSENT cannot be inherent: it must be on file");
          ok = false;
        }
        if (sensitive && b != cv1::CONSENT && !alt.requires_justification()) {
          errors_.Add(aloc.Of("basis"),
                      absl::StrCat("rule \"", rule.id(), "\": statutory basis ",
                                   cv1::LegalBasis_Name(b), " for ", rv1::Sensitivity_Name(s),
                                   " data must set requires_justification"));
          ok = false;
        }
      }
      cr->has_requirement[s] = true;
      cr->alternatives[s].assign(req.alternatives().begin(), req.alternatives().end());
    }
    return ok;
  }

  bool CompileRowFilter(const pv1::RowFilter& f, const CompiledRule& rule, const Loc& loc,
                        CompiledRule* cr) {
    CompiledRowFilter cf;
    cf.repeated_field = f.repeated_field();
    cf.key_field = f.key_field();
    cf.equals = f.equals();
    auto path = schema_->Resolve(f.repeated_field());
    if (!path.ok()) {
      errors_.AddUnknownPath(loc.Of("repeated_field"),
                             absl::StrCat("unknown field path \"", f.repeated_field(),
                                          "\": ", path.status().message()),
                             f.repeated_field());
      return false;
    }
    if (!path->field->is_repeated() || path->child_node < 0) {
      errors_.Add(loc.Of("repeated_field"), absl::StrCat("row filter field \"", f.repeated_field(),
                                                         "\" is not a repeated message field"));
      return false;
    }
    cf.field = path->field;
    cf.leaf_begin = path->leaf_begin;
    cf.leaf_end = path->leaf_end;
    auto key = schema_->Resolve(f.key_field(), path->child_node);
    if (!key.ok()) {
      errors_.AddUnknownPath(
          loc.Of("key_field"),
          absl::StrCat("unknown key field \"", f.key_field(), "\": ", key.status().message()),
          f.key_field());
      return false;
    }
    if (key->field->is_repeated() || key->field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      errors_.Add(loc.Of("key_field"),
                  absl::StrCat("key field \"", f.key_field(), "\" is not a singular string field"));
      return false;
    }
    // Chain of singular fields from the row to the key.
    const Descriptor* d = path->field->message_type();
    for (absl::string_view seg : absl::StrSplit(f.key_field(), '.')) {
      const FieldDescriptor* kf = d->FindFieldByName(std::string(seg));
      if (kf->is_repeated()) {
        errors_.Add(loc.Of("key_field"),
                    absl::StrCat("key field \"", f.key_field(),
                                 "\" passes through repeated field \"", kf->name(), "\""));
        return false;
      }
      cf.key_chain.push_back(kf);
      if (kf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        d = kf->message_type();
      }
    }
    if (f.equals() != pv1::PRINCIPAL_AGENCY_CODE) {
      errors_.Add(loc.Of("equals"), f.equals() == 0
                                        ? "row filter needs equals"
                                        : absl::StrCat("unknown row filter value ", f.equals()));
      return false;
    }
    if (!rule.targets.AnyInRange(cf.leaf_begin, cf.leaf_end)) {
      errors_.Add(loc.Of("repeated_field"),
                  absl::StrCat("row filter on \"", f.repeated_field(), "\" never applies: rule \"",
                               rule.id, "\" grants nothing under it"));
      return false;
    }
    cr->row_filters.push_back(std::move(cf));
    return true;
  }

  // A grant must be able to grant at least one leaf: leaves without labels
  // are never granted, and SPECIAL_CATEGORY / CRIMINAL_OFFENCE leaves need
  // a basis requirement.
  bool CheckCanGrant(const CompiledRule& cr, const std::string& where) {
    for (int s = rv1::PERSONAL; s <= rv1::CRIMINAL_OFFENCE; ++s) {
      if (s != rv1::PERSONAL && !cr.has_requirement[s]) continue;
      LeafSet grantable = cr.targets & schema_->SensitivityLeaves(static_cast<rv1::Sensitivity>(s));
      for (int i = 0; i < schema_->leaf_count(); ++i) {
        if (grantable.Test(i) && schema_->leaves()[i].category != 0) {
          return true;
        }
      }
    }
    errors_.Add(where,
                absl::StrCat("rule \"", cr.id,
                             "\" can never grant anything: every field it names "
                             "is unlabelled or needs a basis requirement it does not state"));
    return false;
  }

  void CompileRecorder(const pv1::ConsentRecorderRule& r, const Loc& loc) {
    const std::string where = loc.Of("id");
    if (!CheckId(r.id(), where, "consent recorder")) return;
    CompiledRecorder cr;
    cr.id = r.id();
    bool ok = true;
    if (r.principals().empty()) {
      errors_.Add(where,
                  absl::StrCat("consent recorder \"", r.id(), "\" can never match: no principals"));
      ok = false;
    }
    ok &= CompileMatchers(r.principals(), loc, &cr.principals);
    cr.scope = r.scope();
    ok &= CheckScope(cr.scope, cr.principals, r.id(), r.scope() == 0 ? where : loc.Of("scope"));
    ok &= CompileCondition(r.condition(), loc.Nested("condition"), &cr.condition);
    if (r.bases().empty()) {
      errors_.Add(where, absl::StrCat("consent recorder \"", r.id(), "\" lists no bases"));
      ok = false;
    }
    for (int i = 0; i < r.bases_size(); ++i) {
      const int b = r.bases(i);
      if (b == 0 || !cv1::LegalBasis_IsValid(b)) {
        errors_.Add(loc.Of("bases", i), absl::StrCat("unknown legal basis ",
                                                     EnumName(cv1::LegalBasis_descriptor(), b)));
        ok = false;
        continue;
      }
      cr.bases |= 1u << b;
    }
    if (ok) out_->recorders.push_back(std::move(cr));
  }

  std::shared_ptr<const Schema> schema_;
  CompiledPolicy* out_;
  Errors errors_;
  std::map<cv1::AgencyKind, std::set<std::string>> roles_;
  absl::flat_hash_map<std::string, std::string> ids_;  // id -> location
};

}  // namespace

absl::Status RefineParseError(const absl::Status& status, const std::string& text,
                              const std::string& name) {
  const std::string msg(status.message());
  const std::string prefix = name + ":";
  if (msg.compare(0, prefix.size(), prefix) != 0) return status;
  int line = 0, col = 0;
  size_t pos = prefix.size();
  auto read_int = [&](int* out) {
    size_t start = pos;
    while (pos < msg.size() && absl::ascii_isdigit(msg[pos])) ++pos;
    if (pos == start || pos >= msg.size() || msg[pos] != ':') return false;
    *out = std::stoi(msg.substr(start, pos - start));
    ++pos;
    return true;
  };
  if (!read_int(&line) || !read_int(&col)) return status;
  const std::string rest = msg.substr(pos);
  std::string token;
  for (const char* marker : {"Unknown enumeration value of \"", "has no field named \""}) {
    size_t m = rest.find(marker);
    if (m == std::string::npos) continue;
    size_t b = m + std::strlen(marker);
    size_t e = rest.find('"', b);
    if (e != std::string::npos) token = rest.substr(b, e - b);
    break;
  }
  if (token.empty()) return status;
  // Offset of the reported position.
  size_t offset = 0;
  for (int l = 1; l < line && offset < text.size(); ++l) {
    offset = text.find('\n', offset);
    if (offset == std::string::npos) return status;
    ++offset;
  }
  offset = std::min(text.size(), offset + static_cast<size_t>(col - 1));
  auto is_word = [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.'; };
  size_t found = std::string::npos;
  for (size_t at = text.rfind(token, offset); at != std::string::npos;
       at = at == 0 ? std::string::npos : text.rfind(token, at - 1)) {
    const bool left = at == 0 || !is_word(text[at - 1]);
    const bool right = at + token.size() >= text.size() || !is_word(text[at + token.size()]);
    if (left && right) {
      found = at;
      break;
    }
  }
  if (found == std::string::npos) return status;
  int tline = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < found; ++i) {
    if (text[i] == '\n') {
      ++tline;
      line_start = i + 1;
    }
  }
  return CopyErrorReason(status, absl::InvalidArgumentError(absl::StrCat(
                                     name, ":", tline, ":", found - line_start + 1, ":", rest)));
}

namespace {

std::string HexSha256(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

std::string AgencyKindSlug(cv1::AgencyKind kind) {
  switch (kind) {
    case cv1::LOCAL_AUTHORITY:
      return "local-authority";
    case cv1::VIRTUAL_SCHOOL:
      return "virtual-school";
    case cv1::SCHOOL:
      return "school";
    case cv1::HEALTH:
      return "health";
    case cv1::POLICE:
      return "police";
    case cv1::AUDITOR:
      return "auditor";
    default:
      return absl::StrCat("agency-kind-", static_cast<int>(kind));
  }
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(
    const std::vector<PolicySource>& sources, std::shared_ptr<const Schema> schema) {
  if (schema == nullptr) {
    return WithErrorReason(absl::InvalidArgumentError("no schema"), reason::kInvalidField,
                           {{"field", "schema"}});
  }
  if (sources.empty()) {
    return WithErrorReason(absl::InvalidArgumentError("no policy files to load"),
                           reason::kPolicyFilesMissing);
  }
  std::vector<ParsedFile> files;
  files.reserve(sources.size());
  for (const PolicySource& src : sources) {
    ParsedFile f;
    f.name = src.name;
    f.tree = std::make_unique<TextFormat::ParseInfoTree>();
    absl::Status parsed = kinex::ParseTextProto(src.text, src.name, &f.set, f.tree.get());
    if (!parsed.ok()) {
      return PolicyInvalid(RefineParseError(parsed, src.text, src.name), src.name);
    }
    files.push_back(std::move(f));
  }
  auto policy = std::make_shared<CompiledPolicy>();
  policy->schema = schema;
  Compiler compiler(schema, policy.get());
  for (const ParsedFile& f : files) compiler.DeclareRoles(f);
  for (const ParsedFile& f : files) compiler.CompileFile(f);
  if (!compiler.errors().empty()) return compiler.errors().ToStatus();
  compiler.Finish();
  // Canonical content: the files' sets merged in order, serialised
  // deterministically, so formatting and comments do not change the version.
  pv1::PolicySet merged;
  for (const ParsedFile& f : files) {
    merged.MergeFrom(f.set);
    policy->files.push_back(f.name);
  }
  std::string canonical;
  {
    google::protobuf::io::StringOutputStream stream(&canonical);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    merged.SerializeToCodedStream(&coded);
  }
  policy->version = HexSha256(canonical);
  return std::shared_ptr<const CompiledPolicy>(std::move(policy));
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicyDir(
    const std::string& dir, std::shared_ptr<const Schema> schema) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return WithErrorReason(
        absl::NotFoundError(absl::StrCat("policy directory \"", dir, "\" does not exist")),
        reason::kPolicyFilesMissing);
  }
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") {
      paths.push_back(entry.path().string());
    }
  }
  if (ec) {
    return WithErrorReason(absl::UnavailableError(absl::StrCat("cannot list policy directory \"",
                                                               dir, "\": ", ec.message())),
                           reason::kPolicyDirUnreadable);
  }
  if (paths.empty()) {
    return WithErrorReason(
        absl::InvalidArgumentError(absl::StrCat("no *.textproto policy files in \"", dir, "\"")),
        reason::kPolicyFilesMissing);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<PolicySource> sources;
  for (const std::string& p : paths) {
    KINEX_ASSIGN_OR_RETURN(std::string text, kinex::ReadFileToString(p));
    sources.push_back(PolicySource{p, std::move(text)});
  }
  return CompilePolicy(sources, std::move(schema));
}

}  // namespace kinex::policy
