#include "dav/multistatus.h"

#include <gtest/gtest.h>

#include "dav/requests.h"

namespace tandem::dav {
namespace {

// Shaped like Radicale's answer: default namespace, sync-token first.
constexpr char kSyncAnswer[] = R"(<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<sync-token>http://radicale.org/ns/sync/abc</sync-token>
<response><href>/u/cal/a.ics</href><propstat><prop><getetag>"e1"</getetag>
<C:calendar-data>BEGIN:VCALENDAR
END:VCALENDAR
</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/u/cal/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>
<response><href>http://127.0.0.1:5232/u/cal/</href><status>HTTP/1.1 507 Insufficient Storage</status></response>
</multistatus>)";

TEST(MultistatusTest, ReadsSyncCollectionAnswer) {
  auto ms = ParseMultistatus(kSyncAnswer);
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_EQ(ms->sync_token, "http://radicale.org/ns/sync/abc");
  ASSERT_EQ(ms->responses.size(), 3u);
  const DavResponse& a = ms->responses[0];
  EXPECT_EQ(a.href, "/u/cal/a.ics");
  EXPECT_EQ(a.status, 0);
  EXPECT_EQ(a.PropText(kNsDav, "getetag"), "\"e1\"");
  ASSERT_NE(a.Prop(kNsCalDav, "calendar-data"), nullptr);
  EXPECT_EQ(a.Prop(kNsCalDav, "calendar-data")->text, "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
  EXPECT_EQ(ms->responses[1].status, 404);
  EXPECT_EQ(ms->responses[2].status, 507);
  EXPECT_TRUE(SameHref(ms->responses[2].href, "/u/cal"));
}

// Shaped like Xandikos: prefixed namespaces, a 404 propstat for calendar-data.
TEST(MultistatusTest, PropertyIn404PropstatIsAbsent) {
  auto ms = ParseMultistatus(
      R"(<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav"><ns0:response>)"
      R"(<ns0:href>/t/c/x.ics</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status>)"
      R"(<ns0:prop><ns0:getetag>"x"</ns0:getetag></ns0:prop></ns0:propstat><ns0:propstat>)"
      R"(<ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop><ns1:calendar-data /></ns0:prop>)"
      R"(</ns0:propstat></ns0:response></ns0:multistatus>)");
  ASSERT_TRUE(ms.ok());
  ASSERT_EQ(ms->responses.size(), 1u);
  EXPECT_EQ(ms->responses[0].PropText(kNsDav, "getetag"), "\"x\"");
  EXPECT_EQ(ms->responses[0].Prop(kNsCalDav, "calendar-data"), nullptr);
}

TEST(MultistatusTest, ReadsHrefProperties) {
  auto ms = ParseMultistatus(
      R"(<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:response><D:href>/</D:href>)"
      R"(<D:propstat><D:prop><D:current-user-principal><D:href>/alice/</D:href></D:current-user-principal>)"
      R"(<C:calendar-home-set><D:href>/alice/cals/</D:href><D:href>/shared/</D:href></C:calendar-home-set>)"
      R"(</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>)");
  ASSERT_TRUE(ms.ok());
  const auto& r = ms->responses.at(0);
  EXPECT_EQ(r.PropHrefs(kNsDav, "current-user-principal"), std::vector<std::string>{"/alice/"});
  EXPECT_EQ(r.PropHrefs(kNsCalDav, "calendar-home-set"),
            (std::vector<std::string>{"/alice/cals/", "/shared/"}));
}

TEST(MultistatusTest, NotAMultistatusIsCorruption) {
  auto ms = ParseMultistatus(R"(<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>)");
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().code(), Code::kCorruption);
  EXPECT_FALSE(ParseMultistatus("<html><body>oops</body>").ok());
}

TEST(MultistatusTest, StreamingReaderHandsOutResponsesOneByOne) {
  std::vector<std::string> hrefs;
  MultistatusReader reader([&](DavResponse&& r) {
    hrefs.push_back(r.href);
    return Status::Ok();
  });
  std::string doc(kSyncAnswer);
  for (size_t i = 0; i < doc.size(); i += 7) ASSERT_TRUE(reader.Feed(doc.substr(i, 7)).ok());
  ASSERT_TRUE(reader.Finish().ok());
  EXPECT_EQ(hrefs.size(), 3u);
  EXPECT_EQ(reader.sync_token(), "http://radicale.org/ns/sync/abc");
}

TEST(MultistatusTest, ErrorConditions) {
  std::string body = R"(<?xml version='1.0'?><error xmlns="DAV:"><valid-sync-token /></error>)";
  EXPECT_TRUE(HasErrorCondition(body, kNsDav, "valid-sync-token"));
  EXPECT_FALSE(HasErrorCondition(body, kNsCalDav, "valid-sync-token"));
  EXPECT_FALSE(HasErrorCondition("Server got itself in trouble", kNsDav, "valid-sync-token"));
}

TEST(HrefTest, NormalisesForComparison) {
  EXPECT_EQ(HrefPath("http://h:1/a/b.ics"), "/a/b.ics");
  EXPECT_EQ(HrefPath("/a/b.ics"), "/a/b.ics");
  EXPECT_TRUE(SameHref("/a/b%40c.ics", "http://x/a/b@c.ics"));
  EXPECT_TRUE(SameHref("/a/b/", "/a/b"));
  EXPECT_FALSE(SameHref("/a/b.ics", "/a/c.ics"));
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 412 Precondition Failed"), 412);
  EXPECT_EQ(ParseStatusLine("garbage"), 0);
}

TEST(RequestsTest, BodiesAreWellFormedAndEscaped) {
  auto sync = ParseXml(SyncCollectionBody("tok&<", {DavProp("getetag"), CalDavProp("calendar-data")}, 50));
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  EXPECT_TRUE(sync->Is(kNsDav, "sync-collection"));
  EXPECT_EQ(sync->Child(kNsDav, "sync-token")->text, "tok&<");
  EXPECT_EQ(sync->Child(kNsDav, "limit")->Child(kNsDav, "nresults")->text, "50");
  EXPECT_NE(sync->Child(kNsDav, "prop")->Child(kNsCalDav, "calendar-data"), nullptr);

  auto multiget = ParseXml(CalendarMultigetBody({"/a.ics", "/b&c.ics"}, {DavProp("getetag")}));
  ASSERT_TRUE(multiget.ok());
  auto hrefs = multiget->Children(kNsDav, "href");
  ASSERT_EQ(hrefs.size(), 2u);
  EXPECT_EQ(hrefs[1]->text, "/b&c.ics");

  CalendarQuery q;
  q.time_from = "20260101T000000Z";
  q.time_to = "20270101T000000Z";
  q.uid = "u\"1";
  auto query = ParseXml(CalendarQueryBody(q, {DavProp("getetag")}));
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  const XmlElement* event = query->Child(kNsCalDav, "filter")
                                ->Child(kNsCalDav, "comp-filter")
                                ->Child(kNsCalDav, "comp-filter");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->Attribute("name"), "VEVENT");
  EXPECT_EQ(event->Child(kNsCalDav, "time-range")->Attribute("start"), "20260101T000000Z");
  EXPECT_EQ(event->Child(kNsCalDav, "prop-filter")->Child(kNsCalDav, "text-match")->text, "u\"1");

  auto patch = ParseXml(ProppatchSetBody({"urn:x-tandem", "calendar-instance"}, "id-1"));
  ASSERT_TRUE(patch.ok());
  const XmlElement* prop = patch->Child(kNsDav, "set")->Child(kNsDav, "prop");
  ASSERT_NE(prop->Child("urn:x-tandem", "calendar-instance"), nullptr);
}

}  // namespace
}  // namespace tandem::dav
