/**
 * Defaults of origin pools (`@strategy=`), in one place with the reasons for them. README "Origin pools" lists
 * the same values.
 */

/**
 * Responses after which an idempotent request is sent to the next member. ATS's default is none (a parent cache's
 * error is usually the origin's, and would be the same through another parent); pool members here are replicas
 * of the same data, so a gateway error from one (502 bad gateway, 503 slow down / unavailable, 504 timeout) says
 * that replica cannot answer now, and another one may. 500 is left out: S3 sends it for a failed operation that
 * another replica would fail the same way, and a 4xx is the object's or the request's answer, never a failover.
 */
export const DEFAULT_RESPONSE_CODES: readonly number[] = [502, 503, 504];

/**
 * Consecutive failures (connection errors, timeouts, 5xx responses, failed active checks) that mark a member
 * down. ATS uses 10 for parents (proxy.config.http.parent_proxy.fail_threshold), which are caches in front of many
 * origins; for an origin each failure costs a client a retry, so HAProxy's `fall 3` is closer to what we want.
 */
export const DEFAULT_FALL = 3;

/** Consecutive successful active checks that mark a down member up again (HAProxy's `rise 2`). */
export const DEFAULT_RISE = 2;

/**
 * How long a member marked down by failed requests is avoided before one request is let through to probe it.
 * ATS's parent retry_time is 300 s; an origin replica that restarts is back in seconds, and one probe request per
 * 30 s costs little.
 */
export const DEFAULT_RETRY_TIME_MS = 30_000;

/** Active checks: one GET per member every interval, each bounded by the timeout. */
export const DEFAULT_CHECK_INTERVAL_MS = 5_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;

/** The file ATS reads strategies from, in the folder of remap.config. */
export const STRATEGIES_FILE = 'strategies.yaml';
