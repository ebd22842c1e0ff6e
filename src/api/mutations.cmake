# Server side of the replica push protocol (POST /api/v1/mutations): part of
# tandem_api (included at the end of src/api/CMakeLists.txt).
target_sources(tandem_api PRIVATE ${CMAKE_CURRENT_LIST_DIR}/mutations.cc)
tandem_test(api_mutations_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/mutations_test.cc LIBS tandem_api)
