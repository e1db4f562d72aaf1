/**
 * The tracking schedule's Lua scripts. Why a schedule of our own in Redis rather than a delayed
 * BullMQ job per check: a million tracked messages would be a million delayed jobs re-added after
 * every question (each ~1 KB and a full job round trip), while what tracking needs is "the ids due
 * now, up to 200, claimed by one worker": a sorted set by due time gives that in one call, and an
 * id is one small member. Claims are leases: a worker that dies mid-round leaves its ids in the
 * set with the lease as their due time, so they come back to any worker when it runs out.
 *
 * Keys, under the queue's prefix (`bull:<queue>:`): `vb:track` (zset id → due ms), `vb:trk` (hash
 * id → TrackInfo, see delivery.ts), and each campaign's counts hash `vb:c:<campaign>:counts`.
 */
import { BUMP } from '../campaign/scripts.js';

/**
 * The settle path's transition (campaign/scripts.ts TRANSITION_LUA, same counts). Each message it
 * moves to an end — completed, failed for good, cancelled or expired — gets its finished record
 * in the same step: the queue-wide hash `vb:done`, id → its job data with `"result":{…}` (completed)
 * or `"failed":{…}` (the reason and attempts) added, and later `"delivery":{…}`, last. The record
 * outlives the BullMQ job, which workers remove at its end (but the newest 1,000 completed and
 * 1,000 failed) because a finished job costs ~1.4 KB of Redis and a record ~300–500 B. With
 * tracking on it also starts tracking each completed message. A message is counted, recorded and
 * tracked, or none of these. A message is tracked once: one being tracked has its info entry,
 * and one whose tracking is over has its delivery in its record — a completed job that comes back
 * after a crash (stalled, re-sent, 208, completed again) must not be counted again, and keeps its
 * first record.
 */
export const SETTLE_LUA = `
--[[
  KEYS[1] state hash, KEYS[2] counts hash (TRANSITION_LUA's), KEYS[3] track zset, KEYS[4] info hash,
  KEYS[5] finished records hash
  ARGV[1] campaign, ARGV[2] now (ms, acceptance), ARGV[3] first due (ms; '' = tracking off),
  ARGV[4] job key prefix
  ARGV[5..] triples: id, new state, the record's end ('"result":{…}' or '"failed":{…}'; '' when
            the message is not at its end)
  Returns the ids whose state changed.
]]
${BUMP}
local info = ARGV[1] .. '\t' .. ARGV[2] .. '\t0\t\t'
local track = ARGV[3] ~= ''
local changed = {}
local DELIVERY = ',"delivery":'
-- The record: the job's data with its end inserted before any delivery (which stays last).
local function recordOf(data, ending)
  local cut = string.find(data, DELIVERY, 1, true)
  if cut then
    return string.sub(data, 1, cut - 1) .. ',' .. ending .. string.sub(data, cut)
  end
  return string.sub(data, 1, -2) .. ',' .. ending .. '}'
end
for i = 5, #ARGV, 3 do
  local id, new, ending = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', KEYS[1], id)
  if old and old ~= new then
    redis.call('HSET', KEYS[1], id, new)
    bump(old, -1)
    bump(new, 1)
    changed[#changed + 1] = id
  end
  -- Recorded even when the state was already there (a cancel moves states before workers end
  -- the jobs they hold); never over a record that exists (the first end is the message's).
  if old and ending ~= '' then
    local rec = redis.call('HGET', KEYS[5], id)
    if not rec then
      local data = redis.call('HGET', ARGV[4] .. id, 'data')
      if data then
        rec = recordOf(data, ending)
        redis.call('HSET', KEYS[5], id, rec)
      end
    end
    -- (A record made from an earlier version's job data may hold its delivery already.)
    local trackedBefore = rec and string.find(rec, DELIVERY, 1, true)
    if track and old ~= new and string.sub(new, 1, 1) == 'c' and not trackedBefore
      and redis.call('HSETNX', KEYS[4], id, info) == 1 then
      redis.call('ZADD', KEYS[3], ARGV[3], id)
      delta['tracking'] = (delta['tracking'] or 0) + 1
    end
  end
end
flush()
return changed
`;

export const TRACK_CLAIM_LUA = `
--[[
  Claims up to ARGV[3] ids due by ARGV[1] for one round: each is pushed to ARGV[1] + ARGV[2]
  (the lease), so no other worker asks about it meanwhile, and it comes back if this one dies.
  KEYS[1] track zset, KEYS[2] info hash
  ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] limit
  Returns id, info pairs; then, as the last element, the due time of the next id not claimed
  ('' when none is waiting).
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local leaseUntil = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do
  local info = redis.call('HGET', KEYS[2], id)
  if info then
    redis.call('ZADD', KEYS[1], leaseUntil, id)
    out[#out + 1] = id
    out[#out + 1] = info
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
out[#out + 1] = nxt[2] or ''
return out
`;

export const TRACK_RELEASE_LUA = `
--[[
  Gives claimed ids back before their lease ends (the request failed or was throttled): each is
  due again at ARGV[1], if its info is still the one the worker claimed.
  KEYS[1] track zset, KEYS[2] info hash
  ARGV[1] due (ms), ARGV[2..] pairs: id, info as claimed
]]
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  end
end
return 0
`;

export const TRACK_RECORD_LUA = `
--[[
  Records one status answer: for each message, only if its stored info is still the one the
  worker read when it claimed it (otherwise another worker took it over after a lost lease, and
  counting it again would count a transition twice):
  - the message's finished record (vb:done) gets its delivery (the record ends with
    ,"delivery":{…} — replaced, never re-encoded, so ids and texts stay byte for byte as the
    producer wrote them),
  - the campaign's counts change by the deltas,
  - tracking goes on (new info, new due time) or ends (info and zset member removed).
  KEYS[1] track zset, KEYS[2] info hash
  ARGV[1] key prefix of the queue (bull:<queue>:)
  ARGV[2..] groups of 7: id, old info, new info ('' = done), due, campaign, record JSON,
            deltas ('field=by;field=by' or '')
  Returns the number of messages recorded.
]]
local base = ARGV[1]
local recorded = 0
for i = 2, #ARGV, 7 do
  local id, old, new, due, campaign, record, deltas =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  if redis.call('HGET', KEYS[2], id) == old then
    recorded = recorded + 1
    if new == '' then
      redis.call('HDEL', KEYS[2], id)
      redis.call('ZREM', KEYS[1], id)
    else
      redis.call('HSET', KEYS[2], id, new)
      redis.call('ZADD', KEYS[1], due, id)
    end
    -- Into its finished record; a message completed by an earlier version has none: its job's
    -- data then, as that version did.
    local key, field = base .. 'vb:done', id
    local data = redis.call('HGET', key, field)
    if not data then
      key, field = base .. 'm' .. id, 'data'
      data = redis.call('HGET', key, field)
    end
    if data then
      local cut = string.find(data, ',"delivery":', 1, true)
      local head = cut and string.sub(data, 1, cut - 1) or string.sub(data, 1, -2)
      redis.call('HSET', key, field, head .. ',"delivery":' .. record .. '}')
    end
    if deltas ~= '' then
      local counts = base .. 'vb:c:' .. campaign .. ':counts'
      for field, by in string.gmatch(deltas, '([^=;]+)=([^;]+)') do
        redis.call('HINCRBY', counts, field, tonumber(by))
      end
    end
  end
end
return recorded
`;
