#include "bench/load/population.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/identifiers.h"

namespace kinex::bench {
namespace {

namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;
namespace rv1 = kinex::record::v1;

// A Kinex id's length ("kx_" and 16 base32 characters), for sizes before
// the real ids exist.
constexpr char kPlaceholderKinexId[] = "kx_AAAAAAAAAAAAAAAA";

struct La {
  const char* code;
  const char* upn_la;  // the DfE LA number UPNs of its schools start with
  const char* police;
  const char* phone_prefix;
  const char* postcode_area;
  const char* team;
};
constexpr La kLas[] = {
    {"E09000033", "213", "01", "020 7946 0", "W2", "Kinship Support Team"},
    {"E08000025", "330", "20", "0121 496 0", "B12", "Family Network Team"},
};
struct School {
  const char* urn;
  const char* laestab;
  const char* upn_la;
};
constexpr School kSchools[] = {{"137000", "2134001", "213"}, {"141999", "3304002", "330"}};
constexpr const char* kHealthCodes[] = {"Y01234", "RJ1"};

constexpr const char* kGivenNames[] = {"Amelia", "Noah",   "Isla",  "Leo",   "Freya", "Oscar",
                                       "Zara",   "Arthur", "Maya",  "Theo",  "Aisha", "Jacob",
                                       "Ivy",    "Musa",   "Poppy", "Kofi",  "Elsie", "Reuben",
                                       "Nia",    "Callum", "Ruby",  "Dylan", "Hana",  "Tyler"};
constexpr const char* kFamilyNames[] = {
    "Ashby",    "Okafor",  "Brennan", "Khan",      "Whitmore", "Nowak", "Hughes",  "Mensah",
    "Doyle",    "Patel",   "Griffin", "Osei",      "Fletcher", "Begum", "Harding", "Lowe",
    "Kowalski", "Adeyemi", "Marsh",   "Chowdhury", "Quinn",    "Evans", "Barker",  "Sutton"};
constexpr const char* kStreets[] = {"Elm",  "Station", "Church", "Victoria", "Mill",
                                    "Park", "Albert",  "Queens", "Canal",    "Orchard"};
constexpr const char* kEthnicities[] = {"WBRI", "WBRI", "WBRI", "WOTH", "MWBC", "MWBA",
                                        "AIND", "APKN", "ABAN", "BCRB", "BAFR", "CHNE"};
constexpr const char* kServices[] = {"kinship carer peer group", "family group conference",
                                     "therapeutic parenting course", "short breaks",
                                     "kinship carer legal advice"};
constexpr const char* kSenNeeds[] = {"SEMH", "SLCN", "ASD", "MLD", "SPLD", "OTH"};
constexpr const char* kSubjects[] = {"Reading", "Writing", "Mathematics", "English", "Science"};
constexpr const char* kAssessmentSummaries[] = {
    "Growth and development on track; dental referral made.",
    "Weight monitored by the school nurse; no further concerns raised.",
    "Sleep difficulties discussed with carer; CAMHS referral considered and not needed.",
    "Immunisations brought up to date; hearing test booked for next term.",
    "Emotional wellbeing reviewed with the child; carer support plan agreed.",
};
constexpr const char* kIncidentClasses[] = {"Domestic incident", "Missing person",
                                            "Child exploitation concern", "Assault"};

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  return x;
}

int Uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}
template <size_t N>
const char* Pick(std::mt19937_64& rng, const char* const (&list)[N]) {
  return list[Uniform(rng, 0, static_cast<int>(N) - 1)];
}

void SetDate(rv1::Date* d, absl::CivilDay day) {
  d->set_year(static_cast<int>(day.year()));
  d->set_month(day.month());
  d->set_day(day.day());
}
absl::CivilDay ToDay(const rv1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

void SetTime(google::protobuf::Timestamp* t, absl::CivilDay day, int minutes) {
  const absl::Time at = absl::FromCivil(absl::CivilMinute(day) + minutes, absl::UTCTimeZone());
  t->set_seconds(absl::ToUnixSeconds(at));
}

bool IsWeekday(absl::CivilDay d) {
  const absl::Weekday w = absl::GetWeekday(d);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday;
}

// The September the child started at their current school.
absl::CivilDay SchoolEntry(absl::CivilDay today, int years_back) {
  const int year = static_cast<int>(today.year()) - (today.month() >= 9 ? 0 : 1) - years_back;
  return absl::CivilDay(year, 9, 4);
}

}  // namespace

std::string BenchPrincipal::CertBase() const {
  return absl::StrCat("agencies/", kind, "-", code, "-", role);
}
std::string BenchPrincipal::SpiffeId() const {
  return absl::StrCat("spiffe://kinex.dev/", kind, "/", code, "/", role);
}
std::string BenchPrincipal::Name() const { return absl::StrCat(kind, "/", code, "/", role); }

const std::vector<BenchPrincipal>& Principals() {
  static const auto* principals = new std::vector<BenchPrincipal>{
      {"local-authority", "E09000033", "social-worker", cv1::LOCAL_AUTHORITY},
      {"local-authority", "E08000025", "social-worker", cv1::LOCAL_AUTHORITY},
      {"local-authority", "E09000033", "independent-reviewing-officer", cv1::LOCAL_AUTHORITY},
      {"virtual-school", "E09000033", "virtual-school-head", cv1::VIRTUAL_SCHOOL},
      {"virtual-school", "E08000025", "virtual-school-head", cv1::VIRTUAL_SCHOOL},
      {"school", "137000", "designated-safeguarding-lead", cv1::SCHOOL},
      {"school", "141999", "designated-safeguarding-lead", cv1::SCHOOL},
      {"school", "137000", "designated-teacher", cv1::SCHOOL},
      {"school", "141999", "designated-teacher", cv1::SCHOOL},
      {"health", "Y01234", "health-practitioner", cv1::HEALTH},
      {"health", "RJ1", "health-practitioner", cv1::HEALTH},
      {"police", "01", "public-protection-officer", cv1::POLICE},
      {"police", "20", "public-protection-officer", cv1::POLICE},
  };
  return *principals;
}

const char* PartKindName(PartKind kind) {
  switch (kind) {
    case PartKind::kLa:
      return "la";
    case PartKind::kVsh:
      return "virtual-school";
    case PartKind::kSchool:
      return "school";
    case PartKind::kHealth:
      return "health";
    case PartKind::kPolice:
      return "police";
  }
  return "?";
}

bool ChildSpec::HasPart(PartKind kind) const {
  switch (kind) {
    case PartKind::kVsh:
      return looked_after || previously_looked_after;
    case PartKind::kPolice:
      return police;
    default:
      return true;
  }
}

int ChildSpec::Publisher(PartKind kind) const {
  switch (kind) {
    case PartKind::kLa:
      return kLaSwWestminster + la;
    case PartKind::kVsh:
      return kVshWestminster + la;
    case PartKind::kSchool:
      return kDt137000 + school;  // any role of the school may publish
    case PartKind::kHealth:
      return kHealthGp + health;
    case PartKind::kPolice:
      return kPoliceMet + la;
  }
  return 0;
}

std::string BenchNhsNumber(int index) {
  // "999" (the NHS's test range), five digits of the index, then the one
  // ninth digit of 0-9 whose check digit exists (at most one does not).
  for (int d = 0; d < 10; ++d) {
    const std::string nine = absl::StrFormat("999%05d%d", index % 100000, d);
    const int check = kinex::NhsNumberCheckDigit(nine);
    if (check >= 0) return absl::StrCat(nine, check);
  }
  return "";  // unreachable: at most one ninth digit has no check digit
}

std::string BenchUpn(int index, int school) {
  const std::string twelve =
      absl::StrFormat("%s%04d%02d%03d", kSchools[school].upn_la, 4000 + index / 100000,
                      index / 1000 % 100, index % 1000);
  return absl::StrCat(std::string(1, kinex::UpnCheckLetter(twelve)), twelve);
}

rv1::ChildRecord Population::Body(const ChildSpec& c, PartKind kind, int revision) const {
  const absl::CivilDay today = options_.today;
  const La& la = kLas[c.la];
  std::mt19937_64 rng(Mix(c.seed, static_cast<uint64_t>(kind) + 1));
  rv1::ChildRecord r;
  switch (kind) {
    case PartKind::kLa: {
      rv1::Identity* id = r.mutable_identity();
      id->set_la_child_id(c.la_child_id);
      id->set_given_name(Pick(rng, kGivenNames));
      id->set_family_name(Pick(rng, kFamilyNames));
      *id->mutable_date_of_birth() = c.date_of_birth;
      id->set_sex(Chance(rng, 0.5) ? rv1::FEMALE : rv1::MALE);
      id->set_ethnicity(Pick(rng, kEthnicities));
      r.mutable_scope()->set_responsible_la_code(la.code);
      // Legal status: the arrangement now, after a foster episode when the
      // order was made from care.
      const absl::CivilDay started = today - Uniform(rng, 30, 1400);
      if (c.from_care) {
        rv1::LegalStatusEpisode* care = r.add_legal_status();
        care->set_arrangement(rv1::KINSHIP_FOSTER_CARE);
        care->set_ssda903_legal_status("C2");
        SetDate(care->mutable_start_date(), started - Uniform(rng, 200, 900));
        SetDate(care->mutable_order_date(), started - Uniform(rng, 200, 900));
        SetDate(care->mutable_end_date(), started - 1);
        care->set_looked_after(true);
        care->set_ssda903_reason_ceased(c.arrangement == rv1::SPECIAL_GUARDIANSHIP_ORDER ? "E45"
                                                                                         : "E41");
      }
      rv1::LegalStatusEpisode* now = r.add_legal_status();
      now->set_arrangement(c.arrangement);
      SetDate(now->mutable_start_date(), c.arrangement == rv1::CONNECTED_PERSON_TEMPORARY_APPROVAL
                                             ? today - Uniform(rng, 7, 100)
                                             : started);
      if (c.looked_after) {
        now->set_ssda903_legal_status(Chance(rng, 0.6) ? "C2" : "V2");
        if (now->ssda903_legal_status() == "C2") *now->mutable_order_date() = now->start_date();
      } else if (c.arrangement != rv1::INFORMAL_FAMILY_ARRANGEMENT) {
        *now->mutable_order_date() = now->start_date();
      }
      now->set_looked_after(c.looked_after);
      now->set_previously_looked_after(c.previously_looked_after);
      // Placement: the kinship carers (59% grandparents, per the census).
      rv1::Placement* pl = r.mutable_placement();
      const int carers = Chance(rng, 0.35) ? 2 : 1;
      const double rel = std::uniform_real_distribution<double>(0, 1)(rng);
      const rv1::CarerRelationship relationship = rel < 0.59   ? rv1::GRANDPARENT
                                                  : rel < 0.79 ? rv1::AUNT_OR_UNCLE
                                                  : rel < 0.87 ? rv1::SIBLING
                                                  : rel < 0.95 ? rv1::FAMILY_FRIEND
                                                               : rv1::OTHER_RELATIVE;
      for (int i = 0; i < carers; ++i) {
        rv1::Carer* carer = pl->add_carers();
        carer->set_name(absl::StrCat(Pick(rng, kGivenNames), " ", r.identity().family_name()));
        carer->set_relationship(relationship);
        carer->set_holds_parental_responsibility(c.arrangement == rv1::SPECIAL_GUARDIANSHIP_ORDER ||
                                                 c.arrangement == rv1::CHILD_ARRANGEMENTS_ORDER);
        carer->set_phone(absl::StrFormat("%s%03d", la.phone_prefix, Uniform(rng, 0, 999)));
        if (Chance(rng, 0.6)) {
          carer->set_email(absl::StrFormat("carer%d.%d@example.org", c.index, i));
        }
        if (c.arrangement == rv1::CONNECTED_PERSON_TEMPORARY_APPROVAL) {
          SetDate(carer->mutable_reg24_approval_end(), ToDay(now->start_date()) + 112);
        }
      }
      pl->set_address(absl::StrFormat("%d %s Road", Uniform(rng, 1, 180), Pick(rng, kStreets)));
      pl->set_postcode(absl::StrFormat("%s %d%c%c", la.postcode_area, Uniform(rng, 1, 9),
                                       'A' + Uniform(rng, 0, 25), 'A' + Uniform(rng, 0, 25)));
      if (c.looked_after || c.from_care) {
        const int episodes = Uniform(rng, 1, 3);
        absl::CivilDay from = started - 120 * episodes;
        for (int i = 0; i < episodes; ++i) {
          rv1::PlacementEpisode* e = pl->add_episodes();
          e->set_ssda903_placement_code(absl::StrCat("U", Uniform(rng, 1, 3)));
          SetDate(e->mutable_start_date(), from);
          from += 120;
          if (i + 1 < episodes) SetDate(e->mutable_end_date(), from - 1);
          e->set_postcode(pl->postcode());
        }
      }
      // Safeguarding.
      rv1::Safeguarding* sg = r.mutable_safeguarding();
      sg->set_child_in_need_plan_open(c.cin_plan);
      sg->set_child_protection_plan_open(c.cp_plan);
      sg->set_section_47_enquiry_open(c.cp_plan && Chance(rng, 0.1));
      sg->set_cp_is_flag(c.looked_after || c.cp_plan);
      rv1::SocialWorkerContact* sw = sg->mutable_social_worker();
      sw->set_name(absl::StrCat(Pick(rng, kGivenNames), " ", Pick(rng, kFamilyNames)));
      sw->set_team(la.team);
      sw->set_phone(absl::StrFormat("%s%03d", la.phone_prefix, Uniform(rng, 0, 999)));
      sw->set_email(absl::StrFormat("sw%03d@%s.example.gov.uk", Uniform(rng, 0, 299),
                                    c.la == 0 ? "westminster" : "westmidlands"));
      constexpr rv1::AbuseCategory kCategories[] = {rv1::NEGLECT, rv1::EMOTIONAL_ABUSE,
                                                    rv1::PHYSICAL_ABUSE, rv1::MULTIPLE};
      if (c.cp_plan) {
        rv1::ChildProtectionPlan* cp = sg->add_child_protection_plans();
        SetDate(cp->mutable_start_date(), today - Uniform(rng, 20, 500));
        cp->set_abuse_category(kCategories[Uniform(rng, 0, 3)]);
      }
      if (Chance(rng, 0.25)) {
        rv1::ChildProtectionPlan* old = sg->add_child_protection_plans();
        SetDate(old->mutable_start_date(), today - Uniform(rng, 900, 1500));
        SetDate(old->mutable_end_date(), today - Uniform(rng, 600, 899));
        old->set_abuse_category(kCategories[Uniform(rng, 0, 3)]);
      }
      const int referrals = Uniform(rng, 0, c.police ? 3 : 1);
      for (int i = 0; i < referrals; ++i) {
        rv1::MashReferral* m = sg->add_mash_referrals();
        SetDate(m->mutable_referral_date(), today - Uniform(rng, 30, 1200));
        m->set_outcome(static_cast<rv1::MashOutcome>(Uniform(rng, 1, 4)));
      }
      const int missing = c.police ? Uniform(rng, 0, 3) : (Chance(rng, 0.05) ? 1 : 0);
      for (int i = 0; i < missing; ++i) {
        rv1::MissingEpisode* m = sg->add_missing_episodes();
        const absl::CivilDay day = today - Uniform(rng, 10, 700);
        SetTime(m->mutable_start_time(), day, Uniform(rng, 900, 1380));
        SetTime(m->mutable_end_time(), day + 1, Uniform(rng, 300, 900));
        m->set_away_not_missing(Chance(rng, 0.3));
        SetTime(m->mutable_return_interview_offered(), day + 2, 600);
        m->set_return_interview_accepted(Chance(rng, 0.6));
      }
      // Financial support: the allowance the arrangement carries.
      rv1::FinancialSupport* fs = r.mutable_financial_support();
      rv1::AllowanceType allowance = rv1::ALLOWANCE_TYPE_UNSPECIFIED;
      if (c.looked_after) allowance = rv1::FOSTERING_ALLOWANCE;
      if (c.arrangement == rv1::SPECIAL_GUARDIANSHIP_ORDER && Chance(rng, 0.8)) {
        allowance = rv1::SPECIAL_GUARDIANSHIP_ALLOWANCE;
      }
      if (c.arrangement == rv1::CHILD_ARRANGEMENTS_ORDER && Chance(rng, 0.5)) {
        allowance = rv1::CHILD_ARRANGEMENTS_ORDER_ALLOWANCE;
      }
      rv1::Allowance* a = fs->add_allowances();
      a->set_type(allowance == rv1::ALLOWANCE_TYPE_UNSPECIFIED ? rv1::KINSHIP_ALLOWANCE_PILOT
                                                               : allowance);
      // The revision moves the amount within one varint size.
      a->set_weekly_amount_pence(16384 + Uniform(rng, 0, 12000) + revision % 97);
      *a->mutable_start_date() = now->start_date();
      const int services = Uniform(rng, 0, 3);
      for (int i = 0; i < services; ++i) fs->add_support_services(Pick(rng, kServices));
      // The SDQ the LA's looked-after children return carries.
      rv1::Sdq* sdq = r.mutable_health()->mutable_sdq();
      sdq->set_total_score(Uniform(rng, 2, 30));
      sdq->set_band(sdq->total_score() <= 13   ? rv1::SDQ_NORMAL
                    : sdq->total_score() <= 16 ? rv1::SDQ_BORDERLINE
                                               : rv1::SDQ_CONCERN);
      SetDate(sdq->mutable_completed_date(), today - Uniform(rng, 10, 330));
      // The agencies the LA names (their links are confirmed at once).
      rv1::AgencyRef* school = r.add_named_agencies();
      school->set_agency_kind(cv1::SCHOOL);
      school->set_agency_code(kSchools[c.school].urn);
      rv1::AgencyRef* health = r.add_named_agencies();
      health->set_agency_kind(cv1::HEALTH);
      health->set_agency_code(kHealthCodes[c.health]);
      if (c.police) {
        rv1::AgencyRef* police = r.add_named_agencies();
        police->set_agency_kind(cv1::POLICE);
        police->set_agency_code(la.police);
      }
      break;
    }
    case PartKind::kVsh: {
      rv1::Education* ed = r.mutable_education();
      if (c.looked_after) {
        rv1::PersonalEducationPlan* pep = ed->mutable_pep();
        // Reviewed in the last five months (never overdue: the overdue-PEP
        // sweep would append events no call made).
        const absl::CivilDay last = today - Uniform(rng, 0, 120) - revision % 30;
        SetDate(pep->mutable_last_review_date(), last);
        pep->set_status(rv1::PEP_CURRENT);
        SetDate(pep->mutable_next_review_due(), last + 182);
      }
      ed->mutable_pupil_premium_plus()->set_eligible(true);
      ed->mutable_pupil_premium_plus()->set_basis(
          c.looked_after ? rv1::PPP_LOOKED_AFTER : rv1::PPP_PREVIOUSLY_LOOKED_AFTER);
      break;
    }
    case PartKind::kSchool: {
      const School& school = kSchools[c.school];
      r.mutable_identity()->set_upn(c.upn);
      r.mutable_scope()->set_current_school_urn(school.urn);
      rv1::Education* ed = r.mutable_education();
      rv1::SchoolEnrolment* en = ed->add_enrolments();
      en->set_urn(school.urn);
      en->set_laestab(school.laestab);
      SetDate(en->mutable_entry_date(), SchoolEntry(today, Uniform(rng, 0, 3)));
      en->set_part_time_timetable(Chance(rng, 0.03));
      // Attendance: the most recent half-day sessions up to yesterday, each
      // child with its own absence rate.
      const double absence = Chance(rng, 0.2)
                                 ? 0.08 + 0.15 * std::uniform_real_distribution<double>(0, 1)(rng)
                                 : 0.01 + 0.06 * std::uniform_real_distribution<double>(0, 1)(rng);
      // Sessions draw from their own stream, so the other fields do not
      // depend on how many there are (Generate sizes records by them).
      std::mt19937_64 session_rng(Mix(c.seed, 0xA77E));
      int authorised = 0, unauthorised = 0;
      std::vector<rv1::AttendanceSession> sessions;
      absl::CivilDay day = today - 1;
      while (static_cast<int>(sessions.size()) < c.attendance_sessions) {
        if (IsWeekday(day)) {
          for (rv1::SessionHalf half : {rv1::PM, rv1::AM}) {
            if (static_cast<int>(sessions.size()) == c.attendance_sessions) break;
            rv1::AttendanceSession s;
            SetDate(s.mutable_date(), day);
            s.set_half(half);
            if (Chance(session_rng, absence)) {
              const bool auth = Chance(session_rng, 0.6);
              s.set_code(auth ? (Chance(session_rng, 0.7) ? "I" : "M")
                              : (Chance(session_rng, 0.7) ? "O" : "G"));
              ++(auth ? authorised : unauthorised);
            } else {
              s.set_code(half == rv1::AM ? "/" : "\\");
            }
            s.set_school_urn(school.urn);
            sessions.push_back(std::move(s));
          }
        }
        day -= 1;
      }
      // Oldest first, as a school's register exports them.
      for (auto it = sessions.rbegin(); it != sessions.rend(); ++it) {
        *ed->add_attendance_sessions() = std::move(*it);
      }
      if (revision > 0 && ed->attendance_sessions_size() > 0) {
        // A late correction of the latest session's code (same length).
        rv1::AttendanceSession* last =
            ed->mutable_attendance_sessions(ed->attendance_sessions_size() - 1);
        last->set_code(revision % 2 ? "L" : (last->half() == rv1::AM ? "/" : "\\"));
      }
      rv1::AttendanceSummary* sum = ed->mutable_attendance_summary();
      const int possible = std::max(c.attendance_sessions, 40) + revision % 7;
      sum->set_possible_sessions(possible);
      const int absent = authorised + unauthorised;
      sum->set_attended_sessions(possible - absent);
      sum->set_authorised_absences(authorised);
      sum->set_unauthorised_absences(unauthorised);
      sum->set_persistent_absence(absent * 10 > possible);
      const int exclusions = Chance(rng, 0.08) ? Uniform(rng, 1, 2) : 0;
      for (int i = 0; i < exclusions; ++i) {
        rv1::Exclusion* x = ed->add_exclusions();
        x->set_type(rv1::SUSPENSION);
        SetDate(x->mutable_start_date(), today - Uniform(rng, 20, 400));
        x->set_sessions(Uniform(rng, 1, 10));
        x->set_reason_code(Chance(rng, 0.5) ? "PD" : "VP");
        x->set_school_urn(school.urn);
      }
      rv1::SpecialEducationalNeeds* sen = ed->mutable_sen();
      const double s = std::uniform_real_distribution<double>(0, 1)(rng);
      sen->set_provision(s < 0.6 ? rv1::NO_SEN : s < 0.88 ? rv1::SEN_SUPPORT : rv1::EHC_PLAN);
      if (sen->provision() != rv1::NO_SEN) sen->set_primary_need(Pick(rng, kSenNeeds));
      if (sen->provision() == rv1::EHC_PLAN) {
        SetDate(sen->mutable_ehcp_issued_date(), today - Uniform(rng, 100, 1500));
      }
      const int results = Uniform(rng, 1, std::min(6, 1 + c.age / 3));
      for (int i = 0; i < results; ++i) {
        rv1::Attainment* at = ed->add_attainment();
        at->set_assessment(c.age >= 15 ? "KS4" : c.age >= 11 ? "KS2" : "KS1");
        at->set_subject(kSubjects[i % 5]);
        at->set_result(Chance(rng, 0.6) ? "EXS" : (Chance(rng, 0.5) ? "WTS" : "GDS"));
        at->set_progress(Chance(rng, 0.5) ? "expected" : "below expected");
        const int year = static_cast<int>(today.year()) - 1 - i / 5;
        at->set_academic_year(absl::StrFormat("%d/%02d", year - 1, year % 100));
        at->set_school_urn(school.urn);
      }
      ed->set_kinship_indicator(true);
      break;
    }
    case PartKind::kHealth: {
      r.mutable_identity()->set_nhs_number(c.nhs_number);
      if (c.health == 0) {
        r.mutable_scope()->set_registered_gp_ods_code(kHealthCodes[0]);
      } else {
        r.mutable_scope()->add_health_provider_ods_codes(kHealthCodes[1]);
      }
      rv1::Health* h = r.mutable_health();
      if (c.looked_after || c.previously_looked_after) {
        rv1::HealthAssessment* iha = h->add_assessments();
        iha->set_type(rv1::INITIAL_HEALTH_ASSESSMENT);
        SetDate(iha->mutable_due_date(), today - Uniform(rng, 400, 1500));
        SetDate(iha->mutable_completed_date(), ToDay(iha->due_date()) - Uniform(rng, 0, 10));
        iha->set_status(rv1::ASSESSMENT_COMPLETED);
        iha->set_summary(Pick(rng, kAssessmentSummaries));
      }
      const int reviews = Uniform(rng, 1, 5);
      for (int i = 0; i < reviews; ++i) {
        rv1::HealthAssessment* rha = h->add_assessments();
        rha->set_type(rv1::REVIEW_HEALTH_ASSESSMENT);
        SetDate(rha->mutable_due_date(), today - 365 * (reviews - 1 - i) + Uniform(rng, 0, 60));
        if (i + 1 < reviews) {
          SetDate(rha->mutable_completed_date(), ToDay(rha->due_date()) - Uniform(rng, 0, 20));
          rha->set_status(rv1::ASSESSMENT_COMPLETED);
        } else {
          rha->set_status(rv1::ASSESSMENT_DUE);
        }
        rha->set_summary(Pick(rng, kAssessmentSummaries));
      }
      h->set_immunisations_up_to_date(Chance(rng, 0.9));
      // The revision moves the last dental check by days (same size).
      SetDate(h->mutable_last_dental_check(), today - Uniform(rng, 40, 500) + revision % 20);
      const double cs = std::uniform_real_distribution<double>(0, 1)(rng);
      h->set_camhs(cs < 0.7    ? rv1::CAMHS_NOT_REFERRED
                   : cs < 0.8  ? rv1::CAMHS_REFERRED
                   : cs < 0.92 ? rv1::CAMHS_OPEN
                               : rv1::CAMHS_DISCHARGED);
      break;
    }
    case PartKind::kPolice: {
      r.mutable_scope()->set_police_force_code(la.police);
      rv1::Police* p = r.mutable_police();
      // Operation Encompass notifications already made (never changed by a
      // revision: a new entry would raise a new notification).
      const int encompass = Uniform(rng, 0, 2);
      for (int i = 0; i < encompass; ++i) {
        rv1::OperationEncompassNotification* n = p->add_encompass_notifications();
        const absl::CivilDay day = today - Uniform(rng, 3, 400);
        SetTime(n->mutable_incident_time(), day, Uniform(rng, 1080, 1400));
        n->set_school_urn(kSchools[c.school].urn);
        SetTime(n->mutable_notified_time(), day + 1, Uniform(rng, 420, 500));
        n->set_child_present(Chance(rng, 0.6));
        n->set_summary(
            "Police attended a domestic incident at the home; the child was safe and "
            "was spoken to.");
      }
      const int incidents = Uniform(rng, 1, 3);
      for (int i = 0; i < incidents; ++i) {
        rv1::PoliceIncident* in = p->add_incidents();
        in->set_reference(absl::StrFormat("%s/%06d/%02d", la.police, Uniform(rng, 0, 999999),
                                          Uniform(rng, 20, 26)));
        // The revision corrects the recorded time by minutes (same size).
        SetTime(in->mutable_time(), today - Uniform(rng, 3, 900),
                Uniform(rng, 0, 1380) + revision % 60);
        in->set_classification(Pick(rng, kIncidentClasses));
        in->set_involvement(Chance(rng, 0.5) ? "Victim" : "Witness");
      }
      p->set_criminal_exploitation_risk(Chance(rng, 0.12));
      p->set_sexual_exploitation_risk(Chance(rng, 0.05));
      break;
    }
  }
  return r;
}

ev1::PublishRecordRequest Population::Part(int i, PartKind kind, int revision,
                                           const std::string& kinex_id) const {
  const ChildSpec& c = children_[i];
  ev1::PublishRecordRequest req;
  *req.mutable_record() = Body(c, kind, revision);
  if (kind == PartKind::kLa && kinex_id.empty()) {
    req.mutable_child()->mutable_la_child_id()->set_la_code(kLas[c.la].code);
    req.mutable_child()->mutable_la_child_id()->set_id(c.la_child_id);
  } else {
    req.mutable_child()->set_kinex_id(kinex_id);
    if (kind != PartKind::kLa && kind != PartKind::kVsh) {
      *req.mutable_proof_date_of_birth() = c.date_of_birth;
    }
  }
  return req;
}

rv1::ChildRecord Population::MergedRecord(int i, const std::string& kinex_id) const {
  const ChildSpec& c = children_[i];
  rv1::ChildRecord merged;
  for (int k = 0; k < kPartKinds; ++k) {
    const PartKind kind = static_cast<PartKind>(k);
    if (c.HasPart(kind)) merged.MergeFrom(Body(c, kind, 0));
  }
  merged.mutable_identity()->set_kinex_id(kinex_id);
  return merged;
}

std::vector<ReadAs> Population::DeniedReadersOf(int i) const {
  const ChildSpec& c = children_[i];
  return {{kDsl137000 + (1 - c.school), cv1::SAFEGUARDING, false},
          {kLaSwWestminster + (1 - c.la), cv1::CARE_PLANNING, false},
          {kPoliceMet + (1 - c.la), cv1::SAFEGUARDING, true}};
}

bool Population::Lists(int p) { return p != kIroWestminster && p != kDt137000 && p != kDt141999; }

ReadAs Population::ListAs(int p) {
  switch (p) {
    case kLaSwWestminster:
    case kLaSwWestMidlands:
      return {p, cv1::CARE_PLANNING, false};
    case kVshWestminster:
    case kVshWestMidlands:
      return {p, cv1::EDUCATION_SUPPORT, false};
    case kHealthGp:
    case kHealthTrust:
      return {p, cv1::HEALTH_CARE, true};
    default:
      return {p, cv1::SAFEGUARDING, p == kPoliceMet || p == kPoliceWestMidlands};
  }
}

std::vector<int> Population::SortedRecordSizes() const {
  std::vector<int> out;
  out.reserve(children_.size());
  for (const ChildSpec& c : children_) out.push_back(c.record_bytes);
  std::sort(out.begin(), out.end());
  return out;
}

Population Population::Generate(Options options) {
  if (options.today == absl::CivilDay(1970, 1, 1)) {
    options.today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  }
  Population pop(options);
  const absl::CivilDay today = options.today;
  pop.children_.resize(options.children);
  pop.readers_.resize(options.children);
  pop.reader_mask_.resize(options.children);
  pop.cohorts_.resize(kPrincipalCount);
  std::lognormal_distribution<double> size_dist(std::log(static_cast<double>(options.median_bytes)),
                                                0.45);
  for (int i = 0; i < options.children; ++i) {
    ChildSpec& c = pop.children_[i];
    c.index = i;
    c.seed = Mix(options.seed, static_cast<uint64_t>(i));
    std::mt19937_64 rng(c.seed);
    c.la = Chance(rng, 0.6) ? 0 : 1;
    c.school = Chance(rng, 0.55) ? 0 : 1;
    c.health = Chance(rng, 0.7) ? 0 : 1;
    const double a = std::uniform_real_distribution<double>(0, 1)(rng);
    if (a < 0.35) {
      c.arrangement = rv1::KINSHIP_FOSTER_CARE;
    } else if (a < 0.40) {
      c.arrangement = rv1::CONNECTED_PERSON_TEMPORARY_APPROVAL;
    } else if (a < 0.70) {
      c.arrangement = rv1::SPECIAL_GUARDIANSHIP_ORDER;
      c.from_care = Chance(rng, 0.5);
    } else if (a < 0.85) {
      c.arrangement = rv1::CHILD_ARRANGEMENTS_ORDER;
      c.from_care = Chance(rng, 1.0 / 3);
    } else {
      c.arrangement = rv1::INFORMAL_FAMILY_ARRANGEMENT;
    }
    c.looked_after = c.arrangement == rv1::KINSHIP_FOSTER_CARE ||
                     c.arrangement == rv1::CONNECTED_PERSON_TEMPORARY_APPROVAL;
    c.previously_looked_after = c.from_care;
    // Police involvement for police_share of the children, three times as
    // likely with a child protection plan (15% of children hold one).
    c.cp_plan = Chance(rng, 0.15);
    const double base = options.police_share / (0.85 + 0.15 * 3);
    c.police = Chance(rng, std::min(1.0, base * (c.cp_plan ? 3 : 1)));
    c.cin_plan = !c.cp_plan && Chance(rng, 0.2);
    c.age = Uniform(rng, 5, 16);
    SetDate(&c.date_of_birth, today - (365 * c.age + Uniform(rng, 0, 364)));
    c.la_child_id = absl::StrFormat("BENCH-%06d", i);
    c.upn = BenchUpn(i, c.school);
    c.nhs_number = BenchNhsNumber(i);
    // Size: the parts with no sessions, then sessions up to the drawn size.
    c.target_bytes = static_cast<int>(size_dist(rng));
    c.attendance_sessions = 0;
    const int empty = static_cast<int>(pop.MergedRecord(i, kPlaceholderKinexId).ByteSizeLong());
    c.attendance_sessions = 40;
    const int forty = static_cast<int>(pop.MergedRecord(i, kPlaceholderKinexId).ByteSizeLong());
    const int per = std::max(1, (forty - empty) / 40);
    const int target =
        std::min(std::max(c.target_bytes, empty), std::max(empty, options.max_bytes));
    c.attendance_sessions = (target - empty) / per;
    c.record_bytes = static_cast<int>(pop.MergedRecord(i, kPlaceholderKinexId).ByteSizeLong());

    // Who reads it, and how much (the weights in population.h).
    auto& readers = pop.readers_[i];
    readers.push_back({{kLaSwWestminster + c.la, cv1::CARE_PLANNING, false}, 30});
    if (c.la == 0 && c.looked_after) {
      readers.push_back({{kIroWestminster, cv1::CARE_PLANNING, true}, 5});
    }
    readers.push_back({{kVshWestminster + c.la, cv1::EDUCATION_SUPPORT, false}, 15});
    readers.push_back({{kDsl137000 + c.school, cv1::SAFEGUARDING, false}, 15});
    if (c.looked_after || c.previously_looked_after) {
      readers.push_back({{kDt137000 + c.school, cv1::EDUCATION_SUPPORT, false}, 5});
    }
    readers.push_back({{kHealthGp + c.health, cv1::HEALTH_CARE, true}, 15});
    if (c.police) readers.push_back({{kPoliceMet + c.la, cv1::SAFEGUARDING, true}, 15});
    uint32_t mask = 0;
    for (const auto& [read, weight] : readers) mask |= 1u << read.principal;
    pop.reader_mask_[i] = mask;
    for (int p = 0; p < kPrincipalCount; ++p) {
      if (Lists(p) && (mask & (1u << p))) pop.cohorts_[p].push_back(i);
    }
  }
  return pop;
}

absl::StatusOr<ChildSampler> ChildSampler::Create(const std::string& skew, double zipf_s, int n,
                                                  uint64_t seed) {
  if (n < 1) return absl::InvalidArgumentError("children: at least 1");
  ChildSampler s;
  s.skew_ = skew;
  s.zipf_s_ = zipf_s;
  s.n_ = n;
  s.permutation_.resize(n);
  std::iota(s.permutation_.begin(), s.permutation_.end(), 0);
  std::mt19937_64 rng(Mix(seed, 0x5EED));
  std::shuffle(s.permutation_.begin(), s.permutation_.end(), rng);
  if (skew == "80/20") {
    s.hot_ = std::max(1, n / 5);
  } else if (skew == "zipf") {
    if (!(zipf_s > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("zipf_s: must be positive (got ", zipf_s, ")"));
    }
    s.cdf_.resize(n);
    double total = 0;
    for (int k = 0; k < n; ++k) {
      total += std::pow(static_cast<double>(k + 1), -zipf_s);
      s.cdf_[k] = total;
    }
    for (double& v : s.cdf_) v /= total;
  } else if (skew != "uniform") {
    return absl::InvalidArgumentError(
        absl::StrCat("skew: \"", skew, "\" is not one of 80/20, zipf, uniform"));
  }
  return s;
}

int ChildSampler::Next(std::mt19937_64& rng) const {
  int rank;
  if (skew_ == "80/20") {
    const bool hot = Chance(rng, 0.8) || hot_ == n_;
    rank = hot ? Uniform(rng, 0, hot_ - 1) : Uniform(rng, hot_, n_ - 1);
  } else if (skew_ == "zipf") {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    rank = static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    if (rank >= n_) rank = n_ - 1;
  } else {
    rank = Uniform(rng, 0, n_ - 1);
  }
  return permutation_[rank];
}

double ChildSampler::ShareOfTop(int k) const {
  k = std::clamp(k, 0, n_);
  if (k == 0) return 0;
  if (skew_ == "80/20") {
    if (hot_ == n_) return static_cast<double>(k) / n_;
    if (k <= hot_) return 0.8 * k / hot_;
    return 0.8 + 0.2 * (k - hot_) / (n_ - hot_);
  }
  if (skew_ == "zipf") return cdf_[k - 1];
  return static_cast<double>(k) / n_;
}

std::string ChildSampler::Describe() const {
  std::string what = skew_;
  if (skew_ == "zipf") what = absl::StrFormat("zipf s=%.2f", zipf_s_);
  if (skew_ == "80/20") what = "80/20 (80% of draws to a hot 20%)";
  return absl::StrFormat(
      "%s over a random permutation of %d children: hottest child %.2f%% of draws, top 1%% "
      "%.1f%%, top 10%% %.1f%%, top 20%% %.1f%%",
      what, n_, 100 * ShareOfTop(1), 100 * ShareOfTop(std::max(1, n_ / 100)),
      100 * ShareOfTop(std::max(1, n_ / 10)), 100 * ShareOfTop(std::max(1, n_ / 5)));
}

}  // namespace kinex::bench
