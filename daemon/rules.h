/* rules: the safety rules (docs/SAFETY.md, "Rules"), evaluated continuously
 * on every stream's segments (per person track: fall, on_floor, still,
 * in_zone_longer) and on the clock (absent, camera_down), raising and
 * clearing alerts. The kinds and their configuration are in config.h. */
#ifndef CRTD_RULES_H
#define CRTD_RULES_H

#include "config.h"
#include "pipeline.h"

/* Whether t (seconds after midnight) is in the window, or in the rule's
 * schedule (always, without one). */
bool rule_window_contains(const struct rule_window *window, int t);
bool rule_scheduled(const struct config_rule *rule, int t);
/* seconds/minutes, or the kind's default. */
double rule_duration_s(const struct config_rule *rule);
bool rule_per_track(const struct config_rule *rule);

#endif

/* ---- the engine ---------------------------------------------------------- */

#define RULES_MAX_ALERT_RULES 64 /* rules in a configuration */

struct alerts;
struct rules;

/* The rules of cfg (copied), raising alerts in alerts (borrowed). The open
 * alerts a previous run left are adopted by the rule, stream and track they
 * name. */
int rules_new(const struct config *cfg, struct alerts *alerts, struct rules **ret_rules,
              struct errbuf *err);
struct rules *rules_free(struct rules *rules);

/* The rules of a configuration read again (SIGHUP), at wall time t. A rule
 * defined as before keeps what it was watching and its open alerts; a rule
 * removed or changed clears its open alerts, and a changed or new one starts
 * watching from now. On error nothing changes. */
int rules_apply(struct rules *rules, const struct config *cfg, double t, struct errbuf *err);

/* A stream starts (camera_down counts from here) or is removed. */
void rules_watch(struct rules *rules, const char *stream, double t);
void rules_forget(struct rules *rules, const char *stream, double t);
/* A stream paused for privacy: no rule watches it until it starts again;
 * its open alerts clear, except a fall or someone on the floor, which stay
 * until acknowledged (nobody has seen the person get up). */
void rules_pause(struct rules *rules, const char *stream, double t);

/* One segment of a stream at wall time t: its listed people (without those
 * of exclude zones) and its zones. Called by the stream's thread. */
void rules_observe(struct rules *rules, const char *stream, double t,
                   const struct pipeline_person *people, unsigned n_people,
                   const struct zone *zones, int n_zones);

/* The rules of the clock (camera_down, absent); about once a second. */
void rules_tick(struct rules *rules, double t);
