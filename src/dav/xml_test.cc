#include "dav/xml.h"

#include <gtest/gtest.h>

namespace tandem::dav {
namespace {

TEST(XmlTest, ParsesNamespacesWhateverThePrefix) {
  auto doc = ParseXml(
      R"(<a:multistatus xmlns:a="DAV:" xmlns:b="urn:ietf:params:xml:ns:caldav">)"
      R"(<a:response><b:calendar-data>X&amp;Y</b:calendar-data><comp xmlns="urn:ietf:params:xml:ns:caldav" name="VEVENT"/></a:response></a:multistatus>)");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_TRUE(doc->Is(kNsDav, "multistatus"));
  const XmlElement* response = doc->Child(kNsDav, "response");
  ASSERT_NE(response, nullptr);
  const XmlElement* data = response->Child(kNsCalDav, "calendar-data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->text, "X&Y");
  const XmlElement* comp = response->Child(kNsCalDav, "comp");
  ASSERT_NE(comp, nullptr);
  EXPECT_EQ(comp->Attribute("name"), "VEVENT");
  EXPECT_EQ(response->Child(kNsCalDav, "response"), nullptr);  // wrong namespace
}

TEST(XmlTest, RejectsBillionLaughs) {
  std::string doc = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<D:multistatus xmlns:D="DAV:"><D:href>&lol9;</D:href></D:multistatus>)";
  auto result = ParseXml(doc);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorruption);
  EXPECT_NE(result.status().message().find("DOCTYPE"), std::string::npos);
}

TEST(XmlTest, RejectsExternalEntities) {
  std::string doc = R"(<?xml version="1.0"?>
<!DOCTYPE d [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<D:multistatus xmlns:D="DAV:"><D:href>&xxe;</D:href></D:multistatus>)";
  auto result = ParseXml(doc);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorruption);
  // The content of the file never shows up anywhere.
  EXPECT_EQ(result.status().message().find("root:"), std::string::npos);
}

TEST(XmlTest, RejectsExternalDtd) {
  auto result = ParseXml(
      R"(<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd"><d/>)");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorruption);
}

TEST(XmlTest, UndeclaredEntityIsAnError) {
  auto result = ParseXml(R"(<d xmlns="DAV:">&nope;</d>)");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kCorruption);
}

TEST(XmlTest, MalformedAndTruncatedDocumentsAreCorruption) {
  for (const char* doc : {"<a><b></a>", "<a>", "", "not xml at all", "<a xmlns:x='y'><x:b></a>"}) {
    auto result = ParseXml(doc);
    ASSERT_FALSE(result.ok()) << doc;
    EXPECT_EQ(result.status().code(), Code::kCorruption) << doc;
  }
}

TEST(XmlTest, StreamsElementsAtDepthInTinyChunks) {
  std::string doc =
      R"(<?xml version="1.0"?><D:m xmlns:D="DAV:"><D:r>one</D:r><D:t>tok</D:t><D:r>tw&#x6F;</D:r></D:m>)";
  std::vector<std::string> seen;
  XmlStreamParser parser(1, [&](XmlElement&& e) {
    seen.push_back(e.name + "=" + e.text);
    return Status::Ok();
  });
  for (char c : doc) ASSERT_TRUE(parser.Feed(std::string_view(&c, 1)).ok());
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"r=one", "t=tok", "r=two"}));
  EXPECT_TRUE(parser.root().children.empty());  // emitted elements are not kept
}

TEST(XmlTest, SinkErrorStopsParsing) {
  int calls = 0;
  XmlStreamParser parser(1, [&](XmlElement&&) {
    ++calls;
    return Status::Internal("stop here");
  });
  Status s = parser.Feed("<a><b/><b/><b/></a>");
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_EQ(calls, 1);
  parser.Reset();
  // After Reset the parser takes a fresh document.
  EXPECT_TRUE(parser.Feed("<a></a>").ok());
  EXPECT_TRUE(parser.Finish().ok());
  EXPECT_EQ(parser.root().name, "a");
}

TEST(XmlTest, EscapesText) {
  EXPECT_EQ(XmlEscape(R"(a<b>&"c'")"), "a&lt;b&gt;&amp;&quot;c&apos;&quot;");
  auto doc = ParseXml("<x>" + XmlEscape("<&>") + "</x>");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->text, "<&>");
}

}  // namespace
}  // namespace tandem::dav
