#!/bin/sh
# The suite's leak check (ctest: test_no_leaked_processes, the cleanup of the
# fixture every integration test requires, so it runs after them): fails when
# a dbev-adapter or a PostgreSQL server started by the tests of this build
# tree is still alive. Their processes are told apart from those of other
# build trees (other engineers' runs on the same machine) by the marker
# DBEV_TEST_TREE=<build dir> that ctest puts in every test's environment and
# every child inherits. A test process's own teardown (and pgenv's atexit
# handler, and PR_SET_PDEATHSIG for daemons) stops them as it exits, but a
# dying process's children may take a moment: leftovers are waited for up to
# DBEV_LEAK_WAIT_S seconds (default 15) before they count.
#
# usage: check_no_leaks.sh BUILD_DIR
tree=${1:?usage: check_no_leaks.sh BUILD_DIR}
wait_s=${DBEV_LEAK_WAIT_S:-15}

# Prints "pid comm cmdline" for every live process of the suite.
leftovers() {
    for dir in /proc/[0-9]*; do
        comm=$(cat "$dir/comm" 2>/dev/null) || continue
        case $comm in
        dbev-adapter | postgres) ;;
        *) continue ;;
        esac
        # environ is readable for our own processes (and all of them as root)
        if tr '\0' '\n' <"$dir/environ" 2>/dev/null | grep -qxF "DBEV_TEST_TREE=$tree"; then
            printf '%s %s %s\n' "${dir#/proc/}" "$comm" \
                "$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | cut -c1-200)"
        fi
    done
}

deadline=$(($(date +%s) + wait_s))
while :; do
    found=$(leftovers)
    [ -z "$found" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "processes started by the tests of $tree are still running:"
        echo "$found"
        echo "(a test did not stop what it started; kill them by pid)"
        exit 1
    fi
    sleep 0.2 # polling interval while waiting for the processes to exit
done
echo "no dbev-adapter or PostgreSQL left running by the tests of $tree"
