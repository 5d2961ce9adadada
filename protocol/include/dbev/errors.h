/*
 * The error codes of dbev: the five wire codes of the protocol (seed 002),
 * which the adapter puts in failed events, and the local codes the client
 * produces on its own (they never travel on the wire). One enum for both, so
 * a caller handles every failure in one switch. This header is public: the
 * client's dbev.h includes it.
 */
#ifndef DBEV_ERRORS_H
#define DBEV_ERRORS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions libdbev exports: the library is compiled with hidden
 * visibility and DBEV_BUILDING_LIBRARY. Defined here, in the header dbev.h
 * includes first, so the two public headers share one definition. */
#ifndef DBEV_API
#if defined(DBEV_BUILDING_LIBRARY)
#define DBEV_API __attribute__((visibility("default")))
#else
#define DBEV_API
#endif
#endif

typedef enum dbev_err {
    /* Local errors (negative, double underscore, as librdkafka does). */
    DBEV_ERR__BEGIN = -100,
    DBEV_ERR__TIMEOUT = -99,      /**< no response within the request timeout */
    DBEV_ERR__TRANSPORT = -98,    /**< Kafka produce or consume failed */
    DBEV_ERR__CANCELLED = -97,    /**< client destroyed while the request was pending */
    DBEV_ERR__INVALID_ARG = -96,  /**< an argument of an API call is invalid */
    DBEV_ERR__BAD_RESPONSE = -95, /**< a response event could not be decoded */
    DBEV_ERR__UNHEALTHY = -94,    /**< dbev_health_check(): the adapter answered, not HEALTHY */
    DBEV_ERR__END = -1,

    DBEV_ERR_NO_ERROR = 0,

    /* Wire errors: exactly the codes of seed 002. */
    DBEV_ERR_DATABASE_CONNECTION_FAILED = 1, /**< PostgreSQL connection failed */
    DBEV_ERR_DATABASE_OPERATION_FAILED = 2,  /**< the statement failed (SQLSTATE says why) */
    DBEV_ERR_VALIDATION_ERROR = 3,           /**< the request was refused before execution */
    DBEV_ERR_TIMEOUT_ERROR = 4,              /**< statement timeout or expired deadline */
    DBEV_ERR_CIRCUIT_BREAKER_OPEN = 5,       /**< the breaker refused without trying */
} dbev_err_t;

/** The code's name: "VALIDATION_ERROR" for wire codes, "_TIMEOUT" for local ones. */
DBEV_API const char *dbev_err2name(dbev_err_t err);

/** A human description of the code. */
DBEV_API const char *dbev_err2str(dbev_err_t err);

/**
 * @brief Parses a wire code name ("DATABASE_OPERATION_FAILED").
 * @returns 0 and the code in *err, or -1 for a name that is not a wire code.
 */
DBEV_API int dbev_err_from_name(const char *name, dbev_err_t *err);

/**
 * Whether trying again may succeed: DATABASE_CONNECTION_FAILED,
 * TIMEOUT_ERROR, _TIMEOUT and _TRANSPORT are; validation and SQL errors never
 * are. CIRCUIT_BREAKER_OPEN is not retriable either, meaning "not at once":
 * the breaker refuses until its recovery timeout (60 s by default) has
 * passed, so an immediate retry only adds load; wait for it or fall back.
 */
DBEV_API bool dbev_err_is_retriable(dbev_err_t err);

/** Whether the code is one of the protocol's wire codes. */
DBEV_API bool dbev_err_is_wire(dbev_err_t err);

#ifdef __cplusplus
}
#endif
#endif
