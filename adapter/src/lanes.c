/*
 * The executor lanes (exec.lanes threads, each with its own executor and
 * connection): the loop thread submits a job to every lane's queue, each
 * lane runs its share of each job in order, and a job every lane is done
 * with goes to the done queue for the loop thread to publish. A barrier job
 * waits for every earlier job before any lane starts it.
 */
#include "loop_int.h"

#include <signal.h>
#include <string.h>
#include <time.h>

/* An executor lane: runs its share of each queued job, one job at a time, in order. */
static void *exec_worker(void *arg)
{
    struct loop_lane *lane = arg;
    dbev_adapter_t *adapter = lane->adapter;
    int l = lane->index;
    pthread_setname_np(pthread_self(), "dbev-exec");
    pthread_mutex_lock(&adapter->jobs_lock);
    for (;;) {
        while ((!lane->todo_head ||
                (lane->todo_head->barrier && adapter->jobs_done < lane->todo_head->seq)) &&
               !adapter->worker_quit)
            pthread_cond_wait(&adapter->todo_cond, &adapter->jobs_lock);
        if (adapter->worker_quit)
            break;
        loop_job_t *job = lane->todo_head;
        struct loop_share *sh = &job->share[l];
        lane->todo_head = sh->next;
        if (!lane->todo_head)
            lane->todo_tail = NULL;
        pthread_mutex_unlock(&adapter->jobs_lock);
        sh->next = NULL;
        if (sh->n && atomic_load(&adapter->stop) != STOP_ABORT) {
            adapter_exec_batch(lane->exec, sh->reqs, sh->n, sh->outs);
            for (size_t i = 0; i < sh->n; i++)
                job->outs[sh->index[i]] = sh->outs[i];
        }
        pthread_mutex_lock(&adapter->jobs_lock);
        /* Each lane takes jobs in order, and a barrier waits for all before
         * it, so they finish in order. */
        if (--job->shares_left == 0) {
            adapter->jobs_done++;
            pthread_cond_broadcast(&adapter->todo_cond); /* a barrier may be passed now */
            if (adapter->done_tail)
                adapter->done_tail->next = job;
            else
                adapter->done_head = job;
            adapter->done_tail = job;
            pthread_cond_signal(&adapter->done_cond);
            /* The loop thread may be waiting in the consumer poll: wake it
             * to publish now, not when its poll times out (up to 1 ms of
             * every answer's service time otherwise). */
            rd_kafka_queue_yield(adapter->consumer_q);
        }
    }
    pthread_mutex_unlock(&adapter->jobs_lock);
    return NULL;
}

void job_submit(dbev_adapter_t *adapter, loop_job_t *job)
{
    job->seq = adapter->jobs_submitted++;
    adapter->last_whole = job->whole; /* decides the next job's barrier (job_split) */
    pthread_mutex_lock(&adapter->jobs_lock);
    for (int l = 0; l < adapter->nlanes; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        if (lane->todo_tail)
            lane->todo_tail->share[l].next = job;
        else
            lane->todo_head = job;
        lane->todo_tail = job;
    }
    pthread_cond_broadcast(&adapter->todo_cond);
    pthread_mutex_unlock(&adapter->jobs_lock);
    adapter->jobs_outstanding++;
}

/* Publishes the executed jobs, waiting up to timeout_ms for one if none is
 * ready. After an abort, executed jobs are dropped unanswered. */
void jobs_collect(dbev_adapter_t *adapter, int timeout_ms)
{
    pthread_mutex_lock(&adapter->jobs_lock);
    if (!adapter->done_head && timeout_ms > 0 && adapter->jobs_outstanding > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)timeout_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&adapter->done_cond, &adapter->jobs_lock, &ts);
    }
    loop_job_t *job = adapter->done_head;
    adapter->done_head = adapter->done_tail = NULL;
    pthread_mutex_unlock(&adapter->jobs_lock);
    while (job) {
        loop_job_t *next = job->next;
        adapter->jobs_outstanding--;
        if (atomic_load(&adapter->stop) == STOP_ABORT || atomic_load(&adapter->fatal))
            job_free(job);
        else
            job_publish(adapter, job);
        job = next;
    }
}

/* Waits for every submitted job to be executed and published. */
void jobs_finish(dbev_adapter_t *adapter)
{
    while (adapter->jobs_outstanding > 0) {
        jobs_collect(adapter, 50);
        serve_deliveries(adapter, 0);
    }
}

int workers_start(dbev_adapter_t *adapter)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (int l = 0; l < adapter->nlanes && !rc; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        rc = pthread_create(&lane->thread, NULL, exec_worker, lane);
        lane->started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "cannot start the executor threads: %s",
                  strerror(rc));
        workers_stop(adapter);
    }
    return rc ? -1 : 0;
}

/* Stops the executor lanes (after the share in hand) and drops what they did
 * not finish or the loop did not publish. */
void workers_stop(dbev_adapter_t *adapter)
{
    pthread_mutex_lock(&adapter->jobs_lock);
    adapter->worker_quit = true;
    pthread_cond_broadcast(&adapter->todo_cond);
    pthread_mutex_unlock(&adapter->jobs_lock);
    for (int l = 0; l < adapter->nlanes; l++)
        if (adapter->lanes[l].started) {
            pthread_join(adapter->lanes[l].thread, NULL);
            adapter->lanes[l].started = false;
        }
    /* A job not done is on the queue of every lane that has not run its
     * share: free each once. */
    loop_job_t *unfinished = NULL;
    for (int l = 0; l < adapter->nlanes; l++) {
        for (loop_job_t *j = adapter->lanes[l].todo_head; j; j = j->share[l].next)
            if (!j->dropped) {
                j->dropped = true;
                j->next = unfinished;
                unfinished = j;
            }
        adapter->lanes[l].todo_head = adapter->lanes[l].todo_tail = NULL;
    }
    while (unfinished) {
        loop_job_t *next = unfinished->next;
        job_free(unfinished);
        unfinished = next;
    }
    while (adapter->done_head) {
        loop_job_t *next = adapter->done_head->next;
        job_free(adapter->done_head);
        adapter->done_head = next;
    }
    adapter->done_tail = NULL;
    adapter->jobs_outstanding = 0;
}
