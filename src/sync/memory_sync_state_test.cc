// The SyncStateStore contract on the in-memory implementation.
#include "sync/memory_sync_state.h"

#include "store/sync_state_contract.h"

namespace tandem::sync::contract {
namespace {

std::unique_ptr<store::SyncStateStore> OpenMemory(const Clock& clock) {
  return std::make_unique<MemorySyncStateStore>(clock);
}

INSTANTIATE_TEST_SUITE_P(Memory, SyncStateContract, testing::Values(StateFactory(&OpenMemory)));

}  // namespace
}  // namespace tandem::sync::contract
