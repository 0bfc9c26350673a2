/**
 * One atomic state change of a job, guarded by the attempt and the allowed current states, so a
 * late event for an old attempt can never overwrite a newer decision. It also claims or releases
 * GPU leases (a GPU is never in two leases), keeps the queue and active sets in step, and writes
 * outbox entries that the publisher sends afterwards (so a crash between the change and the
 * message loses nothing).
 *
 * A multi-node job claims (or releases) on all its workers at once: every GPU of every node is
 * free, or nothing is leased.
 *
 * KEYS: job, queue, active, lease hash (of the worker concerned: node 0's), outbox, active job →
 *       worker hash, then the lease hashes of nodes 1, 2, … of a multi-node job
 * ARGV: expected attempt, allowed states (comma list), new job JSON, queue score ('' = remove),
 *       active ('1' add, '0' remove), lease op ('claim' | 'release' | 'none'), lease token,
 *       GPU indices (comma list per lease hash, the lists joined by ';'), the job's workers (comma
 *       list, node 0 first; '' = none), the environment build the job must
 *       still be in ('' = any: a report of an earlier build changes nothing), then pairs of outbox
 *       field and value.
 */
export const JOB_COMMIT_LUA = `
local current = redis.call('GET', KEYS[1])
if not current then return 'missing' end
local job = cjson.decode(current)
if tostring(job.attempt) ~= ARGV[1] then return 'stale' end
local allowed = false
for state in string.gmatch(ARGV[2], '[^,]+') do
  if job.state == state then allowed = true end
end
if not allowed then return 'stale' end
if ARGV[10] ~= '' then
  if type(job.environment) ~= 'table' or job.environment.buildId ~= ARGV[10] then return 'stale' end
end
local leaseKeys = { KEYS[4] }
for i = 7, #KEYS do leaseKeys[#leaseKeys + 1] = KEYS[i] end
local groups = {}
for group in string.gmatch(ARGV[8] .. ';', '([^;]*);') do groups[#groups + 1] = group end
if ARGV[6] == 'claim' then
  for k, key in ipairs(leaseKeys) do
    for idx in string.gmatch(groups[k] or '', '[^,]+') do
      if redis.call('HEXISTS', key, idx) == 1 then return 'busy' end
    end
  end
  for k, key in ipairs(leaseKeys) do
    for idx in string.gmatch(groups[k] or '', '[^,]+') do
      redis.call('HSET', key, idx, ARGV[7])
    end
  end
elseif ARGV[6] == 'release' then
  for _, key in ipairs(leaseKeys) do
    local leases = redis.call('HGETALL', key)
    for i = 1, #leases, 2 do
      if leases[i + 1] == ARGV[7] then redis.call('HDEL', key, leases[i]) end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[3])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], job.id)
else
  redis.call('ZADD', KEYS[2], ARGV[4], job.id)
end
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[3], job.id)
  redis.call('HSET', KEYS[6], job.id, ARGV[9])
else
  redis.call('SREM', KEYS[3], job.id)
  redis.call('HDEL', KEYS[6], job.id)
end
for i = 11, #ARGV, 2 do
  redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
end
return 'ok'
`;

/**
 * A queued job's 1-based position over every size queue: the jobs with a lower score (higher
 * priority, then older) in any queue, plus those with the same score and a smaller id. 0 when the
 * job is not queued.
 *
 * KEYS: the queues of sizes 0..MAX_JOB_GPUS, in order
 * ARGV: the job's size, the job id
 */
export const QUEUE_POSITION_LUA = `
local own = KEYS[tonumber(ARGV[1]) + 1]
local score = redis.call('ZSCORE', own, ARGV[2])
if not score then return 0 end
local ahead = 0
for i = 1, #KEYS do
  ahead = ahead + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. score)
end
local ties = redis.call('ZRANGEBYSCORE', own, score, score)
for _, id in ipairs(ties) do
  if id < ARGV[2] then ahead = ahead + 1 end
end
return ahead + 1
`;
