// The agency systems the end-to-end suites call as: one constant per client
// certificate in certs/agencies.txt that a suite uses, named once here.
//
// Example:
//   auto stub = ev1::Exchange::NewStub(cluster.AgencyChannel(kLa.kind, kLa.code, kLa.role));
#ifndef KINEX_TESTS_INTEGRATION_AGENCIES_H_
#define KINEX_TESTS_INTEGRATION_AGENCIES_H_

#include "tests/integration/demo_children.h"

namespace kinex::testing {

// Westminster (E09000033): social care, its team manager (link decisions,
// transfers), an independent reviewing officer, and its virtual school.
inline const Agency kLa{"local-authority", "E09000033", "social-worker"};
inline const Agency kLaManager{"local-authority", "E09000033", "team-manager"};
inline const Agency kIro{"local-authority", "E09000033", "independent-reviewing-officer"};
inline const Agency kVsh{"virtual-school", "E09000033", "virtual-school-head"};

// Another English LA (Sandwell), and a Welsh one (Cardiff) with its virtual
// school.
inline const Agency kOtherLa{"local-authority", "E08000025", "social-worker"};
inline const Agency kWelshLa{"local-authority", "W06000015", "social-worker"};
inline const Agency kWelshVsh{"virtual-school", "W06000015", "virtual-school-head"};

// School A (137000, the demo children's school) and school B (141999): each
// one's designated safeguarding lead (DSL) and designated teacher.
inline const Agency kSchoolA{"school", "137000", "designated-safeguarding-lead"};
inline const Agency kSchoolB{"school", "141999", "designated-safeguarding-lead"};
inline const Agency kTeacher{"school", "137000", "designated-teacher"};
inline const Agency kOtherTeacher{"school", "141999", "designated-teacher"};

// Health: the demo GP practice and a community trust (CAMHS).
inline const Agency kGp{"health", "Y01234", "health-practitioner"};
inline const Agency kTrust{"health", "RJ1", "health-practitioner"};

// Police: the Metropolitan Police and West Midlands Police.
inline const Agency kMet{"police", "01", "public-protection-officer"};
inline const Agency kWestMids{"police", "20", "public-protection-officer"};

// The auditor: a data protection officer.
inline const Agency kAuditor{"auditor", "kinex-dpo", "auditor"};

}  // namespace kinex::testing

#endif  // KINEX_TESTS_INTEGRATION_AGENCIES_H_
