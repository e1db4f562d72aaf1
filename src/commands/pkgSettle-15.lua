--[[
  Settles what one attempt at a package came to, every message of it in one step: states, counts,
  finished records, the start of tracking, and what stays in the package.

  Per message, an op:
    e  it ended (accepted, failed for good, cancelled, expired): its state moves, its finished
       record (given whole, composed by the worker) is written unless it has one (the first end is
       the message's), its queued record goes, and it leaves the package. With tracking on, an
       accepted message whose record is new starts being tracked: a package that comes back after
       a crash is never counted, recorded or tracked twice.
    r  retried: its state moves (d) and it stays, for the package's next attempt (BullMQ backoff).
    k  kept: its state moves (w) and it stays; the package's job goes back to the wait list whole.
    b  back: its state moves (w) and it goes back to the front of its campaign's backlog.
    p  parked: as b, its state p — if the campaign is still paused, checked in this same step (a
       resume clears the control, then moves p to w: it either sees these parked and takes them
       back, or they are not parked at all and stay w).
    g  gone: it leaves the package, nothing else (it had ended before).
  Ids the package does not hold (any more) are left alone.

  KEYS[1] state hash, KEYS[2] counts hash, KEYS[3] track zset, KEYS[4] track info hash,
  KEYS[5] finished records hash, KEYS[6] queued hash, KEYS[7] packages hash,
  KEYS[8] packages zset, KEYS[9] messages in packages, KEYS[10] backlog list, KEYS[11] ready set,
  KEYS[12] control hash, KEYS[13] the campaign's timeline hash (accepted per minute, `a:<minute>`),
  KEYS[14..15] the webhook outbox: config hash, new events list (includes/outbox.lua): a
  message whose state moves to an end gets its event (accepted, failed, cancelled, expired,
  suppressed), and the campaign its campaign.finished when this settles its last open message
  ARGV[1] campaign, ARGV[2] package id, ARGV[3] now (ms, acceptance),
  ARGV[4] first due of tracking (ms; '' = tracking off), ARGV[5] when tracking of the messages
  accepted now ends at the latest (ms): the campaign's counts keep the latest as trackUntil
  ARGV[6..] quints: id, op, new state, record JSON ('' unless op e), the members its webhook
            event adds ('' or JSON members after a comma: ',"msgId":5')
  Returns the number of ids the package still holds (0: it is gone).
]]
--- @include "includes/counts"
--- @include "includes/outbox"
--- @include "includes/parentOf"
local pkg = redis.call('HGET', KEYS[7], ARGV[2])
if not pkg then return 0 end
local tab = string.find(pkg, '\t', 1, true)
local holds = {}
for id in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do holds[id] = true end
local info = ARGV[1] .. '\t' .. ARGV[3] .. '\t0\t\t'
local track = ARGV[4] ~= ''
local paused = redis.call('HGET', KEYS[12], parentOf(ARGV[1])) == 'paused'
local back = {}
local accepted = 0
local outbox = outboxOf(KEYS[14], KEYS[15], ARGV[3])
local moved = function(id, new)
  local old = redis.call('HGET', KEYS[1], id)
  if old and old ~= new then
    redis.call('HSET', KEYS[1], id, new)
    bump(old, -1)
    bump(new, 1)
  end
  return old
end
for i = 6, #ARGV, 5 do
  local id, op, new, rec = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if holds[id] then
    holds[id] = nil
    if op == 'e' then
      local old = moved(id, new)
      if old and old ~= new then outbox.ended(new, ARGV[1], id, ARGV[i + 4]) end
      if old then
        local fresh = redis.call('HSETNX', KEYS[5], id, rec) == 1
        redis.call('HDEL', KEYS[6], id)
        if fresh and string.sub(new, 1, 1) == 'c' then accepted = accepted + 1 end
        if track and fresh and string.sub(new, 1, 1) == 'c'
          and redis.call('HSETNX', KEYS[4], id, info) == 1 then
          redis.call('ZADD', KEYS[3], ARGV[4], id)
          delta['tracking'] = (delta['tracking'] or 0) + 1
        end
      end
    elseif op == 'r' or op == 'k' then
      moved(id, new)
      holds[id] = 'stay'
    elseif op == 'b' or op == 'p' then
      moved(id, (op == 'p' and paused) and 'p' or new)
      back[#back + 1] = id
    end
  end
end
-- What it still holds, in its order: ids kept or retried, and any this call did not name.
local stay = {}
for id in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do
  if holds[id] then stay[#stay + 1] = id end
end
local gone = 0
for _ in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do gone = gone + 1 end
gone = gone - #stay
if #stay == 0 then
  redis.call('HDEL', KEYS[7], ARGV[2])
  redis.call('ZREM', KEYS[8], ARGV[2])
elseif gone > 0 then
  redis.call('HSET', KEYS[7], ARGV[2], ARGV[1] .. '\t' .. table.concat(stay, ','))
end
if gone > 0 then redis.call('DECRBY', KEYS[9], gone) end
if #back > 0 then
  for i = #back, 1, -1 do redis.call('LPUSH', KEYS[10], back[i]) end
  redis.call('SADD', KEYS[11], ARGV[1])
end
if accepted > 0 then
  redis.call('HINCRBY', KEYS[13], 'a:' .. math.floor(tonumber(ARGV[3]) / 60000), accepted)
end
if (delta['tracking'] or 0) > 0 then
  local latest = tonumber(redis.call('HGET', KEYS[2], 'trackUntil') or '0')
  if tonumber(ARGV[5]) > latest then redis.call('HSET', KEYS[2], 'trackUntil', ARGV[5]) end
end
if flush(KEYS[2]) then outbox.finished(ARGV[1], KEYS[2]) end
outbox.close()
return #stay
