# The calendar sync of tandemd: SyncService + providers + sealed credentials +
# scheduler. A library so the API's sync routes and tests can use it.
add_library(tandem_calendar_sync ${CMAKE_CURRENT_LIST_DIR}/calendar_sync.cc ${CMAKE_CURRENT_LIST_DIR}/sync_routes.cc)
target_link_libraries(tandem_calendar_sync PUBLIC tandem_sync tandem_provider_vdir
  tandem_provider_caldav tandem_provider_google tandem_provider_graph tandem_oauth tandem_scheduler_lease tandem_store tandem_api nlohmann_json::nlohmann_json spdlog::spdlog)
tandem_test(apps_sync_routes_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sync_routes_test.cc
            LIBS tandem_calendar_sync)
