#include <gtest/gtest.h>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

TEST(ResolveZoneNameTest, KnownForms) {
  struct Case {
    const char* tzid;
    const char* want;
  } cases[] = {
      {"Europe/Berlin", "Europe/Berlin"},
      {"UTC", "UTC"},
      {"GMT", "UTC"},
      {"W. Europe Standard Time", "Europe/Berlin"},
      {"Pacific Standard Time", "America/Los_Angeles"},
      {"Eastern Standard Time", "America/New_York"},
      {"GMT Standard Time", "Europe/London"},
      {"Tokyo Standard Time", "Asia/Tokyo"},
      {"/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"},
      {"/softwarestudio.org/Olson_20011030_5/America/New_York", "America/New_York"},
      {"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Amsterdam"},
      {"\"Europe/Paris\"", "Europe/Paris"},
  };
  for (const Case& c : cases) {
    auto got = ResolveZoneName(c.tzid);
    ASSERT_TRUE(got.ok()) << c.tzid << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.want) << c.tzid;
  }
}

TEST(CivilTimeTest, WallClockInAZoneAcrossDaylightSaving) {
  // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer.
  auto winter = FromCivil({2027, 1, 4, 9, 0, 0}, "Europe/Berlin");
  auto summer = FromCivil({2027, 7, 5, 9, 0, 0}, "Europe/Berlin");
  ASSERT_TRUE(winter.ok() && summer.ok());
  EXPECT_EQ(*winter, At("2027-01-04T08:00:00Z"));
  EXPECT_EQ(*summer, At("2027-07-05T07:00:00Z"));
  auto back = ToCivil(At("2027-07-05T07:00:00Z"), "Europe/Berlin");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->day, 5);
  EXPECT_EQ(back->hour, 9);
  // Late evening in Los Angeles is the next day in UTC.
  auto la = ToCivil(At("2027-01-05T06:30:00Z"), "America/Los_Angeles");
  ASSERT_TRUE(la.ok());
  EXPECT_EQ(la->day, 4);
  EXPECT_EQ(la->hour, 22);
  EXPECT_EQ(la->minute, 30);
  EXPECT_EQ(FromCivil({2027, 1, 1}, "UTC").value(), At("2027-01-01T00:00:00Z"));
  EXPECT_EQ(WindowsZoneName("Europe/Berlin").value(), "W. Europe Standard Time");
  EXPECT_EQ(WindowsZoneName("America/Los_Angeles").value(), "Pacific Standard Time");
  EXPECT_EQ(WindowsZoneName("UTC").value(), "UTC");
  EXPECT_FALSE(WindowsZoneName("Mars/Olympus").ok());
  EXPECT_EQ(ToCivil(At("2027-01-01T00:00:00Z"), "Mars/Olympus").status().code(), Code::kNotFound);
}

TEST(ResolveZoneNameTest, UnknownIsNotFound) {
  for (const char* tzid : {"", "Mars/Olympus", "Custom Zone 7", "../../etc/passwd"}) {
    EXPECT_EQ(ResolveZoneName(tzid).status().code(), Code::kNotFound) << tzid;
  }
}

TEST(WindowsZoneTest, OutlookEventWithoutVtimezoneMapsToIana) {
  auto e = ParseEvent(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\n"
      "BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=\"W. Europe Standard Time\":20260115T090000\r\n"
      "DTEND;TZID=\"W. Europe Standard Time\":20260115T100000\r\nSUMMARY:Call\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n",
      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.time_zone, "Europe/Berlin");
  EXPECT_EQ(e->activity.start, At("2026-01-15T08:00:00Z"));
}

TEST(WindowsZoneTest, FileVtimezoneIsTheAuthorityForInstants) {
  // An Outlook-style VTIMEZONE (DTSTART 1601) under a Windows name; the instants
  // come from the file's definition, the name from CLDR.
  auto e = ParseEvent(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\n"
      "BEGIN:VTIMEZONE\r\nTZID:Pacific Standard Time\r\n"
      "BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\n"
      "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
      "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\n"
      "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n"
      "END:VTIMEZONE\r\n"
      "BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Pacific Standard Time:20260715T090000\r\n"
      "DTEND;TZID=Pacific Standard Time:20260715T100000\r\nSUMMARY:Call\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n",
      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.time_zone, "America/Los_Angeles");
  EXPECT_EQ(e->activity.start, At("2026-07-15T16:00:00Z"));  // PDT = UTC-7
  // Written back in the IANA zone, the wall-clock time is the same.
  WriteOptions o;
  o.uid = "w";
  auto ics = WriteEvent(e->activity, o);
  ASSERT_TRUE(ics.ok());
  EXPECT_NE(ics->find("DTSTART;TZID=America/Los_Angeles:20260715T090000"), std::string::npos)
      << *ics;
}

TEST(WindowsZoneTest, UnknownTzidWithoutDefinitionIsFloatingWithWarning) {
  MapOptions opt;
  opt.default_zone = "Europe/Vienna";
  auto e = ParseEvent(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:w\r\n"
      "DTSTART;TZID=Somewhere Odd:20260115T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
      opt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.time_zone, "Europe/Vienna");
  EXPECT_EQ(e->activity.start, At("2026-01-15T08:00:00Z"));
  ASSERT_FALSE(e->warnings.empty());
  EXPECT_NE(e->warnings[0].find("Somewhere Odd"), std::string::npos);
}

}  // namespace
}  // namespace tandem::ical
