# Sync state tables (component "sync") in the CRM database: pairs, status rows,
# intents, pending items, runs, sync log, trash, CRM UIDs. Owned by the sync engine.
target_sources(tandem_store PRIVATE ${CMAKE_CURRENT_LIST_DIR}/sync_state_sqlite.cc)
tandem_test(store_sync_state_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sync_state_sqlite_test.cc
            LIBS tandem_store)
