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
