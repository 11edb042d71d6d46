/*
 * hook.c — what every hook shares: handing an event to the sender's ring.
 */
#include "hook.h"

#include <cjson/cJSON.h>

#include "../sender/sender.h"

bool hook_emit(ring *out, struct cJSON *obj)
{
    struct sender_json_msg m = {.obj = obj};
    if (ring_push(out, &m))
        return true;
    cJSON_Delete(obj);
    return false;
}

ring *hook_ring_create(size_t slots, char *err, size_t errlen)
{
    return ring_create(slots, sizeof(struct sender_json_msg), err, errlen);
}

size_t hook_ring_discard(ring *r)
{
    struct sender_json_msg m;
    size_t n = 0;
    while (r && ring_pop(r, &m)) {
        cJSON_Delete(m.obj);
        n++;
    }
    return n;
}
