/* tm_runv: fork + exec with captured output; see tm_run.h. */
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fputs("tm_runv: out of memory\n", stderr);
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static size_t name_len(const char *s)
{
    const char *eq = strchr(s, '=');
    return eq ? (size_t)(eq - s) : strlen(s);
}

/* environ with `changes` applied; the array is malloc'd, its strings are
 * borrowed from environ and changes. */
static char **build_env(const char *const *changes)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (changes && changes[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = name_len(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = name_len(changes[j]) == len && !strncmp(changes[j], environ[i], len);
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        if (strchr(changes[j], '='))
            env[k++] = (char *)changes[j];
    env[k] = NULL;
    return env;
}

struct child_setup {
    int in_fd, out_fd, err_fd, status_fd;
    const char *cwd;
    pid_t parent;
    int switch_user;
    uid_t uid;
    gid_t gid;
};

/* In the forked child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn))
child_exec(const struct child_setup *cs, const char *const *argv, char **envp)
{
    int e;
    setpgid(0, 0); /* our own group, so a timeout kills everything it started */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(cs->in_fd, 0) < 0 || dup2(cs->out_fd, 1) < 0 || dup2(cs->err_fd, 2) < 0)
        goto fail;
    if (cs->cwd && chdir(cs->cwd) < 0)
        goto fail;
    if (cs->switch_user &&
        (setgroups(1, &cs->gid) < 0 || setgid(cs->gid) < 0 || setuid(cs->uid) < 0))
        goto fail;
    /* Die with the test (set after setuid, which clears it); a parent that
     * died before this line has already made us an orphan. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != cs->parent)
        goto fail;
    tm_cloexec_from(3); /* nothing of ours leaks into the program */
    execvpe(argv[0], (char *const *)argv, envp);
fail:
    e = errno;
    if (write(cs->status_fd, &e, sizeof e) < 0) {
        /* nothing left to report it with */
    }
    _exit(127);
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Reads what is there; closes *fd at EOF or error. */
static void drain(int *fd, buf *b)
{
    char chunk[16384];
    for (;;) {
        ssize_t r = read(*fd, chunk, sizeof chunk);
        if (r > 0) {
            buf_add(b, chunk, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        close_fd(fd);
        return;
    }
}

static void finish(tm_run_result *res, buf *out, buf *err)
{
    buf_add(out, "", 0);
    buf_add(err, "", 0);
    res->out = out->p;
    res->out_len = out->len;
    res->err = err->p;
    res->err_len = err->len;
}

int tm_runv(const char *const *argv, const tm_run_opts *opts, tm_run_result *res)
{
    static const tm_run_opts defaults;
    if (!opts)
        opts = &defaults;
    memset(res, 0, sizeof *res);
    buf out = {0}, err = {0};
    res->status = -1;

    struct child_setup cs = {.cwd = opts->cwd, .parent = getpid()};
    if (opts->as_user) {
        struct passwd *pw = getpwnam(opts->as_user);
        if (!pw) {
            buf_printf(&err, "tm_runv: no OS user '%s'\n", opts->as_user);
            finish(res, &out, &err);
            return -1;
        }
        cs.switch_user = 1;
        cs.uid = pw->pw_uid;
        cs.gid = pw->pw_gid;
    }

    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, st[2] = {-1, -1};
    const char *input = opts->input;
    size_t input_len = input ? (opts->input_len ? opts->input_len : strlen(input)) : 0;
    int pipes_ok =
        pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0 && pipe2(st, O_CLOEXEC) == 0;
    if (pipes_ok)
        pipes_ok = input ? pipe2(in, O_CLOEXEC) == 0
                         : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
    char **envp = pipes_ok ? build_env(opts->env) : NULL;
    if (!pipes_ok || !envp) {
        buf_printf(&err, "tm_runv: cannot set up pipes for %s: %s\n", argv[0], strerror(errno));
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&o[i]);
            close_fd(&e[i]);
            close_fd(&st[i]);
        }
        free(envp);
        finish(res, &out, &err);
        return -1;
    }
    cs.in_fd = in[0];
    cs.out_fd = o[1];
    cs.err_fd = e[1];
    cs.status_fd = st[1];

    /* A child that stops reading stdin must not kill us with SIGPIPE. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);

    pid_t pid = tm_fork_child(); /* handlers at their defaults */
    if (pid == 0)
        child_exec(&cs, argv, envp);
    int fork_errno = errno;
    free(envp);
    close_fd(&in[0]);
    close_fd(&o[1]);
    close_fd(&e[1]);
    close_fd(&st[1]);
    if (pid < 0) {
        buf_printf(&err, "tm_runv: fork failed: %s\n", strerror(fork_errno));
        close_fd(&in[1]);
        close_fd(&o[0]);
        close_fd(&e[0]);
        close_fd(&st[0]);
        sigaction(SIGPIPE, &old_pipe, NULL);
        finish(res, &out, &err);
        return -1;
    }

    /* EOF on the status pipe means exec succeeded; an errno means it did not. */
    int exec_errno = 0;
    ssize_t r;
    while ((r = read(st[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    close_fd(&st[0]);
    int exec_failed = r == (ssize_t)sizeof exec_errno;

    int in_fd = in[1], out_fd = o[0], err_fd = e[0];
    size_t in_off = 0;
    if (in_fd >= 0)
        set_nonblock(in_fd);
    set_nonblock(out_fd);
    set_nonblock(err_fd);
    if (exec_failed || input_len == 0)
        close_fd(&in_fd);

    int timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : TM_RUN_DEFAULT_TIMEOUT_MS;
    long long deadline = tm_now_ms() + timeout_ms;
    while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
        long long left = deadline - tm_now_ms();
        if (left <= 0) {
            res->timed_out = 1;
            break;
        }
        struct pollfd p[3] = {{.fd = out_fd, .events = POLLIN},
                              {.fd = err_fd, .events = POLLIN},
                              {.fd = in_fd, .events = POLLOUT}};
        int n = poll(p, 3, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (p[0].revents)
            drain(&out_fd, &out);
        if (p[1].revents)
            drain(&err_fd, &err);
        if (p[2].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            close_fd(&in_fd);
        } else if (p[2].revents & POLLOUT) {
            ssize_t w = write(in_fd, input + in_off, input_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == input_len)
                close_fd(&in_fd);
        }
    }

    /* Output is closed (or time is up); now the exit status, within the deadline. */
    int status = 0;
    if (res->timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (w == 0 && !res->timed_out && tm_now_ms() >= deadline) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    close_fd(&in_fd);
    close_fd(&out_fd);
    close_fd(&err_fd);
    sigaction(SIGPIPE, &old_pipe, NULL);

    if (exec_failed) {
        buf_printf(&err, "tm_runv: cannot run %s: %s\n", argv[0], strerror(exec_errno));
        res->status = -1;
    } else if (WIFEXITED(status)) {
        res->status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
        res->status = 128 + res->signal;
    }
    finish(res, &out, &err);
    return res->status;
}

int tm_tidemarkv(tm_run_result *res, const tm_run_opts *opts, const char *const *args)
{
    size_t n = 0;
    while (args && args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv) {
        fputs("tm_tidemarkv: out of memory\n", stderr);
        abort();
    }
    argv[0] = TM_BINARY;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = args[i];
    int rc = tm_runv(argv, opts, res);
    free(argv);
    return rc;
}

char *tm_tidemark_expect(int code, const tm_run_opts *opts, const char *const *args)
{
    tm_run_result r;
    tm_tidemarkv(&r, opts, args);
    tm_assert_exit(&r, code);
    char *out = r.out;
    r.out = NULL;
    tm_run_result_free(&r);
    return out;
}

void tm_verify_sound(const char *journal)
{
    free(tm_tidemark_expect(0, NULL, (const char *[]){"verify", "--journal", journal, NULL}));
}

int tm_tidemark_ap(tm_run_result *res, const tm_run_opts *opts, const char *const *lead, va_list ap)
{
    size_t nlead = 0, n = 0;
    while (lead[nlead])
        nlead++;
    va_list count;
    va_copy(count, ap);
    while (va_arg(count, const char *))
        n++;
    va_end(count);
    const char **args = calloc(nlead + n + 1, sizeof *args);
    if (!args) {
        fputs("tm_tidemark: out of memory\n", stderr);
        abort();
    }
    memcpy(args, lead, nlead * sizeof *args);
    for (size_t i = 0; i < n; i++)
        args[nlead + i] = va_arg(ap, const char *);
    int rc = tm_tidemarkv(res, opts, args);
    free(args);
    return rc;
}

int tm_tidemark(tm_run_result *res, const tm_run_opts *opts, ...)
{
    static const char *const none[] = {NULL};
    va_list ap;
    va_start(ap, opts);
    int rc = tm_tidemark_ap(res, opts, none, ap);
    va_end(ap);
    return rc;
}

void tm_run_result_free(tm_run_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
    res->out_len = res->err_len = 0;
}
