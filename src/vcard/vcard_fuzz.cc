// libFuzzer target: any bytes as a vCard. Parse must refuse or accept without
// crashing; an accepted card must write as 3.0 and 4.0, and read back with the
// same modeled fields (what a CardDAV client gets is what the CRM holds).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "vcard/vcard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto card = tandem::vcard::Parse(text);
  if (!card.ok()) return 0;
  for (auto version : {tandem::vcard::Version::k30, tandem::vcard::Version::k40}) {
    tandem::vcard::WriteOptions o;
    o.version = version;
    o.uid = card->uid.empty() ? "fuzz" : card->uid;
    o.organization = card->organization;
    const std::string written = tandem::vcard::Write(card->contact, o);
    auto again = tandem::vcard::Parse(written);
    if (!again.ok()) std::abort();  // we wrote something we cannot read
    const auto& a = card->contact;
    const auto& b = again->contact;
    if (a.first_name != b.first_name || a.last_name != b.last_name || a.job_title != b.job_title) std::abort();
  }
  return 0;
}
