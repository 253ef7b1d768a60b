/* The platform validator (actors/platform_check.c, SimGrid-free): every shipped platform passes; each mistake that
 * made SimGrid 3.32 abort is one error naming the line and the element. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform_check.h"

#define HEAD "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"

/* A three-host Full zone; extra goes on line 9, before the routes. */
static char *platform(const char *version, const char *speed, const char *bw, const char *lat, const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             HEAD "<platform version=\"%s\">\n"                                          /* 3 */
                  "  <zone id=\"z\" routing=\"Full\">\n"                                   /* 4 */
                  "    <host id=\"server\" speed=\"%s\"/>\n"                               /* 5 */
                  "    <host id=\"w0\" speed=\"1Gf\"/>\n"                                  /* 6 */
                  "    <link id=\"l0\" bandwidth=\"%s\" latency=\"%s\"/>\n"                /* 7 */
                  "    <link id=\"l1\" bandwidth=\"10MBps\" latency=\"1ms\" sharing_policy=\"SPLITDUPLEX\"/>\n"
                  "    %s\n"                                                                /* 9 */
                  "    <route src=\"server\" dst=\"w0\"><link_ctn id=\"l0\"/></route>\n"
                  "  </zone>\n</platform>\n",
             version, speed, bw, lat, extra);
    return buf;
}

static int check(const char *text, bg_err_t *err)
{
    bg_err_clear(err);
    return bg_platform_check_buffer(text, strlen(text), "p.xml", NULL, err);
}

/* Fails with the error on line `line`, its message containing `part`. */
static void bad(const char *text, long line, const char *part)
{
    bg_err_t err;
    int rc = check(text, &err);
    if (rc == 0)
        fail_msg("accepted; expected an error containing '%s'", part);
    if (!strstr(err.msg, part) || (line && err.line != line) || strcmp(err.file, "p.xml") || strchr(err.msg, '\n'))
        fail_msg("line %ld '%s'; expected line %ld with '%s'", err.line, err.msg, line, part);
}

static void test_good(void **state)
{
    (void)state;
    bg_err_t err;
    assert_int_equal(check(platform("4.1", "1Gf", "10MBps", "1ms", ""), &err), 0);
    /* one route each way, neither symmetrical, is fine */
    const char *two_ways = HEAD "<platform version=\"4.1\"><zone id=\"z\" routing=\"Full\">"
        "<host id=\"a\" speed=\"1Gf\"/><host id=\"b\" speed=\"1Gf\"/>"
        "<link id=\"l\" bandwidth=\"1MBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\"/>"
        "<route src=\"a\" dst=\"b\" symmetrical=\"NO\"><link_ctn id=\"l\" direction=\"UP\"/></route>"
        "<route src=\"b\" dst=\"a\" symmetrical=\"no\"><link_ctn id=\"l\" direction=\"DOWN\"/></route>"
        "</zone></platform>\n";
    assert_int_equal(check(two_ways, &err), 0);
    assert_int_equal(check(platform("4", "1Gf,500Mf", "1.5Gbps", "0", "<host id=\"h\" speed=\"2Gf\" core=\"4\" "
                                         "pstate=\"0\"><prop id=\"a\" value=\"b\"/></host>"), &err), 0);
    assert_int_equal(check(platform("4.1", "1Gf", "10MBps", "1ms",
                                    "<host id=\"h2\" speed=\"1Gf\"/><route src=\"w0\" dst=\"h2\"><link_ctn "
                                    "id=\"l1\" direction=\"UP\"/><link_ctn id=\"l1_DOWN\"/></route>"), &err), 0);
    /* A cluster, a WiFi zone and the old system id. */
    const char *c = "<?xml version='1.0'?>\n"
                    "<!DOCTYPE platform SYSTEM \"http://simgrid.gforge.inria.fr/simgrid/simgrid.dtd\">\n"
                    "<platform version=\"4.1\">\n"
                    "<zone id=\"top\" routing=\"Full\">\n"
                    "<cluster id=\"c\" prefix=\"w\" suffix=\"\" radical=\"0-3,7\" speed=\"1Gf\" bw=\"10MBps\" "
                    "lat=\"1ms\" bb_bw=\"1GBps\" bb_lat=\"10us\"/>\n"
                    "<zone id=\"wifi\" routing=\"Wifi\"><prop id=\"access_point\" value=\"ap\"/>"
                    "<host id=\"s1\" speed=\"1Gf\"/><router id=\"ap\"/>"
                    "<link id=\"air\" sharing_policy=\"WIFI\" bandwidth=\"54Mbps,36Mbps\" latency=\"0ms\"/></zone>\n"
                    "<link id=\"wan\" bandwidth=\"1Gbps\" latency=\"5ms\"/>\n"
                    "<zoneRoute src=\"c\" dst=\"wifi\" gw_src=\"wc_router\" gw_dst=\"ap\"><link_ctn id=\"wan\"/>"
                    "</zoneRoute>\n</zone>\n</platform>\n";
    assert_int_equal(check(c, &err), 0);
}

static void test_shipped(void **state)
{
    (void)state;
    const char *files[] = {BG_SOURCE_DIR "/platforms/star-hetero.xml", BG_SOURCE_DIR "/platforms/star-128.xml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bg_err_t err;
        bg_err_clear(&err);
        if (bg_platform_check_file(files[i], &err))
            fail_msg("%s:%ld: %s", err.file, err.line, err.msg);
    }
}

static void test_values(void **state)
{
    (void)state;
    bad(platform("4.1", "0f", "10MBps", "1ms", ""), 5, "<host id=\"server\">: speed \"0f\"");
    bad(platform("4.1", "2 parsecs", "10MBps", "1ms", ""), 5, "speed \"2 parsecs\"");
    bad(platform("4.1", "2parsecs", "10MBps", "1ms", ""), 5, "'parsecs'");
    bad(platform("4.1", "1Gf,", "10MBps", "1ms", ""), 5, "speed");
    bad(platform("4.1", "1000", "10MBps", "1ms", ""), 5, "a unit");
    bad(platform("4.1", "1Gf", "0Bps", "1ms", ""), 7, "<link id=\"l0\">: bandwidth \"0Bps\"");
    bad(platform("4.1", "1Gf", "-1Bps", "1ms", ""), 7, "bandwidth \"-1Bps\"");
    bad(platform("4.1", "1Gf", "nanBps", "1ms", ""), 7, "bandwidth \"nanBps\"");
    bad(platform("4.1", "1Gf", "infBps", "1ms", ""), 7, "bandwidth \"infBps\"");
    bad(platform("4.1", "1Gf", "1e308YBps", "1ms", ""), 7, "out of range");
    bad(platform("4.1", "1Gf", "10MBps", "1e400s", ""), 7, "latency \"1e400s\"");
    bad(platform("4.1", "1Gf", "10MBps", "-1ms", ""), 7, "latency \"-1ms\"");
    bad(platform("4.1", "1Gf", "10MBps", "", ""), 7, "latency is empty");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<host id=\"h\" speed=\"1Gf\" core=\"0\"/>"), 9, "core \"0\"");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<host id=\"h\" speed=\"1Gf\" core=\"99999999999999\"/>"), 9,
        "core");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<host id=\"h\" speed=\"1Gf,2Gf\" pstate=\"2\"/>"), 9,
        "pstate \"2\"");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<backbone id=\"b\" bandwidth=\"0bps\" latency=\"0\"/>"), 9,
        "<backbone id=\"b\">: bandwidth");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<cluster id=\"c\" prefix=\"c\" suffix=\"\" radical=\"3-1\" "
                                                 "speed=\"1Gf\" bw=\"1Gbps\" lat=\"0\"/>"), 9, "radical \"3-1\"");
    bad(HEAD "<platform version=\"4.1\">\n<cluster id=\"c\" prefix=\"c\" suffix=\"\" radical=\"0-8\" speed=\"1Gf\" "
             "bw=\"1Gbps\" lat=\"0\" topology=\"FAT_TREE\" topo_parameters=\"2;4,4;1,2;1,2\"/></platform>", 4,
        "need 16 hosts");
}

static void test_structure(void **state)
{
    (void)state;
    bad(platform("2", "1Gf", "10MBps", "1ms", ""), 3, "version \"2\"");
    bad(platform("4.2", "1Gf", "10MBps", "1ms", ""), 3, "version \"4.2\"");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<host id=\"w0\" speed=\"1Gf\"/>"), 9,
        "<host id=\"w0\">: id already names");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<router id=\"server\"/>"), 9, "already names");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<link id=\"l0\" bandwidth=\"1Gbps\" latency=\"0\"/>"), 9,
        "already names a link");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<zone id=\"sub\" routing=\"Full\"/>"), 4, "holds both");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<disco id=\"x\"/>"), 9, "disco");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<host speed=\"1Gf\"/>"), 9, "attribute id");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<link id=\"x\" bandwidth=\"1Gbps\" latency=\"0\" "
                                                 "sharing_policy=\"HALF\"/>"), 9, "sharing_policy");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"w0\" dst=\"nowhere\"/>"), 9, "dst \"nowhere\"");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"w0\" dst=\"server\"><link_ctn id=\"l9\"/></route>"),
        9, "<link_ctn id=\"l9\">");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"w0\" dst=\"server\"><link_ctn id=\"l1\"/></route>"),
        9, "SPLITDUPLEX");
    bad(platform("4.1", "1Gf", "10MBps", "1ms",
                 "<route src=\"w0\" dst=\"server\"><link_ctn id=\"l0\" direction=\"UP\"/></route>"), 9, "SPLITDUPLEX");
    /* A second route between two points (SimGrid: "The route between w0 and server already exists"): routes are
     * symmetrical unless symmetrical="NO", so w0 -> server on line 9 also declares line 10's server -> w0. */
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"w0\" dst=\"server\"><link_ctn id=\"l0\"/></route>"),
        10, "a route from 'server' to 'w0' is already declared");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"w0\" dst=\"server\" symmetrical=\"NO\"><link_ctn "
                 "id=\"l0\"/></route>"), 10, "a route from 'w0' to 'server' is already declared");
    bad(platform("4.1", "1Gf", "10MBps", "1ms", "<route src=\"server\" dst=\"w0\" symmetrical=\"NO\"><link_ctn "
                 "id=\"l0\"/></route>"), 10, "a route from 'server' to 'w0' is already declared");
    /* Not XML, not SimGrid's prolog, entity declarations, a root other than <platform>. */
    bad("", 0, "empty");
    bad("[run]\nrounds = 3\n", 1, "not well-formed");
    char trunc[200];
    snprintf(trunc, sizeof trunc, "%.150s", platform("4.1", "1Gf", "10MBps", "1ms", ""));
    bad(trunc, 0, "not well-formed");
    bad("<platform version=\"4.1\"/>", 1, "DOCTYPE");
    bad("<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"x.dtd\">\n<platform version=\"4.1\"/>", 3, "DOCTYPE");
    bad(HEAD "<zone id=\"z\" routing=\"Full\"/>", 3, "root element");
    bad("<?xml version='1.0'?>\n<!DOCTYPE platform [\n<!ENTITY a \"aaaaaaaaaa\">\n<!ENTITY b \"&a;&a;&a;&a;&a;\">\n"
        "]>\n<platform version=\"4.1\">&b;</platform>", 3, "<!ENTITY>");
    bad(HEAD "<platform version=\"4.1\"><config><prop id=\"network/model\" value=\"X\"/></config></platform>", 3,
        "--cfg");
    bad(HEAD "<platform version=\"4.1\"><zone id=\"z\" routing=\"Star\"/></platform>", 3, "routing \"Star\"");
}

static void test_files(void **state)
{
    (void)state;
    char dir[256] = "/tmp/bg_test_platcheck_XXXXXX";
    assert_non_null(mkdtemp(dir));
    bg_err_t err;
    bg_err_clear(&err);
    assert_int_equal(bg_platform_check_file("/dev/null", &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "regular file"));
    assert_int_equal(bg_platform_check_file(dir, &err), BG_EINVAL);
    char path[512];
    snprintf(path, sizeof path, "%s/fifo.xml", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(bg_platform_check_file(path, &err), BG_EINVAL);   /* refused at once, not waited on */
    snprintf(path, sizeof path, "%s/fake.so", dir);
    FILE *f = fopen(path, "w");
    fputs("not a library", f);
    fclose(f);
    assert_int_equal(bg_platform_check_file(path, &err), BG_EFORMAT);
    /* A profile file resolves next to the platform. */
    snprintf(path, sizeof path, "%s/p.xml", dir);
    f = fopen(path, "w");
    fputs(platform("4.1", "1Gf", "10MBps", "1ms", "<host id=\"h\" speed=\"1Gf\" state_file=\"h.state\"/>"), f);
    fclose(f);
    assert_int_equal(bg_platform_check_file(path, &err), BG_EIO);
    assert_int_equal(err.line, 9);
    snprintf(path, sizeof path, "%s/h.state", dir);
    f = fopen(path, "w");
    fputs("0 1\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/p.xml", dir);
    bg_err_clear(&err);
    int rc = bg_platform_check_file(path, &err);
    const char *names[] = {"fifo.xml", "fake.so", "p.xml", "h.state"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    if (rc)
        fail_msg("%s", err.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),      cmocka_unit_test(test_shipped), cmocka_unit_test(test_values),
        cmocka_unit_test(test_structure), cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
