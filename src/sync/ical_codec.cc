#include "sync/ical_codec.h"

namespace tandem::sync {

Result<Observation> IcalCodec::Digest(const Item& item, const TimeRange& window) const {
  TANDEM_ASSIGN_OR_RETURN(ical::Event e, ical::ParseEvent(item.ical, ical::MapOptions{}));
  Observation o;
  o.href = item.href;
  o.etag = item.etag;
  o.uid = e.uid;
  o.crm_id = e.crm_id;
  o.content_hash = ical::ContentHash(e.activity);
  o.modified = e.last_modified;
  o.in_window = ical::OccursWithin(e.activity, window.from, window.to);
  o.is_private = e.activity.is_private;
  o.recurring = !e.activity.rrule.empty() || !e.activity.rdates.empty();
  o.cancelled = e.activity.cancelled;
  o.title = e.activity.subject;
  o.start = e.activity.start;
  o.end = e.activity.end;
  o.title_key = NormalizeTitle(e.activity.subject);
  o.ical = item.ical;
  o.parsed = std::make_shared<const model::Activity>(std::move(e.activity));
  return o;
}

ItemName IcalCodec::Name(std::string_view text) const {
  ical::ItemLabel l = ical::Identify(text);
  return {std::move(l.uid), std::move(l.summary)};
}

Result<std::string> IcalCodec::Prepare(std::string_view ical, const PrepareOptions& options) const {
  // S10: reminders not synced in this direction stay as the target has them.
  const bool keep_target_reminder =
      (options.reminders == store::ReminderHandling::kCrmOnly &&
       options.target == Side::kExternal) ||
      (options.reminders == store::ReminderHandling::kExternalOnly && options.target == Side::kCrm);
  // The CRM side maps the text itself and is given the UID apart; nothing to
  // rewrite when the UID stays and the reminder is taken as it is. (It maps with
  // the pair's options; floating times read as UTC there as here, since pairs
  // set no default zone: sync_service.cc MapOptionsFor.)
  if (options.target == Side::kCrm && !keep_target_reminder && !options.uid.empty() &&
      options.uid == options.source_uid) {
    return std::string(ical);
  }
  TANDEM_ASSIGN_OR_RETURN(ical::Event e, ical::ParseEvent(ical, ical::MapOptions{}));
  if (keep_target_reminder) {
    e.activity.reminder_minutes.reset();
    if (options.target_current != nullptr) {
      auto current = ical::ParseEvent(*options.target_current, ical::MapOptions{});
      if (current.ok()) e.activity.reminder_minutes = current->activity.reminder_minutes;
    }
  }
  ical::WriteOptions w;
  w.uid = options.uid.empty() ? e.uid : options.uid;
  w.crm_id = options.crm_id.empty() ? e.crm_id : options.crm_id;
  w.sequence = e.sequence;
  w.dtstamp = e.last_modified.value_or(Instant{});
  w.created = e.created;
  w.last_modified = e.last_modified;
  return ical::WriteEvent(e.activity, w);
}

}  // namespace tandem::sync
