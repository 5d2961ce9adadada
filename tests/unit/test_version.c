/*
 * The version is written once, DBEV_VERSION in dbev.h, and CMake reads the
 * project version from it (CMakeLists.txt). This test fails when anything
 * that shows a version disagrees with the project version CMake configured:
 * the header's hex, dbev_version() and dbev_version_str() of the library
 * linked, libdbev.so's file name and its dbev_version(), and the --version
 * line of the dbev CLI, dbev-harness and dbev-adapter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dbev/dbev.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* "M.m.r" of a 0xMMmmrrxx version. */
static void hex_to_str(int version, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%d.%d", (version >> 24) & 0xff, (version >> 16) & 0xff,
             (version >> 8) & 0xff);
}

static void test_header_and_library(void **state)
{
    char from_hex[32];
    hex_to_str(DBEV_VERSION, from_hex, sizeof(from_hex));
    assert_string_equal(from_hex, DBEV_TEST_PROJECT_VERSION);
    assert_int_equal(dbev_version(), DBEV_VERSION);
    assert_string_equal(dbev_version_str(), DBEV_TEST_PROJECT_VERSION);
}

static void test_shared_library(void **state)
{
    const char *path = DBEV_TEST_SHARED_LIB; /* libdbev.so.M.m.r */
    const char *suffix = ".so." DBEV_TEST_PROJECT_VERSION;
    assert_true(strlen(path) > strlen(suffix));
    assert_string_equal(path + strlen(path) - strlen(suffix), suffix);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        fail_msg("dlopen %s: %s", path, dlerror());
    int (*version)(void) = (int (*)(void))dlsym(lib, "dbev_version");
    const char *(*version_str)(void) = (const char *(*)(void))dlsym(lib, "dbev_version_str");
    assert_non_null(version);
    assert_non_null(version_str);
    assert_int_equal(version(), DBEV_VERSION);
    assert_string_equal(version_str(), DBEV_TEST_PROJECT_VERSION);
    dlclose(lib);
}

/* The first line program --version prints. */
static void version_line(const char *program, char *line, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' --version", program);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = '\0';
    if (!fgets(line, (int)size, p))
        line[0] = '\0';
    int status = pclose(p);
    assert_int_equal(status, 0);
    line[strcspn(line, "\n")] = '\0';
}

static void test_command_lines(void **state)
{
    char line[256], want[256];
    version_line(DBEV_TEST_CLI, line, sizeof(line));
    snprintf(want, sizeof(want), "dbev %s (libdbev 0x%08x)", DBEV_TEST_PROJECT_VERSION,
             DBEV_VERSION);
    assert_string_equal(line, want);
    version_line(DBEV_TEST_HARNESS, line, sizeof(line));
    assert_string_equal(line, "dbev-harness " DBEV_TEST_PROJECT_VERSION);
    version_line(DBEV_TEST_ADAPTER, line, sizeof(line));
    assert_string_equal(line, "dbev-adapter " DBEV_TEST_PROJECT_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_library),
        cmocka_unit_test(test_shared_library),
        cmocka_unit_test(test_command_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
