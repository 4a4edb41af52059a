// The lawful basis of a disclosure as a tuple (kinex.common.v1.LawfulBasis),
// one per controller whose data is disclosed and per basis relied on: the
// regime, the Art 6 basis (with its Annex 1 condition), the Art 9 or Art 10
// condition where special category or criminal offence data goes, the
// statutory gateways cited for the child's jurisdiction (England, or Wales:
// Social Services and Well-being (Wales) Act 2014), and the requester's
// stated function where the basis needs one.
//
// The policy decides grounds (Decision.grounds: per category and
// sensitivity, the granting rule's declared basis and the condition met);
// the gateway knows which controllers' parts the disclosed fields came
// from. LawfulBasesFor joins the two.
//
// Example:
//   std::vector<LawfulBasis> bases = LawfulBasesFor(
//       decision, disclosed_paths, {{LOCAL_AUTHORITY, "E09000033"}}, WALES, "");
//   // bases[0].citations(): "UK GDPR Art 6(1)(e): public task", ...,
//   //   "Children Act 2004 s28 (Wales): ..."
#ifndef KINEX_SERVICES_POLICY_LAWFUL_BASIS_H_
#define KINEX_SERVICES_POLICY_LAWFUL_BASIS_H_

#include <string>
#include <vector>

#include "kinex/common/v1/common.pb.h"
#include "kinex/policy/v1/policy.pb.h"

namespace kinex::policy {

// A controller whose part of the record was read: its agency kind and code.
struct Controller {
  kinex::common::v1::AgencyKind kind = kinex::common::v1::AGENCY_KIND_UNSPECIFIED;
  std::string code;
};

// The citation of `gateway` in `jurisdiction` (ENGLAND or WALES), e.g.
// "Children Act 2004 s11: arrangements to safeguard and promote welfare";
// empty when the gateway does not exist there (s16LA, s23ZZA and the VSH
// kinship extension are England-only).
std::string GatewayCitation(kinex::common::v1::StatutoryGateway gateway,
                            kinex::policy::v1::Jurisdiction jurisdiction);

// The jurisdiction of a responsible LA's ONS code ("E..." England, "W..."
// Wales); JURISDICTION_UNSPECIFIED otherwise.
kinex::policy::v1::Jurisdiction JurisdictionOfLa(const std::string& la_code);

// The tuples for a disclosure: for every ground of `decision` whose category
// and sensitivity some path in `disclosed_paths` has, one tuple per
// controller in `controllers` that owns such a path (by the (owner) label),
// merged where everything but the categories is equal. Sorted by
// controller, then ordinary before special category before criminal offence
// data. Empty when nothing was disclosed.
std::vector<kinex::common::v1::LawfulBasis> LawfulBasesFor(
    const kinex::policy::v1::Decision& decision, const std::vector<std::string>& disclosed_paths,
    const std::vector<Controller>& controllers, kinex::policy::v1::Jurisdiction jurisdiction,
    const std::string& stated_function);

}  // namespace kinex::policy

#endif  // KINEX_SERVICES_POLICY_LAWFUL_BASIS_H_
