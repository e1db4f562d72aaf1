--[[
  Records one status answer: for each message, only if its stored info is still the one the
  worker read when it claimed it (otherwise another worker took it over after a lost lease, and
  counting it again would count a transition twice):
  - the message's finished record (vb:done) becomes the one the worker composed, its delivery set
    (composed whole in TypeScript from the record it read: no JSON is edited here),
  - the campaign's counts change by the deltas,
  - tracking goes on (new info, new due time) or ends (info and zset member removed).
  - the webhook outbox gets the message's delivery events, as the worker named them
    (tracking/delivery.ts stepEvents): kinds in order, each with the same members.
  - its SMS fallback, when the worker composed one (a final code that triggers it, and a message
    that carries one: src/fallback.ts), is enqueued into the campaign's companion `<c>~sms` as
    enqueue-10.lua enqueues a message: state w (p while the campaign is paused: it waits for the
    resume), its record, the companion's backlog, the ready set, its counts. Once: the state's
    HSETNX, and the old-info guard above, make a step recorded twice enqueue nothing twice.
  KEYS[1] track zset, KEYS[2] info hash, KEYS[3] finished records hash,
  KEYS[4..5] the webhook outbox (includes/outbox.lua), KEYS[6] queued hash (id -> record),
  KEYS[7] ready set, KEYS[8] control hash
  ARGV[1] key prefix of the queue (bull:<queue>:)
  ARGV[2..] groups of 11: id, old info, new info ('' = done), due, campaign, the whole record
            JSON ('' = leave it), deltas ('field=by;field=by' or ''): a field `tl:<f>` goes to
            the campaign's timeline hash as <f> (delivered per minute), any other to its counts;
            event kinds ('delivered,read' or ''), their members ('' or ',"msgId":5,"code":116'),
            the SMS fallback's id (10^15 + id; '' = none) and its record JSON
  Returns the number of messages recorded.
]]
--- @include "includes/counts"
--- @include "includes/nowMs"
--- @include "includes/outbox"
local base = ARGV[1]
local recorded = 0
local now = nowMs()
local outbox = outboxOf(KEYS[4], KEYS[5], now)

-- Enqueues an SMS fallback of a message of campaign c (its record composed by the worker).
local function fallBack(c, smsId, record)
  local sms = c .. '~sms'
  local paused = redis.call('HGET', KEYS[8], c) == 'paused'
  if redis.call('HSETNX', base .. 'vb:c:' .. sms .. ':state', smsId, paused and 'p' or 'w') == 0 then
    return
  end
  redis.call('HSET', KEYS[6], smsId, record)
  redis.call('RPUSH', base .. 'vb:bl:' .. sms, smsId)
  if not paused then redis.call('SADD', KEYS[7], sms) end
  local counts = base .. 'vb:c:' .. sms .. ':counts'
  add('total', 1)
  bump(paused and 'p' or 'w', 1)
  flush(counts) -- it has a message open now: not finished
  redis.call('HSET', counts, 'enqueuedAt', now)
end

for i = 2, #ARGV, 11 do
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
    -- Over its finished record, which exists while it is tracked (written when it was
    -- accepted, in the same step that started its tracking).
    if record ~= '' and redis.call('HEXISTS', KEYS[3], id) == 1 then
      redis.call('HSET', KEYS[3], id, record)
    end
    if deltas ~= '' then
      local counts = base .. 'vb:c:' .. campaign .. ':counts'
      for field, by in string.gmatch(deltas, '([^=;]+)=([^;]+)') do
        if string.sub(field, 1, 3) == 'tl:' then
          redis.call('HINCRBY', base .. 'vb:c:' .. campaign .. ':tl', string.sub(field, 4), tonumber(by))
        else
          redis.call('HINCRBY', counts, field, tonumber(by))
        end
      end
    end
    for kind in string.gmatch(ARGV[i + 7], '[^,]+') do
      outbox.message(kind, campaign, id, ARGV[i + 8])
    end
    if ARGV[i + 9] ~= '' then fallBack(campaign, ARGV[i + 9], ARGV[i + 10]) end
  end
end
outbox.close()
return recorded
