// parse -> activity -> VEVENT -> parse over every file of the iCalendar corpus.
//
// A file passes when every event in it survives the round trip with every modeled
// field and every preserved (unmodeled) content line. Files listed in
// expected_rejections.txt must instead fail with the listed error text; files
// without a VEVENT must give NotFound. Anything else fails the test.
#include <gtest/gtest.h>

#include <cstdlib>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TANDEM_ICS_CORPUS, ec)) {
    if (entry.path().extension() == ".ics") out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// file name -> expected error text
std::map<std::string, std::string> ExpectedRejections() {
  std::map<std::string, std::string> out;
  std::ifstream in(TANDEM_ICS_EXPECTATIONS);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

bool HasVevent(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::toupper);
  return text.find("BEGIN:VEVENT") != std::string::npos;
}

// Content lines of ical_extra outside VTIMEZONE blocks (the writer may add the
// definition of a zone an override names), as a sorted multiset.
std::vector<std::string> PreservedLines(const std::string& extra) {
  std::vector<std::string> out;
  std::istringstream in(extra);
  std::string line, logical;
  int in_zone = 0;
  auto flush = [&] {
    if (logical.empty()) return;
    if (logical == "BEGIN:VTIMEZONE") ++in_zone;
    if (in_zone == 0) out.push_back(logical);
    if (logical == "END:VTIMEZONE") --in_zone;
    logical.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == ' ') {
      logical += line.substr(1);
      continue;
    }
    flush();
    logical = line;
  }
  flush();
  std::sort(out.begin(), out.end());
  return out;
}

// Empty when the round trip kept everything, else what differs.
std::string RoundTripProblems(const Event& e, const MapOptions& options) {
  WriteOptions w;
  w.uid = e.uid.empty() ? "generated-for-round-trip" : e.uid;
  w.crm_id = e.crm_id;
  w.sequence = e.sequence;
  w.dtstamp = e.dtstamp.value_or(FromUnixSeconds(0));
  w.created = e.created;
  w.last_modified = e.last_modified;
  Result<std::string> ics = WriteEvent(e.activity, w);
  if (!ics.ok()) return "write: " + ics.status().ToString();
  Result<Event> back = ParseEvent(*ics, options);
  if (!back.ok()) return "re-parse: " + back.status().ToString() + "\n" + *ics;
  std::string problems;
  auto check = [&](bool same, const char* field) {
    if (!same) problems += std::string(field) + " ";
  };
  const model::Activity& a = e.activity;
  const model::Activity& b = back->activity;
  check(back->uid == w.uid, "uid");
  check(back->crm_id == e.crm_id, "crm_id");
  check(back->sequence == e.sequence, "sequence");
  check(back->created == e.created, "created");
  check(!e.last_modified || back->last_modified == e.last_modified, "last_modified");
  check(a.subject == b.subject, "subject");
  check(a.location == b.location, "location");
  check(a.description == b.description, "description");
  check(a.start == b.start, "start");
  check(a.end == b.end, "end");
  check(a.all_day == b.all_day, "all_day");
  check(a.time_zone == b.time_zone, "time_zone");
  check(a.show_as == b.show_as, "show_as");
  check(a.is_private == b.is_private, "is_private");
  check(a.reminder_minutes == b.reminder_minutes, "reminder_minutes");
  check(a.rrule == b.rrule, "rrule");
  check(a.exdates == b.exdates, "exdates");
  check(a.rdates == b.rdates, "rdates");
  std::vector<std::string> before = PreservedLines(a.ical_extra);
  std::vector<std::string> after = PreservedLines(b.ical_extra);
  if (before != after) {
    std::vector<std::string> lost, gained;
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(lost));
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(gained));
    problems += "ical_extra (lost:";
    for (const std::string& l : lost) problems += " [" + l + "]";
    problems += "; gained:";
    for (const std::string& l : gained) problems += " [" + l + "]";
    problems += ") ";
  }
  if (ContentHash(a) != ContentHash(b)) {
    problems += "content_hash (";
    for (const std::string& f : ChangedFields(a, b)) problems += f + " ";
    problems += ") ";
  }
  if (!problems.empty()) problems += "\n--- written:\n" + *ics;
  return problems;
}

enum class Outcome { kPass, kExpectedRejection, kNoEvent, kFail };

Outcome RunFile(const std::string& name, std::string* detail) {
  std::string text = ReadAll(fs::path(TANDEM_ICS_CORPUS) / name);
  static const std::map<std::string, std::string> expected = ExpectedRejections();
  MapOptions options;
  Result<std::vector<Event>> events = ParseCalendar(text, options);
  auto want = expected.find(name);
  if (!events.ok()) {
    *detail = events.status().ToString();
    if (!HasVevent(text))
      return events.status().Is(Code::kNotFound) || events.status().Is(Code::kInvalidArgument)
                 ? Outcome::kNoEvent
                 : Outcome::kFail;
    if (want != expected.end() && detail->find(want->second) != std::string::npos)
      return Outcome::kExpectedRejection;
    return Outcome::kFail;
  }
  if (want != expected.end()) {
    *detail = "parsed, but expected rejection: " + want->second;
    return Outcome::kFail;
  }
  for (const Event& e : *events) {
    std::string problems = RoundTripProblems(e, options);
    if (!problems.empty()) {
      *detail = "event '" + e.uid + "': " + problems;
      return Outcome::kFail;
    }
  }
  return Outcome::kPass;
}

class CorpusFileTest : public testing::TestWithParam<std::string> {};

TEST_P(CorpusFileTest, RoundTrip) {
  std::string detail;
  Outcome outcome = RunFile(GetParam(), &detail);
  EXPECT_NE(outcome, Outcome::kFail) << GetParam() << ": " << detail;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CorpusFileTest);  // no corpus: see CorpusSummary
INSTANTIATE_TEST_SUITE_P(Corpus, CorpusFileTest, testing::ValuesIn(CorpusFiles()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// Prints the per-source table of docs/FIDELITY.md.
TEST(CorpusSummary, PerSource) {
  std::vector<std::string> files = CorpusFiles();
  if (files.empty()) {
    const char* required = std::getenv("TANDEM_REQUIRE_CORPUS");
    if (required != nullptr && std::string(required) == "1")
      FAIL() << "no iCalendar corpus at " << TANDEM_ICS_CORPUS << " (TANDEM_REQUIRE_CORPUS=1)";
    GTEST_SKIP() << "no iCalendar corpus at " << TANDEM_ICS_CORPUS
                 << ": the round trip of ~300 real-world files was not run";
  }
  struct Counts {
    int files = 0, pass = 0, rejected = 0, no_event = 0, fail = 0;
  };
  std::map<std::string, Counts> by_source;
  Counts total;
  int salvaged_files = 0, salvaged_events = 0;
  for (const std::string& f : files) {
    std::string source = f.substr(0, f.find("__"));
    std::string detail;
    Outcome o = RunFile(f, &detail);
    for (Counts* c : {&by_source[source], &total}) {
      ++c->files;
      if (o == Outcome::kPass) ++c->pass;
      if (o == Outcome::kExpectedRejection) ++c->rejected;
      if (o == Outcome::kNoEvent) ++c->no_event;
      if (o == Outcome::kFail) ++c->fail;
    }
    if (o != Outcome::kPass) std::cout << "  " << f << ": " << detail.substr(0, 300) << "\n";
    if (o == Outcome::kExpectedRejection) {
      // How much the lenient form (one bad event drops only itself) still reads.
      std::vector<Status> errors;
      auto lenient = ParseCalendar(ReadAll(fs::path(TANDEM_ICS_CORPUS) / f), MapOptions{}, &errors);
      size_t kept = lenient.ok() ? lenient->size() : 0;
      std::cout << "    lenient: " << kept << " event(s) read, " << errors.size() << " dropped\n";
      salvaged_files += kept > 0 ? 1 : 0;
      salvaged_events += static_cast<int>(kept);
      if (lenient.ok()) {
        for (const Event& e : *lenient) {
          EXPECT_EQ(RoundTripProblems(e, MapOptions{}), "") << f;
        }
      }
    }
  }
  std::cout << "| source | files | round trip passes | rejected (expected) | no VEVENT | fail |\n"
            << "|---|---|---|---|---|---|\n";
  auto row = [](const std::string& name, const Counts& c) {
    std::cout << "| " << name << " | " << c.files << " | " << c.pass << " | " << c.rejected << " | "
              << c.no_event << " | " << c.fail << " |\n";
  };
  for (const auto& [source, c] : by_source) row(source, c);
  row("**total**", total);
  std::cout << "lenient ParseCalendar reads " << salvaged_events << " event(s) from "
            << salvaged_files << " of the rejected files\n";
  EXPECT_EQ(total.fail, 0);
}

}  // namespace
}  // namespace tandem::ical
