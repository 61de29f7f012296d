/* rules: the safety rules (docs/SAFETY.md, "Rules"), evaluated continuously
 * on every stream's segments (per person track: fall, on_floor, still,
 * in_zone_longer) and on the clock (absent, camera_down), raising and
 * clearing alerts. The kinds and their configuration are in config.h. */
#ifndef CRTD_RULES_H
#define CRTD_RULES_H

#include "config.h"

/* Whether t (seconds after midnight) is in the window, or in the rule's
 * schedule (always, without one). */
bool rule_window_contains(const struct rule_window *window, int t);
bool rule_scheduled(const struct config_rule *rule, int t);
/* seconds/minutes, or the kind's default. */
double rule_duration_s(const struct config_rule *rule);
bool rule_per_track(const struct config_rule *rule);

#endif
