/**
 * Lua for the checkpoint registry. A job's committed checkpoints are one sorted set whose members
 * sort as `<attempt:10>:<step:16>:<id>` (all scores 0, lexicographic order), so `latest` is always
 * its greatest member: the newest attempt wins over a late commit of an older one (a zombie
 * worker cannot move `latest` back), then the highest step. Commits, retention and pins change
 * that set only in these scripts, so they are atomic against each other.
 *
 * Checkpoints leaving the set (retention, or a newer commit of the same attempt and step) go to
 * the trash with a "not before" time: now, or later while a resolver's pin lasts. The sweeper
 * deletes their bytes only after that time, so a download that resolved them first still works.
 */

/**
 * KEYS: upload hash, job index, record key, pins, trash, open uploads
 * ARGV: verifier token, member, stored record JSON, now (ms), member prefix `<attempt>:<step>:`, upload prefix
 * Returns {'lost'} when the verifier's claim was taken over, else {'ok', latest member, superseded ids...}.
 */
export const COMMIT_LUA = `
if redis.call('HGET', KEYS[1], 'state') ~= 'verifying' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return {'lost'}
end
local now = tonumber(ARGV[4])
local result = {'ok', ''}
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. ARGV[5], '[' .. ARGV[5] .. '\\255')) do
  local id = string.sub(member, #ARGV[5] + 1)
  redis.call('ZREM', KEYS[2], member)
  local pin = tonumber(redis.call('ZSCORE', KEYS[4], id) or '0')
  redis.call('ZADD', KEYS[5], math.max(now, pin), id)
  table.insert(result, id)
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'committed')
redis.call('ZREM', KEYS[6], ARGV[6])
result[2] = redis.call('ZREVRANGEBYLEX', KEYS[2], '+', '-', 'LIMIT', 0, 1)[1]
return result
`;

/**
 * KEYS: job index, pins, trash
 * ARGV: now (ms), then the members to retire
 * Retires each member still in the index except the latest; returns the retired ids.
 */
export const RETIRE_LUA = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local latest = redis.call('ZREVRANGEBYLEX', KEYS[1], '+', '-', 'LIMIT', 0, 1)[1]
local retired = {}
for i = 2, #ARGV do
  local member = ARGV[i]
  if member ~= latest and redis.call('ZSCORE', KEYS[1], member) then
    local id = string.match(member, '[^:]+$')
    redis.call('ZREM', KEYS[1], member)
    local pin = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
    redis.call('ZADD', KEYS[3], math.max(now, pin), id)
    table.insert(retired, id)
  end
end
return retired
`;

/**
 * KEYS: job index, pins
 * ARGV: member, id, pin expiry (ms)
 * Pins a checkpoint only while it is still committed (1), else 0: the caller resolves again.
 */
export const PIN_LUA = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'GT')
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIREAT', KEYS[2], ARGV[3]) end
return 1
`;

/**
 * KEYS: upload hash
 * ARGV: verifier token, now (ms), stale after (ms)
 * Claims an open upload for verification; a claim older than the stale time (a crashed verifier)
 * can be taken over. Returns 'claimed', or the state that prevents it.
 */
export const CLAIM_LUA = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
local now = tonumber(ARGV[2])
if state == 'verifying' and now - tonumber(redis.call('HGET', KEYS[1], 'since') or '0') < tonumber(ARGV[3]) then
  return 'verifying'
end
if state ~= 'open' and state ~= 'verifying' then return state end
redis.call('HSET', KEYS[1], 'state', 'verifying', 'token', ARGV[1], 'since', ARGV[2])
return 'claimed'
`;

/**
 * KEYS: upload hash
 * ARGV: verifier token, new state ('open' to allow a retry, 'rejected'), reason
 */
export const RELEASE_LUA = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'verifying' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3])
return 1
`;
