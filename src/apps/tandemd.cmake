# The server binary `tandemd`. Included by src/apps/CMakeLists.txt.
add_library(tandem_daemon_config ${CMAKE_CURRENT_LIST_DIR}/config.cc ${CMAKE_CURRENT_LIST_DIR}/demo_data.cc)
target_include_directories(tandem_daemon_config PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(tandem_daemon_config PUBLIC tandem_api tandem_store toml11::toml11 fmt::fmt)

add_executable(tandemd ${CMAKE_CURRENT_LIST_DIR}/tandemd_main.cc)
target_link_libraries(tandemd PRIVATE tandem_daemon_config tandem_api tandem_http_server
                      tandem_store tandem_calendar_sync tandem_davserver CLI11::CLI11 spdlog::spdlog
                      tandem_allocator)
# `tandemd --replica-of URL` (the offline client) when the replica module is built.
if(TARGET tandem_replica_app)
  target_link_libraries(tandemd PRIVATE tandem_replica_app tandem_secret_input)
  target_compile_definitions(tandemd PRIVATE TANDEM_WITH_REPLICA)
endif()
