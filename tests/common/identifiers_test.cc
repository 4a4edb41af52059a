#include "services/common/identifiers.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kinex {
namespace {

using ::testing::HasSubstr;

void ExpectInvalid(const absl::Status& s, const std::string& substr) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(substr));
}

TEST(NhsNumber, AcceptsValidNumbers) {
  // 943 476 5919 is NHS Digital's published example; the others are
  // computed with the modulus-11 algorithm.
  EXPECT_TRUE(ValidateNhsNumber("9434765919").ok());
  EXPECT_TRUE(ValidateNhsNumber("4010232137").ok());
  EXPECT_TRUE(ValidateNhsNumber(NormalizeNhsNumber("943 476 5919")).ok());
}

TEST(NhsNumber, CheckDigitAlgorithm) {
  EXPECT_EQ(NhsNumberCheckDigit("943476591"), 9);
  EXPECT_EQ(NhsNumberCheckDigit("401023213"), 7);
  // 10-weighted sum remainder 1 gives check 10: no valid number exists.
  EXPECT_EQ(NhsNumberCheckDigit("000000006"), -1);
  EXPECT_EQ(NhsNumberCheckDigit("12345678"), -1);
}

TEST(NhsNumber, RejectsBadCheckDigit) {
  ExpectInvalid(ValidateNhsNumber("9434765918"), "modulus-11 check digit");
  ExpectInvalid(ValidateNhsNumber("0000000060"), "modulus-11 check digit");
  ExpectInvalid(ValidateNhsNumber("0000000601"), "modulus-11 check digit");
}

TEST(NhsNumber, RejectsWrongShape) {
  ExpectInvalid(ValidateNhsNumber("943476591"), "exactly 10 digits");
  ExpectInvalid(ValidateNhsNumber("94347659199"), "exactly 10 digits");
  ExpectInvalid(ValidateNhsNumber("943 476 5919"), "exactly 10 digits");
  ExpectInvalid(ValidateNhsNumber("94347659A9"), "exactly 10 digits");
  ExpectInvalid(ValidateNhsNumber(""), "exactly 10 digits");
}

TEST(NhsNumber, ErrorsNeverEchoTheValue) {
  absl::Status s = ValidateNhsNumber("9434765918");
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("9434765918")));
}

TEST(Upn, AcceptsPublishedExamples) {
  EXPECT_TRUE(ValidateUpn("B801200005001").ok());
  // Worked by hand: 8*2+1*4+2*5+5*10+1*13 = 93; 93 mod 23 = 1 -> B.
}

TEST(Upn, AcceptsTemporaryUpnEndingInLetter) {
  const char check = UpnCheckLetter("80120000500A");
  ASSERT_NE(check, '\0');
  EXPECT_TRUE(ValidateUpn(std::string(1, check) + "80120000500A").ok());
}

TEST(Upn, RejectsWrongCheckLetter) {
  ExpectInvalid(ValidateUpn("A801200005001"), "modulus-23 check letter");
  ExpectInvalid(ValidateUpn("C801200005001"), "modulus-23 check letter");
}

TEST(Upn, RejectsForbiddenLettersAndShape) {
  ExpectInvalid(ValidateUpn("I801200005001"), "check letter (not I, O or S)");
  ExpectInvalid(ValidateUpn("b801200005001"), "check letter (not I, O or S)");
  ExpectInvalid(ValidateUpn("B80120000500I"), "other than I, O or S");
  ExpectInvalid(ValidateUpn("B8012000050011"), "exactly 13 characters");
  ExpectInvalid(ValidateUpn("B80120A005001"), "characters 2-12 must be digits");
}

TEST(SchoolUrn, ValidatesSixDigits) {
  EXPECT_TRUE(ValidateSchoolUrn("137000").ok());
  ExpectInvalid(ValidateSchoolUrn("13700"), "6 digits");
  ExpectInvalid(ValidateSchoolUrn("037000"), "100000-999999");
  ExpectInvalid(ValidateSchoolUrn("13700a"), "6 digits");
}

TEST(Laestab, ValidatesSevenDigits) {
  EXPECT_TRUE(ValidateLaestab("2134001").ok());
  ExpectInvalid(ValidateLaestab("213400"), "7 digits");
}

TEST(LaCode, AcceptsChildrensServicesAuthorities) {
  EXPECT_TRUE(ValidateLaCode("E09000033").ok());  // London borough
  EXPECT_TRUE(ValidateLaCode("E08000025").ok());  // metropolitan district
  EXPECT_TRUE(ValidateLaCode("E06000053").ok());  // unitary
  EXPECT_TRUE(ValidateLaCode("E10000002").ok());  // county
  EXPECT_TRUE(ValidateLaCode("W06000015").ok());  // Welsh unitary
  EXPECT_TRUE(IsWelshLaCode("W06000015"));
  EXPECT_FALSE(IsWelshLaCode("E09000033"));
}

TEST(LaCode, RejectsOtherCodes) {
  ExpectInvalid(ValidateLaCode("E07000026"), "children's services authority");
  ExpectInvalid(ValidateLaCode("S12000033"), "children's services authority");
  ExpectInvalid(ValidateLaCode("E0900003"), "a letter and 8 digits");
  ExpectInvalid(ValidateLaCode("E09X00033"), "a letter and 8 digits");
}

TEST(OdsCode, ValidatesShape) {
  EXPECT_TRUE(ValidateOdsCode("A81001").ok());
  EXPECT_TRUE(ValidateOdsCode("RJ1").ok());
  ExpectInvalid(ValidateOdsCode("R1"), "3-10 characters");
  ExpectInvalid(ValidateOdsCode("a81001"), "upper-case letters and digits");
}

TEST(PoliceForceCode, ValidatesTwoDigits) {
  EXPECT_TRUE(ValidatePoliceForceCode("01").ok());
  EXPECT_TRUE(ValidatePoliceForceCode("93").ok());
  ExpectInvalid(ValidatePoliceForceCode("1"), "2 digits");
  ExpectInvalid(ValidatePoliceForceCode("00"), "01-99");
  ExpectInvalid(ValidatePoliceForceCode("1A"), "2 digits");
}

TEST(LaChildId, ValidatesPrintableAscii) {
  EXPECT_TRUE(ValidateLaChildId("WCC-000123").ok());
  ExpectInvalid(ValidateLaChildId(""), "1-64 characters");
  ExpectInvalid(ValidateLaChildId(std::string(65, 'x')), "1-64 characters");
  ExpectInvalid(ValidateLaChildId("abc\n"), "printable ASCII");
  ExpectInvalid(ValidateLaChildId(" abc"), "begin or end with a space");
}

}  // namespace
}  // namespace kinex
