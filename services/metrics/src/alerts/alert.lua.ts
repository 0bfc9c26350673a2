/**
 * Changes one stored alert atomically and says whether that is news worth an event.
 *
 * KEYS[1] = the job's alert hash; ARGV = op ('fire' | 'resolve'), alert id, TTL seconds, alert JSON
 * (for 'fire': the alert as it would be when first fired; for 'resolve': the resolved text fields).
 * 'fire' on an absent or resolved alert stores it firing → 'fired'; on a firing one it counts one
 * more occurrence and moves \`at\` to it, keeping the onset (summary, step, firedAt) → 'updated'. 'resolve' on a firing alert →
 * 'resolved'; otherwise 'none'. Returns { outcome, stored JSON }.
 */
export const ALERT_LUA = `
local op, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local incoming = cjson.decode(ARGV[4])
local raw = redis.call('HGET', KEYS[1], id)
local current = nil
if raw then current = cjson.decode(raw) end
local outcome = 'none'
local stored = current
if op == 'fire' then
  if current and current.status == 'firing' then
    current.occurrences = current.occurrences + 1
    current.at = incoming.at
    stored, outcome = current, 'updated'
  else
    stored, outcome = incoming, 'fired'
  end
elseif op == 'resolve' and current and current.status == 'firing' then
  current.status = 'resolved'
  current.summary = incoming.summary
  current.advice = incoming.advice
  current.at = incoming.at
  if incoming.step then current.step = incoming.step end
  stored, outcome = current, 'resolved'
end
if outcome ~= 'none' then
  redis.call('HSET', KEYS[1], id, cjson.encode(stored))
  redis.call('EXPIRE', KEYS[1], ttl)
end
if stored == nil then return { outcome, '' } end
return { outcome, cjson.encode(stored) }
`;
