// The CRM's contacts as vCards (RFC 2426 vCard 3.0, RFC 6350 vCard 4.0; SPEC C11),
// read and written through evolution-data-server's EVCard, which reads 2.1, 3.0
// and 4.0 leniently and keeps every property, parameter and group.
//
// Mapping (model::Contact):
//   N family / given          last_name / first_name (FN split when a card has no N)
//   EMAIL (first with an @)   email          TEL (first with a value)  phone
//   TITLE                     job_title      NOTE                      notes
//   ORG (first component)     the account: Card::organization on reading,
//                             WriteOptions::organization on writing
//   UID                       Card::uid / WriteOptions::uid (the caller keeps the map)
// Everything else (addresses, further e-mails and phones, photos, birthdays, groups,
// X- properties) is kept in Contact::vcard_extra: the card as the client last wrote
// it, in which writing replaces the modeled values, so that parameters (TYPE=WORK)
// and the order survive and a CRM edit wins. FN is the client's while the name is
// unchanged, else made from the name. REV is the record's modification time.
//
// Versions: cards are stored as read; written as 3.0 unless 4.0 is asked for
// (VERSION, PREF/TYPE=pref and inline photos converted between the two).
//
// Thread safety: free functions, safe to call concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/entities.h"

namespace tandem::vcard {

enum class Version { k30, k40 };

struct Card {
  model::Contact contact;     // modeled fields and vcard_extra; meta and account_id untouched
  std::string uid;            // the card's UID, "" when it has none
  std::string organization;   // ORG's first component, "" when none
};

// Reads one vCard. InvalidArgument saying what is wrong: not a vCard, more than
// one, a line that is not a property, no name (FN or N).
Result<Card> Parse(std::string_view text);

// The card without its ORG (once the organization became the contact's account,
// so that unlinking the account in the CRM does not bring the old ORG back).
std::string WithoutOrganization(std::string_view vcard_extra);

struct WriteOptions {
  Version version = Version::k30;
  std::string uid;  // REQUIRED
  // The account's name: replaces ORG's first component (units kept); nullopt
  // keeps the card's own ORG (one that matched no account).
  std::optional<std::string> organization;
};

// The contact as a vCard (CRLF lines, folded at 75 octets).
std::string Write(const model::Contact& c, const WriteOptions& o);

// The version a client asks for: "version=4.0" in a media type (Accept, or
// CardDAV's address-data content-type/version) -> k40, else k30.
Version VersionFromMediaType(std::string_view media_type, std::string_view version_attribute = {});

}  // namespace tandem::vcard
