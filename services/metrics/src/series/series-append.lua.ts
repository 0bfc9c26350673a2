/**
 * Appends one batch of a job's reports to its stored series, atomically. The job's series live in
 * one hash of buckets (see series-record.ts for the bucket format): bucket `b` holds the reports of
 * steps [b·stride, (b+1)·stride), every series merged (sum and count of the finite values, min, max,
 * how many were NaN/±Inf). The last bucket is open: reports join it as they came, one per line,
 * without being parsed; it is merged into one record once a later bucket opens, so every report is
 * parsed at most once however many share its bucket. When the buckets outnumber the point budget,
 * the caller compacts them (SERIES_COMPACT_LUA): that work is done in Node, which parses far faster.
 *
 * Reports are applied once: `_seq` holds the last applied (attempt, seq), and anything not after it
 * (a redelivery) is skipped. A later attempt replaces what an earlier one left in a bucket (a resumed
 * job re-runs steps from its checkpoint). A series beyond the most a job may have is dropped.
 *
 * The caller may send consecutive reports of one bucket already merged (see MergedReports), as
 * `firstSeq~line`, at the stride it last heard of. Such a line is stored as it is; the script
 * stores nothing and asks for the reports one by one (redo) when the line would be wrong here: the
 * buckets are finer than the caller thought (the hash was deleted since), or the stored seq falls
 * inside the line (part of it applied already).
 *
 * KEYS[1] = the job's bucket hash, KEYS[2] = the job's set of (escaped) series names.
 * ARGV = most series per job, TTL seconds, the stride the caller merged at, n, then the n names the
 *        batch uses, then the reports in stream order, newline-separated in one argument (one
 *        argument per report costs more to send than the script spends on them). Returns { values
 *        dropped because their series was refused, buckets now stored, stride, redo (0/1) }.
 */
export const SERIES_APPEND_LUA = `
local key, names = KEYS[1], KEYS[2]
local maxSeries, ttl, mergedAt, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local meta = redis.call('HMGET', key, '_stride', '_seq', '_last')
local stride, last = tonumber(meta[1] or '1'), tonumber(meta[3] or '-1')
if stride < mergedAt then return { 0, 0, stride, 1 } end
local lastAttempt, lastSeq = 0, -1
if meta[2] then
  local a, q = string.match(meta[2], '^(%d+):(%d+)$')
  lastAttempt, lastSeq = tonumber(a), tonumber(q)
end

local refused, refusedCount = {}, 0
for i = 5, 4 + n do
  if redis.call('SISMEMBER', names, ARGV[i]) == 0 then
    if redis.call('SCARD', names) < maxSeries then
      redis.call('SADD', names, ARGV[i])
    else
      refused[ARGV[i]] = true
      refusedCount = refusedCount + 1
    end
  end
end

local function num(x)
  if x == nil then return '' end
  return string.format('%.17g', x)
end
-- A record as { attempt, seq, step, at, values = { name = { sum, min, max, count, bad } }, order = { names } }.
local function parseLine(raw)
  local a, q, s, t = string.match(raw, '^(%d+)|(%d+)|(%d+)|(%d+)')
  local r = { tonumber(a), tonumber(q), tonumber(s), tonumber(t), values = {}, order = {} }
  for name, v in string.gmatch(raw, ';([^=;]+)=([^;]*)') do
    local sum, lo, hi, cnt, bad = string.match(v, '^([^,]*),([^,]*),([^,]*),(%d+),(%d+)$')
    if sum then
      r.values[name] = { tonumber(sum), tonumber(lo), tonumber(hi), tonumber(cnt), tonumber(bad) }
    elseif v == '' then
      r.values[name] = { 0, nil, nil, 1, 1 }
    else
      local x = tonumber(v)
      r.values[name] = { x, x, x, 1, 0 }
    end
    r.order[#r.order + 1] = name
  end
  return r
end
local function lower(x, y) if x == nil then return y end if y == nil then return x end return math.min(x, y) end
local function upper(x, y) if x == nil then return y end if y == nil then return x end return math.max(x, y) end
local function combine(x, y)
  if x[1] ~= y[1] then
    if x[1] > y[1] then return x end
    return y
  end
  local r = { x[1], math.max(x[2], y[2]), math.max(x[3], y[3]), math.max(x[4], y[4]), values = x.values, order = x.order }
  for _, name in ipairs(y.order) do
    local a, b = x.values[name], y.values[name]
    if a then
      r.values[name] = { a[1] + b[1], lower(a[2], b[2]), upper(a[3], b[3]), a[4] + b[4], a[5] + b[5] }
    else
      r.values[name] = b
      r.order[#r.order + 1] = name
    end
  end
  return r
end
-- A stored bucket: one record, or (the open bucket) several, one per line, combined in order.
local function parse(raw)
  local r = nil
  for line in string.gmatch(raw, '[^\\n]+') do
    if r then r = combine(r, parseLine(line)) else r = parseLine(line) end
  end
  return r
end
local function encode(r)
  local parts = { string.format('%d|%d|%d|%d', r[1], r[2], r[3], r[4]) }
  for _, name in ipairs(r.order) do
    local v = r.values[name]
    parts[#parts + 1] = name .. '=' .. num(v[1]) .. ',' .. num(v[2]) .. ',' .. num(v[3]) .. string.format(',%d,%d', v[4], v[5])
  end
  return table.concat(parts, ';')
end
local dropped = 0
-- A refused series' values are counted: one for a report, its count for merged reports.
local function withoutRefused(raw)
  return (string.gsub(raw, ';([^=;]+)=([^;]*)', function(name, v)
    if refused[name] then
      dropped = dropped + (tonumber(string.match(v, '^[^,]*,[^,]*,[^,]*,(%d+),')) or 1)
      return ''
    end
  end))
end

-- pending[b]: the bucket's new content, as stored (lines of reports and records); closing[b]: merge it before storing.
local pending, order, closing = {}, {}, {}
local function content(b)
  if pending[b] == nil then
    order[#order + 1] = b
    if b <= last then pending[b] = redis.call('HGET', key, string.format('%d', b)) or false else pending[b] = false end
  end
  return pending[b]
end
for raw in string.gmatch(ARGV[5 + n], '[^\\n]+') do
  local first = string.match(raw, '^(%d+)~')
  if first then
    raw = string.sub(raw, #first + 2)
    first = tonumber(first)
  end
  local a, q, s = string.match(raw, '^(%d+)|(%d+)|(%d+)|')
  a, q, s = tonumber(a), tonumber(q), tonumber(s)
  if a > lastAttempt or (a == lastAttempt and q > lastSeq) then
    if first and a == lastAttempt and first <= lastSeq then return { 0, 0, stride, 1 } end
    lastAttempt, lastSeq = a, q
    if refusedCount > 0 then raw = withoutRefused(raw) end
    local b = math.floor(s / stride)
    if b > last then
      -- A later bucket opens: the one open until now is complete.
      if last >= 0 then content(last); closing[last] = true end
      if pending[b] == nil then order[#order + 1] = b; pending[b] = false end
      last = b
    elseif b < last then
      closing[b] = true
    end
    local current = content(b)
    if current then pending[b] = current .. '\\n' .. raw else pending[b] = raw end
  end
end
for _, b in ipairs(order) do
  local stored = pending[b]
  if stored then
    if closing[b] and b ~= last and string.find(stored, '\\n', 1, true) then stored = encode(parse(stored)) end
    redis.call('HSET', key, string.format('%d', b), stored)
  end
end

redis.call('HSET', key, '_stride', string.format('%d', stride), '_seq', string.format('%d:%d', lastAttempt, lastSeq), '_last', string.format('%d', last))
redis.call('EXPIRE', key, ttl)
redis.call('EXPIRE', names, ttl)
local count = redis.call('HLEN', key) - 3
return { dropped, count, stride, 0 }
`;

/**
 * Replaces a job's buckets with their compaction, unless reports were appended since they were read
 * (then nothing changes; the next append asks again).
 *
 * KEYS[1] = the job's bucket hash. ARGV = `_seq` as read, new stride, new last bucket, TTL seconds,
 * then bucket/record pairs. Returns 1 when replaced, 0 when the hash changed meanwhile.
 */
export const SERIES_COMPACT_LUA = `
if redis.call('HGET', KEYS[1], '_seq') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], '_stride', ARGV[2], '_seq', ARGV[1], '_last', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
`;
