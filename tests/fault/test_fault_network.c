/* Network faults between capture and the server (the harness proxy), under
 * a concurrent workload: connections cut (FIN) and reset (RST), the link
 * frozen past the receive timeout, down for a while (every connection
 * refused), slow. Capture must come back by itself every time, never exit,
 * and after each fault the journal holds every committed transaction
 * exactly once; at the end replay equals the live table and verify is
 * clean. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_fault.h"
#include "tests/harness/support_proxy.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

#define SLOT "tidemark_fn_net"

typedef struct net_fault {
    const char *kind;
    tm_proxy_mode mode;
    int times;
    int hold_ms; /* how long the fault lasts (0: at once) */
} net_fault;

static const net_fault faults[] = {
    {"network: connection cut (FIN)", TM_PROXY_CUT, 6, 0},
    {"network: connection reset (RST)", TM_PROXY_RESET, 6, 0},
    {"network: down (refused) 2 s", TM_PROXY_DOWN, 3, 2000},
    {"network: frozen past the timeout", TM_PROXY_FREEZE, 3, 5000},
    {"network: slow link 50 kB/s", TM_PROXY_SLOW, 2, 3000},
};

START_TEST(network_faults)
{
    tm_pg pg;
    char err[256];
    /* the walsender of a frozen connection lets go of the slot soon */
    ck_assert_msg(tm_pg_start(&pg, "wal_sender_timeout = 3s", err, sizeof err) == 0, "%s", err);
    PGconn *c;
    char *ci = tmf_setup_db(&pg, "fn_net", 0, &c);
    char *j = tmt_journal_path();
    tmf_catch_up(c, j, ci);
    tmc_wait_slot_active(c, SLOT, false);
    tm_proxy px;
    tm_proxy_start(&px, pg.port);
    char via[256];
    snprintf(via, sizeof via, "host=127.0.0.1 port=%d user=postgres dbname=fn_net", px.port);
    const char *extra[] = {"--receive-timeout", "4", NULL};
    pid_t pid = tmf_spawn(j, via, NULL, extra);
    tmc_wait_slot_active(c, SLOT, true);
    tmf_workload w;
    tmf_workload_start(&w, ci, 21);
    tmt_rng rng = {22};

    for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
        tmf_audit sum = {0};
        for (int i = 0; i < faults[f].times; i++) {
            tmf_workload_resume(&w);
            usleep((useconds_t)(100000 + tmt_below(&rng, 400000)));
            tm_proxy_set(&px, faults[f].mode);
            if (faults[f].hold_ms) {
                usleep((useconds_t)faults[f].hold_ms * 1000);
                tm_proxy_set(&px, TM_PROXY_PASS);
            }
            tmf_workload_pause(&w);
            tmf_check_caught_up(c, j, pid, SLOT, faults[f].kind, &sum);
        }
        tmf_matrix_check(faults[f].kind, faults[f].times, &sum);
    }
    tmf_workload_stop(&w);
    tmc_stop(pid, j);
    tm_proxy_stop(&px);
    tmf_catch_up(c, j, ci);
    tmf_audit a;
    tmf_oracle(c, j, "network", &a);
    PQfinish(c);
    tm_pg_stop(&pg);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    return tm_check_main("fault_network", "network", 600, TM_TESTS(network_faults));
}
