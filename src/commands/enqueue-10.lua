--[[
  Enqueues messages for a campaign in one step: dedupe by id, state, counts, and each message's
  record kept in the queue's queued-message hash until it ends (a message never has a BullMQ
  job of its own: the dispatcher moves its id into a package, which has one). The gateway wants
  ids unique per account, so an id is queued at most once per queue, whichever campaign has it:
  its queued data (kept until it ends), its finished record or its state in this campaign is the
  proof. Refused whole while the campaign is being purged (purgeBegin-3.lua): an id
  enqueued under a purge would be dropped with it, or left behind reading as a duplicate.

  KEYS[1] state hash      id -> state (this campaign's)
  KEYS[2] counts hash     total, waiting, ... (this campaign's)
  KEYS[3] campaigns zset  campaign -> when first enqueued (µs, Redis's clock; see below)
  KEYS[4] backlog list    ids the dispatcher has not released yet (this campaign's)
  KEYS[5] ready set       campaigns with a backlog
  KEYS[6] queued hash     id -> its record JSON, until the message ends
  KEYS[7] finished hash   id -> finished record
  KEYS[8] purging hash    campaign -> when its purge began
  KEYS[9..10] the webhook outbox (includes/outbox.lua): a message suppressed here gets its
          message.suppressed, and a campaign whose every message so far is suppressed its
          campaign.finished
  ARGV[1] campaign
  ARGV[2..] triples: id, record JSON, how: '' to queue it, 'u' when its phone is suppressed
            (then the record is its finished record: it ends at once, state u, never queued)

  Returns one number per id:
    0 new: queued now, state w, counted
    2 duplicate: already queued, sent or ended (by this campaign or another)
    3 duplicate within this call
    4 new, suppressed: state u, its finished record written, counted, never queued
  or the error PURGING (nothing written) while the campaign is being purged.
]]
--- @include "includes/counts"
--- @include "includes/nowMs"
--- @include "includes/outbox"
if redis.call('HEXISTS', KEYS[8], ARGV[1]) == 1 then
  return redis.error_reply('PURGING campaign ' .. ARGV[1] .. ' is being purged')
end
local now = nowMs()
local outbox = outboxOf(KEYS[9], KEYS[10], now)
local out = {}
local backlog = {}
local stored = {}
local seen = {}
local fresh = 0
local suppressed = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local how = ARGV[i + 2]
  local r
  if seen[id] then
    r = 3
  elseif redis.call('HEXISTS', KEYS[6], id) == 1 or redis.call('HEXISTS', KEYS[7], id) == 1 then
    r = 2
  elseif redis.call('HSETNX', KEYS[1], id, how == 'u' and 'u' or 'w') == 1 then
    if how == 'u' then
      suppressed = suppressed + 1
      redis.call('HSET', KEYS[7], id, ARGV[i + 1])
      outbox.ended('u', ARGV[1], id, '')
      r = 4
    else
      fresh = fresh + 1
      r = 0
    end
  else
    r = 2
  end
  seen[id] = true
  out[#out + 1] = r
  if r == 0 then
    backlog[#backlog + 1] = id
    stored[#stored + 1] = id
    stored[#stored + 1] = ARGV[i + 1]
  end
end
-- In slices: Lua's unpack() fails past ~8,000 values, and a chunk may be 100,000 messages.
local function inSlices(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
if #backlog > 0 then
  inSlices('HSET', KEYS[6], stored)
  inSlices('RPUSH', KEYS[4], backlog)
  redis.call('SADD', KEYS[5], ARGV[1])
  -- The dispatcher lets a short backlog linger for more after this (dispatch-13.lua).
  redis.call('HSET', KEYS[2], 'enqueuedAt', now)
end
if fresh + suppressed > 0 then
  add('total', fresh + suppressed)
  bump('w', fresh)
  bump('u', suppressed)
  -- flush() keeps finishedAt: cleared by a new waiting message, set when every message so far
  -- is suppressed (the campaign has finished: purge --older-than, campaign.finished).
  if flush(KEYS[2]) then outbox.finished(ARGV[1], KEYS[2]) end
end
outbox.close()
-- Campaigns are listed oldest first: a new one is scored after every one listed, even when two
-- are first enqueued within the same clock tick.
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  local t = redis.call('TIME')
  local at = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
  if last then at = math.max(at, tonumber(last) + 1) end
  redis.call('ZADD', KEYS[3], at, ARGV[1])
end
return out
