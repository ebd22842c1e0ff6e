// Activity -> iCalendar (WriteEvent).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <algorithm>
#include <map>
#include <mutex>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

using detail::ComponentPtr;
using detail::NewX;

const char* BusyStatusName(model::ShowAs s) {
  switch (s) {
    case model::ShowAs::kFree:
      return "FREE";
    case model::ShowAs::kTentative:
      return "TENTATIVE";
    case model::ShowAs::kBusy:
      return "BUSY";
    case model::ShowAs::kOutOfOffice:
      return "OOF";
    case model::ShowAs::kWorkingElsewhere:
      return "WORKINGELSEWHERE";
  }
  return "BUSY";
}

}  // namespace

Result<std::string> WriteEvent(const model::Activity& a, const WriteOptions& o) {
  if (o.uid.empty()) return Status::InvalidArgument("uid: required");
  TANDEM_ASSIGN_OR_RETURN(detail::WriteBase base, detail::PrepareWrite(a, ICAL_VEVENT_COMPONENT));
  icalcomponent* extra_master = base.extra_master;
  detail::TimeForm form = base.Form(a.all_day);

  std::string subject = a.subject;
  Instant end = a.end;
  if (o.multi_day == MultiDayRule::kStartWithEndInTitle) {
    TANDEM_RETURN_IF_ERROR(
        detail::UndoMultiDayRule(a, base.zone, extra_master, &subject, &end));
  }
  if (end < a.start) return Status::InvalidArgument("end: must not be before start");

  ComponentPtr cal = detail::NewCalendar(base, a.start, /*with_zone=*/true);
  icalcomponent* ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  icalcomponent_add_component(cal.get(), ev);
  detail::AddIdentity(ev, a, o, extra_master);

  icalcomponent_add_property(ev, form.Tag(icalproperty_new_dtstart(form.Of(a.start))));
  icalcomponent_add_property(ev, form.Tag(icalproperty_new_dtend(form.Of(end))));
  // A modeled text property gets back the parameters its original carried.
  if (!subject.empty()) detail::AddText(ev, extra_master, icalproperty_new_summary(subject.c_str()));
  if (!a.location.empty())
    detail::AddText(ev, extra_master, icalproperty_new_location(a.location.c_str()));
  if (!a.description.empty())
    detail::AddText(ev, extra_master, icalproperty_new_description(a.description.c_str()));
  icalcomponent_add_property(
      ev, icalproperty_new_transp(a.show_as == model::ShowAs::kFree ? ICAL_TRANSP_TRANSPARENT
                                                                    : ICAL_TRANSP_OPAQUE));
  icalcomponent_add_property(ev, NewX("X-MICROSOFT-CDO-BUSYSTATUS", BusyStatusName(a.show_as)));

  const bool class_from_extra = detail::AddClass(ev, a, extra_master);
  TANDEM_RETURN_IF_ERROR(detail::AddRecurrence(ev, a, form));

  // The modeled reminder goes first so that it is read back as "the first display
  // alarm"; its template (the original alarm's other properties) is reused.
  icalcomponent* reminder_template = detail::ReminderTemplate(extra_master);
  if (a.reminder_minutes) {
    detail::AddReminder(ev, reminder_template, -60 * static_cast<int64_t>(*a.reminder_minutes),
                        /*related_end=*/false);
  }
  detail::AddExtraMaster(ev, a, extra_master, class_from_extra, reminder_template,
                         {detail::kFloatingMarker, detail::kMultiDayMarker});
  detail::AddOtherComponents(cal.get(), base.extra.get(), ICAL_VEVENT_COMPONENT);
  return detail::ToIcalString(cal.get());
}

}  // namespace tandem::ical
