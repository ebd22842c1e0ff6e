#include "vcard/vcard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace tandem::vcard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPhone30 =
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Example//Phone//EN\r\n"
    "UID:card-1\r\n"
    "FN:Dr. Jane Doe\r\n"
    "N:Doe;Jane;Ann;Dr.;\r\n"
    "ORG:Acme Inc.;Purchasing\r\n"
    "TITLE:Buyer\r\n"
    "EMAIL;TYPE=INTERNET,WORK:jane@acme.example\r\n"
    "EMAIL;TYPE=INTERNET,HOME:jane@home.example\r\n"
    "TEL;TYPE=CELL:+1 555 0100\r\n"
    "TEL;TYPE=WORK:+1 555 0199\r\n"
    "ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA\r\n"
    "NOTE:Likes golf\\, tennis\\nand sailing\r\n"
    "BDAY:1980-01-01\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:AAAABBBB\r\n"
    "item1.X-ABLabel:Pet\r\n"
    "X-SOCIALPROFILE;TYPE=twitter:https://example.com/jane\r\n"
    "REV:20240101T000000Z\r\n"
    "END:VCARD\r\n";

TEST(VcardTest, ReadsTheModeledFieldsOfAPhonesCard) {
  Result<Card> card = Parse(kPhone30);
  ASSERT_TRUE(card.ok()) << card.status().ToString();
  const model::Contact& c = card->contact;
  EXPECT_EQ(c.first_name, "Jane");
  EXPECT_EQ(c.last_name, "Doe");
  EXPECT_EQ(c.email, "jane@acme.example");
  EXPECT_EQ(c.phone, "+1 555 0100");
  EXPECT_EQ(c.job_title, "Buyer");
  EXPECT_EQ(c.notes, "Likes golf, tennis\nand sailing");
  EXPECT_EQ(card->organization, "Acme Inc.");
  EXPECT_EQ(card->uid, "card-1");
  EXPECT_THAT(c.vcard_extra, HasSubstr("ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA"));
  EXPECT_THAT(c.vcard_extra, Not(HasSubstr("UID:")));
  EXPECT_THAT(c.vcard_extra, Not(HasSubstr("REV:")));
}

TEST(VcardTest, WritesBackWhatTheClientWroteWithTheCrmsValues) {
  Result<Card> card = Parse(kPhone30);
  ASSERT_TRUE(card.ok());
  model::Contact c = card->contact;
  c.meta.modified = FromUnixSeconds(1796688000);  // 2026-12-08
  const std::string out = Write(c, {Version::k30, "card-1", std::string("Acme Inc.")});
  for (const char* kept : {"FN:Dr. Jane Doe", "N:Doe;Jane;Ann;Dr.;", "ORG:Acme Inc.;Purchasing",
                           "EMAIL;TYPE=INTERNET,HOME:jane@home.example", "TEL;TYPE=WORK:+1 555 0199",
                           "ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA", "BDAY:1980-01-01",
                           "PHOTO;ENCODING=b;TYPE=JPEG:AAAABBBB", "item1.X-ABLabel:Pet",
                           "X-SOCIALPROFILE;TYPE=twitter:https://example.com/jane", "UID:card-1",
                           "VERSION:3.0", "NOTE:Likes golf\\, tennis\\nand sailing", "REV:2026120"}) {
    EXPECT_THAT(out, HasSubstr(kept)) << out;
  }
  EXPECT_THAT(out, Not(HasSubstr("REV:20240101")));
  // Read again: the same contact.
  Result<Card> again = Parse(out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->contact.first_name, "Jane");
  EXPECT_EQ(again->contact.email, "jane@acme.example");
  EXPECT_EQ(again->contact.notes, c.notes);
  EXPECT_EQ(again->uid, "card-1");
}

TEST(VcardTest, ACrmEditWinsAndKeepsTheParameters) {
  Result<Card> card = Parse(kPhone30);
  ASSERT_TRUE(card.ok());
  model::Contact c = card->contact;
  c.first_name = "Janet";
  c.email = "janet@acme.example";
  c.phone = "";
  c.job_title = "Head of Purchasing";
  c.notes = "";
  const std::string out = Write(c, {Version::k30, "card-1", std::string("Acme Corporation")});
  EXPECT_THAT(out, HasSubstr("FN:Janet Doe"));  // the name changed: FN made anew
  EXPECT_THAT(out, HasSubstr("N:Doe;Janet;Ann;Dr.;"));
  EXPECT_THAT(out, HasSubstr("EMAIL;TYPE=INTERNET,WORK:janet@acme.example"));
  EXPECT_THAT(out, HasSubstr("EMAIL;TYPE=INTERNET,HOME:jane@home.example"));
  EXPECT_THAT(out, Not(HasSubstr("+1 555 0100")));
  EXPECT_THAT(out, HasSubstr("TEL;TYPE=WORK:+1 555 0199"));  // the next phone stays
  EXPECT_THAT(out, HasSubstr("TITLE:Head of Purchasing"));
  EXPECT_THAT(out, Not(HasSubstr("NOTE")));
  EXPECT_THAT(out, HasSubstr("ORG:Acme Corporation;Purchasing"));
}

TEST(VcardTest, AContactMadeInTheCrmBecomesACompleteCard) {
  model::Contact c;
  c.first_name = "Max";
  c.last_name = "Mustermann";
  c.email = "max@example.com";
  c.phone = "+49 30 1234";
  c.job_title = "CEO";
  c.notes = "Met at the fair; call in May";
  const std::string out = Write(c, {Version::k30, "c-42", std::string("Muster GmbH")});
  EXPECT_TRUE(out.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n")) << out;
  EXPECT_TRUE(out.ends_with("END:VCARD\r\n")) << out;
  for (const char* line : {"UID:c-42", "FN:Max Mustermann", "N:Mustermann;Max;;;",
                           "EMAIL;TYPE=INTERNET:max@example.com", "TEL:+49 30 1234", "TITLE:CEO",
                           "NOTE:Met at the fair\\; call in May", "ORG:Muster GmbH"}) {
    EXPECT_THAT(out, HasSubstr(std::string(line) + "\r\n")) << out;
  }
  Result<Card> back = Parse(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->contact.notes, c.notes);
  EXPECT_EQ(back->organization, "Muster GmbH");
}

TEST(VcardTest, ReadsVersion40AndWritesEitherVersion) {
  const char* v4 =
      "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
      "FN:Ann Lee\r\nN:Lee;Ann;;;\r\nEMAIL;TYPE=work;PREF=1:ann@example.org\r\n"
      "TEL;VALUE=uri;TYPE=cell:tel:+1-555-0111\r\nPHOTO:data:image/png;base64,iVBORw0KGgo=\r\n"
      "KIND:individual\r\nEND:VCARD\r\n";
  Result<Card> card = Parse(v4);
  ASSERT_TRUE(card.ok()) << card.status().ToString();
  EXPECT_EQ(card->contact.phone, "+1-555-0111");
  EXPECT_EQ(card->contact.email, "ann@example.org");
  EXPECT_EQ(card->uid, "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1");

  const std::string as40 = Write(card->contact, {Version::k40, card->uid, std::nullopt});
  EXPECT_THAT(as40, HasSubstr("VERSION:4.0\r\n"));
  EXPECT_THAT(as40, HasSubstr("TEL;VALUE=uri;TYPE=cell:tel:+1-555-0111"));
  EXPECT_THAT(as40, HasSubstr("PHOTO:data:image/png;base64,iVBORw0KGgo="));
  EXPECT_THAT(as40, HasSubstr("PREF=1"));

  const std::string as30 = Write(card->contact, {Version::k30, card->uid, std::nullopt});
  EXPECT_THAT(as30, HasSubstr("VERSION:3.0\r\n"));
  EXPECT_THAT(as30, HasSubstr("PHOTO;TYPE=PNG;ENCODING=b:iVBORw0KGgo="));
  EXPECT_THAT(as30, HasSubstr("pref"));
  EXPECT_THAT(as30, Not(HasSubstr("PREF=1")));
}

TEST(VcardTest, ReadsVersion21QuotedPrintable) {
  const char* v21 =
      "BEGIN:VCARD\r\nVERSION:2.1\r\nN:M\xC3\xBCller;J\xC3\xBCrgen\r\n"
      "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9\r\nTEL;CELL;PREF:+49 170 1\r\nEND:VCARD\r\n";
  Result<Card> card = Parse(v21);
  ASSERT_TRUE(card.ok()) << card.status().ToString();
  EXPECT_EQ(card->contact.last_name, "M\xC3\xBCller");
  EXPECT_EQ(card->contact.notes, "caf\xC3\xA9");
  EXPECT_EQ(card->contact.phone, "+49 170 1");
}

TEST(VcardTest, NamesFromFnOrOrganizationWhenThereIsNoN) {
  Result<Card> fn = Parse("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jane van Doe\r\nEND:VCARD\r\n");
  ASSERT_TRUE(fn.ok());
  EXPECT_EQ(fn->contact.first_name, "Jane van");
  EXPECT_EQ(fn->contact.last_name, "Doe");
  // Written back unchanged, the client's FN stays.
  EXPECT_THAT(Write(fn->contact, {Version::k40, "u", std::nullopt}), HasSubstr("FN:Jane van Doe\r\n"));
  Result<Card> company = Parse("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\nN:;;;;\r\nORG:Globex\r\nEND:VCARD\r\n");
  ASSERT_TRUE(company.ok());
  EXPECT_EQ(company->contact.last_name, "Globex");
}

TEST(VcardTest, RefusesWhatIsNotOneCardWithAName) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "not a vCard"},
      {"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "not a vCard"},
      {"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n", "END:VCARD"},
      {"BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:b\r\nEND:VCARD\r\n", "one vCard"},
      {"BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:a@b.c\r\nEND:VCARD\r\n", "no name"},
      {"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nGARBAGE LINE\r\nEND:VCARD\r\n", "cannot be read"},
      // Found by fuzz_vcard: a card inside a card after a bare CR; bytes that are
      // not UTF-8 once quoted-printable is decoded (EVCard overran its buffer).
      {"BEGIN:VCARD\r\nFN:a\rBEGIN:VCARD\r\nFN:b\r\nEND:VCARD\r\n", "one vCard"},
      {"BEGIN:VCARD\r\nVERSION:2.1\r\nN:M;J\r\nNOTE;ENCODING=QUOTED-PRINTABLE:=C1\r\nEND:VCARD\r\n", "UTF-8"},
  };
  for (const auto& [text, message] : bad) {
    Result<Card> card = Parse(text);
    ASSERT_FALSE(card.ok()) << text;
    EXPECT_TRUE(card.status().Is(Code::kInvalidArgument));
    EXPECT_THAT(card.status().message(), HasSubstr(message)) << text;
  }
}

TEST(VcardTest, UnlinkingTheAccountDropsTheOrganization) {
  Result<Card> card = Parse(kPhone30);
  ASSERT_TRUE(card.ok());
  model::Contact c = card->contact;
  c.vcard_extra = WithoutOrganization(c.vcard_extra);
  EXPECT_THAT(Write(c, {Version::k30, "card-1", std::nullopt}), Not(HasSubstr("ORG")));
  EXPECT_THAT(Write(c, {Version::k30, "card-1", std::string("Initech")}), HasSubstr("ORG:Initech\r\n"));
}

TEST(VcardTest, LongLinesFoldWithoutSplittingCharacters) {
  model::Contact c;
  c.last_name = "Doe";
  for (int i = 0; i < 100; ++i) c.notes += "\xC3\xA9";
  const std::string out = Write(c, {Version::k30, "u", std::nullopt});
  size_t pos = 0;
  while (pos < out.size()) {
    size_t eol = out.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    EXPECT_LE(eol - pos, 75u);
    if (eol < out.size() - 2) {
      EXPECT_NE(static_cast<unsigned char>(out[eol + 2]) & 0xC0, 0x80u);
    }
    pos = eol + 2;
  }
  Result<Card> back = Parse(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->contact.notes, c.notes);
}

TEST(VcardTest, VersionFromMediaType) {
  EXPECT_EQ(VersionFromMediaType("text/vcard; version=4.0"), Version::k40);
  EXPECT_EQ(VersionFromMediaType("text/vcard;charset=utf-8"), Version::k30);
  EXPECT_EQ(VersionFromMediaType("text/vcard", "4.0"), Version::k40);
  EXPECT_EQ(VersionFromMediaType(""), Version::k30);
}

TEST(VcardTest, ParsesAndWritesOnManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        Result<Card> card = Parse(kPhone30);
        if (!card.ok() || card->contact.email != "jane@acme.example") ++failures;
        const std::string out = Write(card->contact, {Version::k30, "card-1", std::nullopt});
        if (out.find("ADR;TYPE=WORK") == std::string::npos) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace tandem::vcard
