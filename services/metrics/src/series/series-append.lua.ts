/**
 * Appends reports to one stored series, atomically. A series is a hash of buckets: bucket `b`
 * holds the reports of steps [b·stride, (b+1)·stride) merged (sum and count of the finite values,
 * their min and max, how many were NaN/±Inf, the last step and time). When the buckets outnumber
 * the point budget, neighbours merge and the stride doubles, so a series stays bounded however long
 * the job runs while keeping its whole history at a coarser resolution.
 *
 * Reports are applied once: `_seq` holds the last applied (attempt, seq), and anything not after
 * it (a redelivery) is skipped. A later attempt replaces what an earlier one left in a bucket (a
 * resumed job re-runs steps from its checkpoint).
 *
 * KEYS[1] = series hash, KEYS[2] = the job's set of series names.
 * ARGV = name, point budget, most series per job, TTL seconds, then 5 per report:
 *        attempt, seq, step, value ('' when not finite), time (ms).
 * Returns the number of points, or -1 when the job already has its most series (nothing stored).
 */
export const SERIES_APPEND_LUA = `
local key, names = KEYS[1], KEYS[2]
local name, budget, maxSeries, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('SISMEMBER', names, name) == 0 then
  if redis.call('SCARD', names) >= maxSeries then return -1 end
  redis.call('SADD', names, name)
end

local function decode(raw)
  local a, s, t, sum, lo, hi, n, bad = string.match(raw, '^(%d+)|(%d+)|(%d+)|([^|]*)|([^|]*)|([^|]*)|(%d+)|(%d+)$')
  return { tonumber(a), tonumber(s), tonumber(t), tonumber(sum), tonumber(lo), tonumber(hi), tonumber(n), tonumber(bad) }
end
local function num(x)
  if x == nil then return '' end
  return string.format('%.17g', x)
end
local function encode(p)
  return string.format('%d|%d|%d|', p[1], p[2], p[3]) .. num(p[4]) .. '|' .. num(p[5]) .. '|' .. num(p[6]) .. string.format('|%d|%d', p[7], p[8])
end
local function lower(x, y) if x == nil then return y end if y == nil then return x end return math.min(x, y) end
local function upper(x, y) if x == nil then return y end if y == nil then return x end return math.max(x, y) end
local function combine(a, b)
  if a[1] ~= b[1] then
    if a[1] > b[1] then return a end
    return b
  end
  return { a[1], math.max(a[2], b[2]), math.max(a[3], b[3]), a[4] + b[4], lower(a[5], b[5]), upper(a[6], b[6]), a[7] + b[7], a[8] + b[8] }
end

local stride = tonumber(redis.call('HGET', key, '_stride') or '1')
local lastAttempt, lastSeq = 0, -1
local mark = redis.call('HGET', key, '_seq')
if mark then
  local a, q = string.match(mark, '^(%d+):(%d+)$')
  lastAttempt, lastSeq = tonumber(a), tonumber(q)
end

for i = 5, #ARGV, 5 do
  local attempt, seq, step, raw, at = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3], tonumber(ARGV[i + 4])
  if attempt > lastAttempt or (attempt == lastAttempt and seq > lastSeq) then
    lastAttempt, lastSeq = attempt, seq
    local point
    if raw == '' then
      point = { attempt, step, at, 0, nil, nil, 1, 1 }
    else
      local v = tonumber(raw)
      point = { attempt, step, at, v, v, v, 1, 0 }
    end
    local field = string.format('%d', math.floor(step / stride))
    local current = redis.call('HGET', key, field)
    if current then point = combine(decode(current), point) end
    redis.call('HSET', key, field, encode(point))
  end
end
redis.call('HSET', key, '_stride', string.format('%d', stride), '_seq', string.format('%d:%d', lastAttempt, lastSeq))

local count = redis.call('HLEN', key) - 2
while count > budget do
  stride = stride * 2
  local all = redis.call('HGETALL', key)
  local merged = {}
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 1) ~= '_' then
      local b = math.floor(tonumber(all[i]) / 2)
      local p = decode(all[i + 1])
      if merged[b] then merged[b] = combine(merged[b], p) else merged[b] = p end
    end
  end
  redis.call('DEL', key)
  count = 0
  for b, p in pairs(merged) do
    redis.call('HSET', key, string.format('%d', b), encode(p))
    count = count + 1
  end
  redis.call('HSET', key, '_stride', string.format('%d', stride), '_seq', string.format('%d:%d', lastAttempt, lastSeq))
end
redis.call('EXPIRE', key, ttl)
redis.call('EXPIRE', names, ttl)
return count
`;
