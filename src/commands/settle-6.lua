--[[
  The settle path's transition (transition-2.lua, same counts). Each message it moves to an end —
  completed, failed for good, cancelled or expired — gets its finished record in the same step,
  and its queued data goes: the queue-wide hash `vb:done`, id -> its job data with `"result":{…}` (completed) or `"failed":{…}`
  (the reason and attempts) added, and later `"delivery":{…}`, last. The record outlives the
  BullMQ job, which workers remove at its end (but the newest 1,000 completed and 1,000 failed).
  With tracking on it also starts tracking each completed message. A message is counted, recorded
  and tracked, or none of these. A message is tracked once: one being tracked has its info entry,
  and one whose tracking is over has its delivery in its record — a completed job that comes back
  after a crash (stalled, re-sent, 208, completed again) must not be counted again, and keeps its
  first record.

  KEYS[1] state hash, KEYS[2] counts hash (transition-2.lua's), KEYS[3] track zset, KEYS[4] info hash,
  KEYS[5] finished records hash, KEYS[6] queued hash (id -> job data, until it ends)
  ARGV[1] campaign, ARGV[2] now (ms, acceptance), ARGV[3] first due (ms; '' = tracking off)
  ARGV[4..] triples: id, new state, the record's end ('"result":{…}' or '"failed":{…}'; '' when
            the message is not at its end; '!' and a whole record when its data could not be read)
  Returns the ids whose state changed.
]]
--- @include "includes/counts"
local info = ARGV[1] .. '\t' .. ARGV[2] .. '\t0\t\t'
local track = ARGV[3] ~= ''
local changed = {}
local DELIVERY = ',"delivery":'
-- The record: the job's data (the producer's JSON object) with its end as its last member.
local function recordOf(data, ending)
  return string.sub(data, 1, -2) .. ',' .. ending .. '}'
end
for i = 4, #ARGV, 3 do
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
      local data = redis.call('HGET', KEYS[6], id)
      if string.sub(ending, 1, 1) == '!' then
        -- Its data could not be read: the worker gives the whole record.
        rec = string.sub(ending, 2)
      elseif data then
        rec = recordOf(data, ending)
      end
      if rec then
        redis.call('HSET', KEYS[5], id, rec)
        redis.call('HDEL', KEYS[6], id)
      end
    end
    -- A record that holds a delivery was tracked before: a job that comes back after a crash
    -- and completes again is not tracked twice.
    local trackedBefore = rec and string.find(rec, DELIVERY, 1, true)
    if track and old ~= new and string.sub(new, 1, 1) == 'c' and not trackedBefore
      and redis.call('HSETNX', KEYS[4], id, info) == 1 then
      redis.call('ZADD', KEYS[3], ARGV[3], id)
      delta['tracking'] = (delta['tracking'] or 0) + 1
    end
  end
end
flush(KEYS[2])
return changed
