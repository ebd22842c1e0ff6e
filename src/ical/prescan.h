// Line-level checks done before libical sees the text: BOM, UTF-8, unfolding,
// BEGIN/END balance. libical is lenient and reports no line numbers; this pass
// gives the errors their line and leaves libical only well-formed structure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tandem::ical::detail {

struct ContentLine {
  int line = 0;       // 1-based physical line where the logical line starts
  std::string name;   // upper-case property name ("DTSTART", "BEGIN")
  size_t offset = 0;  // into Prescanned::text
  size_t length = 0;
};

struct Prescanned {
  std::string text;  // unfolded logical lines joined by CRLF, NUL-free
  std::vector<ContentLine> lines;
  std::vector<std::string> warnings;  // dropped lines, with their line number

  // The first line named `name` whose text contains `fragment` (0 when none).
  int LineOf(std::string_view name, std::string_view fragment) const;
};

// InvalidArgument "line N: ..." for invalid UTF-8, unbalanced BEGIN/END, text outside
// VCALENDAR that is not blank, or no VCALENDAR at all.
Result<Prescanned> Prescan(std::string_view ics);

}  // namespace tandem::ical::detail
