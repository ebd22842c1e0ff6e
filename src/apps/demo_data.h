// Demo data for `tandemd --demo`: a user demo/demo and a small, realistic CRM
// (accounts, contacts, opportunities, activities over the coming weeks, among them
// an all-day one, a private one and one with a reminder).
#pragma once

#include "api/auth.h"
#include "core/clock.h"
#include "core/status.h"
#include "store/store.h"

namespace tandem::apps {

// True when the store holds no CRM records at all.
Result<bool> StoreHasNoRecords(store::Store& store);

// Creates the demo user (login "demo", password "demo", unless a user "demo"
// exists already, which is then reused) and its records, relative to clock->Now().
// Returns the demo user's id.
Result<std::string> CreateDemoData(store::Store& store, const Clock& clock,
                                   const api::PasswordCost& cost);

}  // namespace tandem::apps
