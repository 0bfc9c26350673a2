/**
 * Applies one scheduler state event to a job's tracked state, atomically, unless it is older than
 * what is stored (a redelivery or a replay): a later attempt wins, then a later time. Keeps when the
 * current attempt was queued and assigned, for the wait and dispatch histograms.
 *
 * KEYS[1] = hash of tracked jobs; ARGV = job id, state, attempt, time (ms).
 * Returns { applied (0/1), the previous JSON or '' }.
 */
export const JOB_STATE_LUA = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local state, attempt, at = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local cur = nil
if raw then cur = cjson.decode(raw) end
if cur then
  if cur.attempt > attempt then return {0, raw} end
  if cur.attempt == attempt and (cur.at > at or (cur.at == at and cur.state == state)) then return {0, raw} end
end
local nxt = { state = state, attempt = attempt, at = at }
if cur and cur.attempt == attempt then
  nxt.queuedAt = cur.queuedAt
  nxt.assignedAt = cur.assignedAt
end
if state == 'queued' then nxt.queuedAt = at end
if state == 'assigned' then nxt.assignedAt = at end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(nxt))
return {1, raw or ''}
`;
