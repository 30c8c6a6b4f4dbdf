/* cmake --install into a temporary root (DESTDIR): the binary runs, the
 * docs and SQL land where GNUInstallDirs puts them, and the systemd
 * template unit names the installed binary, reads its settings from an
 * EnvironmentFile and its password file as a credential, restarts always
 * and is hardened; systemd-analyze verify accepts an instance of it (with
 * the binary's path moved under the temporary root, where it is). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

static char *under(const char *root, const char *abs)
{
    size_t n = strlen(root) + strlen(abs) + 1;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s%s", root, abs);
    return p;
}

static void assert_file(const char *root, const char *dir, const char *name)
{
    char abs[4096];
    snprintf(abs, sizeof abs, "%s/%s", dir, name);
    char *p = under(root, abs);
    struct stat st;
    ck_assert_msg(stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0, "%s not installed",
                  abs);
    free(p);
}

/* The unit's text with every occurrence of from replaced by to (malloc'd). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t n = strlen(text) + 1, fl = strlen(from), tl = strlen(to);
    for (const char *p = text; (p = strstr(p, from)); p += fl)
        n += tl;
    char *out = malloc(n), *o = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = text, *q; *p; p = q + fl) {
        if (!(q = strstr(p, from))) {
            strcpy(o, p);
            return out;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
    }
    *o = '\0';
    return out;
}

START_TEST(install_into_destdir)
{
    char *root = tmt_tempdir();
    char env_destdir[4200];
    snprintf(env_destdir, sizeof env_destdir, "DESTDIR=%s", root);
    const char *env[] = {env_destdir, NULL};
    tm_run_opts o = {.env = env, .timeout_ms = 120000};
    const char *argv[] = {"cmake", "--install", TM_BUILD_DIR, NULL};
    tm_run_result r;
    tm_runv(argv, &o, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);

    char *bin = under(root, TM_INSTALL_BINARY);
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not an executable", bin);
    const char *ver[] = {bin, "--version", NULL};
    tm_runv(ver, NULL, &r);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "tidemark"), "%s", r.out);
    tm_run_result_free(&r);
    assert_file(root, TM_INSTALL_DOCDIR, "README.md");
    assert_file(root, TM_INSTALL_DOCDIR, "examples/tidemark-capture.conf.example");
    assert_file(root, TM_INSTALL_DATADIR, "tidemark/context.sql");
    assert_file(root, TM_INSTALL_DATADIR, "tidemark/ddl-messages.sql");
    assert_file(root, TM_INSTALL_UNITDIR, "tidemark-capture@.service");

    char *unit_path = under(root, TM_INSTALL_UNITDIR "/tidemark-capture@.service");
    size_t unit_len;
    char *unit = (char *)tmt_slurp(unit_path, &unit_len);
    unit[unit_len] = '\0';
    const char *want[] = {
        "ExecStart=" TM_INSTALL_BINARY " capture --journal %S/tidemark/%i ",
        "EnvironmentFile=",
        "LoadCredential=pgpass:",
        "PGPASSFILE=%d/pgpass",
        "\nRestart=always\n",
        "\nProtectSystem=strict\n",
        "\nReadWritePaths=%S/tidemark/%i\n",
        "\nNoNewPrivileges=yes\n",
        "\nPrivateTmp=yes\n",
        "\nKillSignal=SIGTERM\n",
        "\nWantedBy=multi-user.target\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(unit, want[i]), "the unit lacks \"%s\":\n%s", want[i], unit);
    ck_assert_msg(!strstr(unit, "@TM_"), "an unconfigured placeholder in the unit:\n%s", unit);

    /* systemd-analyze verify checks that ExecStart is executable: an
     * instance whose binary path points under the temporary root. */
    if (access("/usr/bin/systemd-analyze", X_OK) == 0) {
        char line[4300];
        snprintf(line, sizeof line, "ExecStart=%s", bin);
        char *inst_text = replace_all(unit, "ExecStart=" TM_INSTALL_BINARY, line);
        char *inst = tmt_path(root, "tidemark-capture@j1.service");
        tmt_spit(inst, inst_text, strlen(inst_text));
        const char *va[] = {"systemd-analyze", "verify", inst, NULL};
        tm_runv(va, NULL, &r);
        tm_assert_exit(&r, 0);
        ck_assert_msg(r.err_len == 0, "systemd-analyze verify:\n%s", r.err);
        tm_run_result_free(&r);
        free(inst);
        free(inst_text);
    } else {
        fprintf(stdout, "test_install: no systemd-analyze here; the unit's text was checked\n");
    }
    free(unit);
    free(unit_path);
    free(bin);
    tmt_tempdir_remove(root);
}
END_TEST

int main(void)
{
    return tm_check_main("install", "install", 180, TM_TESTS(install_into_destdir));
}
