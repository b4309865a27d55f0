/* A seccomp filter loader for the tests in tests/it/seccomp.rs (built there with cc and -lseccomp):
 *
 *     loader CALL[,CALL...] PROGRAM [ARG...]
 *
 * refuses each named system call with EPERM (as a container runtime's
 * profile or systemd's SystemCallFilter= does), then runs PROGRAM. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CALL[,CALL...] PROGRAM [ARG...]\n", argv[0]);
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) {
        return 2;
    }
    char *calls = strdup(argv[1]);
    for (char *call = strtok(calls, ","); call != NULL; call = strtok(NULL, ",")) {
        int nr = seccomp_syscall_resolve_name(call);
        if (nr == __NR_SCMP_ERROR) {
            fprintf(stderr, "%s: unknown system call %s\n", argv[0], call);
            return 2;
        }
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0) {
            fprintf(stderr, "%s: cannot refuse %s\n", argv[0], call);
            return 2;
        }
    }
    if (seccomp_load(ctx) < 0) {
        fprintf(stderr, "%s: cannot load the filter\n", argv[0]);
        return 2;
    }
    execvp(argv[2], argv + 2);
    perror("execvp");
    return 127;
}
