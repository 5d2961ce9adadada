/*
 * Random (version 4) UUIDs for event ids and correlation ids, from libuuid.
 */
#include <dbev/protocol.h>

#include <uuid/uuid.h>

void dbev_uuid_new(char *buf)
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}
